"""The command line through CliRunner: exit codes, exact messages, precedence, isolation."""

from __future__ import annotations

import json
from pathlib import Path

import click
import pytest

from logtool.cli import cli

from .conftest import write_days


def all_commands(group: click.Group, prefix: str = "") -> list[tuple[str, click.Command]]:
    out = []
    for name, cmd in group.commands.items():
        out.append((prefix + name, cmd))
        if isinstance(cmd, click.Group):
            out += all_commands(cmd, prefix + name + " ")
    return out


@pytest.mark.parametrize("name,cmd", all_commands(cli), ids=lambda x: x if isinstance(x, str) else "")
def test_every_command_has_help_and_is_in_the_readme(name: str, cmd: click.Command) -> None:
    assert cmd.help and len(cmd.help) > 15
    readme = (Path(__file__).parents[1] / "README.md").read_text()
    assert f"logtool {name}" in readme, f"README does not document 'logtool {name}'"


def test_ingest_report_export_roundtrip(run, tmp_path: Path) -> None:
    logs = write_days(tmp_path / "logs", n_days=2, per_day=300)
    r = run("ingest", *map(str, logs), "--now", "2026-11-12T03:00:00Z")
    assert r.exit_code == 0, r.output
    assert "access.log-20261110: 300 lines as combined" in r.stderr
    r = run("ingest", str(logs[0]))
    assert "already ingested (same content as access.log-20261110); nothing to do" in r.stderr
    r = run("report", "--format", "json")
    rep = json.loads(r.stdout)
    assert rep["period"] == {"from": "2026-11-10", "to": "2026-11-11", "days": 2}
    assert rep["requests"] == sum(d["requests"] for d in rep["daily"])
    r = run("report")
    assert "Access report 2026-11-10 … 2026-11-11" in r.stdout
    r = run("export", "--stage", "raw", "--from", "2026-11-10", "--to", "2026-11-10")
    header, *rows = r.stdout.splitlines()
    assert header.startswith("ts,tz_offset_min,client_ip,client_net")
    assert len(rows) > 250 and "exported" in r.stderr
    out = tmp_path / "anon.parquet"
    r = run("retain", "--now", "2026-11-20T00:00:00Z")
    assert "anonymise: 2 days" in r.stderr
    r = run("export", "--stage", "anonymised", "--format", "parquet", "-o", str(out))
    import polars as pl

    df = pl.read_parquet(out)
    assert "client_ip" not in df.columns and df.height > 500
    r = run("export", "--stage", "anonymised", "--format", "jsonl")
    first = json.loads(r.stdout.splitlines()[0])
    assert "client_net" in first and "user_agent" not in first


def test_nightly_ingests_retains_and_is_recorded(run, tmp_path: Path) -> None:
    logs = write_days(tmp_path / "logs", n_days=2, per_day=200)
    r = run("nightly", *map(str, logs), "--now", "2026-11-25T03:00:00Z")
    assert r.exit_code == 0
    assert "retain as of 2026-11-25T03:00+00:00 (applied)" in r.stderr
    st = json.loads(run("status", "--format", "json", "--now", "2026-11-25T03:00:00Z").stdout)
    assert st["stages"]["raw"]["rows"] == 0 and st["stages"]["anonymised"]["rows"] > 0
    assert st["overdue_rows"] == {"raw": 0, "anonymised": 0, "quarantine": 0}
    assert st["last_nightly"] is not None


def test_stdin_ingest(run, tmp_path: Path) -> None:
    logs = write_days(tmp_path / "logs", n_days=1, per_day=100)
    r = run("ingest", "-", input=logs[0].read_bytes())
    assert r.exit_code == 0 and "<stdin>: 100 lines as combined" in r.stderr


@pytest.mark.parametrize(
    "args,code,message",
    [
        (["ingest", "missing.log"], 3, "logtool: error: input file not found: missing.log"),
        (["retain", "--now", "yesterday"], 2, "logtool: error: --now: not an ISO 8601 time: 'yesterday'"),
        (
            ["retain", "--ipv4-prefix", "40"],
            2,
            "logtool: error: --ipv4-prefix: ipv4_prefix must be between 0 and 32, got 40",
        ),
        (["report"], 4, "logtool: error: no store at"),
        (
            ["ingest", "x", "--format", "combined", "--log-format", "%h"],
            2,
            "use only one of --format, --log-format, --nginx-format and --json-map",
        ),
    ],
)
def test_errors_map_to_exit_codes(run, args: list[str], code: int, message: str) -> None:
    r = run(*args)
    assert r.exit_code == code
    assert message in r.stderr


def test_undetectable_input_is_an_input_error(run, tmp_path: Path) -> None:
    p = tmp_path / "app.json"
    p.write_text('{"a": 1}\n' * 5)
    r = run("ingest", str(p))
    assert r.exit_code == 3
    assert "app.json: cannot detect the log format" in r.stderr and "--log-format" in r.stderr


