"""``logtool verify``: prove the store is what the policy says it is, or list what is not.

Checks, over the whole store:

* the catalog passes SQLite's integrity check; the store's folders and files are owner-only;
* every partition the catalog lists exists, is readable, has the recorded SHA-256 and row
  count; no unlisted Parquet file lies in a stage folder (leftover of a crash);
* no full IP address outside the raw stage: ``client_net`` (and a ``vhost`` that is an address)
  holds networks no finer than the policy's prefixes (or registrable domains of hostname
  clients), and no other text column of the anonymised stage, the aggregates or the quarantine
  contains an address with a host part — by the address rule redaction uses
  (:mod:`logtool.anonymize.redact`: glued to ``_`` or letters too, after decoding ``%2E``,
  ``%2F`` …);
* no raw or anonymised day, and no quarantine day, is older than the policy allows (``retain``
  would remove it), and no file set aside in ``damaged/`` is older than its stage's window.

Problems are reported with their place and a masked sample: the report itself never shows a
full address. :func:`repair` sets damaged partitions aside (audited) and makes the store
owner-only again.
"""

from __future__ import annotations

import ipaddress
from dataclasses import asdict, dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import polars as pl
import pyarrow.parquet as pq

from logtool.anonymize.fields import mask_ip_tokens
from logtool.anonymize.redact import ADDRESS, decode_expr
from logtool.config import Policy
from logtool.governance.conv_verify import conversation_problems
from logtool.lifecycle import holdmatch
from logtool.net import is_host_network
from logtool.stages import STAGES, WINDOWED_LOG_STAGES
from logtool.store import Partition, Store
from logtool.store.files import TMP_PREFIX, stage_files
from logtool.store.guard import DAMAGED, tighten, wide_permissions
from logtool.store.recover import set_aside
from logtool.timespec import day_expired

#: Columns that hold a network, not free text: checked against the policy's prefixes. A virtual
#: host that is an address (``127.0.0.1:80`` in vhost_combined) is masked to its network like a
#: client when its day is anonymised; a vhost that is a name is scanned as text.
_NETWORK_COLUMNS = ("client_net", "vhost")
#: Problems :func:`repair` fixes by setting the partition aside.
DAMAGE = ("missing", "checksum", "rows", "unreadable")


@dataclass(frozen=True)
class Problem:
    """One thing that is not as the policy and the catalog say."""

    kind: str  # catalog | checksum | missing | rows | unreadable | orphan | permissions | full-ip | overdue | personal-data
    where: str  # stage/partition or stage/day/column
    detail: str

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _check_files(store: Store) -> list[Problem]:
    out: list[Problem] = []
    known: set[str] = set()
    for stage in STAGES:
        for p in store.parts(stage):
            known.add(p.path)
            why = store.damage(p, sha=True)
            if why is not None:
                out.append(Problem("missing" if "missing" in why else "checksum", p.path, why))
                continue
            try:
                rows = pq.ParquetFile(store.root / p.path).metadata.num_rows
            except Exception as e:  # pyarrow raises several types for a broken file
                out.append(Problem("unreadable", p.path, f"not a readable Parquet file: {e}"))
                continue
            if rows != p.rows:
                out.append(Problem("rows", p.path, f"{rows} rows on disk, {p.rows} in the catalog"))
    pending = set(store.catalog.pending.all())
    for rel in stage_files(store.root):
        if rel in known:
            continue
        if rel in pending or Path(rel).name.startswith(TMP_PREFIX):
            out.append(Problem("orphan", rel, "journaled by a writer (an interrupted run, or retired while a reader "
                               "read it): the next writer removes it"))  # fmt: skip
        else:
            out.append(Problem("orphan", rel, "not in the catalog: left in place (see 'logtool recover')"))
    return out


def _bad_network(value: str, policy: Policy) -> bool:
    """True when a ``client_net`` value is finer than the policy or not a network at all."""
    if is_host_network(value):
        return False
    try:
        net = ipaddress.ip_network(value, strict=True)
    except ValueError:
        return True  # a bare address, host bits set, or junk
    limit = policy.ipv4_prefix if net.version == 4 else policy.ipv6_prefix
    return net.prefixlen > limit


def _is_network(value: str) -> bool:
    try:
        ipaddress.ip_network(value, strict=False)
    except ValueError:
        return False
    return True


