"""Incident holds: create, extend, release, and hand out a hold's rows (audited).

While a hold is active (not released, not expired) retention neither anonymises nor deletes the
rows it matches (:mod:`logtool.lifecycle.holdmatch`), including rows ingested after the hold
was created. Holds live in the catalog, so they survive restarts; every change is an audit
entry, and so is every output of a hold's rows (:func:`held_rows`).
"""

from __future__ import annotations

import ipaddress
import re
from datetime import datetime, timedelta
from typing import Any

import polars as pl

from logtool.errors import ConfigError
from logtool.governance.disclosure import disclose
from logtool.lifecycle.holdmatch import held_mask
from logtool.store import Hold, Store
from logtool.store.catalog import os_user

DEFAULT_EXPIRY = timedelta(days=90)
_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")


def _networks(values: list[str]) -> tuple[str, ...]:
    out = []
    for v in values:
        try:
            out.append(str(ipaddress.ip_network(v, strict=False)))
        except ValueError:
            raise ConfigError(f"--network: not an address or network: {v!r}") from None
    return tuple(out)


def get(store: Store, hold_id: str) -> Hold:
    h = store.catalog.holds.get(hold_id)
    if h is None:
        raise ConfigError(f"no hold {hold_id!r} (see 'logtool hold list')")
    return h


def all_holds(store: Store) -> list[Hold]:
    return store.catalog.holds.all()


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
    h = Hold(hold_id, reason, start, end, nets, now, os_user(), expires, None)
    params = {"hold": hold_id, "from": start, "to": end, "networks": len(nets), "expires": expires}
    with store.change("hold-create", now, params) as ch:
        if store.catalog.holds.get(hold_id) is not None:
            raise ConfigError(f"hold {hold_id!r} exists already (use 'logtool hold extend' or another id)")
        ch.then(lambda cat: cat.holds.insert(h))
    return get(store, hold_id)


def extend(store: Store, hold_id: str, expires: datetime, now: datetime) -> Hold:
    h = get(store, hold_id)
    if h.released_at is not None:
        raise ConfigError(f"hold {hold_id!r} was released; create a new one")
    if expires <= now:
        raise ConfigError("--expires must be in the future")
    with store.change("hold-extend", now, {"hold": hold_id, "expires": expires}) as ch:
        ch.then(lambda cat: cat.holds.set_expiry(hold_id, expires.isoformat()))
    return get(store, hold_id)


def release(store: Store, hold_id: str, now: datetime) -> Hold:
    h = get(store, hold_id)
    if h.released_at is not None:
        return h
    with store.change("hold-release", now, {"hold": hold_id}) as ch:
        ch.then(lambda cat: cat.holds.release(hold_id, now.isoformat()))
    return get(store, hold_id)


# row-level output under a hold ---------------------------------------------------------------
def _matched_rows(store: Store, h: Hold) -> pl.DataFrame:
    """The raw-stage rows the hold matches (full detail)."""
    start = h.start.date().isoformat()
    end = h.end.date().isoformat() if h.end else None
    frames = [df.filter(held_mask(df, [h], "raw")) for df in store.iter_parts(store.parts("raw", start, end), "raw")]
    frames = [f for f in frames if f.height]
    return pl.concat(frames).sort("ts") if frames else store.read_parts([], "raw")


def held_rows(store: Store, hold_id: str, now: datetime, purpose: str, **params: Any) -> tuple[Hold, pl.DataFrame]:
    """The hold and the raw rows it matches, in full — for ``purpose`` (the audit action:
    ``report-hold``, ``export-hold``, ``hold-export`` …). Only for an active hold; audited."""
    with disclose(store, purpose, now, hold_id=hold_id, **params) as d:
        assert d.hold is not None
        rows = _matched_rows(store, d.hold)
        d.rows = rows.height
    return d.hold, rows


def _matched_conversations(store: Store, h: Hold) -> pl.DataFrame:
    """The ``conv_raw`` records the hold matches (full detail)."""
    start = h.start.date().isoformat()
    end = h.end.date().isoformat() if h.end else None
    parts = store.parts("conv_raw", start, end)
    frames = [df.filter(held_mask(df, [h], "conv_raw")) for df in store.iter_parts(parts, "conv_raw")]
    frames = [f for f in frames if f.height]
    return pl.concat(frames).sort("ts") if frames else store.read_parts([], "conv_raw")


def held_evidence(store: Store, hold_id: str, now: datetime, purpose: str,
                  **params: Any) -> tuple[Hold, pl.DataFrame, pl.DataFrame]:  # fmt: skip
    """The hold, the raw log rows and the conversation records (calls, transcripts, chats) it
    matches, in full — one audited output (its entry counts both) for an evidence bundle."""
    with disclose(store, purpose, now, hold_id=hold_id, **params) as d:
        assert d.hold is not None
        rows = _matched_rows(store, d.hold)
        conv = _matched_conversations(store, d.hold)
        d.rows = rows.height + conv.height
        d.params["conversation_records"] = conv.height
    return d.hold, rows, conv
