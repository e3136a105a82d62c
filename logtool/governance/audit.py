"""The audit trail: who changed what, when, provably in order and untouched.

Every state-changing action appends an entry in the same catalog transaction as the change
(:meth:`Catalog.audit`). Entries are hash-chained (each hash covers the previous one and the
entry's id), and the newest hash is kept in the catalog's meta table, so :func:`verify_chain`
detects a changed, removed, inserted or reordered entry, and a truncated tail.
"""

from __future__ import annotations

from dataclasses import dataclass

from logtool.store import Store
from logtool.store.catalog import GENESIS, entry_hash


@dataclass(frozen=True)
class ChainResult:
    entries: int
    ok: bool
    problem: str = ""


def verify_chain(store: Store) -> ChainResult:
    """Recompute the chain from the first entry; report the first break."""
    entries = store.catalog.audit.entries()
    prev = GENESIS
    expected_id = None
    for e in entries:
        if expected_id is not None and e["id"] != expected_id:
            return ChainResult(len(entries), False, f"entry {expected_id} is missing (next is {e['id']})")
        if e["prev_hash"] != prev:
            return ChainResult(len(entries), False, f"entry {e['id']} does not follow the entry before it")
        if entry_hash(e["id"], prev, e) != e["hash"]:
            return ChainResult(len(entries), False, f"entry {e['id']} was changed after it was written")
        prev, expected_id = e["hash"], e["id"] + 1
    head = store.catalog.meta.get("audit_head") or GENESIS
    if head != prev:
        return ChainResult(len(entries), False, "the newest entries were removed (chain head does not match)")
    return ChainResult(len(entries), True)
