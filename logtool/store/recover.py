"""Putting a broken store right: rebuild a lost or damaged catalog from the Parquet files
(:func:`recover`), and set damaged partitions aside (:func:`set_aside`).

Nothing here deletes data. Files that cannot be listed — unreadable, of a foreign schema, not in
a date folder, or superseded by a newer file holding the same rows — move to ``STORE/damaged/``
(outside the stages, so no reader lists them), where the operator can inspect them. The only
files removed are a writer's own temp files.

``recover`` keeps what the old catalog still yields (holds, restrictions, the store key, salts,
the ingested files and their quarantine counts, the write journal), sets the old catalog aside
(``catalog.sqlite.before-recover-<time>``) and starts a new audit chain whose first entry says
why, where the old catalog went and the old chain's head, so the two can be checked together.
"""

from __future__ import annotations

import json
import os
import sqlite3
from dataclasses import dataclass, field, replace
from datetime import date, datetime
from pathlib import Path
from typing import Any

import polars as pl

from logtool.errors import ConfigError, StoreError
from logtool.schema import SCHEMAS
from logtool.stages import STAGES
from logtool.store import guard
from logtool.store.catalog import Catalog, columns
from logtool.store.files import INGEST_KEY, TMP_PREFIX, file_sha256, fsync_dir, stage_files, unlink_all
from logtool.store.records import Partition

CATALOG = "catalog.sqlite"
#: Tables taken over from a readable old catalog, in an order the foreign keys accept.
SALVAGED = ("meta", "files", "quarantine_stats", "holds", "restricted", "salts", "pending")
_KEYS = ["source_file", "line_no", "ts"]
#: Columns every file of a stage has had since the first version (newer columns may be missing).
_KEY_COLUMNS = {"raw": ("ts", "client_ip"), "anonymised": ("ts", "client_net"), "aggregates": ("date", "dimension", "key"),
                "quarantine": ("line_no", "line")}  # fmt: skip


@dataclass
class RecoverResult:
    reason: str
    old_catalog: str | None = None
    partitions: dict[str, int] = field(default_factory=dict)
    rows: dict[str, int] = field(default_factory=dict)
    set_aside: list[tuple[str, str]] = field(default_factory=list)  # (path, why)
    salvaged: dict[str, int | str] = field(default_factory=dict)
    removed_temp: int = 0


def move_aside(root: Path, rel: str) -> str:
    """Move a store file to ``damaged/`` under the same relative path (durably); the new path."""
    dest = root / guard.DAMAGED / rel
    n = 1
    while dest.exists():
        dest = root / guard.DAMAGED / f"{rel}.{n}"
        n += 1
    guard.make_dir(dest.parent)
    os.rename(root / rel, dest)
    fsync_dir(dest.parent)
    fsync_dir((root / rel).parent)
    return str(dest.relative_to(root))


def set_aside(store: Any, damaged: list[tuple[Partition, str]], now: datetime) -> list[str]:
    """Take damaged partitions out of the store: each file (if any is left) moves to
    ``damaged/``, then one change drops them from the catalog with an audit entry naming each.
    Files move first: a crash in between leaves a listed partition without its file, which
    ``verify`` reports and a second run drops."""
    moved = []
    with store.change("set-aside", now, {"partitions": [p.path for p, _ in damaged]}) as ch:
        for p, _ in damaged:
            if (store.root / p.path).exists():
                moved.append(move_aside(store.root, p.path))
        paths = [p.path for p, _ in damaged]
        ch.then(lambda cat: [cat.partitions.delete(path) for path in paths])
        ch.counts = {
            "rows_set_aside": {
                s: sum(p.rows for p, _ in damaged if p.stage == s) for s in {p.stage for p, _ in damaged}
            },
            "why": {p.path: why for p, why in damaged},
            "moved_to": moved,
        }
    return moved


