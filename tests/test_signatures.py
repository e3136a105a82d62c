"""Signature detectors: a hand-written table of positives and negatives, evasions included."""

from __future__ import annotations

from pathlib import Path

import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from logtool.detect.normalize import normalise
from logtool.detect.signatures import categories

from .conftest import EXAMPLES

TABLE = Path(__file__).parent / "cases" / "review" / "signatures.tsv"
CASES = [tuple(r.split("\t")) for r in TABLE.read_text().splitlines() if r and not r.startswith("#")]


@pytest.mark.parametrize("category,value,expected", CASES, ids=[f"{c}:{v[:40]}" for c, v, _ in CASES])
def test_signature_table(category: str, value: str, expected: str) -> None:
    flags = categories(pl.Series([value]), ua=category == "scanner")
    assert flags[category].to_list() == [expected == "1"]


@pytest.mark.parametrize(
    "raw,normal",
    [
        ("%252e%252e%252f", "../"),  # double encoding
        ("%u0027or%u0027", "'or'"),  # %u escapes
        ("%c0%ae%c0%af", "./"),  # overlong UTF-8
        ("&lt;ScRiPt&gt;", "<script>"),  # entities and case
        ("UN/**/ION+SELECT", "un ion select\nunion select"),  # both readings of a comment
        ("1/*!50000union*/", "1 union \n1"),  # a comment's content is kept in one reading
        ("a%09 b", "a b"),  # control characters and runs of blanks
        ("%0Aid", "\nid"),  # a line break stays one
        ("%%32%%65%%32%%65", ".."),  # split escapes
        ("%uff0e%u2215%u2216%uEFC8%uF025", "./\\/\\"),  # Unicode look-alikes, IIS best-fit
        ("0x2e0x2e0x5c", "..\\"),  # hex literals
        ("%f8%80%80%80%ae%fc%80%80%80%80%af", "./"),  # overlong UTF-8 of every length
        ("\\u006a\\x6e", "jn"),  # \uXXXX and \xHH escapes
        ("${${::-j}ndi:x}", "${${::-j}ndi:x}\n${jndi:x}"),  # Log4j lookups resolved in a second reading
        ("%E2%80%B2%EF%BC%9C%C2%BC", "'<¼"),  # look-alikes and Latin-1 as percent-encoded UTF-8
        ("&lt &ltd=1", "< &ltd=1"),  # &lt without its semicolon, not a parameter named ltd
        ("c''at w'h'o'am'i", "c''at w'h'o'am'i\ncat whoami"),  # shell quotes dropped in a second reading
    ],
)
def test_normalise(raw: str, normal: str) -> None:
    assert pl.select(normalise(pl.lit(raw))).item() == normal


def test_only_distinct_values_are_classified() -> None:
    values = pl.Series(["/.env"] * 1000 + ["/index.html"] * 1000)
    out = categories(values)
    assert out.height == 2000 and out["sensitive_file"].sum() == 1000


def _hits(**cols: list[str | None]) -> list[tuple[int, str, str]]:
    from logtool.detect.rules import load_rules
    from logtool.detect.signatures import request_hits

    n = len(next(iter(cols.values())))
    base = {"method": ["GET"] * n, "path": ["/"] * n, "query": [None] * n, "status": [200] * n}
    df = pl.DataFrame({**base, **cols}, schema_overrides={k: pl.String for k in ("query", *cols)})
    hits = request_hits(df, load_rules())
    return sorted(hits.select("_row", "category", "field").iter_rows())


@pytest.mark.parametrize(
    "column,field",
    [("referrer", "referrer"), ("user_agent", "user_agent"), ("remote_user", "user"), ("xff", "xff"),
     ("vhost", "host")],
)  # fmt: skip
def test_every_injection_category_in_every_attacker_field(column: str, field: str) -> None:
    payloads = {"sqli": "1' UNION SELECT password FROM users--", "xss": "<script>alert(1)</script>",
                "traversal": "../../../etc/passwd", "cmdi": "x;cat /etc/passwd", "log4shell": "${jndi:ldap://x/a}",
                "shellshock": "() { :; }; /bin/id"}  # fmt: skip
    found = _hits(**{column: list(payloads.values())})
    for i, cat in enumerate(payloads):
        assert (i, cat, field) in found, (cat, found)


