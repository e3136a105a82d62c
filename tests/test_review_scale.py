"""The review's fast paths (issue 14, scale) against straightforward references, on generated
data: behavioural windows (narrow rows, buckets that cannot reach a threshold skipped) against a
per-client loop over every window; client keys in C against the careful parser; findings built
in one polars plan against the per-finding Python they replaced; signature matches remembered
across pieces against matching each piece afresh; a sharded day against the whole day."""

from __future__ import annotations

import ipaddress
import random
import statistics
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import polars as pl
import pytest

from logtool.config import Policy
from logtool.detect.allow import compile_allow, finding_allowed
from logtool.detect.behaviour import BEHAVIOURS, behaviour_rows
from logtool.detect.findings import (
    MAX_SAMPLES,
    PARTIAL_SCHEMA,
    Finding,
    _careful_key,
    _client_key,
    client_keys,
    compact,
    merge,
    partials,
    prepare,
    sort_key,
)
from logtool.detect.hitcache import HitCache
from logtool.detect.rules import load_rules
from logtool.detect.signatures import request_hits
from logtool.inputs import make_inputs
from logtool.lifecycle.ingest import ingest
from logtool.review import review_store
from logtool.store import Store

from .conftest import NOW

T0 = datetime(2026, 11, 24, 10, 0, tzinfo=UTC)


def _rules() -> dict[str, Any]:
    """Small windows and thresholds, so that generated traffic crosses them often."""
    rules = load_rules()
    rules["brute_force"] |= {"window_seconds": 60, "threshold": 4}
    rules["probing"] |= {"window_seconds": 30, "threshold": 3}
    rules["ua_switching"] |= {"window_seconds": 60, "threshold": 3}
    rules["flood"] |= {"window_seconds": 60, "threshold": 12, "baseline_factor": 3}
    rules["error_spike"] |= {"window_seconds": 60, "threshold": 5}
    return rules


def _traffic(seed: int, n: int = 1500) -> pl.DataFrame:
    """Prepared rows of a few clients, some busy, over half an hour: bursts, sub-second times,
    repeated values within one second, nulls."""
    rng = random.Random(seed)
    keys = [f"192.0.2.{k}" for k in range(1, 9)]
    rows = []
    for i in range(n):
        key = rng.choice(keys[:2]) if rng.random() < 0.5 else rng.choice(keys)
        second = rng.randrange(0, 1800) if rng.random() < 0.7 else 900 + rng.randrange(0, 40)
        us = second * 1_000_000 + (rng.randrange(1_000_000) if rng.random() < 0.3 else 0)
        status = rng.choice([200, 200, 200, 401, 403, 404, 404, 410, 500, 503, None])
        path = rng.choice(["/", "/login", "/wp-login.php", "/a.css", "/x.PNG", "/p1", "/p2", "/p3", "/p4", None])
        method = rng.choice(["GET", "GET", "POST", None])
        ua = rng.choice(["A", "B", "C", "D", "E", None]) if rng.random() < 0.6 else "A"
        vhost = rng.choice([None, "example.com", "example.org"])
        rows.append((i, key, T0 + timedelta(microseconds=us), status, method, path, ua, vhost))
    df = pl.DataFrame(rows, schema={"_id": pl.Int64, "_key": pl.String, "ts": pl.Datetime("us", "UTC"),
                                    "status": pl.Int16, "method": pl.String, "path": pl.String,
                                    "user_agent": pl.String, "vhost": pl.String}, orient="row")  # fmt: skip
    return df.with_columns(
        pl.col("_key").alias("_net"), pl.col("_key").alias("_ip"), pl.lit(None, pl.String).alias("query")
    )


def _hits(row: dict[str, Any], name: str, rule: dict[str, Any]) -> bool:
    status, path, method = row["status"], row["path"], row["method"]
    if name == "brute_force":
        return status in (401, 403) or (method == "POST" and path in rule["login_paths"])
    if name == "probing":
        static = path is not None and any(path.lower().endswith(s) for s in rule["static_suffixes"])
        return status is not None and 400 <= status < 500 and not static
    if name == "ua_switching":
        return row["user_agent"] is not None
    if name == "error_spike":
        return status is not None and status >= 500
    return True  # flood: every request


