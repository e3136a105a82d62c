"""Crashes at every point of a commit (issue 12): ingest, retain and erase are killed at each
fault point (``logtool.store.fault_hook``: ``written``, ``published``, ``committed``), in
process and, for a real death, with ``os._exit`` in a child process. After each kill the next
run must leave the store exactly as an uninterrupted run does: the same rows per stage and
day, no row twice, ``verify`` clean and ``audit verify`` intact."""

from __future__ import annotations

import shutil
import subprocess
import sys
import textwrap
from datetime import timedelta
from pathlib import Path

import polars as pl
import pytest

import logtool.store as store_mod
from logtool.config import Policy
from logtool.governance import subjects
from logtool.governance.audit import verify_chain
from logtool.governance.verify import verify
from logtool.inputs import make_inputs
from logtool.lifecycle.ingest import ingest
from logtool.lifecycle.retention import retain
from logtool.store import Store

from .conftest import DAY0, NOW, write_days

LATER = DAY0 + timedelta(days=9)
SUBJECT = "203.0.113.9"
POINTS = ["written", "published", "committed"]


class Killed(BaseException):
    """Stands for the process dying (not an Exception: nothing may catch and carry on)."""


@pytest.fixture(scope="module")
def base(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("crash")
    logs = write_days(root / "logs", n_days=4, per_day=150, seed=11)
    s = Store(root / "store")
    ingest(s, make_inputs([str(p) for p in logs[:3]]), Policy(), NOW)
    s.close()
    return root


def operation(name: str, root: Path):
    logs = sorted((root / "logs").glob("access.log-*"))

    def run(s: Store) -> None:
        if name == "ingest":
            ingest(s, make_inputs([str(logs[3])]), Policy(), NOW)
        elif name == "retain":
            retain(s, Policy(), LATER)
        else:
            subjects.erase(s, SUBJECT, NOW)

    return run


def state(root: Path) -> dict[str, object]:
    s = Store(root)
    with s.writing():  # the next writer: removes what the killed one left
        pass
    out: dict[str, object] = {}
    for stage in ("raw", "anonymised", "quarantine"):
        df = s.read(stage)
        out[stage] = sorted(df.group_by(pl.col("ts").dt.date() if "ts" in df.columns else pl.lit(0))
                            .len().rows()) if df.height else []  # fmt: skip
        if stage in ("raw", "anonymised") and df.height:
            assert df.select("source_file", "line_no", "ts").is_duplicated().sum() == 0, f"rows twice in {stage}"
    agg = s.read("aggregates").filter(pl.col("dimension") == "total")
    out["requests"] = sorted(agg.group_by("date").agg(pl.col("requests").sum()).rows())
    out["files"] = len(s.catalog.files.all())
    problems = verify(s, Policy(), LATER)
    assert [p for p in problems if p.kind != "overdue"] == [], problems
    assert verify_chain(s).ok
    s.close()
    return out


def reference(base: Path, tmp_path: Path, name: str) -> dict[str, object]:
    ref = tmp_path / "ref"
    shutil.copytree(base, ref)
    s = Store(ref / "store")
    operation(name, ref)(s)
    s.close()
    return state(ref / "store")


@pytest.mark.parametrize("point", POINTS)
@pytest.mark.parametrize("name", ["ingest", "retain", "erase"])
def test_a_kill_at_any_point_then_a_rerun_equals_an_uninterrupted_run(
    base: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, name: str, point: str
) -> None:
    expected = reference(base, tmp_path, name)
    work = tmp_path / "work"
    shutil.copytree(base, work)

    def die(at: str) -> None:
        if at == point:
            raise Killed(at)

    monkeypatch.setattr(store_mod, "fault_hook", die)
    s = Store(work / "store")
    with pytest.raises(Killed):
        operation(name, work)(s)
    s.close()
    monkeypatch.undo()
    s = Store(work / "store")
    operation(name, work)(s)  # the rerun, as the next night's run would
    s.close()
    assert state(work / "store") == expected


@pytest.mark.parametrize(("name", "point"), [("ingest", "published"), ("retain", "committed"), ("erase", "written")])
def test_a_real_process_death_then_a_rerun_equals_an_uninterrupted_run(
    base: Path, tmp_path: Path, name: str, point: str
) -> None:
    expected = reference(base, tmp_path, name)
    work = tmp_path / "work"
    shutil.copytree(base, work)
    script = textwrap.dedent(f"""
        import os
        from pathlib import Path
        import logtool.store as mod
        from logtool.store import Store
        from tests.test_crash import operation

        def die(at):
            if at == {point!r}:
                os._exit(9)

        mod.fault_hook = die
        operation({name!r}, Path({str(work)!r}))(Store({str(work / "store")!r}))
    """)
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120,
                          cwd=Path(__file__).parents[1])  # fmt: skip
    assert proc.returncode == 9, proc.stderr
    s = Store(work / "store")
    operation(name, work)(s)
    s.close()
    assert state(work / "store") == expected
