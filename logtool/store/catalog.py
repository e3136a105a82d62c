"""The SQLite catalog: the only place with SQL. One connection, one transaction helper, and a
small repository per table (files, partitions, salts, holds, restrictions, audit, runs, …).

Only partitions listed here are visible to readers. Files a writer creates are journaled in
``pending`` before they are renamed into place, so the next writer can prove which leftovers of
an interrupted run are its own (see :mod:`logtool.store.files`); no other file is ever deleted.
"""

from __future__ import annotations

import hashlib
import json
import os
import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from logtool.errors import StoreError
from logtool.store.records import Hold, Partition
from logtool.store.sqlite import Connection

SCHEMA_VERSION = 1

_DDL = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS files (
    id INTEGER PRIMARY KEY,
    name TEXT NOT NULL,
    path TEXT,
    fingerprint TEXT NOT NULL UNIQUE,
    disk_sha256 TEXT,
    compression TEXT,
    format TEXT,
    lines INTEGER, parsed INTEGER, rejected INTEGER,
    first_ts TEXT, last_ts TEXT,
    ingested_at TEXT NOT NULL,
    disk_size INTEGER
);
CREATE INDEX IF NOT EXISTS files_disk ON files(disk_sha256);
CREATE TABLE IF NOT EXISTS partitions (
    id INTEGER PRIMARY KEY,
    stage TEXT NOT NULL,
    date TEXT NOT NULL,
    path TEXT NOT NULL UNIQUE,
    rows INTEGER NOT NULL,
    size INTEGER NOT NULL,
    sha256 TEXT NOT NULL,
    file_id INTEGER REFERENCES files(id),
    created_at TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS partitions_stage_date ON partitions(stage, date);
CREATE TABLE IF NOT EXISTS quarantine_stats (
    file_id INTEGER NOT NULL REFERENCES files(id),
    reason TEXT NOT NULL,
    count INTEGER NOT NULL,
    PRIMARY KEY (file_id, reason)
);
CREATE TABLE IF NOT EXISTS salts (date TEXT PRIMARY KEY, salt BLOB NOT NULL);
CREATE TABLE IF NOT EXISTS holds (
    id TEXT PRIMARY KEY,
    reason TEXT NOT NULL,
    start TEXT NOT NULL,
    end_ TEXT,
    networks TEXT NOT NULL,
    created_at TEXT NOT NULL,
    created_by TEXT NOT NULL,
    expires_at TEXT NOT NULL,
    released_at TEXT
);
CREATE TABLE IF NOT EXISTS restricted (subject TEXT PRIMARY KEY, since TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS audit (
    id INTEGER PRIMARY KEY,
    ts TEXT NOT NULL,
    os_user TEXT NOT NULL,
    action TEXT NOT NULL,
    params TEXT NOT NULL,
    counts TEXT NOT NULL,
    prev_hash TEXT NOT NULL,
    hash TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS pending (path TEXT PRIMARY KEY, since TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS runs (
    id INTEGER PRIMARY KEY,
    command TEXT NOT NULL,
    started_at TEXT NOT NULL,
    finished_at TEXT NOT NULL,
    summary TEXT NOT NULL
);
"""


class Catalog:
    """The catalog database. ``readonly`` opens it for reading only (no schema set-up, nothing
    created), so readers work on a store they cannot write."""

    def __init__(self, path: Path, readonly: bool = False) -> None:
        self.path, self.readonly = path, readonly
        if not readonly and not path.exists():  # owner-only from the start: SQLite gives its WAL the same mode
            try:
                os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600))
            except OSError as e:
                raise StoreError(f"cannot create catalog {path}: {e.strerror}") from None
        self.db = Connection(path, readonly)
        if not readonly:
            self.db.execute("PRAGMA journal_mode=WAL")
            self.db.execute("PRAGMA synchronous=FULL")
            self.db.execute("PRAGMA foreign_keys=ON")
            self.db.executescript(_DDL)
            _add_columns(self.db)
            self.db.execute(
                "INSERT OR IGNORE INTO meta(key, value) VALUES ('schema_version', ?)", (str(SCHEMA_VERSION),)
            )
        self.meta = _Meta(self.db)
        self.files = _Files(self.db)
        self.partitions = _Partitions(self.db)
        self.salts = _Salts(self.db)
        self.holds = _Holds(self.db)
        self.restricted = _Restricted(self.db)
        self.audit = _Audit(self.db)
        self.quarantine = _QuarantineStats(self.db)
        self.runs = _Runs(self.db)
        self.pending = _Pending(self.db)

    def close(self) -> None:
        self.db.close()

    @contextmanager
    def transaction(self) -> Iterator[None]:
        """One atomic catalog change: everything inside commits together or not at all."""
        self.db.execute("BEGIN IMMEDIATE")
        try:
            yield
        except BaseException:
            self.db.execute("ROLLBACK")
            raise
        self.db.execute("COMMIT")

    def integrity(self) -> list[str]:
        """SQLite's own integrity check: an empty list when the database file is sound."""
        try:
            rows = [r[0] for r in self.db.execute("PRAGMA integrity_check").fetchall()]
        except StoreError as e:
            return [str(e)]
        return [] if rows == ["ok"] else rows


#: Columns added to a table after its first version, added to a catalog that lacks them when a
#: writer opens it (at the end: a salvaged row of an older catalog fills the columns before them).
_ADDED = {"files": [("disk_size", "INTEGER")]}


def columns(db: Connection, table: str) -> list[str]:
    """The columns of one of the catalog's tables, in order."""
    assert table.isidentifier()
    return [r[1] for r in db.execute(f"PRAGMA table_info({table})").fetchall()]


def _add_columns(db: Connection) -> None:
    for table, added in _ADDED.items():
        for name, kind in added:
            if name not in columns(db, table):
                try:
                    db.execute(f"ALTER TABLE {table} ADD COLUMN {name} {kind}")
                except StoreError:  # another process added it first
                    if name not in columns(db, table):
                        raise


class _Repo:
    def __init__(self, db: Connection) -> None:
        self.db = db

    def _dicts(self, q: str, args: tuple[Any, ...] | list[Any] = ()) -> list[dict[str, Any]]:
        cur = self.db.execute(q, args)
        names = [d[0] for d in cur.description]
        return [dict(zip(names, r, strict=True)) for r in cur.fetchall()]


class _Meta(_Repo):
    def get(self, key: str) -> str | None:
        row = self.db.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return row[0] if row else None

    def set(self, key: str, value: str) -> None:
        self.db.execute("INSERT OR REPLACE INTO meta(key, value) VALUES (?, ?)", (key, value))


class _Files(_Repo):
    def by(self, column: str, value: str) -> dict[str, Any] | None:
        assert column in ("fingerprint", "disk_sha256")
        rows = self._dicts(f"SELECT * FROM files WHERE {column} = ? LIMIT 1", (value,))
        return rows[0] if rows else None

    def all(self) -> list[dict[str, Any]]:
        return self._dicts("SELECT * FROM files ORDER BY id")

    def may_have_size(self, size: int | None) -> bool:
        """Might a file ingested with a disk digest have had ``size`` bytes on disk? (A record
        from before sizes were kept might; a stream's has no disk digest to match.) A file of a
        size none had is none of them."""
        if size is None or "disk_size" not in columns(self.db, "files"):  # an older catalog, read-only
            return True
        q = "SELECT 1 FROM files WHERE disk_sha256 IS NOT NULL AND (disk_size IS NULL OR disk_size = ?) LIMIT 1"
        return self.db.execute(q, (size,)).fetchone() is not None

    def delete(self, file_id: int) -> None:
        """Forget an ingested file (its partitions and reject counts must be gone first)."""
        self.db.execute("DELETE FROM quarantine_stats WHERE file_id = ?", (file_id,))
        self.db.execute("DELETE FROM files WHERE id = ?", (file_id,))

    def insert(self, rec: dict[str, Any]) -> int:
        cols = ", ".join(rec)
        marks = ", ".join("?" for _ in rec)
        cur = self.db.execute(f"INSERT INTO files({cols}) VALUES ({marks})", tuple(rec.values()))
        return int(cur.lastrowid or 0)


class _Partitions(_Repo):
    def of(self, stage: str, date_from: str | None = None, date_to: str | None = None) -> list[Partition]:
        q = "SELECT stage, date, path, rows, size, sha256, file_id FROM partitions WHERE stage = ?"
        args: list[Any] = [stage]
        if date_from:
            q += " AND date >= ?"
            args.append(date_from)
        if date_to:
            q += " AND date <= ?"
            args.append(date_to)
        return [Partition(*r) for r in self.db.execute(q + " ORDER BY date, id", args).fetchall()]

    def of_file(self, file_id: int) -> list[Partition]:
        """Every partition an ingest of that file committed (any stage)."""
        q = "SELECT stage, date, path, rows, size, sha256, file_id FROM partitions WHERE file_id = ? ORDER BY id"
        return [Partition(*r) for r in self.db.execute(q, (file_id,)).fetchall()]

    def insert(self, p: Partition, created_at: str) -> None:
        self.db.execute(
            "INSERT INTO partitions(stage, date, path, rows, size, sha256, file_id, created_at)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            (p.stage, p.date, p.path, p.rows, p.size, p.sha256, p.file_id, created_at),
        )

    def delete(self, path: str) -> None:
        self.db.execute("DELETE FROM partitions WHERE path = ?", (path,))

    def paths(self) -> set[str]:
        return {r[0] for r in self.db.execute("SELECT path FROM partitions")}

    def count(self) -> int:
        return int(self.db.execute("SELECT COUNT(*) FROM partitions").fetchone()[0])


class _Salts(_Repo):
    def get(self, day: str) -> bytes:
        """The secret salt of a UTC day, created on first use."""
        row = self.db.execute("SELECT salt FROM salts WHERE date = ?", (day,)).fetchone()
        if row:
            return bytes(row[0])
        self.db.execute("INSERT OR IGNORE INTO salts(date, salt) VALUES (?, ?)", (day, secrets.token_bytes(32)))
        return bytes(self.db.execute("SELECT salt FROM salts WHERE date = ?", (day,)).fetchone()[0])

    def destroy(self, days: list[str]) -> None:
        self.db.executemany("DELETE FROM salts WHERE date = ?", [(d,) for d in days])

    def days(self) -> list[str]:
        return [r[0] for r in self.db.execute("SELECT date FROM salts ORDER BY date")]


class _Holds(_Repo):
    def get(self, hold_id: str) -> Hold | None:
        row = self.db.execute("SELECT * FROM holds WHERE id = ?", (hold_id,)).fetchone()
        return Hold.from_row(row) if row else None

    def all(self) -> list[Hold]:
        return [Hold.from_row(r) for r in self.db.execute("SELECT * FROM holds ORDER BY created_at, id")]

    def insert(self, h: Hold) -> None:
        self.db.execute(
            "INSERT INTO holds(id, reason, start, end_, networks, created_at, created_by, expires_at, released_at)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?, NULL)",
            (h.id, h.reason, h.start.isoformat(), h.end.isoformat() if h.end else None, json.dumps(list(h.networks)),
             h.created_at.isoformat(), h.created_by, h.expires_at.isoformat()),
        )  # fmt: skip

    def set_expiry(self, hold_id: str, expires: str) -> None:
        self.db.execute("UPDATE holds SET expires_at = ? WHERE id = ?", (expires, hold_id))

    def release(self, hold_id: str, when: str) -> None:
        self.db.execute("UPDATE holds SET released_at = ? WHERE id = ?", (when, hold_id))


class _Restricted(_Repo):
    def has(self, key: str) -> bool:
        return self.db.execute("SELECT 1 FROM restricted WHERE subject = ?", (key,)).fetchone() is not None

    def keys(self) -> set[str]:
        return {r[0] for r in self.db.execute("SELECT subject FROM restricted")}

    def add(self, key: str, since: str) -> None:
        self.db.execute("INSERT OR IGNORE INTO restricted(subject, since) VALUES (?, ?)", (key, since))

    def remove(self, key: str) -> None:
        self.db.execute("DELETE FROM restricted WHERE subject = ?", (key,))


class _Audit(_Repo):
    def append(self, now: str, action: str, params: dict[str, Any], counts: dict[str, Any]) -> None:
        """Append a hash-chained entry (inside the caller's transaction). No personal data:
        callers pass file names, days, counts; subject addresses only as keyed hashes."""
        head = self.db.execute("SELECT value FROM meta WHERE key = 'audit_head'").fetchone()
        prev = head[0] if head else GENESIS
        entry = {
            "ts": now,
            "os_user": os_user(),
            "action": action,
            "params": json.dumps(params, sort_keys=True, default=str),
            "counts": json.dumps(counts, sort_keys=True, default=str),
        }
        cur = self.db.execute(
            "INSERT INTO audit(ts, os_user, action, params, counts, prev_hash, hash) VALUES (?, ?, ?, ?, ?, ?, '')",
            (entry["ts"], entry["os_user"], entry["action"], entry["params"], entry["counts"], prev),
        )
        digest = entry_hash(int(cur.lastrowid or 0), prev, entry)
        self.db.execute("UPDATE audit SET hash = ? WHERE id = ?", (digest, cur.lastrowid))
        self.db.execute("INSERT OR REPLACE INTO meta(key, value) VALUES ('audit_head', ?)", (digest,))

    def entries(self, since: str | None = None) -> list[dict[str, Any]]:
        q = "SELECT id, ts, os_user, action, params, counts, prev_hash, hash FROM audit"
        if since:
            return self._dicts(q + " WHERE ts >= ? ORDER BY id", (since,))
        return self._dicts(q + " ORDER BY id")


class _QuarantineStats(_Repo):
    def add(self, file_id: int, counts: dict[str, int]) -> None:
        self.db.executemany(
            "INSERT INTO quarantine_stats(file_id, reason, count) VALUES (?, ?, ?)",
            [(file_id, r, c) for r, c in counts.items()],
        )

    def totals(self) -> dict[str, int]:
        rows = self.db.execute("SELECT reason, SUM(count) FROM quarantine_stats GROUP BY reason ORDER BY 2 DESC")
        return {r: int(c) for r, c in rows}


class _Runs(_Repo):
    def record(self, command: str, started_at: str, finished_at: str, summary: dict[str, Any]) -> None:
        self.db.execute(
            "INSERT INTO runs(command, started_at, finished_at, summary) VALUES (?, ?, ?, ?)",
            (command, started_at, finished_at, json.dumps(summary, default=str)),
        )

    def last(self, command: str) -> dict[str, Any] | None:
        row = self.db.execute(
            "SELECT started_at, finished_at, summary FROM runs WHERE command = ? ORDER BY id DESC LIMIT 1",
            (command,),
        ).fetchone()
        if not row:
            return None
        return {"started_at": row[0], "finished_at": row[1], "summary": json.loads(row[2])}


class _Pending(_Repo):
    """The write journal: paths a writer created (before their rename into place) or retired
    (after the commit that dropped them), until the files are committed or gone."""

    def add(self, paths: list[str], since: str) -> None:
        self.db.executemany("INSERT OR IGNORE INTO pending(path, since) VALUES (?, ?)", [(p, since) for p in paths])

    def remove(self, paths: list[str]) -> None:
        self.db.executemany("DELETE FROM pending WHERE path = ?", [(p,) for p in paths])

    def all(self) -> list[str]:
        return [r[0] for r in self.db.execute("SELECT path FROM pending ORDER BY path")]


GENESIS = "0" * 64


def entry_hash(entry_id: int, prev_hash: str, entry: dict[str, Any]) -> str:
    """SHA-256 over the previous hash and the entry's canonical fields (its id included, so
    reordering entries breaks the chain)."""
    body = json.dumps(
        [entry_id, prev_hash, entry["ts"], entry["os_user"], entry["action"], entry["params"], entry["counts"]],
        separators=(",", ":"),
    )
    return hashlib.sha256(body.encode()).hexdigest()


def os_user() -> str:
    """The OS user running this process (audit entries, hold records)."""
    try:
        import pwd

        return pwd.getpwuid(os.getuid()).pw_name
    except (ImportError, KeyError, OSError):
        return os.environ.get("USER", "unknown")
