"""Issue 12, items 16, 18, 19: every error path is one line with its exit code (full disk,
unwritable stage folder, read-only store, another user's store, ``--store FILE``), owner-only
files whatever the umask, and undoing a wrong format (``forget``, ``ingest --replace``)."""

from __future__ import annotations

import errno
import io
import os
import resource
import shlex
import shutil
import signal
import stat
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner

import logtool.store as store_mod
from logtool.cli import cli
from logtool.config import Policy
from logtool.inputs import make_inputs
from logtool.lifecycle.forget import forget
from logtool.lifecycle.ingest import ingest
from logtool.lifecycle.retention import retain
from logtool.store import Store

from .conftest import DAY0, NOW, write_days


@pytest.fixture
def logs(tmp_path: Path) -> list[Path]:
    return write_days(tmp_path / "logs", n_days=2, per_day=120)


@pytest.fixture
def root(tmp_path: Path, logs: list[Path]) -> Path:
    s = Store(tmp_path / "store")
    ingest(s, make_inputs([str(p) for p in logs]), Policy(), NOW)
    s.close()
    return s.root


def run(store: Path, *args: str, env: dict[str, str] | None = None):
    return CliRunner().invoke(cli, ["--store", str(store), *args], env=env or {}, catch_exceptions=False)


