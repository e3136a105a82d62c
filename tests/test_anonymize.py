"""``logtool anonymize``: golden files, properties, the pipe behaviour as a real process.

Golden files: tests/cases/anonymize/<format>/<name>.log → <name>.expected ("unknown" = no
format, the fail-closed fallback). Regenerate with UPDATE_GOLDEN=1 and review the diff.
"""

from __future__ import annotations

import ipaddress
import os
import re
import signal
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

import polars as pl
import pytest
from click.testing import CliRunner
from hypothesis import given, settings
from hypothesis import strategies as st

from logtool.anonymize.lines import LineAnonymizer
from logtool.anonymize.redact import redact
from logtool.cli import cli
from logtool.config import Policy
from logtool.generate import lines as generated_lines
from logtool.parsers import custom_format, get_format

from .conftest import EXAMPLES

CASES = Path(__file__).parent / "cases"
ANON_CASES = sorted((CASES / "anonymize").glob("*/*.log"))


def anonymizer(fmt_name: str | None, policy: Policy | None = None) -> LineAnonymizer:
    fmt = None if fmt_name in (None, "unknown") else get_format(fmt_name)
    return LineAnonymizer(fmt, policy or Policy())


def run_lines(a: LineAnonymizer, lines: list[str]) -> list[str]:
    return a.anonymize(pl.Series(lines, dtype=pl.String)).to_list()


@pytest.mark.parametrize("path", ANON_CASES, ids=lambda p: f"{p.parent.name}/{p.stem}")
def test_golden(path: Path) -> None:
    lines = path.read_bytes().decode().split("\n")[:-1]
    got = run_lines(anonymizer(path.parent.name), lines)
    expected_path = path.with_suffix(".expected")
    if os.environ.get("UPDATE_GOLDEN"):
        expected_path.write_bytes(("\n".join(got) + "\n").encode())
    assert got == expected_path.read_bytes().decode().split("\n")[:-1]


def redaction_cases() -> list[tuple[str, str]]:
    rows = (CASES / "redact" / "urls.tsv").read_text().splitlines()
    return [tuple(r.split("\t")) for r in rows if r and not r.startswith("#")]  # type: ignore[misc]


@pytest.mark.parametrize("value,expected", redaction_cases())
def test_url_redaction_golden(value: str, expected: str) -> None:
    assert redact(pl.Series([value])).to_list() == [expected]
    assert redact(pl.Series([expected])).to_list() == [expected]  # idempotent


def test_fast_path_is_equivalent_to_the_full_rewrite() -> None:
    lines = list(
        generated_lines(datetime(2026, 11, 1, tzinfo=UTC), 6000, seed=11, malformed_rate=0.02, attack_rate=0.05)
    )
    # no space, a leading space: no client to reuse
    lines += ["203.0.113.9", ' - - [01/Nov/2026:06:24:45 +0100] "GET /?mail=a@example.com HTTP/1.1" 200 1', ""]
    head, t = "198.51.100.7 - - [01/Nov/2026:06:24:45 +0100]", '"GET /a HTTP/1.1" 200 5'
    lines += [  # what the trigger must see in each field, in lines the cutter reads and lines it does not
        f'{head} {t} "-" "Mozilla/5.0 (from 203.0.113.50)"',
        f'{head} {t} "https://example.com/?e=jane@example.com" "ua"',
        f'{head} "GET /u/2001:db8::1 HTTP/1.1" 200 5 "-" "ua"',
        f'{head} {t} "-" "ua" 0.25 203.0.113.51',  # a trailing field
        f'{head} {t} "-" "ua" 0.25',
        f'{head} "GET /a HTTP/1.1 200 5 "-" "ua"',  # a broken quote
        f'{head}\t{t} "-" "ua"',
        f'198.51.100.7 - bob [01/Nov/2026:06:24:45 +0100] {t} "-" "ua"',
        f'198.51.100.7 x - [01/Nov/2026:06:24:45 +0100] {t} "-" "ua"',
        f'198.51.100.7 - - [1.2.3.4] {t} "-" "ua"',
        f'{head} "GET token=s3cr3tvalue HTTP/1.1" 200 5 "-" "ua"',  # a parameter right after the method
    ]
    for policy in (Policy(), Policy(ipv4_prefix=16, anonymize_query_allowlist=("page",))):
        a = anonymizer("combined", policy)
        assert a.fast_path and a.fast.plan is not None  # fields checked on distinct values
        fast = run_lines(a, lines)
        a.fast.plan = None  # the whole rest checked
        assert run_lines(a, lines) == fast
        a.fast_path = False
        assert run_lines(a, lines) == fast
    # a field the format does not name (a header it does not know): no column to check it by
    custom = custom_format('%h %l %u %t "%r" %>s %b "%{Referer}i" "%{User-agent}i" "%{X-Real-IP}i"', None, None)
    a = LineAnonymizer(custom, Policy())
    lines = [f'{head} {t} "-" "ua" "{x}"' for x in ("203.0.113.50 jane@example.com", "-", "198.51.100.1")]
    assert a.fast_path and a.fast.plan is None
    fast = run_lines(a, lines)
    a.fast_path = False
    assert run_lines(a, lines) == fast and "203.0.113.50" not in fast[0]