def test_the_field_says_whether_the_path_or_the_query_matched() -> None:
    found = _hits(path=["/../../etc/passwd", "/search"], query=[None, "q=1' OR 1=1--"])
    assert (0, "traversal", "path") in found and (1, "sqli", "query") in found


def test_a_locale_in_a_user_agent_is_not_a_command() -> None:
    ua = "Opera/9.80 (J2ME/MIDP; Opera Mini/4.2.14912/34.818; U; id) Presto/2.8.119 Version/11.10"
    assert _hits(user_agent=[ua, "x|id|"]) == [(1, "cmdi", "user_agent")]


def test_a_command_glued_to_a_separator_in_a_user_agent_is_not_a_locale() -> None:
    agents = ["';id;'", "'; id; '", "Mozilla/5.0 (Linux;U;Android 2.3;id;) AppleWebKit/534.30",
              "Mozilla/5.0 (Windows; U; Windows NT 5.1; id; rv:1.9.2) Gecko/20100101 Firefox/3.6"]  # fmt: skip
    cmdi = [row for row, cat, _ in _hits(user_agent=agents) if cat == "cmdi"]
    assert cmdi == [0, 1]


def test_probes_for_missing_admin_paths_need_a_4xx() -> None:
    df = pl.DataFrame({"method": ["GET"] * 2, "path": ["/phpmyadmin/"] * 2, "query": [None, None], "status": [404, 200]},
                      schema_overrides={"query": pl.String})  # fmt: skip
    from logtool.detect.rules import load_rules
    from logtool.detect.signatures import request_hits

    hits = request_hits(df, load_rules())
    assert hits.select("_row", "category", "excerpt").rows() == [(0, "sensitive_file", "/phpmyadmin/")]


def _mixed_frame() -> pl.DataFrame:
    """Generated traffic (attacks included) plus attack text in every attacker field."""
    from datetime import UTC, datetime

    from logtool.generate import lines
    from logtool.parsers import detect_first

    text = list(lines(datetime(2026, 11, 24, tzinfo=UTC), 3000, seed=5, attack_rate=0.1))
    text += [
        '198.51.100.7 - ${jndi:ldap://x/a} [24/Nov/2026:10:00:00 +0000] "GET /a?f=/etc/passwd HTTP/1.1" 200 1 '
        '"<script>alert(1)</script>" "() { :; }; /bin/id"',
        '198.51.100.8 - - [24/Nov/2026:10:00:01 +0000] "GET /phpmyadmin/ HTTP/1.1" 404 1 "-" "sqlmap/1.7"',
        '198.51.100.9 - - [24/Nov/2026:10:00:02 +0000] "BREW /x HTTP/1.1" 200 1 "-" "Googlebot/2.1"',
    ]
    fmt, _ = detect_first(pl.Series("line", text))
    return fmt.parser().parse(pl.DataFrame({"line": text, "line_no": range(len(text))}))[0]


def test_attack_flags_are_the_categories_of_the_findings() -> None:
    """The aggregates' per-row flags (classified once per distinct value, cached between
    batches) say exactly what the review's findings say, whichever way the rows are batched."""
    from logtool.detect.flags import SignatureCache, request_flags
    from logtool.detect.rules import load_rules
    from logtool.detect.signatures import REQUEST_CATEGORIES, request_hits

    df, rules = _mixed_frame(), load_rules()
    hits = request_hits(df, rules)
    expected = {
        c: sorted(hits.filter(pl.col("category") == c).get_column("_row").to_list()) for c in REQUEST_CATEGORIES
    }
    assert sum(map(len, expected.values())) > 300 and all(expected[c] for c in ("sqli", "xss", "log4shell", "cmdi"))
    cache = SignatureCache(max_rows=50)  # small: the tables start over while the batches run
    parts = [request_flags(df.slice(o, 700), rules, cache=cache) for o in range(0, df.height, 700)]
    for flags in (request_flags(df, rules), pl.concat(parts)):
        assert {c: flags[c].arg_true().to_list() for c in REQUEST_CATEGORIES} == expected


