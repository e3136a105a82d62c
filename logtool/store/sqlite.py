"""The catalog's SQLite connection, with every SQLite error turned into one store error line.

A damaged catalog file, a full disk, a read-only medium or a lock held too long surface as
:class:`~logtool.errors.StoreError` (exit 4) naming the catalog and what to do — wherever in a
command they happen, never as a traceback. Programming errors (constraint violations, bad SQL)
are left as they are.
"""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Iterator
from contextlib import suppress
from pathlib import Path
from typing import Any

from logtool.errors import StoreBusyError, StoreError


def translate(e: sqlite3.Error, path: Path) -> Exception:
    """The store error for a SQLite error on the catalog at ``path`` (``e`` itself if it is a bug)."""
    if isinstance(e, sqlite3.IntegrityError | sqlite3.ProgrammingError | sqlite3.InterfaceError):
        return e
    text = str(e)
    low = text.lower()
    if "locked" in low or "busy" in low:
        return StoreBusyError(f"catalog {path} is locked by another process ({text}); try again when it has finished")
    if "readonly" in low or "read-only" in low:
        return StoreError(f"store {path.parent} is read-only ({text}): only reading commands can run on it")
    if "full" in low:
        return StoreError(f"cannot write catalog {path}: no space left on device; nothing was committed")
    if "disk i/o error" in low:
        return StoreError(
            f"cannot read or write catalog {path}: disk I/O error (a full disk, a file size limit or a failing "
            "device); "
            "nothing was committed"
        )
    if "unable to open" in low:
        return StoreError(f"cannot open catalog {path} ({text}): check the store's permissions")
    return StoreError(
        f"catalog {path} is damaged ({text}): run 'logtool verify'; 'logtool recover' rebuilds it from the "
        "Parquet files"
    )


class Cursor:
    """A cursor whose row fetching translates errors too (SQLite finds damage while stepping)."""

    def __init__(self, cur: sqlite3.Cursor, path: Path) -> None:
        self._cur, self._path = cur, path

    @property
    def lastrowid(self) -> int | None:
        return self._cur.lastrowid

    @property
    def description(self) -> Any:
        return self._cur.description

    def fetchone(self) -> Any:
        try:
            return self._cur.fetchone()
        except sqlite3.Error as e:
            raise translate(e, self._path) from None

    def fetchall(self) -> list[Any]:
        try:
            return self._cur.fetchall()
        except sqlite3.Error as e:
            raise translate(e, self._path) from None

    def __iter__(self) -> Iterator[Any]:
        return iter(self.fetchall())


class Connection:
    """A :class:`sqlite3.Connection` whose errors are store errors (see :func:`translate`)."""

    def __init__(self, path: Path, readonly: bool) -> None:
        self.path = path
        try:
            self.db = self._connect(path, readonly)
        except sqlite3.Error as e:
            raise translate(e, path) from None

    @staticmethod
    def _connect(path: Path, readonly: bool) -> sqlite3.Connection:
        if not readonly:
            return sqlite3.connect(path, isolation_level=None, timeout=30)
        uri = path.resolve().as_uri()
        db = sqlite3.connect(f"{uri}?mode=ro", uri=True, isolation_level=None, timeout=30)
        try:
            db.execute("SELECT 1 FROM meta LIMIT 1").fetchall()
            return db
        except sqlite3.OperationalError:
            db.close()
            if os.access(path.parent, os.W_OK):
                raise
        # A read-only medium or folder: SQLite cannot create the WAL index beside the catalog.
        # No writer can change the catalog there either, so it is read as an immutable file.
        db = sqlite3.connect(f"{uri}?mode=ro&immutable=1", uri=True, isolation_level=None)
        db.execute("SELECT 1 FROM meta LIMIT 1").fetchall()
        return db

    def execute(self, q: str, args: Any = ()) -> Cursor:
        try:
            return Cursor(self.db.execute(q, args), self.path)
        except sqlite3.Error as e:
            raise translate(e, self.path) from None

    def executemany(self, q: str, rows: Any) -> Cursor:
        try:
            return Cursor(self.db.executemany(q, rows), self.path)
        except sqlite3.Error as e:
            raise translate(e, self.path) from None

    def executescript(self, script: str) -> None:
        try:
            self.db.executescript(script)
        except sqlite3.Error as e:
            raise translate(e, self.path) from None

    def commit(self) -> None:
        """A no-op in autocommit mode (transactions are explicit); kept for sqlite3's interface."""
        try:
            self.db.commit()
        except sqlite3.Error as e:
            raise translate(e, self.path) from None

    def close(self) -> None:
        with suppress(sqlite3.Error):
            self.db.close()