def test_values_cached_across_batches_mask_as_a_fresh_anonymizer_does() -> None:
    """The client and field caches of one anonymizer (kept over a file's batches, and started
    over when full) give what a fresh anonymizer gives each batch."""
    lines = list(
        generated_lines(datetime(2026, 11, 1, tzinfo=UTC), 3000, seed=13, malformed_rate=0.02, attack_rate=0.2)
    )
    batches = [lines[i : i + 500] for i in range(0, len(lines), 500)]
    head = '203.0.113.9 - - [01/Nov/2026:06:24:45 +0100] "GET /p{}?mail=a{}@example.com HTTP/1.1" 200 5 "-" "ua{}"'
    batches += [[head.format(j, j, j) for j in (k, k + 1)] for k in range(4)]  # a new value each, one seen
    kept = anonymizer("combined")
    kept.fast_path = False  # every line through the fields
    for k, batch in enumerate(batches):
        fresh = anonymizer("combined")
        fresh.fast_path = False
        assert run_lines(kept, batch) == run_lines(fresh, batch)
        if k == 1:
            assert {"request", "referrer", "ua"} <= set(kept._fields)
            for cache in kept._fields.values():
                cache.max_rows = 1  # from now on, a batch with a new value starts them over


def test_a_batch_is_written_as_the_lines_anonymize_gives(monkeypatch) -> None:
    """The file filter's output (a batch's bytes, from the compiled module on the fast path) is
    the lines ``anonymize`` returns, one per line, with or without the compiled module; lines
    with no space, a leading space, a CR or an overlong line's mark take the general path."""
    from logtool import native
    from logtool.anonymize import stream
    from logtool.linesplit import cut_long

    join_lines = native.join_lines
    generated = generated_lines(datetime(2026, 11, 1, tzinfo=UTC), 4000, seed=12, malformed_rate=0.03, attack_rate=0.05)
    lines = [x.replace("\x00", "\\x00") for x in generated]  # as the reader escapes a NUL
    joins = []

    def join_with_tails(*args):  # the fast path's join (a plain encoding has no tails)
        r = join_lines(*args)
        if args[1] is not None:
            joins.append(r)
        return r

    monkeypatch.setattr(native, "join_lines", join_with_tails)
    odd = [' - - [01/Nov/2026:06:24:45 +0100] "GET / HTTP/1.1" 200 1 "-" "ua"', "203.0.113.9", "", "x"]
    a = anonymizer("combined")
    expected = None
    for extra in ([], odd, ['203.0.113.5 - - [01/Nov/2026:06:24:45 +0100] "GET / HTTP/1.1" 200 1\r'], ["a" * 70000]):
        batch = cut_long(pl.Series("line", lines + extra, dtype=pl.String))
        want = ("\n".join(run_lines(a, batch.to_list())) + "\n").encode()
        if extra == ["a" * 70000]:
            want = bytes(stream._encode(stream._unmark(a.anonymize(batch))))
        got = bytes(stream.masked_bytes(a, batch, None))
        assert got == want
        assert bytes(stream.masked_bytes(a, batch, None, final_newline=False)) == want[:-1]
        if expected is None:
            expected = got
    assert len(joins) == 4 and None not in joins  # the compiled pass, for the batches with neither CR nor NUL
    monkeypatch.setattr(native, "_native", None)
    monkeypatch.setattr(native, "AVAILABLE", False)
    assert bytes(stream.masked_bytes(a, pl.Series("line", lines, dtype=pl.String), None)) == expected