def _reference(df: pl.DataFrame, name: str, rules: dict[str, Any]) -> list[int]:
    """``_id`` of the rows inside an offending window, by a loop over every row of every client:
    a window ``(t - w, t]`` ends at each (distinct: first of its value within one second) row."""
    rule = rules[name]
    width = timedelta(seconds=rule["window_seconds"])
    distinct = {"probing": "path", "ua_switching": "user_agent"}.get(name)
    rows = [r for r in df.to_dicts() if _hits(r, name, rule)]
    if name == "error_spike":
        rows = [r | {"_key": r["vhost"] or "(default vhost)"} for r in rows]
    medians: dict[datetime, float] = {}
    if name == "flood":
        per: dict[tuple[str, datetime], int] = {}
        for r in rows:
            b = r["ts"].replace(second=0, microsecond=0)  # a 60 s window: the minute
            per[(r["_key"], b)] = per.get((r["_key"], b), 0) + 1
        for b in {b for _, b in per}:
            medians[b] = statistics.median(c for (_, bb), c in per.items() if bb == b)
    out = []
    for key in {r["_key"] for r in rows}:
        mine = sorted((r for r in rows if r["_key"] == key), key=lambda r: (r["ts"], r["_id"]))
        ends = mine
        if distinct:
            firsts: dict[tuple[Any, datetime], dict[str, Any]] = {}
            for r in mine:
                firsts.setdefault((r[distinct], r["ts"].replace(microsecond=0)), r)
            ends = sorted(firsts.values(), key=lambda r: (r["ts"], r["_id"]))
        bad = []
        for e in ends:
            inside = [r for r in ends if e["ts"] - width < r["ts"] <= e["ts"]]
            n = len({r[distinct] for r in inside}) if distinct else len(inside)
            if n >= rule["threshold"] and (
                name != "flood" or n >= rule["baseline_factor"] * medians[e["ts"].replace(second=0, microsecond=0)]
            ):
                bad.append(e["ts"])
        out += [r for r in mine if any(r["ts"] <= t < r["ts"] + width for t in bad)]
    return [r["_id"] for r in sorted(out, key=lambda r: (r["ts"], r["_id"]))]


@pytest.mark.parametrize("seed", [1, 2, 3])
@pytest.mark.parametrize("name", BEHAVIOURS)
def test_behaviour_windows_equal_a_loop_over_every_window(seed: int, name: str) -> None:
    rules = _rules()
    df = _traffic(seed)
    got = behaviour_rows(df, name, rules).get_column("_id").to_list()
    expected = _reference(df, name, rules)
    assert got == expected
    assert expected or name == "flood"  # the data reach every threshold (the flood needs a busy minute)


def test_a_flood_is_found_like_the_loop_finds_it() -> None:
    rules = _rules()
    burst = pl.DataFrame({"_id": range(10_000, 10_030), "_key": "192.0.2.99",
                          "ts": [T0 + timedelta(minutes=5, seconds=s) for s in range(30)]})  # fmt: skip
    df = pl.concat([_traffic(4), burst], how="diagonal_relaxed").with_columns(
        pl.col("_key").alias("_net"), pl.col("_key").alias("_ip")
    )
    expected = _reference(df, "flood", rules)
    assert expected and behaviour_rows(df, "flood", rules).get_column("_id").to_list() == expected


