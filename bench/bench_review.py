"""Review throughput and memory: the per-request detectors and the whole ``logtool review``.

Ingests the generated N-line combined log of ``bench_ingest.py`` (cached in bench/out/) into a
temporary store, then measures:

- the per-request detectors (signatures over every attacker-text field, probes, protocol
  anomalies, fake crawlers) on the raw rows in memory, also with every request target distinct
  (the worst case for work on distinct values); bar: >= 1M rows/s;
- the whole review as ``logtool review`` runs it (reading the store day by day, shards of
  clients, behavioural windows, the quarantine, grouping into findings) in a separate process,
  with its peak RSS (``/usr/bin/time -v``); bars: >= 500k rows/s, <= 1 GiB at 10M rows.

The machine is shared: every figure is the median of ``--runs`` runs.

    python bench/bench_review.py --lines 1000000 [--runs 3] [--store DIR]

``--store DIR`` keeps the ingested store and reuses it (it must hold ``--lines`` lines).
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

import polars as pl

sys.path.insert(0, str(Path(__file__).parent))

from bench_ingest import make_log  # noqa: E402

from logtool.config import Policy  # noqa: E402
from logtool.detect.findings import prepare  # noqa: E402
from logtool.detect.rules import load_rules  # noqa: E402
from logtool.detect.signatures import request_hits, request_target  # noqa: E402
from logtool.inputs import make_inputs  # noqa: E402
from logtool.lifecycle.ingest import ingest  # noqa: E402
from logtool.store import Store  # noqa: E402

CHILD = """
import sys, time
from datetime import UTC, datetime
from logtool.config import Policy
from logtool.review import run_review
from logtool.store import Store
store = Store(sys.argv[1], create=False)
t0 = time.perf_counter()
res = run_review(store, Policy(), datetime(2026, 12, 31, tzinfo=UTC))
print(time.perf_counter() - t0, res.rows, len(res.findings))
"""


def median_time(runs: int, fn) -> float:  # type: ignore[no-untyped-def]
    times = []
    for _ in range(runs):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def whole_review(store: Path) -> tuple[float, int, int, float]:
    """(seconds, rows, findings, peak RSS MiB) of one review in a fresh process, measured by
    ``/usr/bin/time -v`` (a child forked from this big process would report this one's pages)."""
    cmd = [sys.executable, "-c", CHILD, str(store)]
    timer = Path("/usr/bin/time")
    out = subprocess.run([str(timer), "-v", *cmd] if timer.exists() else cmd, capture_output=True, text=True,
                         check=True)  # fmt: skip
    seconds, rows, findings = out.stdout.split()
    peak = next((int(x.split(":")[1]) / 1024 for x in out.stderr.splitlines() if "Maximum resident" in x), float("nan"))
    return float(seconds), int(rows), int(findings), peak


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--lines", type=int, default=1_000_000)
    ap.add_argument("--runs", type=int, default=3, help="Runs per measurement; the median is reported.")
    ap.add_argument("--skip-detectors", action="store_true", help="Only the whole review (large --lines).")
    ap.add_argument("--store", type=Path, help="Keep the ingested store here and reuse it on the next run.")
    args = ap.parse_args()
    policy, rules = Policy(), load_rules()
    with tempfile.TemporaryDirectory(prefix="logtool-bench-") as d:
        path = args.store or Path(d) / "store"
        if (path / "catalog.sqlite").exists():
            store = Store(path, create=False)
        else:
            store = Store(path)
            ingest(store, make_inputs([str(make_log(args.lines))]), policy, datetime(2026, 11, 24, tzinfo=UTC))
        rows = None if args.skip_detectors else store.read("raw")
        store.close()
        print(f"\nreview of {args.lines:,} generated lines, median of {args.runs} runs (shared 2-core machine)")
        print(f"{'step':<40} {'seconds':>8} {'rows/s':>12} {'peak RSS':>9}")
        if rows is not None:
            n = rows.height
            prepared = prepare(rows, policy, rules, full=False)
            per_request = median_time(args.runs, lambda: request_hits(prepared, rules))
            suffix = pl.concat_str([pl.lit("n="), pl.int_range(pl.len()).cast(pl.String)])
            query = (
                pl.when(pl.col("query").is_null()).then(suffix).otherwise(pl.concat_str(["query", pl.lit("&"), suffix]))
            )
            unique = prepared.with_columns(query.alias("query"))
            distinct = unique.select(request_target().n_unique()).item()
            per_unique = median_time(args.runs, lambda: request_hits(unique, rules))
            print(f"{'per-request detectors':<40} {per_request:>8.2f} {n / per_request:>12,.0f}")
            print(f"{f'  same, {distinct:,} distinct targets':<40} {per_unique:>8.2f} {n / per_unique:>12,.0f}")
            del rows, prepared, unique
        runs = [whole_review(path) for _ in range(args.runs)]
        secs = statistics.median(r[0] for r in runs)
        peak = statistics.median(r[3] for r in runs)
        n_rows, found = runs[0][1], runs[0][2]
        label = "whole review (store, behaviour, groups)"
        print(f"{label:<40} {secs:>8.2f} {n_rows / secs:>12,.0f} {peak:>7,.0f} MiB")
        print(f"{found:,} findings over {n_rows:,} rows")


if __name__ == "__main__":
    main()
