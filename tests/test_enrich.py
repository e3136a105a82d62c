"""User-agent classification: the vectorised table against a per-agent reference."""

from __future__ import annotations

import re

import polars as pl
import pytest
import ua_parser
from hypothesis import given, settings
from hypothesis import strategies as st

from logtool import generate
from logtool.enrich.ua import ua_table
from logtool.schema import AGENT_CODE

from .conftest import DAY0, EXAMPLES

# The classification as it was written per agent, in Python's ``re``: the reference.
_BOT = re.compile(
    r"bot|crawl|spider|slurp|scrape|fetch|curl|wget|python-requests|httpx|go-http-client|"
    r"java/|libwww|headless|monitor|uptime|scan|nikto|sqlmap|nuclei|zgrab|masscan|okhttp|axios",
    re.I,
)
_TABLET = re.compile(r"ipad|tablet|kindle|silk|playbook|nexus (7|9|10)|sm-t\d", re.I)
_MOBILE_OS = {"iOS", "Android", "Windows Phone", "BlackBerry OS", "KaiOS", "Firefox OS"}
_DESKTOP_OS = {"Windows", "Mac OS X", "Linux", "Ubuntu", "Fedora", "Chrome OS", "FreeBSD", "Debian", "OpenBSD"}


def reference(ua: str) -> tuple[str, str | None, str, str, bool]:
    r = ua_parser.parse(ua)
    fam = r.user_agent.family if r.user_agent else "Other"
    major = r.user_agent.major if r.user_agent else None
    os_fam = r.os.family if r.os else "Other"
    dev_fam = r.device.family if r.device else "Other"
    is_bot = dev_fam == "Spider" or bool(_BOT.search(ua))
    if is_bot:
        device = "bot"
    elif _TABLET.search(ua) or dev_fam == "iPad":
        device = "tablet"
    elif os_fam in _MOBILE_OS or "Mobile" in ua:
        device = "mobile"
    elif os_fam in _DESKTOP_OS:
        device = "desktop"
    else:
        device = "other"
    return fam, major, os_fam, device, is_bot


def check(agents: list[str]) -> None:
    table = ua_table(pl.Series([*agents, *agents[:3], None], dtype=pl.String))  # repeats and a null
    got = {r[0]: r[1:] for r in table.iter_rows()}
    assert set(got) == set(agents)
    for ua in agents:
        assert got[ua] == reference(ua), ua


TRICKY = [
    "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)",
    "Mozilla/5.0 (iPad; CPU OS 17_2 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.2 Mobile/15E148",
    "Mozilla/5.0 (Linux; Android 13; SM-T820) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0 Safari/537.36",
    "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0 Mobile Safari/537.36",
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/129.0.0.0 Safari/537.36",
    "NEXUS 7 build", "nexus 8", "sm-t", "SM-T9", "MOBILE", "mobile", "HeadlessChrome/120", "curl/8.4.0",
    "\u212aindle",  # KELVIN SIGN folds to k in both regex engines
    "MySp\u0131der/1.0", "Mon\u0130torX", "K\u0131ndle", "\u017fcan",  # dotless ı, dotted İ, long ſ
    "", "-", "\x00\x1b[31m", "Ünïcödé Tablet", "python-requests/2.31", "Java/17", "java 17",
]  # fmt: skip


def test_user_agent_table_equals_the_per_agent_reference() -> None:
    lines = generate.lines(DAY0, 20_000, seed=5)
    agents = {line[line.rfind(' "') + 2 : -1] for line in lines if line.endswith('"')}
    check(sorted(agents | set(TRICKY)))


@settings(max_examples=60 * EXAMPLES, deadline=None)
@given(st.lists(st.text(alphabet=st.sampled_from(list("abotcrawlipadSM-T0179 NEXUS/Mobile\u212a\u0130\u0131\u017f.()")),
                         max_size=40),
                min_size=1, max_size=20, unique=True))  # fmt: skip