def _addresses(seed: int) -> list[str]:
    rng = random.Random(seed)
    out = ["192.0.2.1", "192.0.2.1:8080", "::ffff:192.0.2.7", "64:ff9b::c000:207", "::1", "::", "[2001:db8::1]:443",
           "fe80::1%eth0", "2001:db8::1:58430", "host-1.dsl.example.net", "-", "", "garbage", "2001:DB8::A",
           "2001:0db8:0000:0000:0000:0000:0000:0001", "0:0:0:0:0:ffff:c000:201", "::ffff:c000:201", "1::", "::1:2:3:4"]  # fmt: skip
    for _ in range(400):
        n = rng.getrandbits(128)
        if rng.random() < 0.3:
            n &= ~((1 << rng.randrange(16, 112)) - 1)  # runs of zeros
        if rng.random() < 0.1:
            n &= (1 << 80) - 1  # the ::/48 corner
        text = str(ipaddress.IPv6Address(n))
        if rng.random() < 0.3:
            text = ipaddress.IPv6Address(n).exploded
        if rng.random() < 0.2:
            text = text.upper()
        out.append(text)
    return out


@pytest.mark.parametrize("prefix", [0, 1, 48, 64, 127, 128])
def test_client_keys_in_c_equal_the_careful_parser(prefix: int) -> None:
    values = _addresses(prefix)
    assert [_client_key(v, prefix) for v in values] == [_careful_key.__wrapped__(v, prefix) for v in values]
    df = pl.DataFrame({"client_ip": [*values, None], "client_net": [None] * len(values) + ["198.51.100.0/24"]})
    keys = client_keys(df, prefix).to_list()
    assert keys == [_careful_key.__wrapped__(v, prefix) if v else "" for v in values] + ["198.51.100.0/24"]


def _frame(seed: int, n: int = 4000) -> pl.DataFrame:
    """Generated traffic with many attacks, parsed into raw-stage rows."""
    from logtool.generate import lines
    from logtool.parsers import detect_first

    text = list(lines(T0, n, seed=seed, span=timedelta(hours=1), attack_rate=0.08, clients=300))
    fmt, _ = detect_first(pl.Series("line", text))
    return fmt.parser().parse(pl.DataFrame({"line": text, "line_no": range(len(text))}))[0]


def test_signature_matches_remembered_across_pieces_equal_matching_afresh() -> None:
    rules, cache, small = load_rules(), HitCache(), HitCache(max_values=40)
    for seed in (1, 2, 3):
        df = _frame(seed, 1500)
        expected = request_hits(df, rules)
        assert expected.height
        for c in (cache, small):  # warm, and one that has to start over
            assert request_hits(df, rules, field_hits=c).equals(expected)


def _reference_merge(parts: pl.DataFrame, rules: dict[str, Any], hold: str | None) -> tuple[list[Finding], int]:
    """The per-finding Python that :func:`merge` replaced."""

    def window(first: datetime, last: datetime) -> str:
        start = first.replace(second=0, microsecond=0)
        end = last.replace(second=0, microsecond=0) + timedelta(minutes=1)
        return f"--from {start:%Y-%m-%dT%H:%M}Z --to {end:%Y-%m-%dT%H:%M}Z"

    def next_step(cat: str, client: str, first: datetime, last: datetime) -> str:
        if cat == "error_spike":
            return f"look at the application behind {client} around {first:%Y-%m-%d %H:%M}Z"
        if hold is not None:
            return f"logtool review --hold {hold} --blocklist nftables  (firewall rules for the held addresses)"
        return f"logtool hold create INC-<id> --reason '{cat} from {client}' {window(first, last)} --network {client}"

    allow, sev = compile_allow(rules.get("allow")), rules["severity"]
    if hold is not None:
        single = pl.col("_ip").n_unique().over("_key") == 1
        parts = parts.with_columns(pl.when(single).then(pl.col("_ip")).otherwise(pl.col("_key")).alias("_client"))
    else:
        parts = parts.with_columns(pl.col("_net").alias("_client"))
    rows = (
        parts.sort("first", maintain_order=True)
        .group_by("detector", "category", "suppressed", "_client", maintain_order=True)
        .agg(
            pl.col("first").min(), pl.col("last").max(), pl.col("count").sum(), pl.col("path").drop_nulls().n_unique(),
            pl.col("sample").drop_nulls().unique(maintain_order=True).head(MAX_SAMPLES), pl.col("_key").n_unique(),
            pl.col("field").drop_nulls().first(), pl.col("excerpt").drop_nulls().first(),
        )
    )  # fmt: skip
    found, hidden = [], 0
    for det, cat, sup, client, first, last, count, paths, samples, clients, fld, exc in rows.iter_rows():
        if sup or finding_allowed(det, cat, str(client), allow):
            hidden += 1
            continue
        found.append(Finding(det, cat, sev[cat], str(client), first.isoformat(), last.isoformat(), int(count),
                             int(paths), [s for s in samples if s], next_step(cat, str(client), first, last),
                             int(clients), fld or "", exc or ""))  # fmt: skip
    return sorted(found, key=sort_key), hidden


