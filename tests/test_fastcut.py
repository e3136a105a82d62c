"""The compiled part (:mod:`logtool.native`) against the polars and Python code it replaces.

The CLF cutter (:mod:`logtool.parsers.fastcut`): the reference is polars' ``str.extract_groups``
with the format's own regex; for every line, matching or not, the cutter must give the same
groups (null when the line does not match). The line splitter: the reference is Python's own
split of the decoded text.
"""

from __future__ import annotations

import re
import shutil
import sysconfig
from datetime import UTC, datetime
from pathlib import Path

import polars as pl
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from logtool import generate, native
from logtool.linesplit import split_lines
from logtool.parsers import REGISTRY, fastcut
from logtool.parsers.clf import RegexFormat
from logtool.parsers.formatstr import compile_apache, compile_nginx
from logtool.parsers.normalise import clean_up

from .conftest import EXAMPLES

CUSTOM = [
    compile_apache('%h %l %u %t "%r" %>s %b "%{Referer}i" "%{User-Agent}i" %D').regex,
    compile_nginx('$remote_addr - $remote_user [$time_local] "$request" $status $bytes_sent').regex,
]
PLANNED = {n: f.compiled.regex for n, f in REGISTRY.items() if isinstance(f, RegexFormat)}
PLANNED = {n: rx for n, rx in {**PLANNED, "custom0": CUSTOM[0], "custom1": CUSTOM[1]}.items() if fastcut.plan(rx)}
T = "[24/Nov/2026:10:00:00 +0100]"


def reference(lines: pl.Series, regex: str) -> pl.DataFrame:
    return pl.DataFrame({"line": lines}).select(pl.col("line").str.extract_groups(regex)).unnest("line")


def check(lines: list[str], regex: str) -> None:
    """The cutter's fields as cut, and cleaned up as the normaliser would (every field, to
    try the clean-up on every shape)."""
    s = pl.Series("line", lines, pl.String)
    plan = fastcut.plan(regex)
    raw = reference(s, regex)
    for clean in (frozenset(), frozenset(plan.names)):
        got = fastcut.cut(s, plan, clean)
        want = raw.with_columns(clean_up(c).alias(c) for c in clean)
        assert got is not None
        assert got.columns == want.columns
        for col in want.columns:  # per column, so a failure names the field and the line
            pairs = zip(lines, got[col].to_list(), want[col].to_list(), strict=True)
            bad = [(line, g, w) for line, g, w in pairs if g != w]
            assert not bad, f"{col} (clean-up: {col in clean}): {bad[:3]}"


def test_the_clf_family_is_planned_and_the_rest_falls_back_to_the_regex() -> None:
    assert {"combined", "common", "combined_xff", "traefik_clf", "vhost_combined"} <= set(PLANNED)
    for name in ("host_combined", "squid", "haproxy", "aws_alb"):  # shapes the cutter does not read exactly
        assert fastcut.plan(REGISTRY[name].compiled.regex) is None, name


@pytest.mark.parametrize(
    "regex",
    [
        r"^(?P<a>[^ \t]+)(?P<b>[^ \t]+)[ \t]*$",  # two fields side by side: where one ends is a guess
        r"^(?P<a>[^ \t]+):(?P<b>[0-9]+)[ \t]*$",  # a name may hold ':'
        r"^(?P<a>[^ \t:]+)x(?P<b>[0-9]+)[ \t]*$",  # a virtual host ends at ':' or a blank only
        r"^(?:[0-9]+|-) (?P<a>[^ \t]+)[ \t]*$",  # an alternation that captures nothing
        r'^"(?P<a>[^"\\]*(?:\\.[^"\\]*)*) [ \t]*$',  # a quoted body must end at a quote
        r"^(?P<a>[0-9]+)1[ \t]*$",  # digits then a digit
        r"^(?P<a>[^ \t]+) (?P<a2>.*)$",  # any other regex syntax
        r"(?P<a>[^ \t]+)[ \t]*$",  # not anchored
        r"^(?P<a>[^ \t]+) \<(?P<b>[0-9]+)[ \t]*$",  # \< is a word boundary in Rust's syntax, not "<"
    ],
)
def test_layouts_the_cutter_cannot_read_exactly_are_refused(regex: str) -> None:
    assert fastcut.plan(regex) is None


