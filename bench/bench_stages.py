"""Where ingest's time goes: every stage of the hot path timed on its own, in CPU time.

Takes the first batches of the benchmark log (``bench_ingest.make_log``), runs each stage over
them on one thread (``POLARS_MAX_THREADS=1`` is set before polars loads), best of ``--repeat``
runs, and prints microseconds of CPU per line and seconds per million lines. Caches that carry
over between batches (client networks and countries, user agents, signature classifications)
are warm, as they are for every batch but the first; the cost of a *new* distinct address or
user agent is printed apart, with how many the file has. ``--parquet`` also compares Parquet
writer settings (CPU per row and file size), the measurement behind ``parquet_options``.

CPU time, not wall time: it is what two cores share, and it stays comparable on a busy machine.

    python bench/bench_stages.py --lines 1000000 [--batches 4] [--parquet]
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

os.environ.setdefault("POLARS_MAX_THREADS", "1")
sys.path.insert(0, str(Path(__file__).parent))

import polars as pl  # noqa: E402
from bench_ingest import make_log  # noqa: E402

from logtool.config import Policy  # noqa: E402
from logtool.detect.flags import SignatureCache  # noqa: E402
from logtool.detect.rules import load_rules  # noqa: E402
from logtool.enrich import Enricher, client_table  # noqa: E402
from logtool.enrich.geo import GeoDB  # noqa: E402
from logtool.enrich.ua import ua_table  # noqa: E402
from logtool.inputs import LogInput, iter_batches  # noqa: E402
from logtool.lifecycle import aggregate  # noqa: E402
from logtool.lifecycle.ingest import ingest  # noqa: E402
from logtool.parsers import detect_first  # noqa: E402
from logtool.parsers.normalise import normalise  # noqa: E402
from logtool.schema import RAW_SCHEMA, conform  # noqa: E402
from logtool.store import Store  # noqa: E402
from logtool.store.files import PartitionWriter, parquet_options  # noqa: E402


def cpu(fn: Callable[[], object], repeat: int) -> float:
    """Best CPU seconds of ``repeat`` calls."""
    best = float("inf")
    for _ in range(repeat):
        t0 = time.process_time()
        fn()
        best = min(best, time.process_time() - t0)
    return best


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--lines", type=int, default=1_000_000, help="size of the benchmark log (cached in bench/out)")
    ap.add_argument("--batches", type=int, default=4, help="batches of ingest's size (14 MiB) to time")
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--parquet", action="store_true", help="also compare Parquet writer settings")
    args = ap.parse_args()
    log = make_log(args.lines)
    policy, rules, geo = Policy(), load_rules(), GeoDB()

    def read() -> list[pl.DataFrame]:
        inp = LogInput(log.name, log, disk_sha256="-")  # plain file: its content hash is the disk hash
        out = []
        for b in iter_batches(inp):
            out.append(b)
            if len(out) == args.batches:
                break
        return out

    batches = read()
    n = sum(b.height for b in batches)
    fmt, _ = detect_first(batches[0].get_column("line"))
    parser = fmt.parser()
    parsed = [parser.parse(b)[0] for b in batches]
    rows: dict[str, float] = {}
    rows["split (read, decode, cut into lines)"] = cpu(read, args.repeat)
    total_parse = cpu(lambda: [parser.parse(b) for b in batches], args.repeat)
    groups = getattr(fmt, "compiled", None)
    if groups is not None:  # the regex formats: time the normaliser apart from the regex
        from logtool.parsers.clf import named_groups
        from logtool.parsers.normalise import QUOTED_FIELDS, timestamp

        fields = groups.fields
        probe = getattr(fmt, "probe", "") or sorted(fields)[0]
        extracted = []
        for b in batches:  # as the parser cuts them (compiled: cleaned up, times read; or by the regex)
            cut, clean = named_groups(b, groups.regex, QUOTED_FIELDS - {probe}, times=probe != "time")
            lf = cut.lazy() if "ts" in cut.columns else cut.lazy().with_columns(timestamp(fields))
            extracted.append((lf.with_columns(pl.lit(None, pl.String).alias("_reason")).collect(), clean))
        norm = cpu(lambda: [normalise(g.lazy(), fields, clean=c).collect() for g, c in extracted], args.repeat)
        rows["parse (fields cut, timestamps, rejects)"] = total_parse - norm
        rows["normalise (request split, unescaping; per distinct value)"] = norm
    else:
        rows["parse + normalise"] = total_parse

    with tempfile.TemporaryDirectory(prefix="logtool-stages-") as tmp:
        store = Store(Path(tmp) / "store")
        enrich = Enricher(policy, geo, store.catalog.salts.get)
        enriched = [enrich(r) for r in parsed]  # warms the caches
        rows["enrichment: client network + country (cached)"] = cpu(
            lambda: [enrich.clients.join(r) for r in parsed], args.repeat
        )
        rows["enrichment: user agent (cached)"] = cpu(lambda: [enrich.agents.join(r) for r in parsed], args.repeat)
        seeds = [enrich.seeds(r) for r in enriched]
        rows["visitor keys"] = cpu(
            lambda: [enrich.visitor_keys(r, s) for r, s in zip(enriched, seeds, strict=True)], args.repeat
        )
        final = [
            conform(enrich.visitor_keys(r, s).with_columns(pl.lit(log.name).alias("source_file")), RAW_SCHEMA)
            for r, s in zip(enriched, seeds, strict=True)
        ]
        rows["aggregates (13 dimensions)"] = cpu(  # of enriched records, as ingest has them
            lambda: [aggregate.daily(r, policy.sensitive_params) for r in enriched], args.repeat
        )
        signatures = SignatureCache()
        for r in enriched:  # warm, as for every batch but a file's first
            aggregate.attacks(r, rules, signatures)
        # on the records as a worker has them (with their request codes, as ingest counts them)
        rows["signature counts (distinct values cached)"] = cpu(
            lambda: [aggregate.attacks(r, rules, signatures) for r in enriched], args.repeat
        )
        rows["signature counts (cold: each batch classified anew)"] = cpu(
            lambda: [aggregate.attacks(r, rules) for r in enriched], args.repeat
        )

        def write() -> None:
            w = PartitionWriter(Path(tmp), "raw", RAW_SCHEMA)
            for r in final:
                w.write(r)
            w.abort()

        rows["Parquet encoding + compression"] = cpu(write, args.repeat)

        # the distinct values a whole file brings (their first sight costs Python calls)
        ips = pl.concat([r.get_column("client_ip") for r in parsed]).drop_nulls().unique()
        uas = pl.concat([r.get_column("user_agent") for r in parsed]).drop_nulls().unique()
        ip_cost = cpu(lambda: client_table(ips, policy, geo), 1) / max(ips.len(), 1)
        ua_table(uas.head(10))  # the user-agent parser compiles its regexes once per process
        ua_cost = cpu(lambda: ua_table(uas), 1) / max(uas.len(), 1)

        # the fixed cost per input: catalog, commit, fsyncs (a one-line file)
        one = Path(tmp) / "one.log"
        one.write_text(batches[0].get_column("line")[0] + "\n")
        now = datetime(2026, 12, 1, tzinfo=UTC)
        commit = cpu(lambda: ingest(Store(Path(tmp) / f"s{time.monotonic_ns()}"), [LogInput("one", one)], policy,
                                    now, geo=geo), args.repeat)  # fmt: skip

    print(f"\n{n:,} lines ({len(batches)} batches of {log.name}), one thread, CPU time, best of {args.repeat}")
    print(f"{'stage':<58} {'µs/line':>8} {'s per 1M':>9}")
    for name, secs in rows.items():
        print(f"{name:<58} {secs / n * 1e6:>8.3f} {secs / n * 1e6:>9.2f}")
    total = sum(v for k, v in rows.items() if "(cold" not in k)  # ingest keeps its caches warm
    print(f"{'sum (warm caches)':<58} {total / n * 1e6:>8.3f} {total / n * 1e6:>9.2f}")
    share = args.lines / n
    print(f"\nnew distinct client address: {ip_cost * 1e6:.1f} µs ({ips.len():,} in these lines, ~{ips.len() * share:,.0f} in the file)")  # fmt: skip
    print(f"new distinct user agent:     {ua_cost * 1e6:.1f} µs ({uas.len():,} in these lines)")
    print(f"catalog + commit per input (one-line file): {commit * 1e3:.0f} ms")
    if args.parquet:
        compare_parquet(final, args.repeat)


def compare_parquet(frames: list[pl.DataFrame], repeat: int) -> None:
    """CPU per row and size of the raw stage under several writer settings."""
    import pyarrow.parquet as pq

    tables = [f.to_arrow(compat_level=pl.CompatLevel.newest()) for f in frames]
    rows = sum(t.num_rows for t in tables)
    chosen = parquet_options(RAW_SCHEMA)
    strings = chosen["use_dictionary"]
    variants: dict[str, dict[str, object]] = {
        "Arrow defaults (zstd, dictionaries and statistics everywhere)": {"compression": "zstd"},
        "chosen (parquet_options)": chosen,
        "chosen, statistics on every column": {**chosen, "write_statistics": True},
        "chosen, dictionaries on every column": {**chosen, "use_dictionary": True, "column_encoding": None},
        "chosen, zstd level 3": {**chosen, "compression_level": 3},
        "chosen, lz4": {**chosen, "compression": "lz4"},
        "chosen, snappy": {**chosen, "compression": "snappy"},
        "chosen, uncompressed": {**chosen, "compression": "none"},
        "chosen, no dictionaries": {**chosen, "use_dictionary": False, "column_encoding": None},
    }
    del strings
    print(f"\nParquet writer settings, raw stage, {rows:,} rows, one row group per batch")
    print(f"{'settings':<62} {'µs/row':>7} {'MB':>7}")
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "x.parquet"
        for name, opts in variants.items():
            opts = {k: v for k, v in opts.items() if v is not None}

            def write(opts: dict[str, object] = opts) -> None:
                with pq.ParquetWriter(str(path), tables[0].schema, **opts) as w:
                    for t in tables:
                        w.write_table(t)

            secs = cpu(write, repeat)
            print(f"{name:<62} {secs / rows * 1e6:>7.3f} {path.stat().st_size / 1e6:>7.1f}")


if __name__ == "__main__":
    main()