def _reference_compact(parts: pl.DataFrame) -> pl.DataFrame:
    key = ["detector", "category", "suppressed", "_key", "_net", "_ip", "path"]
    out = (
        parts.sort("first", maintain_order=True)
        .group_by(key, maintain_order=True)
        .agg(
            pl.col("first").min(),
            pl.col("last").max(),
            pl.col("count").sum(),
            pl.col("sample").first(),
            pl.col("field").drop_nulls().first(),
            pl.col("excerpt").drop_nulls().first(),
        )  # fmt: skip
        .sort("first", maintain_order=True)
    )
    rank = pl.int_range(pl.len()).over(key[:-1])
    out = out.with_columns(
        pl.when(rank < MAX_SAMPLES).then(pl.col("sample")).alias("sample"),
        pl.when(rank < 1).then(pl.col("field")).alias("field"),
        pl.when(rank < 1).then(pl.col("excerpt")).alias("excerpt"),
    )
    return out.select(list(PARTIAL_SCHEMA)).cast(PARTIAL_SCHEMA)  # type: ignore[arg-type]


@pytest.mark.parametrize("hold", [None, "INC-7"])
def test_findings_built_in_polars_equal_the_python_per_finding(hold: str | None) -> None:
    rules = _rules()
    rules["allow"] = {"networks": ["198.0.0.0/8"], "findings": ["scanner", "protocol/protocol"], "paths": ["/.env"]}
    pieces = []
    for seed in (5, 6):
        df = prepare(_frame(seed), Policy(), rules, full=hold is not None)
        pieces.append(partials(df, rules, sensitive=None if hold else Policy().sensitive_params))
    parts = pl.concat(pieces)
    assert compact(parts).equals(_reference_compact(parts))
    found, hidden = merge(parts, rules, hold)
    expected, expected_hidden = _reference_merge(parts, rules, hold)
    assert hidden == expected_hidden and hidden > 0
    assert [f.to_dict() for f in found] == [f.to_dict() for f in expected]
    assert {f.detector for f in found} >= {"signature", "behaviour"}


def test_a_sharded_day_gives_the_findings_of_the_whole_day(store: Store, tmp_path: Path) -> None:
    """5xx spikes are per vhost: a day read in shards of clients still sees them whole."""
    t = "24/Nov/2026:12:00"
    lines = [
        f'192.0.2.{k} - - [{t}:{k % 60:02d} +0000] "GET /api HTTP/1.1" 503 1 "-" "Mozilla/5.0"' for k in range(1, 61)
    ]
    lines += [
        f'198.51.100.7 - - [{t}:{s:02d} +0000] "POST /wp-login.php HTTP/1.1" 401 1 "-" "curl/8"' for s in range(8)
    ]
    lines += [
        f'203.0.113.{k} - - [{t}:{k % 60:02d} +0000] "GET /?q=<script> HTTP/1.1" 200 1 "-" "x"' for k in range(90)
    ]
    log = tmp_path / "a.log"
    log.write_text("\n".join(lines) + "\n")
    ingest(store, make_inputs([str(log)]), Policy(), NOW)
    whole = review_store(store, Policy(), NOW).findings
    assert {f.category for f in whole} >= {"error_spike", "brute_force", "xss"}
    for shard_rows in (20, 50):
        assert [f.to_dict() for f in review_store(store, Policy(), NOW, shard_rows=shard_rows).findings] == [
            f.to_dict() for f in whole
        ]
