"""The SQLite catalog: which files were ingested, which Parquet partitions exist, and more.

Only partitions listed here are visible to readers; a Parquet file the catalog does not know
is an orphan of an interrupted run and is removed when the next writer starts.
"""

from __future__ import annotations

import hashlib
import json
import os
import secrets
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from logtool.errors import StoreError

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
    ingested_at TEXT NOT NULL
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
CREATE TABLE IF NOT EXISTS runs (
    id INTEGER PRIMARY KEY,
    command TEXT NOT NULL,
    started_at TEXT NOT NULL,
    finished_at TEXT NOT NULL,
    summary TEXT NOT NULL
);
"""


@dataclass(frozen=True)
class Partition:
    stage: str
    date: str
    path: str  # relative to the store root
    rows: int
    size: int
    sha256: str
    file_id: int | None = None


class Catalog:
    """Thin typed access to the catalog database."""

    def __init__(self, path: Path) -> None:
        try:
            self.db = sqlite3.connect(path, isolation_level=None, timeout=30)
            self.db.execute("PRAGMA journal_mode=WAL")
            self.db.execute("PRAGMA synchronous=FULL")
            self.db.execute("PRAGMA foreign_keys=ON")
            self.db.executescript(_DDL)
            self.db.execute(
                "INSERT OR IGNORE INTO meta(key, value) VALUES ('schema_version', ?)", (str(SCHEMA_VERSION),)
            )
        except sqlite3.DatabaseError as e:
            raise StoreError(f"catalog {path} is unusable: {e}") from None

    def close(self) -> None:
        self.db.close()

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """One atomic catalog change: everything inside commits together or not at all."""
        self.db.execute("BEGIN IMMEDIATE")
        try:
            yield self.db
        except BaseException:
            self.db.execute("ROLLBACK")
            raise
        self.db.execute("COMMIT")

    # meta -------------------------------------------------------------------------------
    def get_meta(self, key: str) -> str | None:
        row = self.db.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return row[0] if row else None

    def set_meta(self, key: str, value: str) -> None:
        self.db.execute("INSERT OR REPLACE INTO meta(key, value) VALUES (?, ?)", (key, value))

    # files ------------------------------------------------------------------------------
    def file_by(self, column: str, value: str) -> dict[str, Any] | None:
        assert column in ("fingerprint", "disk_sha256")
        cur = self.db.execute(f"SELECT * FROM files WHERE {column} = ? LIMIT 1", (value,))
        row = cur.fetchone()
        return dict(zip([d[0] for d in cur.description], row, strict=True)) if row else None

    def files(self) -> list[dict[str, Any]]:
        cur = self.db.execute("SELECT * FROM files ORDER BY id")
        names = [d[0] for d in cur.description]
        return [dict(zip(names, r, strict=True)) for r in cur.fetchall()]

    @staticmethod
    def insert_file(db: sqlite3.Connection, rec: dict[str, Any]) -> int:
        cols = ", ".join(rec)
        marks = ", ".join("?" for _ in rec)
        cur = db.execute(f"INSERT INTO files({cols}) VALUES ({marks})", tuple(rec.values()))
        return int(cur.lastrowid or 0)

    # partitions -------------------------------------------------------------------------
    @staticmethod
    def insert_partition(db: sqlite3.Connection, p: Partition, created_at: str) -> None:
        db.execute(
            "INSERT INTO partitions(stage, date, path, rows, size, sha256, file_id, created_at)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            (p.stage, p.date, p.path, p.rows, p.size, p.sha256, p.file_id, created_at),
        )

    @staticmethod
    def delete_partition(db: sqlite3.Connection, path: str) -> None:
        db.execute("DELETE FROM partitions WHERE path = ?", (path,))

    def partitions(self, stage: str, date_from: str | None = None, date_to: str | None = None) -> list[Partition]:
        q = "SELECT stage, date, path, rows, size, sha256, file_id FROM partitions WHERE stage = ?"
        args: list[Any] = [stage]
        if date_from:
            q += " AND date >= ?"
            args.append(date_from)
        if date_to:
            q += " AND date <= ?"
            args.append(date_to)
        q += " ORDER BY date, id"
        return [Partition(*r) for r in self.db.execute(q, args).fetchall()]

    def known_paths(self) -> set[str]:
        return {r[0] for r in self.db.execute("SELECT path FROM partitions")}

    # salts (unique visitors) ---------------------------------------------------------------
    def salt(self, day: str) -> bytes:
        """The secret salt of a UTC day, created on first use."""
        row = self.db.execute("SELECT salt FROM salts WHERE date = ?", (day,)).fetchone()
        if row:
            return bytes(row[0])
        self.db.execute("INSERT OR IGNORE INTO salts(date, salt) VALUES (?, ?)", (day, secrets.token_bytes(32)))
        return bytes(self.db.execute("SELECT salt FROM salts WHERE date = ?", (day,)).fetchone()[0])

    @staticmethod
    def destroy_salts(db: sqlite3.Connection, days: list[str]) -> None:
        db.executemany("DELETE FROM salts WHERE date = ?", [(d,) for d in days])

    def salt_days(self) -> list[str]:
        return [r[0] for r in self.db.execute("SELECT date FROM salts ORDER BY date")]

    # audit trail --------------------------------------------------------------------------
    @staticmethod
    def audit(db: sqlite3.Connection, now: str, action: str, params: dict[str, Any], counts: dict[str, Any]) -> None:
        """Append a hash-chained entry (inside the caller's transaction). No personal data:
        callers pass file names, days, counts; subject addresses only as keyed hashes."""
        head = db.execute("SELECT value FROM meta WHERE key = 'audit_head'").fetchone()
        prev = head[0] if head else GENESIS
        entry = {
            "ts": now,
            "os_user": _os_user(),
            "action": action,
            "params": json.dumps(params, sort_keys=True, default=str),
            "counts": json.dumps(counts, sort_keys=True, default=str),
        }
        cur = db.execute(
            "INSERT INTO audit(ts, os_user, action, params, counts, prev_hash, hash) VALUES (?, ?, ?, ?, ?, ?, '')",
            (entry["ts"], entry["os_user"], entry["action"], entry["params"], entry["counts"], prev),
        )
        digest = entry_hash(int(cur.lastrowid or 0), prev, entry)
        db.execute("UPDATE audit SET hash = ? WHERE id = ?", (digest, cur.lastrowid))
        db.execute("INSERT OR REPLACE INTO meta(key, value) VALUES ('audit_head', ?)", (digest,))

    def audit_entries(self, since: str | None = None) -> list[dict[str, Any]]:
        q = "SELECT id, ts, os_user, action, params, counts, prev_hash, hash FROM audit"
        args: list[Any] = []
        if since:
            q += " WHERE ts >= ?"
            args.append(since)
        cur = self.db.execute(q + " ORDER BY id", args)
        names = [d[0] for d in cur.description]
        return [dict(zip(names, r, strict=True)) for r in cur.fetchall()]

    # quarantine and runs ----------------------------------------------------------------
    @staticmethod
    def add_quarantine_stats(db: sqlite3.Connection, file_id: int, counts: dict[str, int]) -> None:
        db.executemany(
            "INSERT INTO quarantine_stats(file_id, reason, count) VALUES (?, ?, ?)",
            [(file_id, r, c) for r, c in counts.items()],
        )

    def quarantine_totals(self) -> dict[str, int]:
        rows = self.db.execute("SELECT reason, SUM(count) FROM quarantine_stats GROUP BY reason ORDER BY 2 DESC")
        return {r: int(c) for r, c in rows}

    def record_run(self, command: str, started_at: str, finished_at: str, summary: dict[str, Any]) -> None:
        self.db.execute(
            "INSERT INTO runs(command, started_at, finished_at, summary) VALUES (?, ?, ?, ?)",
            (command, started_at, finished_at, json.dumps(summary, default=str)),
        )

    def last_run(self, command: str) -> dict[str, Any] | None:
        row = self.db.execute(
            "SELECT started_at, finished_at, summary FROM runs WHERE command = ? ORDER BY id DESC LIMIT 1",
            (command,),
        ).fetchone()
        if not row:
            return None
        return {"started_at": row[0], "finished_at": row[1], "summary": json.loads(row[2])}


GENESIS = "0" * 64


def entry_hash(entry_id: int, prev_hash: str, entry: dict[str, Any]) -> str:
    """SHA-256 over the previous hash and the entry's canonical fields (its id included, so
    reordering entries breaks the chain)."""
    body = json.dumps(
        [entry_id, prev_hash, entry["ts"], entry["os_user"], entry["action"], entry["params"], entry["counts"]],
        separators=(",", ":"),
    )
    return hashlib.sha256(body.encode()).hexdigest()


def _os_user() -> str:
    try:
        import pwd

        return pwd.getpwuid(os.getuid()).pw_name
    except (ImportError, KeyError, OSError):
        return os.environ.get("USER", "unknown")