# recover ----------------------------------------------------------------------------------------
def diagnose(root: Path) -> str | None:
    """Why the catalog needs rebuilding, or None when it is sound and lists the store's files."""
    db = root / CATALOG
    data = [f for f in stage_files(root) if not Path(f).name.startswith(TMP_PREFIX)]
    if not db.exists():
        return f"{CATALOG} is missing"
    if db.stat().st_size == 0:
        return f"{CATALOG} is empty (0 bytes)"
    try:
        con = sqlite3.connect(f"{db.resolve().as_uri()}?mode=ro", uri=True)
        try:
            check = [r[0] for r in con.execute("PRAGMA integrity_check").fetchall()]
            listed = {r[0] for r in con.execute("SELECT path FROM partitions")}
            pending = {r[0] for r in con.execute("SELECT path FROM pending")}
        finally:
            con.close()
    except sqlite3.Error as e:
        return f"{CATALOG} is unreadable: {e}"
    if check != ["ok"]:
        return f"{CATALOG} failed SQLite's integrity check: {check[0]}"
    unlisted = [f for f in data if f not in listed and f not in pending]
    if unlisted and not listed:
        return f"{CATALOG} lists none of the {len(unlisted)} Parquet files"
    return None


def _salvage(db: Path) -> tuple[dict[str, list[tuple[Any, ...]]], dict[str, int | str]]:
    """Rows of :data:`SALVAGED` tables from the old catalog, table by table (what is readable)."""
    rows: dict[str, list[tuple[Any, ...]]] = {}
    report: dict[str, int | str] = {}
    if not db.exists() or db.stat().st_size == 0:
        return rows, report
    try:
        con = sqlite3.connect(f"{db.resolve().as_uri()}?mode=ro", uri=True)
    except sqlite3.Error as e:
        return rows, {"catalog": f"unreadable: {e}"}
    try:
        for table in (*SALVAGED, "audit"):
            try:
                if table == "audit":
                    report["audit_entries"] = int(con.execute("SELECT COUNT(*) FROM audit").fetchone()[0])
                    continue
                cur = con.execute(f"SELECT * FROM {table}")  # noqa: S608 - table names are ours
                rows[table] = [tuple(r) for r in cur.fetchall()]
                report[table] = len(rows[table])
            except sqlite3.Error as e:
                report[table] = f"unreadable: {e}"
    finally:
        con.close()
    return rows, report


def _inspect(root: Path, rel: str) -> tuple[Partition | None, str, dict[str, Any] | None]:
    """A stage file as a partition (and the record of the ingest that wrote it, if one did), or
    None and why it cannot be one."""
    stage, folder, _ = rel.split("/", 2)
    try:
        day = date.fromisoformat(folder.removeprefix("date=")).isoformat()
    except ValueError:
        return None, f"{folder} is not a date folder", None
    path = root / rel
    try:
        import pyarrow.parquet as pq

        f = pq.ParquetFile(path)
        names = set(f.schema_arrow.names)
        for _ in f.iter_batches(batch_size=65_536):  # every page decodes
            pass
        rows = f.metadata.num_rows
        kv = f.metadata.metadata or {}
    except Exception as e:  # pyarrow raises several types for a broken file
        return None, f"not a readable Parquet file: {str(e).splitlines()[0] if str(e) else type(e).__name__}", None
    if not names <= set(SCHEMAS[stage]) or not set(_KEY_COLUMNS.get(stage, ())) <= names:  # schemas only grow
        return None, f"its columns are not those of the {stage} stage", None
    record = None
    if INGEST_KEY.encode() in kv:
        try:
            record = json.loads(kv[INGEST_KEY.encode()])
        except ValueError:
            record = None
    return Partition(stage, day, rel, rows, path.stat().st_size, file_sha256(path)), "", record


