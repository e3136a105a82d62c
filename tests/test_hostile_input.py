"""Issue 12, items 8–15, 17, 20: hostile text never markup, never a terminal escape, never a
formula; pipes read once; UTF-16/32; extreme values; huge lines; odd inputs; hostile rules
files; Ctrl-C; verify's address scan."""

from __future__ import annotations

import csv
import gzip
import io
import json
import os
import signal
import subprocess
import sys
import threading
import time
from datetime import timedelta
from pathlib import Path

import polars as pl
import pytest
from click.testing import CliRunner

from logtool.cli import cli
from logtool.config import Policy
from logtool.detect.rules import load_rules
from logtool.inputs import make_inputs
from logtool.lifecycle.ingest import ingest
from logtool.parsers import REGISTRY
from logtool.store import Store

from .conftest import DAY0, NOW, write_days

ESC_PATH = "/etc/passwd/[/x]/[red]HIDDEN[/red]\x1b]0;pwned\x07\x9b2J"
ESC_REF = "http://e.example/[bold]x\x1b[2J"
FORMULA_UA = "=cmd|' /C calc'!A0 sqlmap/1.7 \x1b[31m"
AT = DAY0 + timedelta(hours=5)


def hostile_lines(n: int = 30) -> str:
    return "".join(
        f'203.0.113.{i % 3 + 1} - - [10/Nov/2026:01:{i:02d}:00 +0000] "GET {ESC_PATH}?q=1 HTTP/1.1" 404 5 '
        f'"{ESC_REF}" "{FORMULA_UA}"\n'
        for i in range(n)
    )


@pytest.fixture
def hostile(tmp_path: Path) -> Path:
    p = tmp_path / "hostile.log"
    p.write_text(hostile_lines(), encoding="utf-8")
    return p


@pytest.fixture
def store_root(tmp_path: Path, hostile: Path) -> Path:
    s = Store(tmp_path / "store")
    ingest(s, make_inputs([str(hostile)]), Policy(), AT)
    s.close()
    return s.root


def run(root: Path, *args: str, input: bytes | None = None, env: dict[str, str] | None = None):
    return CliRunner().invoke(cli, ["--store", str(root), *args], input=input, env=env or {}, catch_exceptions=False)


def assert_inert(text: str) -> None:
    """Nothing that drives a terminal: no ESC, BEL or CSI, and the markup shown literally."""
    for c in ("\x1b", "\x07", "\x9b"):
        assert c not in text, repr(c)


# 8 + 9: markup and escapes ---------------------------------------------------------------------
@pytest.mark.parametrize("fmt", ["table", "md", "csv", "json"])
def test_review_shows_hostile_text_literally(store_root: Path, fmt: str) -> None:
    r = run(
        store_root, "review", "--from", "2026-11-10", "--to", "2026-11-10", "--format", fmt, "--now", AT.isoformat()
    )
    assert r.exit_code == 0, r.stderr
    assert_inert(r.stdout)
    if fmt == "json":
        assert "\x1b" in json.loads(r.stdout)[0]["samples"][0]  # JSON stays JSON: escaped, not dropped
    else:
        assert "[red]HIDDEN[/red]" in r.stdout and "[/x]" in r.stdout and "\\x1b" in r.stdout


@pytest.mark.parametrize("fmt", ["table", "json"])
def test_report_shows_hostile_keys_literally(store_root: Path, fmt: str) -> None:
    r = run(store_root, "report", "--format", fmt, "--now", AT.isoformat())
    assert r.exit_code == 0, r.stderr
    assert_inert(r.stdout)
    assert "[red]HIDDEN[/red]" in (r.stdout if fmt == "table" else json.dumps(json.loads(r.stdout)))


def test_nightly_summary_and_holds_show_hostile_text_literally(tmp_path: Path, hostile: Path) -> None:
    root = tmp_path / "night"
    r = run(root, "nightly", str(hostile), "--now", AT.isoformat())
    assert r.exit_code == 0, r.stderr
    assert_inert(r.stdout + r.stderr)
    assert "[red]HIDDEN[/red]" in r.stdout
    reason = "evil \x1b]0;title\x07 [red]r[/red] [/x]"
    r = run(root, "hold", "create", "INC-1", "--reason", reason, "--from", "2026-11-10T00:00Z", "--now", AT.isoformat())
    assert r.exit_code == 0
    for args in (["hold", "list"], ["hold", "show", "INC-1"], ["status"], ["report", "--hold", "INC-1"]):
        r = run(root, *args, "--now", AT.isoformat())
        assert r.exit_code == 0, (args, r.stderr)
        assert_inert(r.stdout + r.stderr)
        assert "[red]r[/red] [/x]" in r.stdout or "[red]r[/red] [/x]" in json.dumps(json.loads(r.stdout)), args


