"""What keeps a store directory trustworthy: no symbolic links inside it, one owner, owner-only
permissions, the writer lock, and the readers' lock that keeps retired files alive while a
reader may still hold the old partition list.

* **Links** are never followed inside a store: a date folder or a partition linked elsewhere
  would let a writer's clean-up delete (or a reader read) a file outside it. :func:`check_links`
  refuses such a store; every special file is opened with ``O_NOFOLLOW``.
* **Owner**: a writer refuses a store that belongs to another user (files it created would lock
  the owner out); readers only need read access.
* **Readers' lock** (``.readers``): a read-only command holds a shared lock on it while it
  reads. A writer deletes the files its change retired only when it can take the lock
  exclusively; otherwise they stay journaled (``pending``) and a later writer removes them, so a
  reader never finds a listed file gone.
"""

from __future__ import annotations

import fcntl
import os
import stat
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from logtool.errors import StoreBusyError, StoreError
from logtool.stages import STAGES

LOCK = ".lock"
READERS = ".readers"
#: Where damaged files are set aside (outside the stage folders, so no reader lists them).
DAMAGED = "damaged"
#: Files directly under the store root that must never be links.
SPECIAL = ("catalog.sqlite", "catalog.sqlite-wal", "catalog.sqlite-shm", LOCK, READERS)


def _refuse_link(root: Path, rel: str) -> None:
    try:
        target = os.readlink(root / rel)
    except OSError:
        target = "?"
    raise StoreError(
        f"store {root}: {rel} is a symbolic link (to {target}); logtool never follows links inside its "
        "store: replace it with the real file or folder"
    )


def check_links(root: Path) -> None:
    """Refuse a store with a symbolic link anywhere logtool reads or writes (one directory scan
    per stage and day, no link followed)."""
    for name in SPECIAL:
        if (root / name).is_symlink():
            _refuse_link(root, name)
    for top in (*STAGES, DAMAGED):
        base = root / top
        if base.is_symlink():
            _refuse_link(root, top)
        if not base.is_dir():
            continue
        _scan(root, base, depth=0 if top != DAMAGED else -2)


def _scan(root: Path, folder: Path, depth: int) -> None:
    """Depth 0: the stage folder (``date=…`` entries); 1: a day (files). ``damaged/`` nests one
    level more (``damaged/<stage>/date=…/file``)."""
    try:
        entries = list(os.scandir(folder))
    except OSError as e:
        raise StoreError(f"cannot read store folder {folder}: {e.strerror}") from None
    for entry in entries:
        if entry.is_symlink():
            _refuse_link(root, str(Path(entry.path).relative_to(root)))
        if depth < 1 and entry.is_dir(follow_symlinks=False):
            _scan(root, Path(entry.path), depth + 1)


def owner_name(uid: int) -> str:
    try:
        import pwd

        return pwd.getpwuid(uid).pw_name
    except (ImportError, KeyError):
        return f"uid {uid}"


def check_owner(root: Path) -> None:
    """A writer must own the store: files it created would otherwise be unreadable to the owner."""
    st = os.stat(root)
    me = os.geteuid()
    if st.st_uid != me:
        raise StoreError(
            f"store {root} belongs to {owner_name(st.st_uid)}, not to {owner_name(me)}: run logtool as "
            f"{owner_name(st.st_uid)} (files written by another user would lock the owner out)"
        )


def wide_permissions(root: Path) -> list[tuple[str, int]]:
    """Store folders and files readable or writable by group or others: (path, mode)."""
    out = []
    paths = [root, *(root / n for n in SPECIAL)]
    for top in (*STAGES, DAMAGED):
        base = root / top
        if base.is_dir() and not base.is_symlink():
            paths.append(base)
            paths += sorted(base.rglob("*"))
    for p in paths:
        try:
            mode = stat.S_IMODE(os.lstat(p).st_mode)
        except FileNotFoundError:
            continue
        if mode & 0o077:
            out.append((str(p.relative_to(root)) if p != root else ".", mode))
    return out


def tighten(root: Path, paths: list[str]) -> None:
    """Make ``paths`` (from :func:`wide_permissions`) owner-only: folders 0700, files 0600."""
    for rel in paths:
        p = root / rel
        if p.is_symlink():
            continue
        os.chmod(p, 0o700 if p.is_dir() else 0o600)


def make_dir(path: Path) -> None:
    """A store folder, owner-only whatever the umask (parents inside the store likewise)."""
    if path.is_dir():
        return
    if not path.parent.is_dir():
        make_dir(path.parent)
    try:
        path.mkdir(mode=0o700)
    except FileExistsError:
        return
    except OSError as e:
        raise StoreError(f"cannot create store folder {path}: {e.strerror}") from None
    os.chmod(path, 0o700)


# locks ----------------------------------------------------------------------------------------
def lock_writer(root: Path) -> int:
    """Take the writer lock (non-blocking): the open descriptor, to pass to :func:`unlock`."""
    path = root / LOCK
    try:
        fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW, 0o600)
    except OSError as e:
        if path.is_symlink():
            _refuse_link(root, LOCK)
        raise StoreError(f"cannot open the writer lock {path}: {e.strerror}") from None
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        holder = os.pread(fd, 32, 0).decode(errors="replace").strip() or "unknown"
        os.close(fd)
        raise StoreBusyError(
            f"store {root} is busy: another logtool process (pid {holder}) is writing; try again when it has finished"
        ) from None
    os.ftruncate(fd, 0)
    os.pwrite(fd, str(os.getpid()).encode(), 0)
    return fd


def unlock(fd: int) -> None:
    fcntl.flock(fd, fcntl.LOCK_UN)
    os.close(fd)


def make_readers_lock(root: Path) -> None:
    """Create ``.readers`` (writers do, so that readers of a read-only store find it)."""
    try:
        os.close(os.open(root / READERS, os.O_RDONLY | os.O_CREAT | os.O_NOFOLLOW, 0o600))
    except OSError as e:
        if (root / READERS).is_symlink():
            _refuse_link(root, READERS)
        raise StoreError(f"cannot create {root / READERS}: {e.strerror}") from None


def lock_reader(root: Path) -> int | None:
    """A shared lock on ``.readers`` for as long as a reader reads (None if the store has no
    such file: an old store nobody has written since, where no writer can be running either)."""
    try:
        fd = os.open(root / READERS, os.O_RDONLY | os.O_NOFOLLOW)
    except FileNotFoundError:
        return None
    except OSError as e:
        if (root / READERS).is_symlink():
            _refuse_link(root, READERS)
        raise StoreError(f"cannot open {root / READERS}: {e.strerror}") from None
    fcntl.flock(fd, fcntl.LOCK_SH)
    return fd


@contextmanager
def readers_away(root: Path) -> Iterator[bool]:
    """True (and the readers held off) when no reader holds the readers' lock; False otherwise."""
    try:
        fd = os.open(root / READERS, os.O_RDONLY | os.O_CREAT | os.O_NOFOLLOW, 0o600)
    except OSError:
        yield False
        return
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(fd)
        yield False
        return
    try:
        yield True
    finally:
        unlock(fd)
