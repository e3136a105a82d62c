"""The one gate for row-level output: every function that hands out rows of personal data (a
hold's rows for a report, an export or an evidence bundle, a held review, a blocklist, a raw
export, a subject's copy) goes through :func:`disclose`.

It checks what must hold before anything is shown — the hold exists and is active, or the
stage is named explicitly — takes the writer lock for the whole output (so retention cannot
delete what is being read, and the audit entry cannot fail after the data has left), and writes
one audit entry with the number of rows handed out, also when the output fails half-way.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from logtool.errors import ConfigError, StoreError
from logtool.store import Hold, Store

#: Stages whose rows may be exported; ``raw`` holds personal data and must be named.
EXPORT_STAGES = ("raw", "anonymised")


@dataclass
class Disclosure:
    """An output in progress: the hold it is scoped to (if any) and the rows handed out."""

    action: str
    hold: Hold | None = None
    stage: str | None = None
    rows: int = 0
    params: dict[str, Any] = field(default_factory=dict)


def require_hold(store: Store, hold_id: str, now: datetime) -> Hold:
    """The hold ``hold_id`` if it is active at ``now``; a released or lapsed hold no longer
    justifies showing anyone's data."""
    h = store.catalog.holds.get(hold_id)
    if h is None:
        raise ConfigError(f"no hold {hold_id!r} (see 'logtool hold list')")
    if not h.active(now):
        raise ConfigError(f"hold {hold_id!r} is {h.state(now)}: its rows are no longer shown in full")
    return h


@contextmanager
def disclose(
    store: Store,
    action: str,
    now: datetime,
    *,
    hold_id: str | None = None,
    stage: str | None = None,
    subject: str | None = None,
    **params: Any,
) -> Iterator[Disclosure]:
    """Check, lock, and audit one row-level output; the caller sets ``.rows`` as it goes.

    Exactly one scope must be given: an active hold, an explicitly named stage, or a subject
    (by its keyed name) for the subject's own copy."""
    if sum(x is not None for x in (hold_id, stage, subject)) != 1:
        raise ConfigError("row-level output needs one scope: a hold, a named stage or a subject")
    if stage is not None and stage not in EXPORT_STAGES:
        raise ConfigError(f"cannot export stage {stage!r}; choose one of: {', '.join(EXPORT_STAGES)}")
    if store.readonly:
        raise StoreError(f"row-level output is audited, but the store {store.root} is read-only")
    with store.writing():
        hold = require_hold(store, hold_id, now) if hold_id is not None else None
        scope = {"hold": hold_id} if hold_id else {"stage": stage} if stage else {"subject": subject}
        d = Disclosure(action, hold, stage, params=dict(params))
        try:
            yield d
        except BaseException as e:
            _audit(store, d, now, scope, incomplete=type(e).__name__)
            raise
        _audit(store, d, now, scope)


def _audit(store: Store, d: Disclosure, now: datetime, scope: dict[str, Any], incomplete: str | None = None) -> None:
    counts: dict[str, Any] = {"rows": d.rows}
    if incomplete:
        counts["incomplete"] = incomplete
    with store.change(d.action, now, {**scope, **d.params}) as ch:
        ch.counts = counts