def _superseded(root: Path, parts: list[Partition]) -> dict[str, str]:
    """Raw and anonymised files of one day that hold rows a newer file of that day holds too
    (retired by an anonymisation or an erasure whose clean-up the lost catalog never saw):
    path → the newer file. Rows are matched by (source file, line, time)."""
    out: dict[str, str] = {}
    by_day: dict[str, list[Partition]] = {}
    for p in parts:
        if p.stage in ("raw", "anonymised"):
            by_day.setdefault(p.date, []).append(p)
    for day_parts in by_day.values():
        if len(day_parts) < 2:
            continue
        newest_first = sorted(day_parts, key=lambda p: os.stat(root / p.path).st_mtime_ns, reverse=True)
        keys = {p.path: pl.read_parquet(root / p.path, columns=_KEYS) for p in newest_first}
        for i, old in enumerate(newest_first):
            for new in newest_first[:i]:
                if new.path in out:
                    continue
                if keys[old.path].join(keys[new.path], on=_KEYS, how="semi").height:
                    out[old.path] = new.path
                    break
    return out


def recover(root: str | Path, now: datetime, force: bool = False) -> RecoverResult:
    """Rebuild the catalog of the store at ``root`` from its Parquet files (under the writer lock)."""
    root = Path(root).expanduser()
    if not root.is_dir():
        raise StoreError(f"no store at {root}")
    guard.check_links(root)
    guard.check_owner(root)
    fd = guard.lock_writer(root)
    try:
        reason = diagnose(root)
        if reason is None:
            if not force:
                raise ConfigError(
                    f"the catalog of {root} is sound and lists its files: nothing to recover (--force rebuilds it "
                    "from the files anyway, restarting the audit chain)"
                )
            reason = "rebuild requested (--force)"
        return _rebuild(root, now, reason)
    finally:
        guard.unlock(fd)


def _rebuild(root: Path, now: datetime, reason: str) -> RecoverResult:
    db = root / CATALOG
    res = RecoverResult(reason)
    old, res.salvaged = _salvage(db)
    pending = {r[0] for r in old.get("pending", [])}
    temp = [f for f in stage_files(root) if Path(f).name.startswith(TMP_PREFIX)]
    unlink_all(root, temp)
    res.removed_temp = len(temp)
    parts: list[Partition] = []
    records: dict[str, dict[str, Any]] = {}  # partition path → the record of the ingest that wrote it
    for rel in stage_files(root):
        if rel in pending:  # journaled by a writer: never committed, or retired
            res.set_aside.append((move_aside(root, rel), "journaled by an interrupted writer, not committed"))
            continue
        part, why, record = _inspect(root, rel)
        if part is None:
            res.set_aside.append((move_aside(root, rel), why))
        else:
            parts.append(part)
            if record and record.get("fingerprint"):
                records[part.path] = record
    gone = _superseded(root, parts)
    for rel, newer in gone.items():
        res.set_aside.append((move_aside(root, rel), f"its rows are in the newer {newer}"))
    parts = [p for p in parts if p.path not in gone]

    tmp = root / f"{CATALOG}.rebuild"
    for suffix in ("", "-wal", "-shm"):
        Path(f"{tmp}{suffix}").unlink(missing_ok=True)
    cat = Catalog(tmp)
    try:
        with cat.transaction():
            _restore(cat, old)
            ids = _file_ids(cat, root, parts, records)
            res.salvaged["files_from_partitions"] = len({r["fingerprint"] for r in records.values()})
            for p in parts:
                cat.partitions.insert(replace(p, file_id=ids.get(p.path)), now.isoformat())
            res.partitions = {s: sum(1 for p in parts if p.stage == s) for s in STAGES}
            res.rows = {s: sum(p.rows for p in parts if p.stage == s) for s in STAGES}
            res.old_catalog = _aside_name(root, now) if db.exists() else None
            params = {"reason": reason, "old_catalog": res.old_catalog, "old_audit_head": _old_head(old),
                      "salvaged": res.salvaged}  # fmt: skip
            counts = {"partitions": res.partitions, "rows": res.rows, "set_aside": dict(res.set_aside),
                      "temp_files_removed": res.removed_temp}  # fmt: skip
            cat.audit.append(now.isoformat(), "recover", params, counts)
    finally:
        cat.close()
    os.chmod(tmp, 0o600)
    if res.old_catalog is not None:  # keep the old catalog (and its WAL) under a new name
        for suffix in ("", "-wal", "-shm"):
            src = Path(f"{db}{suffix}")
            if src.exists():
                os.replace(src, root / f"{res.old_catalog}{suffix}")
    os.replace(tmp, db)
    fsync_dir(root)
    return res