def _scan_parts(store: Store, stage: str, parts: list[Partition], policy: Policy) -> list[Problem]:
    out: list[Problem] = []
    for day in sorted({p.date for p in parts}):
        df = store.read_parts([p for p in parts if p.date == day], stage)
        for col, dtype in df.schema.items():
            if dtype != pl.String:
                continue
            values = df.get_column(col).drop_nulls()
            if col in _NETWORK_COLUMNS:
                uniq = values.unique().to_list()
                bad = [v for v in uniq if (col == "client_net" or _is_network(v)) and _bad_network(v, policy)]
                if bad:
                    n = int(values.is_in(bad).sum())
                    out.append(
                        Problem("full-ip", f"{stage}/{day}/{col}", f"{n} rows are not networks at the policy's prefix")
                    )
                if col == "client_net":
                    continue
                values = values.filter(~values.is_in([v for v in uniq if _is_network(v)]))
            # the address rule of redaction, after the same decoding (``%2E``, ``%2F`` …)
            hits = values.filter(pl.select(decode_expr(pl.lit(values)).str.contains(ADDRESS)).to_series())
            if hits.len():
                sample = pl.select(mask_ip_tokens(decode_expr(pl.lit(hits.item(0))).str.slice(0, 120))).item()
                out.append(
                    Problem(
                        "full-ip", f"{stage}/{day}/{col}", f"{hits.len()} values contain an IP address, e.g. {sample!r}"
                    )
                )
    return out


def verify(store: Store, policy: Policy, now: datetime) -> list[Problem]:
    """Every problem found; an empty list means the store is consistent with the policy."""
    problems = [Problem("catalog", "catalog.sqlite", f"SQLite integrity check: {e}") for e in store.catalog.integrity()]
    problems += _permissions(store) + _check_files(store)
    damaged = {p.where for p in problems}
    for stage in ("anonymised", "aggregates", "quarantine", "conv_anonymised", "conv_aggregates"):
        parts = [p for p in store.parts(stage) if p.path not in damaged]
        problems += _scan_parts(store, stage, parts, policy)
    kept = policy.kept_days()
    for stage, day, rows in holdmatch.overdue_days(store, kept, WINDOWED_LOG_STAGES, now):
        if rows:
            problems.append(
                Problem("overdue", f"{stage}/{day}", f"{rows} rows older than {kept[stage]} days: run 'logtool retain'")
            )
    problems += [Problem(*p) for p in conversation_problems(store, policy, now, damaged)]
    return problems + _set_aside_overdue(store, policy, now)


def _set_aside_overdue(store: Store, policy: Policy, now: datetime) -> list[Problem]:
    """Files set aside in ``damaged/`` hold rows of a day; past the stage's window they are data
    kept too long (the operator restores or deletes them)."""
    out = []
    keep = {"raw": policy.raw_days, "quarantine": policy.raw_days, "anonymised": policy.anonymised_days}
    for stage, days in keep.items():
        base = store.root / DAMAGED / stage
        for f in sorted(base.glob("date=*/*")) if base.is_dir() else []:
            try:
                expired = day_expired(f.parent.name.removeprefix("date="), now, days)
            except ValueError:
                continue
            if expired:
                rel = str(f.relative_to(store.root))
                out.append(Problem("overdue", rel, f"set aside, and older than {days} days: delete it (or restore it)"))
    return out


def _permissions(store: Store) -> list[Problem]:
    return [
        Problem(
            "permissions",
            rel,
            f"mode {mode:04o}: open to group or others; 'logtool verify --repair' makes it owner-only",
        )
        for rel, mode in wide_permissions(store.root)
    ]


@dataclass
class RepairResult:
    set_aside: list[str]  # where the damaged partitions' files went (damaged/…)
    dropped: list[str]  # partitions dropped from the catalog
    tightened: list[str]  # paths made owner-only


def repair(store: Store, problems: list[Problem], now: datetime) -> RepairResult:
    """Fix what ``verify`` found that can be fixed without a person: damaged partitions are set
    aside (moved to ``damaged/``, dropped from the catalog, audited), wide permissions
    tightened. Orphans, full addresses and overdue days are left to recover, retain or the
    operator."""
    damaged = {p.where: p.detail for p in problems if p.kind in DAMAGE}
    parts = [(p, damaged[p.path]) for stage in STAGES for p in store.parts(stage) if p.path in damaged]
    moved = set_aside(store, parts, now) if parts else []
    wide = [p.where for p in problems if p.kind == "permissions"]
    tighten(store.root, wide)
    return RepairResult(moved, [p.path for p, _ in parts], wide)