def one_line(r) -> str:
    lines = [ln for ln in r.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1 and lines[0].startswith("logtool: error: "), r.stderr
    assert "Traceback" not in r.stderr
    return lines[0]


def snapshot(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*.parquet"))}


# 16. error paths ---------------------------------------------------------------------------------
def test_a_full_disk_while_writing_partitions_is_one_line_and_commits_nothing(
    root: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import pyarrow.parquet as pq

    before = snapshot(root)
    log = write_days(tmp_path / "more", n_days=1, per_day=50, seed=8, first=DAY0 + timedelta(days=5))[0]

    def full(self, table, *a, **k):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(pq.ParquetWriter, "write_table", full)
    r = run(root, "ingest", str(log))
    assert r.exit_code == 4
    assert "no space left on device; nothing was committed" in one_line(r)
    monkeypatch.undo()
    assert snapshot(root) == before


def test_a_file_size_limit_kills_nothing_and_leaves_the_store_consistent(root: Path, tmp_path: Path) -> None:
    """A real limit (RLIMIT_FSIZE, like a nearly full disk): writes fail with EFBIG."""
    log = write_days(tmp_path / "more", n_days=1, per_day=3000, seed=8, first=DAY0 + timedelta(days=5))[0]

    def limit() -> None:
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (20_000, 20_000))

    proc = subprocess.run([sys.executable, "-m", "logtool", "--store", str(root), "ingest", "--no-geo", str(log)],
                          capture_output=True, text=True, preexec_fn=limit, timeout=120)  # fmt: skip
    assert proc.returncode == 4, proc.stderr
    assert proc.stderr.count("\n") == 1 and ("File too large" in proc.stderr or "disk I/O error" in proc.stderr)
    assert "nothing was committed" in proc.stderr
    r = run(root, "verify", "--now", (DAY0 + timedelta(days=2)).isoformat())
    assert r.exit_code == 0, r.stdout


def test_an_output_on_a_full_device_is_an_output_error(
    root: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    target = "/dev/full"
    if not Path(target).exists():  # the same error as the device would give, on a plain file
        import logtool.cli.common as common

        class Full(io.FileIO):
            def write(self, data) -> int:  # type: ignore[override]
                raise OSError(errno.ENOSPC, "No space left on device")

        monkeypatch.setattr(common.os, "fdopen", lambda fd, mode, **k: Full(fd, "wb"))
        target = str(tmp_path / "full.csv")
    r = run(root, "export", "--stage", "raw", "-o", target)
    assert r.exit_code == 3 and "no space left on device" in one_line(r)
    assert target == "/dev/full" or not Path(target).exists()  # a half-written file is removed


def test_an_unwritable_stage_folder_is_one_line(root: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    log = write_days(tmp_path / "more", n_days=1, per_day=20, seed=8, first=DAY0 + timedelta(days=5))[0]
    if os.geteuid() != 0:  # a real permission problem
        os.chmod(root / "raw", 0o500)
    else:  # root ignores modes: the same error, as the OS would raise it
        real = os.open

        def denied(path, flags, *a, **k):
            if "/raw/" in str(path) and flags & os.O_CREAT:
                raise PermissionError(errno.EACCES, "Permission denied", str(path))
            return real(path, flags, *a, **k)

        monkeypatch.setattr(os, "open", denied)
    r = run(root, "ingest", str(log))
    monkeypatch.undo()
    os.chmod(root / "raw", 0o700)
    assert r.exit_code == 4 and "Permission denied" in one_line(r)


def _read_only_mount(src: Path, target: Path, commands: list[str]) -> subprocess.CompletedProcess[str]:
    """Run logtool commands (in one process) on ``src`` mounted read-only at ``target``, in a
    private mount namespace; prints ``rc=N`` per command."""
    code = (
        "import shlex, sys\nfrom logtool.cli import cli\n"
        f"for c in {commands!r}:\n"
        f"    print('rc=%d' % cli.main(['--store', {str(target)!r}, *shlex.split(c)], standalone_mode=False))\n"
    )
    script = (f"mount --bind {src} {target} && mount -o remount,ro,bind {target} && "
              f"{sys.executable} -c {shlex.quote(code)}")  # fmt: skip
    unshare = ["unshare", "-m"] if os.geteuid() == 0 else ["unshare", "-rm"]
    return subprocess.run([*unshare, "sh", "-c", script], capture_output=True, text=True, timeout=120,
                          cwd=Path(__file__).parents[1])  # fmt: skip


def test_readers_work_on_a_read_only_store_and_writers_say_why_not(root: Path, tmp_path: Path) -> None:
    if shutil.which("unshare") is None:
        pytest.skip("unshare(1) is not available")
    target = tmp_path / "ro"
    target.mkdir()
    readers = ["status", "report", "audit verify", "hold list", "subject find --ip 203.0.113.9"]
    proc = _read_only_mount(root, target, [*readers, "retain"])
    codes = [ln for ln in proc.stdout.splitlines() if ln.startswith("rc=")]
    if not codes and "mount" in proc.stderr:
        pytest.skip(f"cannot mount read-only here: {proc.stderr.strip()[:100]}")
    assert codes == ["rc=0"] * len(readers) + ["rc=4"], proc.stderr
    assert "is read-only: only reading commands" in proc.stderr and "Traceback" not in proc.stderr


def test_a_store_of_another_user_is_refused_for_writing(root: Path, monkeypatch: pytest.MonkeyPatch, logs) -> None:
    monkeypatch.setattr(os, "geteuid", lambda: os.stat(root).st_uid + 4242)
    r = run(root, "ingest", str(logs[0]))
    assert r.exit_code == 4 and "belongs to" in one_line(r) and "run logtool as" in r.stderr
    assert run(root, "status").exit_code == 0  # reading needs read access only


def test_store_that_is_a_file_is_a_usage_error(tmp_path: Path) -> None:
    f = tmp_path / "afile"
    f.write_text("")
    r = run(f, "status")
    assert r.exit_code == 2 and "is a file" in one_line(r)
    r = CliRunner().invoke(cli, ["status"], env={"LOGTOOL_STORE": str(f)})
    assert r.exit_code == 2


def test_an_unexpected_error_is_one_line_with_exit_70(root: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import logtool.governance.status as status_mod

    monkeypatch.setattr(status_mod, "status", lambda *a, **k: 1 / 0)
    r = run(root, "status")
    assert r.exit_code == 70 and "internal error (ZeroDivisionError" in one_line(r)


# 18. permissions -----------------------------------------------------------------------------------
def test_personal_data_files_are_owner_only_whatever_the_umask(root: Path, tmp_path: Path) -> None:
    from logtool.governance import holds

    s = Store(root)
    holds.create(s, "INC-1", "evidence", DAY0, NOW)
    s.close()
    old = os.umask(0)
    try:
        outs = {
            "raw.csv": ["export", "--stage", "raw"],
            "hold.csv": ["export", "--hold", "INC-1"],
            "subject.json": ["subject", "export", "--ip", "203.0.113.9"],
            "report.txt": ["report", "--hold", "INC-1"],
        }
        for name, args in outs.items():
            r = run(root, *args, "-o", str(tmp_path / name), "--now", NOW.isoformat())
            assert r.exit_code == 0, r.stderr
            assert stat.S_IMODE((tmp_path / name).stat().st_mode) == 0o600, name
        r = run(root, "hold", "export", "INC-1", "-o", str(tmp_path / "bundle"), "--now", NOW.isoformat())
        assert r.exit_code == 0, r.stderr
        assert stat.S_IMODE((tmp_path / "bundle").stat().st_mode) == 0o700
        for f in (tmp_path / "bundle").iterdir():
            assert stat.S_IMODE(f.stat().st_mode) == 0o600, f
        log = write_days(tmp_path / "more", n_days=1, per_day=10, seed=3, first=DAY0 + timedelta(days=4))[0]
        assert run(root, "ingest", str(log)).exit_code == 0
    finally:
        os.umask(old)
    for d in [root, *(p for p in root.rglob("*") if p.is_dir())]:
        assert stat.S_IMODE(d.stat().st_mode) == 0o700, d
    for f in (p for p in root.rglob("*") if p.is_file()):
        assert stat.S_IMODE(f.stat().st_mode) == 0o600, f


def test_verify_reports_a_wide_store_and_repair_tightens_it(root: Path) -> None:
    os.chmod(root, 0o755)
    os.chmod(next(root.rglob("*.parquet")), 0o644)
    now = (DAY0 + timedelta(days=2)).isoformat()
    r = run(root, "verify", "--now", now)
    assert r.exit_code == 1 and r.stdout.count("permissions") == 2
    r = run(root, "verify", "--repair", "--now", now)
    assert r.exit_code == 0 and "owner-only" in r.stderr
    assert stat.S_IMODE(root.stat().st_mode) == 0o700


# 19. undoing a wrong format -------------------------------------------------------------------------
def test_a_wrong_format_is_undone_by_forget(root: Path, tmp_path: Path) -> None:
    log = write_days(tmp_path / "new", n_days=1, per_day=40, seed=4, first=DAY0 + timedelta(days=3))[0]
    r = run(root, "ingest", "--format", "squid", str(log))
    assert r.exit_code == 0 and "0 stored, 40 quarantined" in r.stderr
    assert "already ingested" in run(root, "ingest", str(log)).stderr
    r = run(root, "forget", str(log))
    assert r.exit_code == 0 and "can be ingested again" in r.stderr
    r = run(root, "ingest", str(log))
    assert r.exit_code == 0 and "40 stored, 0 quarantined" in r.stderr
    s = Store(root)
    assert [e["action"] for e in s.catalog.audit.entries()][-3:] == ["ingest", "forget", "ingest"]
    assert s.catalog.quarantine.totals() == {}
    s.close()
    assert run(root, "verify", "--now", (DAY0 + timedelta(days=4)).isoformat()).exit_code == 0


def test_ingest_replace_forgets_and_reingests(root: Path, logs) -> None:
    s = Store(root)
    rows = s.read("raw").height
    s.close()
    r = run(root, "ingest", "--replace", str(logs[0]))
    assert r.exit_code == 0 and "forgotten" in r.stderr
    s = Store(root)
    assert s.read("raw").height == rows and len(s.catalog.files.all()) == 2
    s.close()


def test_forget_is_crash_safe(root: Path, logs, monkeypatch: pytest.MonkeyPatch) -> None:
    before = snapshot(root)

    def crash(point: str) -> None:
        if point == "published":
            raise KeyboardInterrupt

    monkeypatch.setattr(store_mod, "fault_hook", crash)
    s = Store(root)
    with pytest.raises(KeyboardInterrupt):
        forget(s, make_inputs([str(logs[0])])[0], NOW)
    monkeypatch.undo()
    assert len(s.catalog.files.all()) == 2 and snapshot(root) == before
    s.close()


def test_forget_is_refused_once_retention_rewrote_the_days(root: Path, logs) -> None:
    s = Store(root)
    retain(s, Policy(), DAY0 + timedelta(days=9))
    s.close()
    r = run(root, "forget", str(logs[0]))
    assert r.exit_code == 2 and "cannot be forgotten exactly" in one_line(r)
    r = run(root, "forget", str(root.parent / "logs"))
    assert r.exit_code == 3