def test_store_busy_exit_code(run, tmp_path: Path) -> None:
    from logtool.store import Store

    logs = write_days(tmp_path / "logs", n_days=1, per_day=50)
    s = Store(run.store)
    with s.writing():
        r = run("ingest", str(logs[0]))
    assert r.exit_code == 4 and "is busy" in r.stderr
    s.close()


def test_config_precedence_flag_env_file_default(run, tmp_path: Path) -> None:
    cfg = tmp_path / "policy.toml"
    cfg.write_text("[policy]\nraw_days = 5\nipv4_prefix = 16\nanonymised_days = 60\n")
    env = {"LOGTOOL_CONFIG": str(cfg), "LOGTOOL_RAW_DAYS": "3", "LOGTOOL_ANONYMISED_DAYS": "30"}
    r = run("config", "show", "--format", "json", "--anonymised-days", "20", env=env)
    data = json.loads(r.stdout)
    assert data["policy"]["raw_days"] == 3 and data["origins"]["raw_days"] == "environment"
    assert data["policy"]["anonymised_days"] == 20 and data["origins"]["anonymised_days"] == "flag"
    assert data["policy"]["ipv4_prefix"] == 16 and data["origins"]["ipv4_prefix"] == str(cfg)
    assert data["policy"]["ipv6_prefix"] == 48 and data["origins"]["ipv6_prefix"] == "default"
    r = run("config", "show", env=env)
    assert "raw_days = 3  # days a record keeps full detail (the security window) [environment]" in r.stdout


def test_config_errors_name_their_source(run, tmp_path: Path) -> None:
    cfg = tmp_path / "bad.toml"
    cfg.write_text("raw_days = 'seven'\n")
    r = run("config", "show", env={"LOGTOOL_CONFIG": str(cfg)})
    assert r.exit_code == 2 and f"{cfg}: raw_days must be int, got 'seven'" in r.stderr
    cfg.write_text("raw_dayz = 7\n")
    r = run("config", "show", env={"LOGTOOL_CONFIG": str(cfg)})
    assert "unknown setting 'raw_dayz'" in r.stderr
    r = run("config", "show", env={"LOGTOOL_RAW_DAYS": "x"})
    assert "LOGTOOL_RAW_DAYS: raw_days must be int, got 'x'" in r.stderr


def test_ip_preset_strict(run) -> None:
    data = json.loads(run("config", "show", "--format", "json", "--ip-preset", "strict").stdout)
    assert (data["policy"]["ipv4_prefix"], data["policy"]["ipv6_prefix"]) == (16, 32)


def test_formats_and_detect(run, tmp_path: Path) -> None:
    r = run("formats")
    assert "combined" in r.stdout and "vhost_combined" in r.stdout
    logs = write_days(tmp_path / "logs", n_days=1, per_day=100)
    r = run("detect", str(logs[0]))
    assert r.stdout.startswith("access.log-20261110: combined (")


def test_demo_writes_reports(run, tmp_path: Path) -> None:
    reports = tmp_path / "reports"
    r = run("demo", "--reports", str(reports))
    assert r.exit_code == 0, r.stderr
    assert "days anonymised" in r.stderr and "days deleted" in r.stderr
    rep = json.loads((reports / "demo-report.json").read_text())
    assert rep["period"]["days"] == 14 and rep["requests"] > 40_000
    assert "Access report" in (reports / "demo-report.txt").read_text()
    assert r.stdout.strip() == str(reports / "demo-report.html")  # the dashboard's path, for scripts
    html = (reports / "demo-report.html").read_text()
    assert "Privacy and compliance" in html and "INC-DEMO-1" in html and len(html.encode()) < 1_500_000
    # the day of generated calls and chats next to the web logs, shown from its aggregates
    assert rep["conversations"]["calls"] == 120 and "Conversations per day" in (reports / "demo-report.txt").read_text()


def test_every_command_is_where_the_lazy_root_group_looks_first() -> None:
    from logtool.cli import MODULES, WHERE, _commands

    found = {name: m for m in MODULES for name in _commands(m)}
    assert found == WHERE


