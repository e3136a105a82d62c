"""Incident holds: named, reasoned, audited predicates that stop retention for matching rows.

A hold matches a row when the row's time is in ``[from, to)`` (``to`` open for an ongoing
incident) and, if the hold names networks, the client is in one of them. While a hold is
active (not released, not expired) :mod:`logtool.retention` neither anonymises nor deletes
the rows it matches, including rows ingested after the hold was created. Holds live in the
catalog, so they survive restarts; every change is an audit entry.
"""

from __future__ import annotations

import ipaddress
import json
import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import polars as pl

from logtool.anonymize.ip import parse_ip
from logtool.errors import ConfigError
from logtool.schema import TS
from logtool.store import Partition, Store

DEFAULT_EXPIRY = timedelta(days=90)
_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


@dataclass(frozen=True)
class Hold:
    id: str
    reason: str
    start: datetime
    end: datetime | None
    networks: tuple[str, ...]
    created_at: datetime
    created_by: str
    expires_at: datetime
    released_at: datetime | None

    def active(self, now: datetime) -> bool:
        return self.released_at is None and self.expires_at > now

    def state(self, now: datetime) -> str:
        if self.released_at is not None:
            return "released"
        return "active" if self.expires_at > now else "expired"

    def to_dict(self, now: datetime | None = None) -> dict[str, Any]:
        d = {
            "id": self.id,
            "reason": self.reason,
            "from": self.start.isoformat(),
            "to": self.end.isoformat() if self.end else None,
            "networks": list(self.networks),
            "created_at": self.created_at.isoformat(),
            "created_by": self.created_by,
            "expires_at": self.expires_at.isoformat(),
            "released_at": self.released_at.isoformat() if self.released_at else None,
        }
        if now is not None:
            d["state"] = self.state(now)
        return d


def _row_to_hold(r: tuple[Any, ...]) -> Hold:
    def dt(v: str | None) -> datetime | None:
        return datetime.fromisoformat(v) if v else None

    return Hold(r[0], r[1], dt(r[2]), dt(r[3]), tuple(json.loads(r[4])), dt(r[5]), r[6], dt(r[7]), dt(r[8]))  # type: ignore[arg-type]


def _networks(values: list[str]) -> tuple[str, ...]:
    out = []
    for v in values:
        try:
            out.append(str(ipaddress.ip_network(v, strict=False)))
        except ValueError:
            raise ConfigError(f"--network: not an address or network: {v!r}") from None
    return tuple(out)


def create(
    store: Store,
    hold_id: str,
    reason: str,
    start: datetime,
    now: datetime,
    end: datetime | None = None,
    networks: list[str] | None = None,
    expires: datetime | None = None,
) -> Hold:
    if not _ID.match(hold_id):
        raise ConfigError(f"hold id {hold_id!r}: use letters, digits, '.', '_' or '-' (at most 64)")
    if not reason.strip():
        raise ConfigError("a hold needs a --reason (it is the legal ground for keeping the data)")
    if end is not None and end <= start:
        raise ConfigError("--to must be after --from")
    expires = expires or now + DEFAULT_EXPIRY
    if expires <= now:
        raise ConfigError("--expires must be in the future")
    nets = _networks(networks or [])
    from logtool.store.catalog import _os_user

    with store.writing(), store.catalog.transaction() as db:
        if db.execute("SELECT 1 FROM holds WHERE id = ?", (hold_id,)).fetchone():
            raise ConfigError(f"hold {hold_id!r} exists already (use 'logtool hold extend' or another id)")
        db.execute(
            "INSERT INTO holds(id, reason, start, end_, networks, created_at, created_by, expires_at, released_at)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?, NULL)",
            (hold_id, reason, start.isoformat(), end.isoformat() if end else None, json.dumps(nets),
             now.isoformat(), _os_user(), expires.isoformat()),
        )  # fmt: skip
        store.catalog.audit(
            db, now.isoformat(), "hold-create", {"hold": hold_id, "from": start, "to": end,
                                                 "networks": len(nets), "expires": expires}, {},
        )  # fmt: skip
    return get(store, hold_id)


def get(store: Store, hold_id: str) -> Hold:
    row = store.catalog.db.execute("SELECT * FROM holds WHERE id = ?", (hold_id,)).fetchone()
    if row is None:
        raise ConfigError(f"no hold {hold_id!r} (see 'logtool hold list')")
    return _row_to_hold(row)


def all_holds(store: Store) -> list[Hold]:
    return [_row_to_hold(r) for r in store.catalog.db.execute("SELECT * FROM holds ORDER BY created_at, id")]


def active(store: Store, now: datetime) -> list[Hold]:
    return [h for h in all_holds(store) if h.active(now)]


def extend(store: Store, hold_id: str, expires: datetime, now: datetime) -> Hold:
    h = get(store, hold_id)
    if h.released_at is not None:
        raise ConfigError(f"hold {hold_id!r} was released; create a new one")
    if expires <= now:
        raise ConfigError("--expires must be in the future")
    with store.writing(), store.catalog.transaction() as db:
        db.execute("UPDATE holds SET expires_at = ? WHERE id = ?", (expires.isoformat(), hold_id))
        store.catalog.audit(db, now.isoformat(), "hold-extend", {"hold": hold_id, "expires": expires}, {})
    return get(store, hold_id)