# properties ---------------------------------------------------------------------------------
v4 = st.integers(1, 2**32 - 1).map(lambda n: ipaddress.IPv4Address(n))
v6 = st.integers(2**80, 2**128 - 1).map(lambda n: ipaddress.IPv6Address(n))
spelled = st.one_of(
    v4.map(str),
    v4.map(lambda a: f"{a}:{5000 + int(a) % 1000}"),
    v4.map(lambda a: f"::ffff:{a}"),
    v6.map(str),
    v6.map(lambda a: a.exploded.upper()),
    v6.map(lambda a: f"[{a}]:443"),
)


@settings(max_examples=100 * EXAMPLES, deadline=None)
@given(
    values=st.lists(
        st.none() | spelled | st.sampled_from(["-", "", "www.example.com", "1.2.3", "01.2.3.4", "1.2.3.\u0664"]),
        max_size=12,
    ),
    v4_prefix=st.integers(0, 32),
)
def test_batch_addresses_mask_as_one_address_does(values: list[str | None], v4_prefix: int) -> None:
    """Quads vectorised row by row, everything else through the cache: each value as
    ``mask_address`` masks it alone, at any prefix."""
    a = anonymizer("combined", Policy(ipv4_prefix=v4_prefix))
    got = a.addresses(pl.Series(values, dtype=pl.String)).to_list()
    assert got == [None if v is None else a.mask_address(v) for v in values]


email = st.from_regex(r"[a-z]{2,8}\.[a-z]{2,8}@[a-z]{3,8}\.(org|com|de)", fullmatch=True)
place = st.sampled_from(["client", "path", "query", "referrer", "ua", "xff", "junk"])


def plant(addr: str, mail: str, where: str) -> str:
    client = addr if where == "client" else "192.0.2.1"
    req, ref, ua, xff = "GET / HTTP/1.1", "-", "UA", "-"
    if where == "path":
        req = f"GET /ban/{addr}/{mail} HTTP/1.1"
    elif where == "query":
        req = f"GET /x?who={addr}&mail={mail.replace('@', '%40')} HTTP/1.1"
    elif where == "referrer":
        ref = f"http://{mail}@host/?ip={addr}"
    elif where == "ua":
        ua = f"bot ({mail}; {addr})"
    elif where == "xff":
        xff = f"{addr}, 10.0.0.1"
    elif where == "junk":
        req = f"\\x16 {addr} {mail}"
    return f'{client} - - [24/Nov/2026:10:00:00 +0000] "{req}" 200 1 "{ref}" "{ua}" "{xff}"'


def forbidden(addr: str) -> set[str]:
    """Spellings of ``addr`` that must not survive (unless it is its own network)."""
    base = re.sub(r"^\[(.*)\](:\d+)?$", r"\1", addr)
    base = re.sub(r"^(\d+\.\d+\.\d+\.\d+):\d+$", r"\1", base)
    a = ipaddress.ip_address(base)
    if a.version == 6 and a.ipv4_mapped:
        a = a.ipv4_mapped
    net = ipaddress.ip_network(f"{a}/{24 if a.version == 4 else 48}", strict=False)
    if net.network_address == a:
        return set()
    out = {str(a).lower(), a.exploded.lower()}
    return out


@settings(max_examples=150 * EXAMPLES, deadline=None)
@given(rows=st.lists(st.tuples(spelled, email, place, st.booleans()), min_size=1, max_size=12))
def test_no_address_or_email_survives_and_masking_is_idempotent(rows) -> None:
    lines = [plant(a, m, w) if known else f"free {a} text {m}" for a, m, w, known in rows]
    a = anonymizer("combined_xff")
    out = run_lines(a, lines)
    assert len(out) == len(lines)
    text = "\n".join(out).lower()
    for addr, mail, _, _ in rows:
        assert mail not in text
        for s in forbidden(addr):
            assert not re.search(rf"(?<![0-9a-f:.]){re.escape(s)}(?![0-9a-f:.])", text), (s, out)
    assert run_lines(a, out) == out  # anonymising twice changes nothing


@settings(max_examples=60 * EXAMPLES, deadline=None)
@given(rows=st.lists(st.tuples(spelled, email), min_size=1, max_size=8))
def test_unknown_format_fails_closed(rows) -> None:
    lines = [f"{m} did something from {a} at 10:00:00" for a, m in rows]
    out = run_lines(anonymizer(None), lines)
    text = "\n".join(out).lower()
    for addr, mail in rows:
        assert mail not in text
        for s in forbidden(addr):
            assert not re.search(rf"(?<![0-9a-f:.]){re.escape(s)}(?![0-9a-f:.])", text)