def test_error_lines_show_control_characters_escaped(tmp_path: Path) -> None:
    r = run(tmp_path / "s", "ingest", str(tmp_path / "no\x1b]0;x\x07such.log"))
    assert r.exit_code == 3 and "\\x1b" in r.stderr
    assert_inert(r.stderr)


# 10: CSV formula injection ---------------------------------------------------------------------
def _cells(data: bytes) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(data.decode())))


def test_csv_outputs_neutralise_formulas(store_root: Path, tmp_path: Path) -> None:
    run(store_root, "hold", "create", "INC-1", "--reason", "r", "--from", "2026-11-10T00:00Z", "--now", AT.isoformat())
    outs = {
        "export": ["export", "--stage", "raw"],
        "export-hold": ["export", "--hold", "INC-1"],
        "subject": ["subject", "export", "--ip", "203.0.113.1", "--format", "csv"],
    }
    for name, args in outs.items():
        path = tmp_path / f"{name}.csv"
        r = run(store_root, *args, "-o", str(path), "--now", AT.isoformat())
        assert r.exit_code == 0, r.stderr
        rows = _cells(path.read_bytes())
        assert rows and all(row["user_agent"].startswith("'=cmd|") for row in rows), name
    r = run(store_root, "hold", "export", "INC-1", "-o", str(tmp_path / "b"), "--now", AT.isoformat())
    assert r.exit_code == 0
    rows = _cells((tmp_path / "b" / "rows.csv").read_bytes())
    assert rows[0]["user_agent"].startswith("'=cmd|")
    assert pl.read_parquet(tmp_path / "b" / "rows.parquet")["user_agent"][0] == FORMULA_UA  # the evidence as logged
    assert run(store_root, "hold", "verify-bundle", str(tmp_path / "b")).exit_code == 0


def test_review_csv_cells_cannot_start_a_formula(tmp_path: Path) -> None:
    from logtool.detect.findings import Finding
    from logtool.render.findings import FindingFormat, render

    f = Finding("signature", "sqli", "high", '=HYPERLINK("x")', "a", "b", 1, 1, ["+1+1", "@SUM(A1)"], "-2")
    rows = list(csv.reader(io.StringIO(render([f], FindingFormat.csv))))
    assert all(not c.startswith(("=", "+", "-", "@")) for c in rows[1])


# 11: pipes ---------------------------------------------------------------------------------------
def _raw_rows(root: Path) -> int:
    s = Store(root, create=False, readonly=True)
    n = s.read("raw").height
    s.close()
    return n


def test_ingest_reads_a_fifo_once_with_two_writers(tmp_path: Path) -> None:
    logs = write_days(tmp_path / "logs", n_days=2, per_day=60)
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    opened = threading.Barrier(2)

    def writer(src: Path) -> None:
        with open(fifo, "wb") as f:
            opened.wait(timeout=20)
            f.write(src.read_bytes())

    threads = [threading.Thread(target=writer, args=(p,)) for p in logs]
    for t in threads:
        t.start()
    r = run(tmp_path / "store", "ingest", str(fifo))
    for t in threads:
        t.join(timeout=20)
    assert r.exit_code == 0, r.stderr
    assert "120 lines as combined, 120 stored" in r.stderr and _raw_rows(tmp_path / "store") == 120


def test_ingest_reads_dev_stdin_and_process_substitution(tmp_path: Path) -> None:
    log = write_days(tmp_path / "logs", n_days=1, per_day=80)[0]
    exe = [sys.executable, "-m", "logtool", "--store", str(tmp_path / "store"), "ingest", "--no-geo"]
    pipe = subprocess.run(f"cat {log} | {' '.join(exe)} /dev/stdin", shell=True, capture_output=True, text=True)
    assert pipe.returncode == 0 and "80 lines as combined, 80 stored" in pipe.stderr, pipe.stderr
    cat = subprocess.Popen(["cat", str(log)], stdout=subprocess.PIPE)  # <(cat log)
    assert cat.stdout is not None
    fd = cat.stdout.fileno()
    p = subprocess.run([*exe, f"/dev/fd/{fd}"], pass_fds=(fd,), capture_output=True, text=True, timeout=60)
    cat.wait()
    assert p.returncode == 0 and "already ingested" in p.stderr, p.stderr  # read once, recognised by content
    assert _raw_rows(tmp_path / "store") == 80