def test_attack_counts_are_the_flags_summed_per_day_and_vhost() -> None:
    """The aggregates' attack counts: per (day, vhost), the flagged requests of each category and
    those flagged at all, as summing the per-row flags gives them (over two days and vhosts)."""
    from datetime import timedelta

    from logtool.detect.flags import request_flags
    from logtool.detect.rules import load_rules
    from logtool.lifecycle.aggregate import ATTACKED, ATTACKS, attacks

    df, rules = _mixed_frame(), load_rules()
    half = pl.int_range(pl.len()) % 2 == 0
    df = df.with_columns(
        pl.when(half).then(pl.col("ts") + timedelta(days=1)).otherwise("ts").alias("ts"),
        pl.when(pl.int_range(pl.len()) % 3 == 0)
        .then(pl.lit("a.example.com"))
        .otherwise(pl.lit("b.example.com"))
        .alias("vhost"),
    )
    flags = request_flags(df, rules).with_columns(df.get_column("ts").dt.date().alias("date"), df.get_column("vhost"))
    cats = [c for c in flags.columns if c not in ("date", "vhost")]
    want = {}
    for (day, vhost), part in flags.group_by("date", "vhost"):
        for c in cats:
            if n := int(part.get_column(c).sum()):
                want[(day, ATTACKS, c, vhost)] = n
        if n := int(part.select(pl.any_horizontal(cats)).to_series().sum()):
            want[(day, ATTACKED, "requests", vhost)] = n
    got = attacks(df, rules)
    assert {(d, dim, k, v): n for d, dim, k, n, _, v in got.iter_rows()} == want
    assert len({d for d, *_ in want}) == 2 and len({v for *_, v in want}) == 2 and len(want) > 20


@pytest.mark.parametrize("absolute_share", [0.1, 0.9])
def test_flags_worked_out_per_request_are_the_flags_per_row(absolute_share: float) -> None:
    """Parsed records carry a code per distinct request, so what derives from the request line
    (target signatures, probes, protocol anomalies) is worked out once per request: the flags
    are those of the same rows without the codes, however the rows are cut into batches. With
    junk, empty and ``-`` requests, proxy-style absolute URIs in most or few of the requests,
    and lines read only again (a syslog prefix) beside rows whose request is missing."""
    from datetime import UTC, datetime

    from logtool.detect.flags import SignatureCache, request_flags
    from logtool.detect.rules import load_rules
    from logtool.generate import lines
    from logtool.parsers import REGISTRY
    from logtool.parsers.normalise import REQUEST_CODE

    t = "[24/Nov/2026:10:00:00 +0000]"
    odd = [
        f'<13>Nov 24 10:00:00 web1 nginx: 198.51.100.1 - - {t} "GET /wp-login.php HTTP/1.1" 404 1 "-" "ua"',
        f'198.51.100.2 - - {t} "-" 408 0 "-" "-"',
        f'198.51.100.3 - - {t} "" 400 0 "-" "-"',
        f'198.51.100.4 - - {t} "\\x16\\x03\\x01\\x02" 400 0 "-" "-"',
        f'198.51.100.5 - - {t} "CONNECT example.com:443 HTTP/1.1" 200 0 "-" "ua"',
        f'198.51.100.6 - - {t} "GET /admin/ HTTP/1.1" 404 1 "-" "ua"',
        f'198.51.100.6 - - {t} "GET /admin/ HTTP/1.1" 200 1 "-" "ua"',
        f'198.51.100.7 - - {t} "GET /x" 200 1 "-" "ua"',
        f'198.51.100.8 - - {t} "GET /{"a" * 5000} HTTP/1.1" 200 1 "-" "ua"',
        f'<13>Nov 24 10:00:00 web1 nginx: 198.51.100.9 - - {t} "-" 400 0 "-" "-"',
        f'198.51.100.10 - - {t} "BREW /pot HTTP/1.2" 418 1 "-" "ua"',
    ]
    plain = list(lines(datetime(2026, 11, 24, tzinfo=UTC), 600, seed=11, attack_rate=0.2, malformed_rate=0.05))
    n_abs = int(len(plain) * absolute_share)
    absolute = [ln.replace('"GET /', '"GET http://www.example.com/', 1) for ln in plain[:n_abs]]
    text = odd + absolute + plain[n_abs:] + odd
    records = REGISTRY["combined"].parser().parse(pl.DataFrame({"line_no": range(1, len(text) + 1), "line": text}))[0]
    assert records.get_column(REQUEST_CODE).null_count() == 0
    assert records.filter(pl.col("line_no") == 1).height == 1  # the syslog line, read again
    rules = load_rules()
    want = request_flags(records.drop(REQUEST_CODE), rules)
    assert all(want.get_column(c).any() for c in ("protocol", "sensitive_file", "sqli"))
    for size in (records.height, 97, 23):
        cache = SignatureCache(max_rows=40)
        parts = [request_flags(records.slice(o, size), rules, cache=cache) for o in range(0, records.height, size)]
        if size == records.height:
            assert pl.concat(parts).equals(want)
        else:  # the protocol rules weigh a batch as a file: compare with the same batches' own
            plain_parts = [
                request_flags(records.slice(o, size).drop(REQUEST_CODE), rules) for o in range(0, records.height, size)
            ]
            assert pl.concat(parts).equals(pl.concat(plain_parts))


