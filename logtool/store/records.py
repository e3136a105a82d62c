"""The records the catalog holds, as plain values: partitions and incident holds."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any


@dataclass(frozen=True)
class Partition:
    """One committed Parquet file of one stage and day."""

    stage: str
    date: str
    path: str  # relative to the store root
    rows: int
    size: int
    sha256: str
    file_id: int | None = None


@dataclass(frozen=True)
class Hold:
    """An incident hold: a named, reasoned predicate (time window, optional networks) that keeps
    matching rows out of retention while it is active."""

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

    @classmethod
    def from_row(cls, r: tuple[Any, ...]) -> Hold:
        def dt(v: str | None) -> datetime | None:
            return datetime.fromisoformat(v) if v else None

        return cls(r[0], r[1], dt(r[2]), dt(r[3]), tuple(json.loads(r[4])), dt(r[5]), r[6], dt(r[7]), dt(r[8]))  # type: ignore[arg-type]
