"""What the store holds, measured against the policy: the operator's and the DPO's overview."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from logtool.config import Policy
from logtool.governance.subjects import restricted_keys
from logtool.lifecycle.retention import day_expired
from logtool.schema import STAGES
from logtool.store import Store


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
    overdue_raw = sum(p.rows for p in store.parts("raw") if day_expired(p.date, now, policy.raw_days))
    overdue_anon = sum(p.rows for p in store.parts("anonymised") if day_expired(p.date, now, policy.anonymised_days))
    overdue_quar = sum(p.rows for p in store.parts("quarantine") if day_expired(p.date, now, policy.raw_days))
    files = cat.files.all()
    return {
        "store": str(store.root),
        "now": now.isoformat(),
        "policy": {"raw_days": policy.raw_days, "anonymised_days": policy.anonymised_days},
        "stages": stages,
        "overdue_rows": {"raw": overdue_raw, "anonymised": overdue_anon, "quarantine": overdue_quar},
        "files_ingested": len(files),
        "lines_ingested": sum(f["lines"] or 0 for f in files),
        "quarantine": cat.quarantine.totals(),
        "last_nightly": cat.runs.last("nightly"),
        "holds": [h.to_dict(now) for h in store.catalog.holds.all() if h.active(now)],
        "restricted_subjects": len(restricted_keys(store)),
    }
