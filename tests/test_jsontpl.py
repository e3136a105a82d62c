"""Learned JSON layouts (the fast path) must find exactly what the per-key search finds."""

from __future__ import annotations

import json

import polars as pl
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from logtool.parsers import jsonl
from logtool.parsers.jsonl import JsonFormat, unescape
from logtool.parsers.jsontpl import learn

WANTED = ("ip", "ts", "ua", "st")
FMT = JsonFormat(
    "t",
    {"client_ip": ("ip",), "ts": ("ts",), "user_agent": ("ua",), "status": ("st",)},
    required=("ts", "client_ip"),
    loose=frozenset({"hdr"}),
)


def searched(batch: pl.DataFrame, monkeypatch: pytest.MonkeyPatch) -> pl.DataFrame:
    with monkeypatch.context() as m:
        m.setattr(jsonl, "MAX_TEMPLATES", 0)
        return FMT.raw_values(batch)


def frame(lines: list[str]) -> pl.DataFrame:
    return pl.DataFrame({"line_no": range(1, len(lines) + 1), "line": lines}, schema_overrides={"line_no": pl.Int64})


text = st.text(st.sampled_from('ab "\\/é\x01\u2028<&'), max_size=6)
scalar = st.one_of(
    text, st.integers(-5, 10**6), st.floats(allow_nan=False, allow_infinity=False), st.booleans(), st.none()
)
keys = st.sampled_from((*WANTED, "x", "y", "hdr"))
value = st.recursive(
    scalar,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(keys, inner, max_size=3),
    max_leaves=8,
)


def _count(obj: object, key: str) -> int:
    if isinstance(obj, dict):
        return sum((k == key) + _count(v, key) for k, v in obj.items())
    if isinstance(obj, list):
        return sum(_count(v, key) for v in obj)
    return 0


@st.composite
def log_line(draw: st.DrawFn) -> str:
    obj = draw(st.dictionaries(keys, value, min_size=1, max_size=6))
    sep = draw(st.sampled_from([(",", ":"), (", ", ": "), (",", " : ")]))
    return json.dumps(obj, separators=sep, ensure_ascii=draw(st.booleans()))


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(lines=st.lists(log_line(), min_size=1, max_size=12))
def test_templates_find_what_the_key_search_finds(lines: list[str], monkeypatch: pytest.MonkeyPatch) -> None:
    # a key logged once per line has one right answer; both paths must give it
    lines = [ln for ln in lines if all(_count(json.loads(ln), k) <= 1 for k in WANTED)] or ['{"ts":1}']
    batch = frame(lines)
    assert FMT.raw_values(batch).equals(searched(batch, monkeypatch))


def test_several_layouts_and_broken_lines_keep_their_order(monkeypatch: pytest.MonkeyPatch) -> None:
    lines = [
        '{"ts":1,"ip":"203.0.113.1","ua":"a"}',
        '{"ip":"203.0.113.2","ts":2}',
        '{"ts":3,"ip":"203.0.113.3","ua":"c"}',
        '{"ts":4,"ip":"203.0.113.4","ua":"d\\xE2\\x80\\x9C"}',  # nginx's default escaping
        '{"ts":5,"ip":"203.0.113.5","ua":"trunc',  # cut off: only the search reads it
        "not json",
        '{ "ts" : 7 , "hdr" : {"ua":"from the map"}, "ip" : "203.0.113.7" }',
    ]
    batch = frame(lines)
    got = FMT.raw_values(batch)
    assert got.equals(searched(batch, monkeypatch))
    assert got["line_no"].to_list() == list(range(1, 8))
    assert got["key:ip"].to_list()[:5] == [f"203.0.113.{i}" for i in range(1, 6)]
    assert got["key:ua"].to_list() == ["a", None, "c", "d\\xE2\\x80\\x9C", '"trunc', None, "from the map"]


def test_a_layout_is_spelled_out_and_loose_maps_take_any_keys() -> None:
    tpl = learn('{"ts":1,"req":{"ip":"a","hdr":{"ua":["x"]}},"st":"200"}', frozenset(WANTED), frozenset({"hdr"}))
    assert tpl is not None and sorted(tpl.groups.values()) == ["ip", "st", "ts"] and tpl.skips
    import re

    rx = re.compile(tpl.regex)
    assert rx.match('{"ts":2,"req":{"ip":"b","hdr":{"accept":["*/*"],"ua":["y","z"]}},"st":"404"}')
    assert not rx.match('{"ts":2,"req":{"ip":"b","extra":1,"hdr":{}},"st":"404"}')  # another layout
    assert not rx.match('{"ts":"2","req":{"ip":"b","hdr":{}},"st":"404"}')  # another type
    assert learn("[1, 2]", frozenset(WANTED)) is None and learn('{"x":1}', frozenset(WANTED)) is None


def test_json_escapes_are_undone_but_control_characters_stay_escaped() -> None:
    raw = pl.Series(
        ["/a?b=1\\u0026c=\\u003cx\\u003e", 'say \\"hi\\" \\\\ \\/', "caf\\u00e9 \\ud83d\\ude00", "bell\\u0007\\n", None]
    )
    assert unescape(raw).to_list() == ["/a?b=1&c=<x>", 'say "hi" \\ /', "café 😀", "bell\\u0007\\n", None]
