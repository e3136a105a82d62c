"""One store change: what it writes, lists, drops and records, committed at once (see
:meth:`logtool.store.Store.change`)."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import datetime
from typing import TYPE_CHECKING, Any

from logtool.store import guard
from logtool.store.catalog import Catalog
from logtool.store.files import INGEST_KEY, PartitionWriter, publish, unlink_all
from logtool.store.records import Partition

if TYPE_CHECKING:
    from logtool.store import Store


def _fault(point: str) -> None:
    import logtool.store  # the hook is looked up at each point, so a test can set it any time

    logtool.store.fault_hook(point)


class Change:
    """What one store change does, collected under the writer lock and committed at once.

    * ``writer(stage)`` — new partitions, written now, published on commit;
    * ``add(parts)`` / ``retire(parts)`` — partitions to list / to drop (their files are removed
      after the commit);
    * ``then(fn)`` — a catalog update run inside the commit transaction (``fn(catalog)``);
    * ``file_record`` and ``quarantine_counts`` — an ingested file and its reject counts (the
      new partitions are linked to it);
    * ``counts`` — the audit entry's counts; ``note(action, params, counts)`` adds entries.

    A change that writes nothing and records nothing (``skip()``) commits nothing, not even its
    audit entry.
    """

    def __init__(self, store: Store, action: str, now: datetime, params: dict[str, Any]) -> None:
        self.store, self.action, self.now, self.params = store, action, now, params
        self.counts: dict[str, Any] = {}
        self.file_record: dict[str, Any] | None = None
        self.quarantine_counts: dict[str, int] = {}
        self._writers: list[PartitionWriter] = []
        self._added: list[Partition] = []
        self._retired: list[Partition] = []
        self._ops: list[Callable[[Catalog], None]] = []
        self._notes: list[tuple[str, dict[str, Any], dict[str, Any]]] = []
        self._skipped = False
        self.file_id: int | None = None

    def writer(self, stage: str) -> PartitionWriter:
        w = self.store.writer(stage)
        self._writers.append(w)
        return w

    def add(self, parts: list[Partition]) -> None:
        self._added += parts

    def retire(self, parts: list[Partition]) -> None:
        self._retired += parts

    def then(self, fn: Callable[[Catalog], None]) -> None:
        self._ops.append(fn)

    def note(self, action: str, params: dict[str, Any], counts: dict[str, Any] | None = None) -> None:
        self._notes.append((action, params, counts or {}))

    def skip(self) -> None:
        """Commit nothing (the change turned out to be a no-op)."""
        self._skipped = True

    @property
    def added(self) -> list[Partition]:
        return list(self._added)

    def abort(self) -> None:
        for w in self._writers:
            w.abort()

    def commit(self) -> None:
        if self._skipped:
            self.abort()
            return
        cat, stamp = self.store.catalog, self.now.isoformat()
        # an ingest's files carry its file record, so that a lost catalog can be rebuilt with it
        meta = {INGEST_KEY: json.dumps(self.file_record, default=str)} if self.file_record else None
        files = [f for w in self._writers for f in w.finish(meta)]
        new = [p.path for _, p in files]
        try:
            _fault("written")
            if new:
                with cat.transaction():
                    cat.pending.add(new, stamp)
                publish(self.store.root, files)
            _fault("published")
            self._added += [p for _, p in files]
            retired = [p.path for p in self._retired]
            with cat.transaction():
                if self.file_record is not None:
                    self.file_id = cat.files.insert(self.file_record)
                    cat.quarantine.add(self.file_id, self.quarantine_counts)
                for p in self._retired:
                    cat.partitions.delete(p.path)
                for p in self._added:
                    file_id = self.file_id if p.file_id is None else p.file_id
                    cat.partitions.insert(Partition(p.stage, p.date, p.path, p.rows, p.size, p.sha256, file_id), stamp)
                for fn in self._ops:
                    fn(cat)
                cat.audit.append(stamp, self.action, self.params, self.counts)
                for action, params, counts in self._notes:
                    cat.audit.append(stamp, action, params, counts)
                cat.pending.remove(new)
                cat.pending.add(retired, stamp)
        except BaseException:
            for tmp, _ in files:
                tmp.unlink(missing_ok=True)
            unlink_all(self.store.root, [p for p in new if p not in cat.partitions.paths()])
            raise
        _fault("committed")
        if not retired:
            return
        with guard.readers_away(self.store.root) as free:
            if not free:  # a reader may hold the old list: a later writer removes them (pending)
                return
            unlink_all(self.store.root, retired)
        with cat.transaction():
            cat.pending.remove(retired)