needs_cutter = pytest.mark.skipif(not native.AVAILABLE, reason="installed without a C compiler")


def test_the_cutter_is_built_wherever_a_compiler_is() -> None:
    """``pip install`` builds it when it can; an install that silently lost it would be slow."""
    if shutil.which(sysconfig.get_config_var("CC").split()[0]) is None:
        pytest.skip("no C compiler here")
    assert native.AVAILABLE, "logtool/_native.c was not compiled: reinstall with `pip install -e .`"


@needs_cutter
@pytest.mark.parametrize("name", sorted(PLANNED))
def test_generated_and_edge_lines_cut_as_the_regex_does(name: str) -> None:
    lines = list(generate.lines(datetime(2026, 11, 24, tzinfo=UTC), 3000, seed=7, malformed_rate=0.05))
    lines += [
        f'203.0.113.7 - - {T} "GET /\\"q\\\\ HTTP/1.1" 200 5 "-" "ua \\"x\\""',  # escaped quote and backslash
        f'203.0.113.7 - - {T} "GET / HTTP/1.1" 200 5 "-" "ua\\"',  # trailing backslash: no closing quote
        f'203.0.113.7 - - {T} "GET / HTTP/1.1" 200 5 "-" "ua" \t ',  # trailing blanks
        f'203.0.113.7 - - {T} "GET / HTTP/1.1" 200 5 "-" "ua" x',  # trailing field
        f'203.0.113.7 - - {T} "" - - "" ""',  # empty and dash fields
        '2001:db8::1 ü ☃ [4/Nov/2026:10:00:00 -0000] "GET /é HTTP/1.1" 2000 5 "-" "—"',
        f'203.0.113.7 - - {T} "GET / HTTP/1.1" 200 5 "-" "ua" "198.51.100.4, 192.0.2.1"',
        f'203.0.113.7 - - {T} "GET / HTTP/1.1" 200 5 "-" "ua" 3 "a" "b" 12ms',
        f'203.0.113.7 - - {T} "GET / HTTP/1.1" 200 5 "-" "ua" 3 "a" "b" 12ms 7',
        f'www.example.org:443 203.0.113.7 - - {T} "GET / HTTP/1.1" 200 5 "-" "ua"',
        f'www.example.org:443:1 203.0.113.7 - - {T} "GET / HTTP/1.1" 200 5 "-" "ua"',
        f':443 203.0.113.7 - - {T} "GET / HTTP/1.1" 200 5 "-" "ua"',
        f'www.example.org: 203.0.113.7 - - {T} "GET / HTTP/1.1" 200 5 "-" "ua"',
        "short",
        "",
        "a b c [1/Jan/2026:00:00:00 +0000] " + '"x" 200 1 "r" "u"',
        "a\tb c " + T,
        "x" * 5000,
    ]
    check(lines, PLANNED[name])


FIELD = st.text(st.sampled_from(['"', "\\", " ", "\t", "-", "0", "9", "a", "Z", "é", "[", "]", ":", "/", "+", "m"]))