#: Where a planted address and e-mail go in each format's sample line (besides the client):
#: a user agent or a URL, spelled so the line still parses.
_PLANT = {
    "traefik_clf": "curl/8.5.0", "aws_elb": "curl/8.5.0", "aws_alb": "curl/8.5.0", "caddy": "curl/8.5.0",
    "traefik_json": "curl/8.5.0", "gcp_lb": "curl/8.5.0", "nginx_json": "curl/8.5.0", "aws_s3": "aws-cli/2.15",
    "squid": "http://www.example.org/", "haproxy": "/index.html", "iis": "Mozilla/5.0+", "cloudfront": "/index.html",
}  # fmt: skip


@settings(max_examples=40 * EXAMPLES, deadline=None)
@given(rows=st.lists(st.tuples(st.sampled_from(sorted(_PLANT)), spelled, email, spelled), min_size=1, max_size=6))
def test_every_format_keeps_its_layout_and_leaks_no_address(rows) -> None:
    """Formats without a rewrite template of their own (fixed layouts, JSON, W3C) mask field by
    field: nothing personal survives, the line still parses as its format, and masking twice
    changes nothing."""
    for name, client, mail, other in rows:
        fmt = get_format(name)
        *header, line = fmt.sample.split("\n")
        spot = _PLANT[name]
        line = line.replace("203.0.113.7", client).replace(spot, f"{spot}({mail};{other})", 1)
        a = anonymizer(name)
        out = run_lines(a, [*header, line])
        text = out[-1].lower()
        assert mail not in text
        for addr in (client, other):
            for s in forbidden(addr):
                assert not re.search(rf"(?<![0-9a-f:.]){re.escape(s)}(?![0-9a-f:.])", text), (name, s, out)
        assert run_lines(anonymizer(name), out) == out
        if hasattr(fmt, "start_file"):
            fmt.start_file()
        rec, rej = fmt.parse(pl.DataFrame({"line_no": range(1, len(out) + 1), "line": out}))
        assert rec.height == 1 and rej.height == 0, (name, out, rej.to_dicts())


def test_json_lines_stay_json_and_user_fields_go() -> None:
    import json

    for name in ("caddy", "traefik_json", "gcp_lb"):
        path = CASES / "anonymize" / name / "basic.log"
        pairs = zip(path.read_text().splitlines(), path.with_suffix(".expected").read_text().splitlines(), strict=True)
        for before, after in pairs:
            try:
                json.loads(before)
            except ValueError:
                continue
            json.loads(after)  # still valid JSON where it was
    caddy = (CASES / "anonymize" / "caddy" / "basic.expected").read_text()
    assert '"user_id":"alice"' not in caddy and '"user_id":"-"' in caddy and "session=<redacted>" in caddy


def test_w3c_header_carries_across_batches_in_file_mode(tmp_path: Path, monkeypatch) -> None:
    """The #Fields header of a W3C log is in force for every later batch, also when batches are
    masked two at a time: the user column is blanked far from its header."""
    from logtool.anonymize import stream

    header = "#Fields: date time c-ip cs-username cs-method cs-uri-stem sc-status"
    body = [f"2026-11-24 10:00:{i % 60:02d} 198.51.100.{i % 200} user{i} GET /p{i} 200" for i in range(400)]
    src = tmp_path / "u_ex261124.log"
    src.write_text("\n".join([header, *body]) + "\n")
    monkeypatch.setattr(stream, "FILE_BATCH_BYTES", 1024)  # ~20 lines a batch
    args = ["--store", str(tmp_path / "s"), "anonymize", str(src), "--format", "iis", "-o", str(tmp_path / "o.log")]
    assert CliRunner().invoke(cli, args).exit_code == 0
    out = (tmp_path / "o.log").read_text().splitlines()
    assert len(out) == 401 and out[-1] == "2026-11-24 10:00:39 198.51.100.0 - GET /p399 200"
    assert not any("user" in ln for ln in out[1:])


# the command --------------------------------------------------------------------------------
def test_cli_file_mode_appends_to_output(tmp_path: Path) -> None:
    src = CASES / "anonymize" / "combined" / "forms-and-pii.log"
    out = tmp_path / "anon.log"
    out.write_text("existing line\n")
    r = CliRunner().invoke(cli, ["--store", str(tmp_path / "s"), "anonymize", str(src), "-o", str(out)])
    assert r.exit_code == 0, r.output
    got = out.read_text().split("\n")
    assert got[0] == "existing line"
    assert len(got) - 2 == src.read_text().count("\n")
    assert "anonymized" in r.stderr