def test_user_agent_table_equals_the_reference_on_any_text(agents: list[str]) -> None:
    check(agents)


@pytest.mark.parametrize(
    ("ua", "device", "bot"),
    [(TRICKY[0], "bot", True), (TRICKY[1], "tablet", False), (TRICKY[2], "tablet", False),
     (TRICKY[3], "mobile", False), (TRICKY[4], "desktop", False)],
)  # fmt: skip
def test_device_classes(ua: str, device: str, bot: bool) -> None:
    row = ua_table(pl.Series([ua])).row(0, named=True)
    assert (row["device"], row["is_bot"]) == (device, bot)


def test_enricher_cached_across_batches_equals_each_batch_afresh() -> None:
    """The caches that live across a file's batches (here small enough to start over twice)
    give every batch what a fresh enricher gives it; null keys stay unenriched."""
    from datetime import timedelta

    from logtool.config import Policy
    from logtool.enrich import Enricher
    from logtool.parsers import get_format

    text = list(generate.lines(DAY0, 3000, seed=9, span=timedelta(hours=6), clients=900))
    rec, _ = get_format("combined").parse(pl.DataFrame({"line_no": range(1, len(text) + 1), "line": text}))
    rec = rec.with_columns(pl.when(pl.col("line_no") % 50 == 0).then(None).otherwise("client_ip").alias("client_ip"))
    salt = lambda _day: b"0" * 32  # noqa: E731
    cached = Enricher(Policy(), None, salt)
    cached.clients.max_rows = cached.agents.max_rows = 400
    heights = []
    for part in rec.iter_slices(500):
        got = cached(part)
        assert got.drop(AGENT_CODE).equals(Enricher(Policy(), None, salt)(part).drop(AGENT_CODE))
        counts = got.select(  # one number per agent, and back
            pl.struct("user_agent", AGENT_CODE).n_unique().alias("pairs"),
            pl.col("user_agent").n_unique().alias("agents"),
            pl.col(AGENT_CODE).n_unique().alias("numbers"),
        ).row(0)
        assert len(set(counts)) == 1
        assert got.columns[: part.width] == part.columns and got.height == part.height
        assert got.filter(pl.col("client_ip").is_null()).get_column("client_net").null_count() == 10
        heights.append(cached.clients.table.height)
    assert max(heights) <= 400 and heights != sorted(heights)  # bounded: the table started over


def test_a_numbered_cache_keeps_each_keys_number_and_numbers_anew_when_it_starts_over() -> None:
    """The numbers a joined frame carries name one key each: a key keeps its number as the
    table grows, and a table that starts over (past ``max_rows``) numbers its keys from 0."""
    from logtool.pipeline import LookupCache

    cache = LookupCache("k", lambda s: pl.DataFrame({"k": s, "up": s.str.to_uppercase()}), max_rows=6, number="n")
    first = cache.join(pl.DataFrame({"k": ["a", "b", None, "a"]}))
    assert first.get_column("n").to_list() == [first["n"][0], first["n"][1], None, first["n"][0]]
    assert sorted(first.get_column("n").drop_nulls().unique().to_list()) == [0, 1]
    second = cache.join(pl.DataFrame({"k": ["c", "a", "d", "b"]}))
    table = dict(cache.table.select("k", "n").iter_rows())
    assert table["a"] == first["n"][0] and table["b"] == first["n"][1] and {table["c"], table["d"]} == {2, 3}
    assert second.get_column("n").to_list() == [table[k] for k in ("c", "a", "d", "b")]
    assert second.get_column("up").to_list() == ["C", "A", "D", "B"]
    over = cache.join(pl.DataFrame({"k": ["e", "f", "g"]}))  # 4 + 3 > 6: the table starts over
    assert cache.table.height == 3 and sorted(over.get_column("n").to_list()) == [0, 1, 2]
    assert cache.table.get_column("n").dtype == pl.UInt32