# 12: UTF-16 / UTF-32 ------------------------------------------------------------------------------
PLANTED = "203.0.113.77"


@pytest.mark.parametrize("encoding", ["utf-16-le", "utf-16-be", "utf-32-le", "utf-32-be", "utf-8"])
def test_text_with_a_byte_order_mark_is_decoded(tmp_path: Path, encoding: str) -> None:
    line = f'{PLANTED} - - [10/Nov/2026:01:00:00 +0000] "GET /ü?mail=a@example.com HTTP/1.1" 200 5 "-" "curl/8 ünï"\n'
    bom = "\ufeff".encode(encoding)
    p = tmp_path / "u.log"
    p.write_bytes(bom + (line * 20).encode(encoding))
    r = run(tmp_path / "store", "ingest", str(p))
    assert r.exit_code == 0 and "20 lines as combined, 20 stored" in r.stderr, r.stderr
    r = run(tmp_path / "store", "anonymize", str(p))
    assert r.exit_code == 0 and PLANTED not in r.stdout and r.stdout.count("203.0.113.0 - - ") == 20
    assert "ünï" in r.stdout


def test_utf16_without_a_byte_order_mark_is_refused(tmp_path: Path) -> None:
    p = tmp_path / "u.log"
    p.write_bytes((f'{PLANTED} - - [10/Nov/2026:01:00:00 +0000] "GET / HTTP/1.1" 200 5\n' * 20).encode("utf-16-le"))
    for args in (["ingest", str(p)], ["anonymize", str(p)], ["detect", str(p)]):
        r = run(tmp_path / "store", *args)
        assert r.exit_code == 3 and "UTF-16" in r.stderr, args
        assert PLANTED not in r.stdout
    r = run(tmp_path / "store", "anonymize", input=p.read_bytes())  # through stdin as well
    assert r.exit_code == 3 and PLANTED not in r.stdout


# 13: extreme values ---------------------------------------------------------------------------------
EXTREME = {
    "squid": "99999999999999999999.779    180 203.0.113.7 TCP_MISS/200 411 GET http://www.example.org/ - "
    "HIER_DIRECT/198.51.100.9 text/html",
    "caddy": REGISTRY["caddy"].sample.replace('"ts":1795773600.52', '"ts":1e300'),
    "traefik_json": REGISTRY["traefik_json"].sample.replace('"StartUTC":"2026', '"StartUTC":"-2026'),
    "gcp_lb": REGISTRY["gcp_lb"].sample.replace('"timestamp":"2026', '"timestamp":"-0001'),
    "iis": "#Fields: date time s-ip cs-method cs-uri-query c-ip sc-status\n"
    "2026-11-24 10:00:00 10.0.0.5 GET - 203.0.113.7 200",
    "cloudfront": "#Fields: x-edge-location sc-bytes c-ip cs-method cs-uri-stem sc-status\n"
    "FRA2\t100\t203.0.113.7\tGET\t/\t200",
    "nginx_json": '{"time_iso8601":"99999-11-24T10:00:00+01:00","remote_addr":"203.0.113.7","request":"GET / HTTP/1.1",'
    '"status":"99999999999","body_bytes_sent":"1e999"}',
    "combined": '203.0.113.7 - - [24/Nov/99999:10:00:00 +0100] "GET / HTTP/1.1" 99999 99999999999999999999999 "-" "-"',
}


@pytest.mark.parametrize("name", sorted(EXTREME))
def test_extreme_values_are_quarantined_with_a_reason(tmp_path: Path, name: str) -> None:
    p = tmp_path / f"{name}.log"
    p.write_text(EXTREME[name] + "\n")
    r = run(tmp_path / "store", "ingest", "--format", name, str(p))
    assert r.exit_code == 0, r.stderr
    s = Store(tmp_path / "store", create=False, readonly=True)
    reasons = s.read("quarantine").get_column("reason").to_list()
    records = s.read("raw")
    s.close()
    if name == "combined":  # a five-digit year does not fit the format
        assert reasons == ["does not match format combined"]
    else:
        assert len(reasons) == 1 and records.height == 0, (reasons, records)
        assert "timestamp" in reasons[0] or "#Fields header has no" in reasons[0], reasons
    r = run(tmp_path / "store", "anonymize", "--format", name, str(p))
    assert r.exit_code == 0 and "203.0.113.7" not in r.stdout