def test_cli_file_mode_in_many_batches_keeps_every_line_in_order(tmp_path: Path, monkeypatch) -> None:
    """A file is masked two batches at a time: the output must not depend on the batch size."""
    from logtool.anonymize import stream

    src = tmp_path / "in.log"
    src.write_text("\n".join(generated_lines(datetime(2026, 11, 24, tzinfo=UTC), 3000, seed=4)) + "\n")
    args = ["--store", str(tmp_path / "s"), "anonymize", str(src), "-o"]
    assert CliRunner().invoke(cli, [*args, str(tmp_path / "one.log")]).exit_code == 0
    monkeypatch.setattr(stream, "FILE_BATCH_BYTES", 8192)  # ~40 lines a batch: ~75 batches
    assert CliRunner().invoke(cli, [*args, str(tmp_path / "many.log")]).exit_code == 0
    one, many = (tmp_path / "one.log").read_text(), (tmp_path / "many.log").read_text()
    assert many == one and many.count("\n") == 3000


def test_cli_unknown_format_warns_and_masks(tmp_path: Path) -> None:
    r = CliRunner().invoke(cli, ["--store", str(tmp_path / "s"), "anonymize", "-"], input="x 198.51.100.7 y\n")
    assert r.stdout == "x 198.51.100.0 y\n"
    assert "format of <stdin> not recognised; masking every IP-looking token" in r.stderr


def test_cli_missing_input(tmp_path: Path) -> None:
    r = CliRunner().invoke(cli, ["--store", str(tmp_path / "s"), "anonymize", str(tmp_path / "nope.log")])
    assert r.exit_code == 3 and "input file not found" in r.stderr


def _wait_for(predicate, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.05)
    raise AssertionError("timed out waiting")


def _line(i: int) -> str:
    return f'203.0.113.{i % 250 + 1} - - [24/Nov/2026:10:00:00 +0000] "GET /n/{i} HTTP/1.1" 200 1 "-" "UA"\n'


def _start(tmp_path: Path, out: Path) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "logtool",
            "--store",
            str(tmp_path / "s"),
            "anonymize",
            "--format",
            "combined",
            "-o",
            str(out),
        ],
        stdin=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )


def _count(*files: Path) -> int:
    return sum(f.read_text().count("\n") for f in files if f.exists())


def test_pipe_sighup_reopens_output_and_no_line_is_lost(tmp_path: Path) -> None:
    out, rotated = tmp_path / "access.log", tmp_path / "access.log.1"
    proc = _start(tmp_path, out)
    assert proc.stdin is not None
    for i in range(50):
        proc.stdin.write(_line(i).encode())
    proc.stdin.flush()
    _wait_for(lambda: _count(out) == 50)  # line-buffered: they arrive without EOF
    os.rename(out, rotated)  # logrotate moves the file…
    proc.send_signal(signal.SIGHUP)  # …and signals
    time.sleep(0.3)
    for i in range(50, 120):
        proc.stdin.write(_line(i).encode())
    proc.stdin.close()
    assert proc.wait(timeout=30) == 0
    assert _count(rotated) >= 50 and out.exists()
    got = sorted(int(m) for f in (rotated, out) for m in re.findall(r"/n/(\d+) ", f.read_text()))
    assert got == list(range(120))  # every line in the old or the new file, none twice
    assert "203.0.113.0" in out.read_text() and "203.0.113.5 " not in out.read_text()


def test_pipe_sigterm_exits_cleanly_after_writing_what_it_read(tmp_path: Path) -> None:
    out = tmp_path / "access.log"
    proc = _start(tmp_path, out)
    assert proc.stdin is not None
    for i in range(30):
        proc.stdin.write(_line(i).encode())
    proc.stdin.flush()
    _wait_for(lambda: _count(out) == 30)
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(timeout=30) == 0
    assert _count(out) == 30


@pytest.mark.parametrize("lines", [["a", "b"], ["a", None, "c"], ["x" * 40], ["é\u2028", ""], [""]])
@pytest.mark.parametrize("newline", [True, False])
def test_a_batch_is_encoded_one_line_per_line(lines: list[str | None], newline: bool) -> None:
    """The output of a batch: each line and a newline (none after the last of a pipe's lines
    that had none); a null line is an empty one."""
    from logtool.anonymize.stream import _encode

    got = bytes(_encode(pl.Series(lines, dtype=pl.String), newline))
    assert got == "\n".join(x or "" for x in lines).encode() + (b"\n" if newline else b"")
