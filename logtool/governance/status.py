"""What the store holds, measured against the policy: the operator's and the DPO's overview."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from logtool.config import Policy
from logtool.lifecycle.holdmatch import overdue_days
from logtool.stages import STAGES, WINDOWED_CONV_STAGES, WINDOWED_LOG_STAGES
from logtool.store import Store


def overdue_rows(
    store: Store, policy: Policy, now: datetime, stages: tuple[str, ...] = WINDOWED_LOG_STAGES
) -> dict[str, int]:
    """Rows per stage of ``stages`` older than the policy allows, not counting evidence under an
    active hold (retention keeps those on purpose; ``verify`` counts the same way)."""
    out = dict.fromkeys(stages, 0)
    for stage, _, rows in overdue_days(store, policy.kept_days(), stages, now):
        out[stage] += rows
    return out


def status(store: Store, policy: Policy, now: datetime) -> dict[str, Any]:
    """Sizes, row counts and day ranges per stage; rows overdue for retention; quarantine."""
    cat = store.catalog
    stages: dict[str, Any] = {}
    for stage in STAGES:
        parts = store.parts(stage)
        days = sorted({p.date for p in parts})
        stages[stage] = {
            "files": len(parts),
            "rows": sum(p.rows for p in parts),
            "bytes": sum(p.size for p in parts),
            "oldest_day": days[0] if days else None,
            "newest_day": days[-1] if days else None,
        }
    files = cat.files.all()
    return {
        "store": str(store.root),
        "now": now.isoformat(),
        "policy": {
            "raw_days": policy.raw_days,
            "anonymised_days": policy.anonymised_days,
            "conversations_raw_days": policy.conversations_raw_days,
            "conversations_anonymised_days": policy.conversations_anonymised_days,
        },
        "stages": stages,
        "overdue_rows": overdue_rows(store, policy, now),
        "overdue_conversation_records": overdue_rows(store, policy, now, WINDOWED_CONV_STAGES),
        "files_ingested": len(files),
        "lines_ingested": sum(f["lines"] or 0 for f in files),
        "quarantine": cat.quarantine.totals(),
        "last_nightly": cat.runs.last("nightly"),
        "holds": [h.to_dict(now) for h in store.catalog.holds.all() if h.active(now)],
        "restricted_subjects": len(store.catalog.restricted.keys()),
    }