# 14: a huge line -------------------------------------------------------------------------------------
def test_a_50_mb_line_is_quarantined_in_bounded_memory(tmp_path: Path) -> None:
    normal = write_days(tmp_path / "logs", n_days=1, per_day=200)[0]
    huge = tmp_path / "huge.log"
    with open(huge, "wb") as f:
        f.write(b'203.0.113.9 - - [10/Nov/2026:01:00:00 +0000] "GET /' + b"a" * (50 << 20) + b' HTTP/1.1" 200 5\n')
        f.write(normal.read_bytes())
    # one process: the peak memory of a normal ingest, then with the huge line, then anonymize
    code = f"""
import resource
from logtool.cli import cli
def peak(*args):
    code = cli.main(list(args), standalone_mode=False)
    print(code, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024)
peak("--store", {str(tmp_path / "s1")!r}, "ingest", "--no-geo", {str(normal)!r})
peak("--store", {str(tmp_path / "s2")!r}, "ingest", "--no-geo", {str(huge)!r})
peak("anonymize", "--format", "combined", "-o", {str(tmp_path / "a.log")!r}, {str(huge)!r})
"""
    p = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    (c1, base), (c2, ingested), (c3, anonymized) = [map(int, ln.split()) for ln in p.stdout.splitlines()]
    assert (c1, c2, c3) == (0, 0, 0), p.stderr
    assert "201 lines as combined, 200 stored, 1 quarantined" in p.stderr and "line longer than 65536 bytes" in p.stderr
    assert ingested < base + 200 and anonymized < base + 200, (base, ingested, anonymized)
    first = (tmp_path / "a.log").read_text().splitlines()[0]
    assert first.startswith("203.0.113.0 - - ") and "line of 52428" in first and len(first) < 5000