@needs_cutter
@settings(max_examples=300 * EXAMPLES, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(pieces=st.lists(FIELD, min_size=1, max_size=12), name=st.sampled_from(sorted(PLANNED)))
@example(pieces=["1", "2", "3"], name="combined")
def test_any_line_cuts_as_the_regex_does(pieces: list[str], name: str) -> None:
    """Lines built from the layout's own delimiters in any order, and a real line with one piece
    put in each field."""
    good = '203.0.113.7 - frank [24/Nov/2026:10:00:00 +0100] "GET / HTTP/1.1" 200 512 "-" "UA"'
    good = getattr(REGISTRY.get(name), "sample", "") or good  # the format's own sample line
    mixed = good
    for k, p in enumerate(pieces):
        at = (k * 37) % len(mixed)
        mixed = mixed[:at] + p + mixed[at:]
    check([" ".join(pieces), "".join(pieces), mixed, good + " " + pieces[0], T.join(pieces)], PLANNED[name])


@needs_cutter
def test_many_buffers_short_views_and_an_offset() -> None:
    """Lines spread over several data buffers, fields of 12 bytes or less held in the view
    itself, and a slice that starts inside the array."""
    long_ua = "Mozilla/5.0 " + "x" * 300
    lines = [f'192.0.2.{k % 250} - u{k} {T} "GET /{k} HTTP/1.1" 200 {k} "-" "{long_ua if k % 2 else "ua"}"' for k in range(20000)]  # fmt: skip
    s = pl.concat([pl.Series("line", lines[i : i + 997]) for i in range(0, len(lines), 997)]).rechunk()
    regex = PLANNED["combined"]
    for part in (s, s.slice(1234, 5000)):
        got = fastcut.cut(part, fastcut.plan(regex))
        assert got is not None and got.equals(reference(part, regex))


@needs_cutter
def test_a_combined_file_parses_the_same_with_and_without_the_cutter(tmp_path: Path, monkeypatch) -> None:
    lines = list(generate.lines(datetime(2026, 11, 24, tzinfo=UTC), 2000, seed=3, malformed_rate=0.05))
    batch = pl.DataFrame({"line_no": range(1, len(lines) + 1), "line": lines})
    fmt = REGISTRY["combined"]
    records, rejects = fmt.parser().parse(batch)
    monkeypatch.setattr(fastcut, "cut", lambda *args: None)  # the regex for every line
    records2, rejects2 = fmt.parser().parse(batch)
    assert records.equals(records2) and rejects.equals(rejects2)
    assert rejects.height > 0 and records.height > 1900


def reference_split(data: bytes, n: int, keep_cr: bool) -> list[str]:
    """What the pure-Python path makes of a batch: split at LF, one CR before it dropped."""
    lines = data.decode("utf-8", "replace").split("\n")[:n]
    return lines if keep_cr else [ln.removesuffix("\r") for ln in lines]


@needs_cutter
@settings(max_examples=300 * EXAMPLES, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    lines=st.lists(
        st.lists(st.sampled_from(["a", "\r", " ", "é", "☃", "\U0001f600", "\t", "x" * 13])).map("".join), max_size=30
    ),
    keep_cr=st.booleans(),
)
@example(lines=["a\r\r", "\r", "", "x" * 12, "x" * 13], keep_cr=False)
def test_valid_utf8_splits_as_python_does(lines: list[str], keep_cr: bool) -> None:
    data = "".join(ln + "\n" for ln in lines).encode()
    got = native.split_lines(data, len(lines), keep_cr)
    assert got is not None and got.to_list() == reference_split(data, len(lines), keep_cr)
    assert split_lines(data, len(lines), keep_cr).to_list() == got.to_list()


@needs_cutter
@pytest.mark.parametrize(
    "bad",
    [b"\xff", b"\xc0\xaf", b"\xe0\x80\xaf", b"\xed\xa0\x80", b"\xf4\x90\x80\x80", b"\xf8\x88\x80\x80\x80", b"\xe2\x82",
     b"\x80", b"ok\xc3"],
)  # fmt: skip
def test_invalid_utf8_is_left_to_the_lossy_reader(bad: bytes) -> None:
    """Stray, overlong, surrogate, too-large and cut-off sequences: not views of broken text."""
    data = b"first line\n" + bad + b" x\n"
    assert native.split_lines(data, 2, False) is None
    assert split_lines(data, 2).to_list() == reference_split(data, 2, False)


@needs_cutter
def test_valid_multibyte_text_is_cut_in_compiled_code() -> None:
    data = "é ☃ \U0001f600 \u07ff \u0800 \uffff \U00010000 \U0010ffff\n".encode() * 3
    assert native.split_lines(data, 3, False).to_list() == reference_split(data, 3, False)


@needs_cutter
@given(st.binary(max_size=300))
@example(b"")
@example(b"\n" * 40)
def test_newlines_are_counted_as_python_counts_them(data: bytes) -> None:
    assert native.count_lines(data) == data.count(b"\n")


@settings(max_examples=200 * EXAMPLES, deadline=None)
@given(
    text=st.lists(st.sampled_from(["a", "\r", "\n", "é", "x" * 13, "\x00", "\xff"]), min_size=1).map("".join),
    cut=st.integers(min_value=0),
    keep_cr=st.booleans(),
)
@example(text="x" * 20 + "\n" + "y" * 20 + "\n", cut=5, keep_cr=False)
def test_a_carried_line_start_joins_the_first_line(text: str, cut: int, keep_cr: bool) -> None:
    """A batch's first line begun in the one before: the same lines as the joined bytes give,
    compiled or not (a NUL, or bytes that are not UTF-8, take the polars path)."""
    raw = text.encode("utf-8", "surrogateescape").replace("\xff".encode(), b"\xff")
    if not raw.endswith(b"\n"):
        raw += b"\n"
    cut = cut % len(raw)
    carry, data = raw[:cut], raw[cut:]
    if b"\n" in carry:  # a carry is the start of one line
        carry = carry[carry.rfind(b"\n") + 1 :]
        raw = carry + data
    n = raw.count(b"\n")
    got = split_lines(data, n, keep_cr, carry).to_list()
    assert got == split_lines(raw, n, keep_cr).to_list()
    if b"\x00" not in raw and b"\xff" not in raw:
        assert got == reference_split(raw, n, keep_cr)


def test_without_the_compiled_module_polars_does_the_same_work(tmp_path: Path, monkeypatch) -> None:
    """An install without a C compiler: every call falls back, and a file reads the same."""
    from logtool.inputs import LogInput, iter_batches

    lines = list(generate.lines(datetime(2026, 11, 24, tzinfo=UTC), 3000, seed=5, malformed_rate=0.05))
    log = tmp_path / "access.log"
    log.write_text("\n".join(lines) + "\n")

    def read() -> tuple[list[str], pl.DataFrame]:
        batches = list(iter_batches(LogInput(log.name, log), batch_bytes=64 * 1024))  # many carried lines
        whole = pl.concat(batches)
        return whole.get_column("line").to_list(), REGISTRY["combined"].parser().parse(whole)[0]

    with_module = read()
    monkeypatch.setattr(native, "_native", None)
    assert native.split_lines(b"a\n", 1, False) is None
    assert native.cut_fields(pl.Series(["a"]), b"E", ()) is None
    assert native.count_lines(b"a\nb\n") == 2
    without = read()
    assert without[0] == with_module[0] == [ln.replace("\x00", "\\x00") for ln in lines]  # a NUL shows as \x00
    assert without[1].equals(with_module[1])


@needs_cutter
def test_a_batch_ending_inside_a_character_is_still_cut_in_compiled_code() -> None:
    """Only the lines returned are checked: the carried-over rest may end mid-character. And
    either path drops exactly one CR before a newline."""
    assert native.split_lines(b"a\r\r\nb\xe2\x82", 1, False).to_list() == ["a\r"]
    assert split_lines(b"a\r\r\n\xff\n", 2).to_list() == ["a\r", "\ufffd"]  # not UTF-8: the lossy reader


@needs_cutter
@pytest.mark.parametrize(
    ("program", "nslots"),
    [(b"N\xc8E", 1), (b"N\x00E", 2), (b"N\x00N\x00E", 1), (b"N\x00", 1), (b"L\x09abE", 0), (b"X\x00E", 1), (b"", 0)],
)
def test_the_cutter_refuses_a_program_it_cannot_run(program: bytes, nslots: int) -> None:
    """Slots past the output, slots never or twice filled, a literal past the end, an unknown
    step, no end: refused before a line is read (a made-up program must not write anywhere)."""
    from logtool import _native

    with pytest.raises(ValueError, match="not a program"):
        _native.cut(b"\0" * 16, (), 1, 0, program, nslots, bytearray(16 * max(nslots, 1)), bytearray(1))


TEXT = st.text(st.sampled_from(" -ab\té\u2028x0.:"), max_size=40)


def polars_join(lines: pl.Series, tails: pl.Series | None, final_newline: bool) -> bytes:
    """The reference for ``join_lines``: polars' own string concatenation."""
    frame = pl.DataFrame({"h": lines.fill_null(""), "t": tails if tails is not None else lines.clear(lines.len())})
    rows = frame.select(pl.concat_str([pl.col("h"), " " + pl.col("t")], ignore_nulls=True)).to_series().to_list()
    return ("\n".join(rows) + ("\n" if final_newline and rows else "")).encode()


@needs_cutter
@settings(max_examples=200 * EXAMPLES, deadline=None)
@given(lines=st.lists(TEXT, max_size=30), start=st.integers(0, 5))
def test_first_space_cuts_as_polars_does(lines: list[str], start: int) -> None:
    """Before and after the first space, null both where a line has none or starts with one;
    long lines (views into a buffer) and short ones (held in the view), and a slice."""
    from logtool.anonymize.fastpath import first_space

    s = pl.Series("line", [x * (1 + k % 3 * 9) for k, x in enumerate(lines)], pl.String).slice(start)
    got, want = native.first_space(s), first_space(s)
    assert got is not None
    assert [c.to_list() for c in got] == [c.to_list() for c in want]


@needs_cutter
@settings(max_examples=200 * EXAMPLES, deadline=None)
@given(
    rows=st.lists(st.tuples(st.none() | TEXT, st.none() | TEXT), max_size=30),
    start=st.integers(0, 5),
    tails=st.booleans(),
    final_newline=st.booleans(),
)
def test_joined_lines_are_the_bytes_polars_makes(
    rows: list[tuple[str | None, str | None]], start: int, tails: bool, final_newline: bool
) -> None:
    """Heads and tails with nulls, of every length, both sliced (their offsets differ)."""
    heads = pl.Series("h", [h if h is None else h * 5 for h, _ in rows] + ["x"] * 3, pl.String).slice(start)
    tail = pl.Series("t", ["y"] * 2 + [t for _, t in rows] + ["z"] * 4, pl.String).slice(2 + min(start, 1), heads.len())
    got = native.join_lines(heads, tail if tails else None, final_newline)
    assert got == polars_join(heads, tail if tails else None, final_newline)


@needs_cutter
def test_joined_lines_refuse_views_outside_their_buffers() -> None:
    from logtool import _native

    view = (20).to_bytes(4, "little") + b"abcd" + (0).to_bytes(4, "little") + (0).to_bytes(4, "little")
    with pytest.raises(ValueError, match="outside"):
        _native.join(view, (b"short",), None, 0, None, (), None, 0, 1, True)
    with pytest.raises(ValueError, match="outside"):
        _native.first_space(view, (b"short",), 1, 0, bytearray(16), bytearray(16), bytearray(1))
    with pytest.raises(ValueError, match="fit"):
        _native.join(view, (b"x" * 32,), None, 0, None, (), None, 0, 2, True)
    for huge in (2**59, 2**62):  # sizes that would overflow the checks
        with pytest.raises(ValueError, match="fit"):
            _native.join(view, (), None, 1, None, (), None, 0, huge, True)
        with pytest.raises(ValueError, match="fit"):
            _native.first_space(view, (), huge, 1, bytearray(16), bytearray(16), bytearray(1))
        with pytest.raises(ValueError, match="fit"):
            _native.export_strings("x", huge, view, (), None)


@needs_cutter
def test_arrays_handed_to_polars_hold_their_bytes_until_polars_lets_go() -> None:
    """Through the Arrow C data interface, without pyarrow: the lines' bytes stay alive while a
    series (or a cut of it) points into them, and are let go once none does (no cycle, no leak)."""
    import gc
    import sys

    data = "".join(f"203.0.113.{k % 250} - - x{'y' * (k % 30)} {k}\n" for k in range(500)).encode()
    base = sys.getrefcount(data)
    lines = native.split_lines(data, 500, False)
    cut = native.first_space(lines)
    plan = fastcut.plan(r"^(?P<a>[^ \t]+) [^ \t]+ [^ \t]+ (?P<b>[^ \t]+) (?P<c>[0-9]+)[ \t]*$")
    fields = native.cut_fields(lines, plan.program, plan.names)
    assert sys.getrefcount(data) > base
    assert cut is not None and fields is not None
    del lines
    gc.collect()
    assert cut[1].str.split(" ").list.last().cast(pl.Int64).to_list() == list(range(500))  # still readable
    assert fields.get_column("c").cast(pl.Int64).to_list() == list(range(500))
    assert native.join_lines(*cut) == data
    del cut, fields
    gc.collect()
    assert sys.getrefcount(data) == base


@needs_cutter
def test_only_one_chunk_of_string_views_is_taken() -> None:
    """Other types fall back; chunks are joined first; an empty series works."""
    from logtool import _native

    assert native.first_space(pl.Series([1, 2])) is None
    assert native.join_lines(pl.Series(["a"]), pl.Series([1])) is None
    chunked = pl.concat([pl.Series(["a b"]), pl.Series(["c d"])], rechunk=False)
    assert [s.to_list() for s in native.first_space(chunked)] == [["a", "c"], ["b", "d"]]
    assert native.join_lines(pl.Series([], dtype=pl.String)) == b""
    assert [s.to_list() for s in native.first_space(pl.Series([], dtype=pl.String))] == [[], []]
    view = (20).to_bytes(4, "little") + b"abcd" + (0).to_bytes(8, "little")
    with pytest.raises(ValueError, match="outside"):
        _native.export_strings("x", 1, view, (b"short",), None)
    with pytest.raises(ValueError, match="fit"):
        _native.export_strings("x", 2, view, (b"x" * 32,), None)
    exported = _native.export_strings("x", 1, view, (b"x" * 32,), None)
    assert pl.Series(exported).to_list() == ["x" * 20]
    with pytest.raises(RuntimeError, match="handed over"):
        exported.__arrow_c_array__()


@needs_cutter
@pytest.mark.parametrize("name", sorted(PLANNED))
def test_a_plan_for_some_fields_cuts_those_fields_alike(name: str) -> None:
    """``Plan.only``: the same lines matched, only the named fields kept, unpacked or packed."""
    lines = list(generate.lines(datetime(2026, 11, 24, tzinfo=UTC), 300, seed=9, malformed_rate=0.1))
    s = pl.Series("line", [x.replace("\x00", "") for x in lines], pl.String)
    full = fastcut.plan(PLANNED[name])
    some = full.only(full.names[1::2])
    assert some.names == full.names[1::2]
    whole = fastcut.cut(s, full)
    for pack in (True, False):
        got = native.cut_fields(s, some.program, some.names, pack=pack)
        assert got is not None and got.equals(whole.select(some.names))


@needs_cutter
def test_a_cache_keeps_its_own_strings_not_the_buffers_they_came_from() -> None:
    """A batch's few new values are views into the buffer of all its distinct values: the
    cross-batch cache copies them, so what it keeps is what it holds (not 20 such buffers)."""
    from logtool.pipeline import LookupCache

    data = "".join(f"2001:db8::{'x' * 40}{k}\n" for k in range(5_100)).encode()
    lines = native.split_lines(data, 5_100, False)  # views into the batch's bytes, as read
    cache = LookupCache("v", lambda v: pl.DataFrame({"v": v, "m": v.str.slice(0, 4)}))
    for k in range(20):  # each batch: the same 5,000 values and 5 new ones
        cache.join(pl.concat([lines.head(5_000), lines.slice(5_000 + 5 * k, 5)]).to_frame("v"))
    assert cache.table.height == 5_100
    held = sum(len(memoryview(b)) for b in native._strings(cache.table.get_column("v")).data)
    assert held < 2 * 5_100 * 56  # the values themselves (~56 bytes each), not a batch's worth each time


@needs_cutter
def test_a_cleaned_up_field_holds_each_distinct_value_once() -> None:
    """The fields the normaliser would clean up per distinct value come packed that way: one
    copy of each longer value, "-" and "" null, escapes undone; the other fields as cut."""
    agents = [f'Mozilla/5.0 (agent {k % 7}; \\"x\\")' for k in range(6000)] + ["-", ""]
    lines = [f'192.0.2.{k % 250} - - {T} "GET /{k} HTTP/1.1" 200 5 "-" "{a}"' for k, a in enumerate(agents)]
    s = pl.Series("line", lines)
    plan = fastcut.plan(PLANNED["combined"])
    got = fastcut.cut(s, plan, frozenset({"ua", "referrer"}))
    ua = got.get_column("ua")
    assert ua.head(2).to_list() == ['Mozilla/5.0 (agent 0; "x")', 'Mozilla/5.0 (agent 1; "x")']
    assert ua.tail(2).is_null().all() and got.get_column("referrer").is_null().all()
    held = sum(len(memoryview(b)) for b in native._strings(ua).data)
    assert held == sum(len(f'Mozilla/5.0 (agent {k}; "x")') for k in range(7))
    request = native._strings(got.get_column("request"))  # not cleaned up: a copy per line
    assert sum(len(memoryview(b)) for b in request.data) == sum(len(f"GET /{k} HTTP/1.1") for k in range(6002))
    assert got.get_column("user").to_list() == ["-"] * 6002


@needs_cutter
def test_pack_refuses_views_it_cannot_follow() -> None:
    """Sizes that do not fit, and a view outside its buffer, are errors, not a read astray."""
    from logtool import _native

    views = bytearray(16)
    views[0:4] = (20).to_bytes(4, "little")  # 20 bytes at offset 0 of buffer 0, which has 5
    with pytest.raises(ValueError):
        _native.pack(views, 0, (b"short",), 1, 20, b"\x01", 2, bytearray(1))
    with pytest.raises(ValueError):
        _native.pack(bytearray(16), 0, (b"",), 2, 0, b"\x01", 2, bytearray(1))  # two views in 16 bytes
    with pytest.raises(ValueError):
        _native.pack(bytearray(16), 0, (b"",), 1, 0, b"\x01", 3, bytearray(1))  # no such mode


TIME_PARTS = st.tuples(
    st.sampled_from(["0", "1", "4", "00", "01", "09", "28", "29", "30", "31", "32", "99"]),
    st.sampled_from(["Jan", "feb", "FEB", "Mar", "aPr", "Sep", "Dec", "Xyz", "Sept", "J4n"]),
    st.sampled_from(["0000", "1900", "1969", "1970", "2000", "2024", "2026", "2100", "9999", "20x6"]),
    st.sampled_from(["00", "09", "23", "24", "99"]),
    st.sampled_from(["00", "59", "60", "7"]),
    st.sampled_from(["00", "30", "59", "60", "61"]),
    st.sampled_from(["+", "-", " ", "~"]),
    st.sampled_from(["0000", "0100", "0159", "0160", "2359", "2400", "9999", "01:00", "12"]),
)


@needs_cutter
@settings(max_examples=300 * EXAMPLES, deadline=None)
@given(parts=st.lists(TIME_PARTS, min_size=1, max_size=40), nulls=st.lists(st.booleans(), min_size=40, max_size=40))
@example(parts=[("31", "Dec", "9999", "23", "59", "59", "-", "0001")], nulls=[False] * 40)
def test_clf_times_read_as_polars_reads_them(parts: list[tuple[str, ...]], nulls: list[bool]) -> None:
    """Dates that do not exist, times outside 1970..9999 once in UTC, odd offsets, months in
    any case: the compiled reading is the normaliser's polars reading, or declines (a leap
    second, a time not in the plain layout) and polars reads the batch."""
    from logtool.parsers.normalise import timestamp

    texts = [f"{d}/{m}/{y}:{hh}:{mi}:{ss} {sign}{off}" for d, m, y, hh, mi, ss, sign, off in parts]
    texts = [t if not null else None for t, null in zip(texts, nulls, strict=False)]
    rx = r"\d{1,2}/[A-Za-z]{3}/\d{4}:\d\d:\d\d:(?!60)\d\d [+-]\d{4}"
    plain = [t is None or re.fullmatch(rx, t) is not None for t in texts]
    for some, readable in [(texts, all(plain)), *(([t], p) for t, p in zip(texts, plain, strict=True))]:
        got = read_times(some)  # the whole batch, then each time alone
        assert (got is not None) == readable, some
        if got is not None:
            want = pl.Series(some, dtype=pl.String).to_frame("time").select(timestamp(frozenset({"time"})))
            assert got[0].to_list() == want.get_column("ts").to_list(), some
            assert got[1].to_list() == want.get_column("tz_offset_min").to_list(), some


@needs_cutter
def test_every_day_of_the_calendar_reads_as_polars_reads_it() -> None:
    """Every day 0..32 of every month of leap and common years, around the 1970 and 9999
    bounds, at the ends of the day and of the offsets: one batch, compared with polars."""
    from logtool.parsers.normalise import timestamp

    months = ["Jan", "feb", "MAR", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]
    texts = [
        f"{d:0{w}d}/{m}/{y}:{t} {off}"
        for y in ("1969", "1970", "1900", "2000", "2024", "2026", "9999")
        for m in months
        for d in range(33)
        for w in (1, 2)
        for t, off in (("00:00:00", "+0000"), ("23:59:59", "-0001"), ("00:30:00", "+0100"), ("24:00:00", "+2359"))
    ]
    got = read_times(texts)
    assert got is not None
    want = pl.Series(texts).to_frame("time").select(timestamp(frozenset({"time"})))
    assert got[0].equals(want.get_column("ts")) and got[1].equals(want.get_column("tz_offset_min"))
    assert 0.4 < got[0].is_not_null().mean() < 0.9  # both kinds, many of each


def read_times(texts: list[str | None]) -> tuple[pl.Series, pl.Series] | None:
    """:func:`native.clf_times` of a column of texts (None: a null row)."""
    s = pl.Series("time", [t or "" for t in texts])
    arr = native._strings(s)
    valid = bytearray((len(texts) + 7) // 8)
    for k, t in enumerate(texts):
        valid[k >> 3] |= (t is not None) << (k & 7)
    return native.clf_times(arr.views, arr.data, len(texts), valid)


@needs_cutter
def test_a_leap_second_or_a_bad_date_parses_as_polars_parses_it(monkeypatch) -> None:
    """A batch with a leap second is read by polars, every line of it; a batch of days that do
    not exist, by the compiled reading: both as the regex path reads them."""
    ok = f'192.0.2.1 - - {T} "GET / HTTP/1.1" 200 5 "-" "ua"'
    for odd in ("[24/Nov/2026:23:59:60 +0000]", "[30/Feb/2026:10:00:00 +0000]", "[24/nov/2026:10:00:00 -2359]"):
        lines = [ok, ok.replace(T, odd), ok.replace(T, "[1/Jan/1970:00:59:59 +0100]")]
        batch = pl.DataFrame({"line_no": [1, 2, 3], "line": lines})
        with monkeypatch.context() as m:
            m.setattr(native, "clf_times", lambda *a: pytest.fail("the compiled reading was asked"))
            if "23:59:60" not in odd:  # the compiled reading must have been used
                with pytest.raises(pytest.fail.Exception):
                    REGISTRY["combined"].parser().parse(batch)
        records, rejects = REGISTRY["combined"].parser().parse(batch)
        with monkeypatch.context() as m:
            m.setattr(fastcut, "cut", lambda *args: None)
            want = REGISTRY["combined"].parser().parse(batch)
        assert records.equals(want[0]) and rejects.equals(want[1])
        assert records.height + rejects.height == 3


@needs_cutter
def test_values_made_to_share_a_slot_are_still_packed_right() -> None:
    """Agents that all land in one slot of the packing table (found here with its key, which a
    log's author does not have): past a bounded search each is copied instead of remembered,
    so a flood cannot make packing quadratic, and every row still reads its own value."""
    from logtool import _native

    colliding: list[str] = []
    k = 0
    while len(colliding) < 120:  # the table starts with 1,024 slots
        agent = f"Mozilla/5.0 (flood {k:08d})"
        if _native.value_hash(agent.encode()) % 1024 == 0:
            colliding.append(agent)
        k += 1
    agents = colliding * 3
    lines = [f'192.0.2.1 - - {T} "GET / HTTP/1.1" 200 5 "-" "{a}"' for a in agents]
    s = pl.Series("line", lines)
    got = fastcut.cut(s, fastcut.plan(PLANNED["combined"]), frozenset({"ua"}))
    assert got.get_column("ua").to_list() == agents
    held = sum(len(memoryview(b)) for b in native._strings(got.get_column("ua")).data)
    once = sum(len(a) for a in colliding)
    assert once < held < 3 * once  # those found within the bound once, the rest once a row


@needs_cutter
def test_numbers_go_to_polars_as_they_are_and_wrong_sizes_are_refused() -> None:
    """``export_numbers``: int64 and int16 values with their nulls, uncopied; a format it does
    not export, or buffers shorter than the rows, are errors."""
    import struct

    from logtool import _native

    values, valid = bytearray(struct.pack("<3q", 5, -1, 2**40)), bytearray([0b101])
    assert pl.Series(_native.export_numbers("x", 3, "l", values, valid)).to_list() == [5, None, 2**40]
    assert pl.Series(_native.export_numbers("y", 2, "s", struct.pack("<2h", -750, 60), None)).to_list() == [-750, 60]
    for fmt, n, buf in (("d", 1, b"\0" * 8), ("l", 4, bytes(values)), ("s", 3, b"\0" * 4)):
        with pytest.raises(ValueError):
            _native.export_numbers("z", n, fmt, buf, None)