def release(store: Store, hold_id: str, now: datetime) -> Hold:
    h = get(store, hold_id)
    if h.released_at is not None:
        return h
    with store.writing(), store.catalog.transaction() as db:
        db.execute("UPDATE holds SET released_at = ? WHERE id = ?", (now.isoformat(), hold_id))
        store.catalog.audit(db, now.isoformat(), "hold-release", {"hold": hold_id}, {})
    return get(store, hold_id)


# predicates -------------------------------------------------------------------------------------
def _in_window(h: Hold) -> pl.Expr:
    ts = pl.col("ts")
    cond = ts >= pl.lit(h.start).cast(TS)
    if h.end is not None:
        cond = cond & (ts < pl.lit(h.end).cast(TS))
    return cond


def _client_in(values: pl.Series, nets: list[Network], anonymised: bool) -> pl.Series:
    """Per distinct client value: is it inside (raw addresses) or overlapping (anonymised
    networks) any of ``nets``? A hostname or token is not provably inside: not matched (a hold
    is an exception to deletion, so it keeps only what it names)."""
    uniq = values.drop_nulls().unique()
    hits = []
    for v in uniq.to_list():
        if anonymised:
            try:
                net = ipaddress.ip_network(v, strict=False)
                hits.append(any(net.version == n.version and net.overlaps(n) for n in nets))
            except ValueError:
                hits.append(False)  # a host- token
        else:
            addr = parse_ip(v)
            hits.append(addr is not None and any(addr.version == n.version and addr in n for n in nets))
    mapping = pl.DataFrame({"v": uniq, "h": pl.Series(hits, dtype=pl.Boolean)})
    return pl.DataFrame({"v": values}).join(mapping, on="v", how="left", maintain_order="left").get_column("h")


def held_mask(df: pl.DataFrame, holds: list[Hold], stage: str) -> pl.Series:
    """True for the rows of ``df`` (raw or anonymised stage) that any of ``holds`` matches."""
    mask = pl.repeat(False, df.height, eager=True)
    col = "client_ip" if stage == "raw" else "client_net"
    for h in holds:
        in_window = df.select(_in_window(h)).to_series()
        if h.networks:
            nets = [ipaddress.ip_network(n) for n in h.networks]
            in_window = in_window & _client_in(df.get_column(col), nets, stage != "raw").fill_null(False)
        mask = mask | in_window
    return mask.fill_null(False)


def held_on_day(
    store: Store, day: str, parts: list[Partition], stage: str, active: list[Hold]
) -> tuple[list[Hold], int]:
    """The active holds that touch ``day`` and how many rows of ``parts`` (one stage, that day)
    they match; no data is read when no hold touches the day."""
    day_holds = [h for h in active if overlaps_day(h, day)]
    if not day_holds:
        return [], 0
    return day_holds, sum(int(held_mask(df, day_holds, stage).sum()) for df in store.iter_parts(parts, stage))


def overlaps_day(h: Hold, day: str) -> bool:
    start = datetime.fromisoformat(day).replace(tzinfo=h.start.tzinfo)
    end = start + timedelta(days=1)
    return h.start < end and (h.end is None or h.end > start)


# row-level output under a hold ---------------------------------------------------------------
def matched_rows(store: Store, h: Hold) -> pl.DataFrame:
    """The raw-stage rows the hold matches (full detail: only ever shown under a hold)."""
    start = h.start.date().isoformat()
    end = h.end.date().isoformat() if h.end else None
    frames = [
        df.filter(held_mask(df, [h], "raw"))
        for df in store.iter_parts(store.catalog.partitions("raw", start, end), "raw")
    ]
    frames = [f for f in frames if f.height]
    return pl.concat(frames).sort("ts") if frames else store.read_parts([], "raw")


def audit_output(store: Store, h: Hold, action: str, rows: int, now: datetime, **params: Any) -> None:
    """Record an output that showed row-level detail under a hold."""
    with store.catalog.transaction() as db:
        store.catalog.audit(db, now.isoformat(), action, {"hold": h.id, **params}, {"rows": rows})


def record_expiries(store: Store, now: datetime) -> list[str]:
    """Write one audit entry per hold that has lapsed since the last check."""
    lapsed = [h for h in all_holds(store) if h.released_at is None and h.expires_at <= now]
    done = set(json.loads(store.catalog.get_meta("holds_expiry_audited") or "[]"))
    new = [h.id for h in lapsed if h.id not in done]
    if new:
        with store.catalog.transaction() as db:
            for hold_id in new:
                store.catalog.audit(db, now.isoformat(), "hold-expired", {"hold": hold_id}, {})
            db.execute(
                "INSERT OR REPLACE INTO meta(key, value) VALUES ('holds_expiry_audited', ?)",
                (json.dumps(sorted(done | set(new))),),
            )
    return new
