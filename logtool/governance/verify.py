"""``logtool verify``: prove the store is what the policy says it is, or list what is not.

Checks, over the whole store:

* the catalog passes SQLite's integrity check;
* every partition the catalog lists exists, is readable, has the recorded SHA-256 and row
  count; no unlisted Parquet file lies in a stage folder (leftover of a crash);
* the store's folders and files are owner-only;
* no full IP address outside the raw stage: ``client_net`` holds networks no finer than the
  policy's prefixes (or registrable domains of hostname clients), and no other text column of the anonymised stage,
  the aggregates or the quarantine contains an address with a host part;
* no raw or anonymised day is older than the policy allows (``retain`` would remove it), and
  no file set aside in ``damaged/`` is older than its stage's window.

Problems are reported with their place and a masked sample: the report itself never shows a
full address. :func:`repair` sets damaged partitions aside (audited) and makes the store
owner-only again.
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import asdict, dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import polars as pl
import pyarrow.parquet as pq

from logtool.anonymize.fields import mask_ip_tokens
from logtool.anonymize.redact import _V6_EDGE_L, _V6_EDGE_R, IPV4, IPV6
from logtool.config import Policy
from logtool.lifecycle import holdmatch
from logtool.lifecycle.retention import day_expired
from logtool.net import is_host_network
from logtool.schema import STAGES
from logtool.store import Partition, Store
from logtool.store.files import TMP_PREFIX, stage_files
from logtool.store.guard import DAMAGED, tighten, wide_permissions
from logtool.store.recover import set_aside

#: An address as the anonymiser sees one: IPv4 with a host part, IPv6 between non-word edges
#: (so ``std::vector`` or ``a::b`` in a path are not addresses).
_ADDRESS = f"(?:{IPV4})|{_V6_EDGE_L}(?:{IPV6}){_V6_EDGE_R}"
#: Problems :func:`repair` fixes by setting the partition aside.
DAMAGE = ("missing", "checksum", "rows", "unreadable")
_ADDRESS_PY = re.compile(f"({IPV4})|{_V6_EDGE_L.replace('(', '(?:', 1)}({IPV6}){_V6_EDGE_R.replace('(', '(?=', 1)}")


@dataclass(frozen=True)
class Problem:
    """One thing that is not as the policy and the catalog say."""

    kind: str  # catalog | checksum | missing | rows | unreadable | orphan | permissions | full-ip | overdue
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
                kind = "missing" if "missing" in why else "checksum"
                out.append(Problem(kind, p.path, why))
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
            out.append(
                Problem(
                    "orphan",
                    rel,
                    "journaled by a writer (an interrupted run, or retired while a reader read it): the next writer removes it",
                )
            )
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


def _scan_parts(store: Store, stage: str, parts: list[Partition], policy: Policy) -> list[Problem]:
    out: list[Problem] = []
    for day in sorted({p.date for p in parts}):
        df = store.read_parts([p for p in parts if p.date == day], stage)
        for col, dtype in df.schema.items():
            if dtype != pl.String:
                continue
            values = df.get_column(col).drop_nulls()
            if col == "client_net":
                bad = [v for v in values.unique().to_list() if _bad_network(v, policy)]
                if bad:
                    n = int(values.is_in(bad).sum())
                    out.append(
                        Problem("full-ip", f"{stage}/{day}/{col}", f"{n} rows are not networks at the policy's prefix")
                    )
                continue
            hits = [v for v in values.filter(values.str.contains(_ADDRESS)).unique().to_list() if _has_address(v)]
            if hits:
                n = int(values.is_in(hits).sum())
                sample = pl.select(mask_ip_tokens(pl.lit(hits[0][:120]))).item()
                out.append(
                    Problem("full-ip", f"{stage}/{day}/{col}", f"{n} values contain an IP address, e.g. {sample!r}")
                )
    return out


def _has_address(value: str) -> bool:
    """A candidate the regex found is really an address (``::`` alone, ``1::x`` are not)."""
    for m in re.finditer(_ADDRESS_PY, value):
        token = m.group(1) or m.group(2)
        try:
            addr = ipaddress.ip_address(token)
        except ValueError:
            continue
        if not addr.is_unspecified:
            return True
    return False


def _set_aside_overdue(store: Store, policy: Policy, now: datetime) -> list[Problem]:
    """Files set aside in ``damaged/`` hold rows of a day; past the stage's window they are data
    kept too long (the operator restores or deletes them)."""
    out = []
    keep = {"raw": policy.raw_days, "anonymised": policy.anonymised_days}
    base = store.root / DAMAGED
    for stage, days in keep.items():
        for f in sorted((base / stage).glob("date=*/*")) if (base / stage).is_dir() else []:
            day = f.parent.name.removeprefix("date=")
            try:
                expired = day_expired(day, now, days)
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


def verify(store: Store, policy: Policy, now: datetime) -> list[Problem]:
    """Every problem found; an empty list means the store is consistent with the policy."""
    problems = [Problem("catalog", "catalog.sqlite", f"SQLite integrity check: {e}") for e in store.catalog.integrity()]
    problems += _permissions(store) + _check_files(store)
    damaged = {p.where for p in problems}
    for stage in ("anonymised", "aggregates", "quarantine"):
        parts = [p for p in store.parts(stage) if p.path not in damaged]
        problems += _scan_parts(store, stage, parts, policy)
    active = holdmatch.active(store, now)
    for stage, keep in (("raw", policy.raw_days), ("anonymised", policy.anonymised_days)):
        for day in sorted({p.date for p in store.parts(stage) if day_expired(p.date, now, keep)}):
            parts = store.parts(stage, day, day)
            _, held = holdmatch.held_on_day(store, day, parts, stage, active)  # evidence is not overdue
            rows = sum(p.rows for p in parts) - held
            if rows:
                problems.append(
                    Problem("overdue", f"{stage}/{day}", f"{rows} rows older than {keep} days: run 'logtool retain'")
                )
    return problems + _set_aside_overdue(store, policy, now)


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
