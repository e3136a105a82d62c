"""Review throughput: the per-request detectors and the whole ``logtool review``.

Ingests the generated N-line combined log of ``bench_ingest.py`` (cached in bench/out/) into a
temporary store, then times, on the raw-stage rows in memory:

- the per-request detectors (signatures over path + query, referrer and user agent, protocol
  anomalies, fake crawlers; issue 6's bar: >= 500k rows/s), and
- the whole review (those plus the sliding-window behavioural detectors and the grouping into
  findings), as ``logtool review`` runs it.

    python bench/bench_review.py --lines 1000000
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

import polars as pl

sys.path.insert(0, str(Path(__file__).parent))

from bench_ingest import make_log  # noqa: E402

from logtool.config import Policy  # noqa: E402
from logtool.detect.findings import prepare, review_frame
from logtool.detect.rules import load_rules  # noqa: E402
from logtool.detect.signatures import request_flags, request_target  # noqa: E402
from logtool.inputs import make_inputs  # noqa: E402
from logtool.lifecycle.ingest import ingest  # noqa: E402
from logtool.store import Store  # noqa: E402


def best_of(runs: int, fn) -> float:  # type: ignore[no-untyped-def]
    times = []
    for _ in range(runs):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--lines", type=int, default=1_000_000)
    ap.add_argument("--runs", type=int, default=3, help="Runs per measurement; the median is reported.")
    args = ap.parse_args()
    log = make_log(args.lines)
    policy, rules = Policy(), load_rules()
    with tempfile.TemporaryDirectory(prefix="logtool-bench-") as d:
        store = Store(Path(d) / "store")
        ingest(store, make_inputs([str(log)]), policy, datetime(2026, 11, 24, tzinfo=UTC))
        rows = store.read("raw")
        store.close()
    n = rows.height
    distinct = rows.select(request_target().n_unique()).item()
    prepared = prepare(rows, policy, rules, full=False)
    per_request = best_of(args.runs, lambda: request_flags(prepared, rules))
    # worst case for classifying distinct values only: every request target different
    suffix = pl.concat_str([pl.lit("n="), pl.int_range(pl.len()).cast(pl.String)])
    unique = prepared.with_columns(
        pl.when(pl.col("query").is_null())
        .then(suffix)
        .otherwise(pl.concat_str(["query", pl.lit("&"), suffix]))
        .alias("query")
    )
    per_unique = best_of(args.runs, lambda: request_flags(unique, rules))
    whole = best_of(args.runs, lambda: review_frame(rows, policy, rules))
    found = review_frame(rows, policy, rules)
    print(f"\nreview of {n:,} raw rows ({distinct:,} distinct request targets), median of {args.runs} runs")
    print(f"{'step':<34} {'seconds':>8} {'rows/s':>12}")
    print(f"{'per-request detectors':<34} {per_request:>8.2f} {n / per_request:>12,.0f}")
    print(f"{'  same, every target distinct':<34} {per_unique:>8.2f} {n / per_unique:>12,.0f}")
    print(f"{'whole review (+ behaviour, groups)':<34} {whole:>8.2f} {n / whole:>12,.0f}")
    worst = n / max(per_request, per_unique)
    verdict = "met" if worst >= 500_000 else "NOT met"
    print(f"{len(found):,} findings; per-request bar (>= 500k rows/s, worst case): {verdict}")


if __name__ == "__main__":
    main()
