"""``logtool verify`` for conversation records: what must hold beyond the file checks (which
cover every stage alike).

* the anonymised conversation stage holds no personal data: number columns are country + area
  (``+49 30``) or ``client``/``sip``/``unknown``; ``text`` and ``summary`` are fixed points of
  the text redaction and ``page`` of the URL redaction (redacting again would change nothing,
  so no e-mail, number, IBAN, card or address is left in them);
* no conversation day is older than its window (unless a hold keeps it).

Problems come back as ``(kind, where, detail)``; details never quote a value.
"""

from __future__ import annotations

from datetime import datetime

import polars as pl

from logtool.anonymize.redact import redact
from logtool.anonymize.text import redact_text
from logtool.config import Policy
from logtool.lifecycle import holdmatch
from logtool.lifecycle.conv_retention import windows
from logtool.store import Store

AREA = r"^(?:\+[0-9]{1,3}(?: [0-9]{1,5})?|client|sip|unknown)$"
AREA_COLUMNS = ("from_area", "to_area", "forwarded_area")


def _pii(df: pl.DataFrame, policy: Policy) -> list[tuple[str, int]]:
    out = []
    for col in AREA_COLUMNS:
        values = df.get_column(col).drop_nulls()
        n = int((~values.str.contains(AREA)).sum())
        if n:
            out.append((col, n))
    for col in ("text", "summary", "page"):
        values = df.get_column(col).drop_nulls().unique()
        again = redact(values, policy.sensitive_params) if col == "page" else redact_text(
            values, policy.sensitive_params, policy.phone_region)  # fmt: skip
        n = int((again != values).sum())
        if n:
            out.append((col, n))
    return out


def conversation_problems(store: Store, policy: Policy, now: datetime, damaged: set[str]) -> list[tuple[str, str, str]]:
    """Personal data left in ``conv_anonymised`` and conversation days overdue for retention."""
    out: list[tuple[str, str, str]] = []
    parts = [p for p in store.parts("conv_anonymised") if p.path not in damaged]
    for day in sorted({p.date for p in parts}):
        df = store.read_parts([p for p in parts if p.date == day], "conv_anonymised")
        for col, n in _pii(df, policy):
            out.append(("personal-data", f"conv_anonymised/{day}/{col}", f"{n} values still hold personal data"))
    kept = windows(policy)
    for stage, day, rows in holdmatch.overdue_days(store, kept, tuple(kept), now):
        if rows:
            out.append(
                ("overdue", f"{stage}/{day}", f"{rows} records older than {kept[stage]} days: run 'logtool retain'")
            )
    return out