def test_request_lines_whose_codes_collide_get_none(monkeypatch) -> None:
    """Should two request lines ever hash alike, neither gets a code: their rows take the
    row-by-row path, and the flags are still each row's own."""
    from logtool.detect.flags import request_flags
    from logtool.detect.rules import load_rules
    from logtool.parsers import normalise
    from logtool.parsers.normalise import REQUEST_CODE

    rules = load_rules()
    plain = _mixed_frame()
    monkeypatch.setattr(normalise, "request_code", lambda line: pl.lit(7, pl.UInt64))  # every line alike
    collided = _mixed_frame()
    assert plain.get_column(REQUEST_CODE).null_count() == 0
    assert collided.get_column(REQUEST_CODE).null_count() == collided.height
    assert request_flags(collided, rules).equals(request_flags(plain.drop(REQUEST_CODE), rules))


def _normal_forms_in_one_plan(values: pl.Series, rounds: int = 3) -> pl.Series:
    """The reference: every decoding round run on every value in one expression, then each
    further reading (what :func:`normal_forms` skips rounds and rebuilds nothing to match)."""
    from logtool.detect.normalize import _SHELL_QUOTES, _decode_round, _entities_undone, lookups

    d = pl.col("d")
    every_round = d
    for _ in range(rounds):
        every_round = _decode_round(every_round)
    df = pl.DataFrame({"d": values.cast(pl.String)}).with_columns(_entities_undone(every_round))
    kept, joined = d.str.replace_all(r"/\*!?\d*|\*/", " "), d.str.replace_all(r"/\*.*?\*/", "")
    df = df.with_columns(pl.when(d.str.contains("/*", literal=True)).then(pl.concat_str([kept, pl.lit("\n"), joined]))
                         .otherwise(d))  # fmt: skip
    df = df.with_columns(pl.when(d.str.contains("${", literal=True)).then(pl.concat_str([d, pl.lit("\n"), lookups(d)]))
                         .otherwise(d))  # fmt: skip
    unquoted = d.str.replace_all(_SHELL_QUOTES, "${1}${2}").str.replace_all(_SHELL_QUOTES, "${1}${2}")
    df = df.with_columns(pl.when(d.str.contains(_SHELL_QUOTES)).then(pl.concat_str([d, pl.lit("\n"), unquoted]))
                         .otherwise(d))  # fmt: skip
    return df.select(d.str.replace_all(r"[ \t\x00\x0b\x0c]+", " ")).to_series()


_ESCAPES = ["%", "%2", "%25", "%2e", "%2E", "%252e", "%u", "%u0027", "%U002F", "%uff0e", "%c0%ae", "%e0%80%af",
            "%%32%%65", "+", "%2B", "%252B", "\\", "\\n", "\\u006a", "\\x6e", "&lt", "&#x3c;", "0x2e", "/*", "*/",
            "${", "}", "::-", "'", '"', " ", "\t", "′", "＜", "–", "%E2%80%B2", "%C2%BC", "a", "Z", "9", "/"]  # fmt: skip


@settings(max_examples=200 * EXAMPLES, deadline=None)
@given(st.lists(st.one_of(st.lists(st.sampled_from(_ESCAPES), max_size=8).map("".join), st.text(max_size=12)),
                min_size=1, max_size=12), st.integers(1, 4))  # fmt: skip
def test_normal_forms_equal_every_round_run_on_every_value(values: list[str], rounds: int) -> None:
    """Rounds are skipped once no value has a character a round's patterns start with."""
    from logtool.detect.normalize import normal_forms

    s = pl.Series("v", [*values, None])
    got = normal_forms(s, rounds)
    assert got.name == "v" and got.to_list() == _normal_forms_in_one_plan(s, rounds).to_list()