def test_a_no_op_command_loads_no_renderer_or_parquet_library(tmp_path: Path) -> None:
    """Start-up time: ``logtool status`` imports only what it uses (not rich, pyarrow, the
    report renderers or the parsers)."""
    import subprocess
    import sys

    from logtool.store import Store

    Store(tmp_path / "s").close()
    code = (
        "import sys; from logtool.cli import cli\n"
        f"try: cli(['--store', {str(tmp_path / 's')!r}, 'status'], prog_name='logtool')\n"
        "except SystemExit: pass\n"
        "print(sorted(m for m in ('rich', 'pyarrow', 'logtool.render.report_table', 'logtool.parsers',"
        " 'logtool.lifecycle.retention') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip().splitlines()[-1] == "[]"


@pytest.mark.parametrize(
    ("args", "listed"),
    [
        (["ingest", "--format", "nope", "x.log"], "'combined', 'common'"),
        (["report", "--format", "nope"], "'table', 'json'"),
        (["report", "--compare", "nope"], "'previous'"),
        (["export", "--format", "nope"], "'csv'"),
        (["review", "--format", "nope"], "'table', 'json'"),
        (["review", "--blocklist", "nope"], "'nftables'"),
    ],
)
def test_choices_loaded_on_demand_still_check_and_list_their_values(run, args: list[str], listed: str) -> None:
    """The choices that live in library modules (formats, renderers) load only when a command
    needs them (``logtool --help`` stays fast), and still refuse what they do not list."""
    r = run(*args)
    assert r.exit_code == 2
    assert "Invalid value for" in r.stderr and "'nope' is not" in r.stderr and listed in r.stderr


def test_a_choice_loaded_on_demand_gives_the_command_its_member(run, tmp_path: Path) -> None:
    """``--format`` still hands the command the enum member (the renderers compare members)."""
    logs = write_days(tmp_path / "logs", n_days=1, per_day=50)
    assert run("ingest", "--format", "combined", str(logs[0]), "--now", "2026-11-12T03:00:00Z").exit_code == 0
    r = run("review", "--format", "json", "--now", "2026-11-12T03:00:00Z")
    assert r.exit_code == 0, r.output
    assert isinstance(json.loads(r.stdout), dict | list)
    assert run("review", "--now", "2026-11-12T03:00:00Z").stdout != r.stdout  # the table, not JSON


def test_long_commands_keep_their_imports_out_of_the_collector(run, tmp_path: Path) -> None:
    """``ingest``, ``nightly`` and ``anonymize`` freeze what their imports made (the cyclic
    collector no longer walks it while the workers wait for the GIL); a short command does not."""
    import gc

    logs = write_days(tmp_path / "logs", n_days=2, per_day=50)
    anonymize = ("anonymize", str(logs[0]), "-o", str(tmp_path / "a.log"))
    for args in (("ingest", str(logs[0])), ("status",), ("nightly", str(logs[1])), anonymize):
        gc.unfreeze()
        assert run(*args).exit_code == 0
        assert (gc.get_freeze_count() > 0) == (args[0] != "status"), args
    gc.unfreeze()


_HEAPS = """
import ctypes, sys, tempfile, threading
from logtool.cli.common import settle_heap
settle_heap(one_arena=sys.argv[1] == "one")
def work():
    keep = [bytes(1 << 16) for _ in range(64)]
    go.wait()
go = threading.Barrier(5)
threads = [threading.Thread(target=work) for _ in range(4)]
for t in threads:
    t.start()
go.wait()
for t in threads:
    t.join()
libc = ctypes.CDLL("libc.so.6")
libc.fopen.restype = ctypes.c_void_p
with tempfile.NamedTemporaryFile(suffix=".xml") as out:
    f = libc.fopen(out.name.encode(), b"w")
    libc.malloc_info(0, ctypes.c_void_p(f))
    libc.fclose(ctypes.c_void_p(f))
    print(open(out.name).read().count("<heap nr="))
"""


def test_one_arena_puts_the_threads_started_after_it_on_one_heap() -> None:
    """``settle_heap(one_arena=True)``: threads started afterwards share glibc's one heap (a
    batch one frees is reused by the next); by default each has a heap of its own."""
    import ctypes
    import os
    import subprocess
    import sys

    try:
        ctypes.CDLL("libc.so.6").malloc_info  # noqa: B018
    except (OSError, AttributeError):
        pytest.skip("glibc's heaps only")

    env = {k: v for k, v in os.environ.items() if k != "MALLOC_ARENA_MAX"}

    def heaps(how: str) -> int:
        done = subprocess.run([sys.executable, "-c", _HEAPS, how], env=env, capture_output=True, text=True, check=True)
        return int(done.stdout)

    assert heaps("one") == 1 and heaps("default") > 1


def test_anonymize_runs_on_one_heap_and_ingest_on_a_heap_per_thread(run, tmp_path: Path, monkeypatch) -> None:
    """Anonymize's peak varied with which thread's heap a batch landed in (ingest's rose at 10M
    lines with one heap): only anonymize asks for one."""
    import logtool.cli.lifecycle as commands

    asked: list[bool] = []
    monkeypatch.setattr(commands, "settle_heap", lambda one_arena=False: asked.append(one_arena))
    logs = write_days(tmp_path / "logs", n_days=1, per_day=50)
    assert run("ingest", str(logs[0])).exit_code == 0
    assert run("anonymize", str(logs[0]), "-o", str(tmp_path / "a.log")).exit_code == 0
    assert asked == [False, True]
