"""The privacy and compliance state shown beside the traffic: what the store holds per stage
against the policy, holds, restrictions, the last checks, and the folding a report applied.

Gathered from governance (status, the audit chain, the last recorded ``verify``); it names
nobody: holds appear with their id, reason (IP-looking tokens masked), window and expiry, and
the number of networks they name, never the networks themselves.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any

import polars as pl

from logtool.anonymize.fields import mask_ip_tokens
from logtool.config import Policy
from logtool.governance.audit import verify_chain
from logtool.governance.status import status
from logtool.store import Store

#: Day states of the lifecycle timeline, in the order a day goes through them.
DAY_STATES = ("raw", "raw + anonymised", "anonymised", "deleted")
_STATE = {
    (True, False): "raw",
    (True, True): "raw + anonymised",
    (False, True): "anonymised",
    (False, False): "deleted",
}
#: Runs that record a ``verify`` result in their summary (``logtool nightly`` does).
VERIFY_RUNS = ("nightly", "verify")


@dataclass
class Compliance:
    """What a data-protection officer asks first: is the store what the policy says?"""

    now: str
    policy: dict[str, Any]
    #: Per stage (raw, anonymised, aggregates, quarantine): rows, days, oldest and newest day.
    stages: dict[str, dict[str, Any]]
    overdue_rows: dict[str, int]
    #: Per day of the report's period: which stage its rows are in (``DAY_STATES``).
    timeline: list[dict[str, str]] = field(default_factory=list)
    holds: list[dict[str, Any]] = field(default_factory=list)
    restricted_subjects: int = 0
    #: The last recorded ``verify`` (time, ok, problems by kind), or None if never recorded.
    last_verify: dict[str, Any] | None = None
    #: The audit chain, checked when the report was made.
    audit: dict[str, Any] = field(default_factory=dict)
    last_nightly: str | None = None
    quarantined_lines: int = 0
    #: Per report section: how many groups under ``min_group_size`` were folded into ``(other)``.
    folded: dict[str, int] = field(default_factory=dict)

    @property
    def day_counts(self) -> dict[str, int]:
        """Days of the period per state (``DAY_STATES``)."""
        out = dict.fromkeys(DAY_STATES, 0)
        for d in self.timeline:
            out[d["stage"]] += 1
        return out

    @property
    def ok(self) -> bool:
        """Nothing overdue, the audit chain intact, the last verify clean."""
        verified = self.last_verify is not None and self.last_verify.get("ok") is True
        return not any(self.overdue_rows.values()) and self.audit.get("ok") is True and verified

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "day_counts": self.day_counts, "ok": self.ok}


def _masked(text: str) -> str:
    return str(pl.select(mask_ip_tokens(pl.lit(text, pl.String))).item())


def timeline(store: Store, days: list[str]) -> list[dict[str, str]]:
    """The stage of each of ``days``: raw, raw + anonymised (rows held raw past the window, or a
    late file), anonymised, or deleted (only the aggregates are left)."""
    raw = {p.date for p in store.parts("raw")}
    anon = {p.date for p in store.parts("anonymised")}
    out = []
    for d in days:
        out.append({"date": d, "stage": _STATE[(d in raw, d in anon)]})
    return out


def last_verify(store: Store) -> dict[str, Any] | None:
    """The newest recorded ``verify`` result among the runs that record one."""
    runs = [r for c in VERIFY_RUNS if (r := store.catalog.runs.last(c)) and "verify" in (r.get("summary") or {})]
    if not runs:
        return None
    run = max(runs, key=lambda r: r["finished_at"])
    return {"at": run["finished_at"], **run["summary"]["verify"]}


def gather(store: Store, policy: Policy, now: datetime, days: list[str], folded: dict[str, int]) -> Compliance:
    """The compliance state of ``store`` as of ``now``, with the lifecycle of the report's ``days``."""
    st = status(store, policy, now)
    chain = verify_chain(store)
    holds = [
        {
            "id": h["id"],
            "reason": _masked(h["reason"]),
            "from": h["from"],
            "to": h["to"],
            "networks": len(h["networks"]),
            "expires_at": h["expires_at"],
            "days_left": (datetime.fromisoformat(h["expires_at"]) - now).days,
        }
        for h in st["holds"]
    ]
    stages = {
        name: {k: s[k] for k in ("rows", "oldest_day", "newest_day")}
        | {"days": len({p.date for p in store.parts(name)})}
        for name, s in st["stages"].items()
    }
    stages["aggregates"]["rows"] = None  # rows of (day, key) counts: no measure of what is kept
    return Compliance(
        now=now.isoformat(),
        policy={
            "raw_days": policy.raw_days,
            "anonymised_days": policy.anonymised_days,
            "min_group_size": policy.min_group_size,
            "ipv4_prefix": policy.ipv4_prefix,
            "ipv6_prefix": policy.ipv6_prefix,
        },
        stages=stages,
        overdue_rows=st["overdue_rows"],
        timeline=timeline(store, days),
        holds=holds,
        restricted_subjects=st["restricted_subjects"],
        last_verify=last_verify(store),
        audit={"entries": chain.entries, "ok": chain.ok, "problem": chain.problem},
        last_nightly=(st["last_nightly"] or {}).get("finished_at"),
        quarantined_lines=sum(st["quarantine"].values()),
        folded=folded,
    )