def _file_ids(cat: Catalog, root: Path, parts: list[Partition], records: dict[str, dict[str, Any]]) -> dict[str, int]:
    """Partition path → id of its ingested file: the salvaged record of that content, or one
    rebuilt from the record the ingest wrote into the file (quarantine counts recounted), so a
    recovered store still knows what it ingested (re-ingesting is a no-op, ``forget`` works)."""
    ids: dict[str, int] = {}
    by_fp: dict[str, int] = {}
    for path, rec in records.items():
        fp = rec["fingerprint"]
        if fp not in by_fp:
            known = cat.files.by("fingerprint", fp)
            if known is not None:
                by_fp[fp] = int(known["id"])
            else:
                fields = {k: rec.get(k) for k in _FILE_COLUMNS}
                by_fp[fp] = cat.files.insert(fields)
                quarantined = [
                    p for p in parts if p.stage == "quarantine" and records.get(p.path, {}).get("fingerprint") == fp
                ]
                if quarantined:
                    reasons = pl.read_parquet([root / p.path for p in quarantined], columns=["reason"])
                    counts = dict(reasons.get_column("reason").value_counts().iter_rows())
                    cat.quarantine.add(by_fp[fp], {str(k): int(v) for k, v in counts.items()})
        ids[path] = by_fp[fp]
    return ids


_FILE_COLUMNS = ("name", "path", "fingerprint", "disk_sha256", "compression", "format", "lines", "parsed", "rejected",
                 "first_ts", "last_ts", "ingested_at", "disk_size")  # fmt: skip


def _aside_name(root: Path, now: datetime) -> str:
    name = f"{CATALOG}.before-recover-{now:%Y%m%dT%H%M%S}"
    n, out = 1, name
    while (root / out).exists():
        out, n = f"{name}.{n}", n + 1
    return out


def _old_head(old: dict[str, list[tuple[Any, ...]]]) -> str | None:
    return next((v for k, v in old.get("meta", []) if k == "audit_head"), None)


def _restore(cat: Catalog, old: dict[str, list[tuple[Any, ...]]]) -> None:
    """Insert what was salvaged (but not the old audit chain's head: the new chain starts here)."""
    db = cat.db
    for key, value in old.get("meta", []):
        if key == "token_key":
            cat.meta.set(key, value)
    names = columns(db, "files")
    for row in old.get("files", []):  # an older catalog's row fills the first columns (later ones are added last)
        cols = ", ".join(names[: len(row)])
        db.execute(f"INSERT OR IGNORE INTO files({cols}) VALUES ({', '.join('?' * len(row))})", row)
    for row in old.get("quarantine_stats", []):
        db.execute("INSERT OR IGNORE INTO quarantine_stats VALUES (?, ?, ?)", row)
    for row in old.get("holds", []):
        db.execute(f"INSERT OR IGNORE INTO holds VALUES ({', '.join('?' * len(row))})", row)
    for row in old.get("restricted", []):
        db.execute("INSERT OR IGNORE INTO restricted VALUES (?, ?)", row)
    for row in old.get("salts", []):
        db.execute("INSERT OR IGNORE INTO salts VALUES (?, ?)", row)
    if cat.meta.get("token_key") is None:
        import secrets

        cat.meta.set("token_key", secrets.token_hex(32))