# 15: odd inputs -----------------------------------------------------------------------------------------
def test_a_directory_and_a_truncated_gzip_are_input_errors(tmp_path: Path) -> None:
    r = run(tmp_path / "s", "anonymize", str(tmp_path))
    assert r.exit_code == 3 and "is a directory" in r.stderr and "Traceback" not in r.stderr
    log = write_days(tmp_path / "logs", n_days=1, per_day=3000)[0]
    data = gzip.compress(log.read_bytes())
    (tmp_path / "cut.gz").write_bytes(data[: len(data) // 2])
    r = run(tmp_path / "s", "detect", str(tmp_path / "cut.gz"))
    assert r.exit_code == 3 and "truncated gzip" in r.stderr
    (tmp_path / "ok.gz").write_bytes(data)
    assert run(tmp_path / "s", "detect", str(tmp_path / "ok.gz")).exit_code == 0


# 17: hostile rules files -------------------------------------------------------------------------------
RULES = {
    "non-utf8": (b"[probing]\nwindow_seconds = 60 # \xff\xfe\n", "not UTF-8"),
    "regex": (
        b'[fake_bot.x]\nuser_agent = "(("\nnetworks = ["192.0.2.0/24"]\n',
        "[fake_bot.x] user_agent is not a valid regex",
    ),
    "cidr": (b'[fake_bot.x]\nuser_agent = "x"\nnetworks = ["192.0.2.1/24"]\n', "[fake_bot.x] networks must be CIDR"),
    "cidr-junk": (b'[fake_bot.bingbot]\nuser_agent = "x"\nnetworks = ["nope"]\n', "networks must be CIDR"),
    "nan": (b"[flood]\nbaseline_factor = nan\n", "[flood] baseline_factor must be a finite number"),
    "inf": (b"[flood]\nthreshold = inf\n", "[flood] threshold must be a finite number"),
    "negative": (b"[probing]\nwindow_seconds = -60\n", "[probing] window_seconds must be between 1 and 86,400"),
    "huge": (b"[brute_force]\nwindow_seconds = 1e18\n", "[brute_force] window_seconds must be between 1 and 86,400"),
    "threshold": (b"[flood]\nthreshold = 0\n", "[flood] threshold must be between 1 and"),
    "deep": (b"[probing]\nstatic_suffixes = " + b"[" * 100_000 + b"]" * 100_000 + b"\n", "nested too deeply"),
    "nested": (b"[brute_force]\nlogin_paths = [[1]]\n", "[brute_force] login_paths must hold strings"),
    "prefix": (b"[clients]\nipv6_prefix = 200\n", "[clients] ipv6_prefix must be between 1 and 128, got 200"),
    "severity": (b'[severity]\nsqli = "urgent"\n', "[severity] sqli must be one of"),
    "crawler": (b'[fake_bot.x]\nuser_agent = "x"\n', "[fake_bot.x] must have the keys"),
    "type": (b'[flood]\nthreshold = "many"\n', "[flood] threshold must be like"),
    "section": (b"[nope]\na = 1\n", "unknown section [nope]"),
}


@pytest.mark.parametrize("name", sorted(RULES))
def test_hostile_rules_files_are_one_line_naming_the_key(store_root: Path, tmp_path: Path, name: str) -> None:
    data, message = RULES[name]
    p = tmp_path / f"{name}.toml"
    p.write_bytes(data)
    r = run(store_root, "review", "--rules", str(p))
    assert r.exit_code == 2 and message in r.stderr and "Traceback" not in r.stderr, r.stderr
    assert len(r.stderr.strip().splitlines()) == 1


@pytest.mark.parametrize("command", ["ingest", "retain", "nightly"])
def test_rules_from_the_environment_stop_writers_before_they_start(store_root: Path, hostile: Path, command) -> None:
    bad = store_root.parent / "bad.toml"
    bad.write_bytes(RULES["prefix"][0])
    args = [command] + ([str(hostile)] if command != "retain" else [])
    r = run(store_root, *args, env={"LOGTOOL_REVIEW_RULES": str(bad)})
    assert r.exit_code == 2 and "ipv6_prefix must be between 1 and 128" in r.stderr


def test_the_shipped_rules_pass_their_own_validation() -> None:
    rules = load_rules()
    assert rules["clients"]["ipv6_prefix"] == 64


# 20: Ctrl-C and verify's address scan --------------------------------------------------------------
def test_ctrl_c_while_reading_a_pipe_exits_130_with_one_line(tmp_path: Path) -> None:
    block = write_days(tmp_path / "logs", n_days=1, per_day=2000)[0].read_bytes()
    data = block * (17 * 2**20 // len(block) + 1)  # more than one batch
    proc = subprocess.Popen([sys.executable, "-m", "logtool", "--store", str(tmp_path / "s"), "ingest", "--no-geo", "-"],
                            stdin=subprocess.PIPE, stderr=subprocess.PIPE, text=False,
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))  # fmt: skip
    assert proc.stdin is not None and proc.stderr is not None
    proc.stdin.write(data)  # the pipe stays open: the reader thread blocks on it
    proc.stdin.flush()
    time.sleep(2)
    proc.send_signal(signal.SIGINT)
    try:
        code = proc.wait(timeout=20)
    finally:
        proc.kill()
        proc.stdin.close()
    err = proc.stderr.read().decode()
    assert code == 130, err
    assert err.strip() == "logtool: interrupted; nothing partial was committed"


def test_ctrl_c_while_loading_is_one_line(tmp_path: Path) -> None:
    """Ctrl-C while Python is still importing polars (the console script's guarded import)."""
    proc = subprocess.Popen([sys.executable, "-m", "logtool", "--store", str(tmp_path / "s"), "status"],
                            stderr=subprocess.PIPE, stdout=subprocess.DEVNULL,
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))  # fmt: skip
    maps = Path(f"/proc/{proc.pid}/maps")
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and proc.poll() is None:  # until polars' library is being loaded
        try:
            if "polars" in maps.read_text():
                break
        except OSError:
            break
        time.sleep(0.005)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=30)
    text = err.decode()
    assert "Traceback" not in text and "Exception ignored" not in text, text
    assert proc.returncode in (130, 4), text  # interrupted, or finished first (no store there)


def test_verify_does_not_take_code_for_an_address(tmp_path: Path) -> None:
    from logtool.governance.verify import verify

    s = Store(tmp_path / "store")
    paths = [
        "/src/std::vector<int>",
        "/docs/Foo::Bar::baz",
        "/api/v1::list",
        "/leak/2001:db8::1",
        "/v4/198.51.100.7",
    ]
    df = pl.DataFrame({"ts": [NOW] * len(paths), "path": paths, "client_net": ["203.0.113.0/24"] * len(paths)})
    with s.change("plant", NOW) as ch:
        ch.writer("anonymised").write_day("2026-11-23", df)
    found = [p for p in verify(s, Policy(), NOW) if p.kind == "full-ip"]
    s.close()
    assert len(found) == 1 and found[0].detail.startswith("2 values contain an IP address")
