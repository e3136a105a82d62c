"""Benchmark: `logtool ingest` and `logtool anonymize` against DuckDB, anonip and GoAccess.

Generates N-line combined logs with the project's deterministic generator (cached in
bench/out/), times each tool as a separate process on the same file (median of ``--runs``; peak
RSS from the kernel's rusage of that process) and prints every figure and ratio of issue 17 from
one run:

* ingest (UA + country enrichment, visitor keys, aggregates, attack counts, Parquet) at N lines,
  plain and gzip'd, and at 10 x N lines (``--big``; one run): time and peak RSS;
* DuckDB's plain job on the same file (regex parse, IP truncation, zstd Parquet; the
  ``duckdb`` package, in the ``bench`` extra), anonip (``pip install anonip``) and GoAccess
  (Debian: ``apt-get install goaccess``) when installed;
* anonymize (file filter);
* how cost grows with distinct user agents: the N-line log with 10,000 and with N distinct;
* ``retain`` of a one-day store of N rows and ``subject erase`` across 7 raw days, each with the
  time of its steps (the limiting one first);
* start-up of a no-op command (``logtool status`` on an empty store).

    python bench/bench_ingest.py --lines 1000000 [--big 10000000] [--no-peers] [--runs 3]
"""

from __future__ import annotations

import argparse
import gzip
import hashlib
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

OUT = Path(__file__).parent / "out"
BIN = Path(sys.executable).parent
DAY0 = datetime(2026, 11, 1, tzinfo=UTC)

#: Issue 17's bars, checked in the summary (they hold on a quiet 2-core machine).
TARGETS = {"ingest_lps": 600_000, "ingest_vs_duckdb": 2.0, "rss_mib": 512, "gz_share": 0.8,
           "anonymize_lps": 1_000_000, "anonymize_rss_mib": 256, "startup_s": 0.25}  # fmt: skip


def _version() -> str:
    from logtool import generate

    return hashlib.sha256(Path(generate.__file__).read_bytes()).hexdigest()[:8]  # a changed generator: new files


def make_log(n: int, days: int = 1, agents: int | None = None) -> Path:
    """An ``n``-line combined log over ``days`` days (a day per million lines by default);
    ``agents``: rewrite the user agents so that the file has that many distinct ones."""
    from logtool import generate

    OUT.mkdir(exist_ok=True)
    tag = f"-{days}d" if days > 1 else ""
    tag += f"-{agents}ua" if agents else ""
    path = OUT / f"combined-{n}{tag}-{_version()}.log"
    if path.exists():
        return path
    for stale in OUT.glob(f"combined-{n}{tag}-*.log"):
        stale.unlink()
    tmp = path.with_suffix(".tmp")
    chunk = 1_000_000 if days == 1 else -(-n // days)
    with open(tmp, "w", encoding="utf-8") as f:
        for i in range(0, n, chunk):
            k = min(chunk, n - i)
            lines = generate.lines(DAY0 + timedelta(days=i // chunk), k, seed=i + 1, clients=50_000)
            if agents:
                lines = (_agent(line, (i + j) % agents) for j, line in enumerate(lines))
            f.write("\n".join(lines))
            f.write("\n")
    tmp.rename(path)
    return path


def _agent(line: str, k: int) -> str:
    """``line`` with its user agent replaced by the ``k``-th of a family of browser versions."""
    cut = line.rfind(' "')
    if cut < 0 or not line.endswith('"'):
        return line
    major, build = divmod(k, 1000)
    ua = f"Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/{100 + major % 900}.0.{build}.{k // 900_000} Safari/537.36"  # fmt: skip
    return line[: cut + 2] + ua + '"'


def gzipped(path: Path) -> Path:
    out = path.with_suffix(".log.gz")
    if not out.exists():
        with open(path, "rb") as src, gzip.open(out.with_suffix(".tmp"), "wb", compresslevel=6) as dst:
            shutil.copyfileobj(src, dst, 16 << 20)
        out.with_suffix(".tmp").rename(out)
    return out


def timed(cmd: list[str], stdin: Path | None = None) -> tuple[float, int]:
    """(seconds, peak RSS in MiB) of one process run to completion."""
    t0 = time.perf_counter()
    with (
        open(stdin or os.devnull, "rb") as inp,
        open(os.devnull, "wb") as devnull,
        tempfile.TemporaryFile() as errf,  # a file, not a pipe: a chatty tool must not block
    ):
        proc = subprocess.Popen(cmd, stdin=inp, stdout=devnull, stderr=errf)
        _, status, usage = os.wait4(proc.pid, 0)
        secs = time.perf_counter() - t0
        errf.seek(0)
        err = errf.read().decode(errors="replace")
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"{cmd[0]} failed ({status}): {err[-2000:]}")
    return secs, usage.ru_maxrss // 1024


def median_run(cmd: list[str], runs: int, stdin: Path | None = None, fresh_store: bool = False) -> tuple[float, int]:
    """Median seconds and peak RSS over ``runs`` runs (this machine's timings are noisy)."""
    times, rss = [], 0
    for _ in range(runs):
        if fresh_store:
            with tempfile.TemporaryDirectory(prefix="logtool-bench-") as store:
                secs, r = timed([cmd[0], "--store", store, *cmd[1:]], stdin)
        else:
            secs, r = timed(cmd, stdin)
        times.append(secs)
        rss = max(rss, r)
    return statistics.median(times), rss


DUCKDB_JOB = r"""
import sys, duckdb
log, out = sys.argv[1], sys.argv[2]
rx = r'^(\S+) (\S+) (\S+) \[([^\]]+)\] "([^"\\]*(?:\\.[^"\\]*)*)" (\d{3}|-) (\d+|-) "([^"\\]*(?:\\.[^"\\]*)*)" "([^"\\]*(?:\\.[^"\\]*)*)"\s*$'
names = ['client', 'ident', 'user', 'time', 'request', 'status', 'bytes', 'referrer', 'ua']
duckdb.sql(f'''
COPY (
  WITH g AS (SELECT regexp_extract(line, '{rx.replace("'", "''")}', {names}) AS g
             FROM read_csv('{log}', columns={{'line': 'VARCHAR'}}, header=false, delim='\x01', quote='',
                           escape='', auto_detect=false, strict_mode=false, null_padding=true, ignore_errors=true))
  SELECT strptime(g.time, '%d/%b/%Y:%H:%M:%S %z') AS ts,
         CASE WHEN g.client LIKE '%:%' THEN regexp_extract(g.client, '^([0-9A-Fa-f]*:[0-9A-Fa-f]*:[0-9A-Fa-f]*)') || '::/48'
              ELSE regexp_replace(g.client, '\.\d+$', '.0') || '/24' END AS client_net,
         g.request, TRY_CAST(g.status AS SMALLINT) AS status, TRY_CAST(g.bytes AS BIGINT) AS bytes,
         g.referrer, g.ua AS user_agent
  FROM g WHERE g.client <> ''
) TO '{out}' (FORMAT parquet, COMPRESSION zstd)
''')
"""


def duckdb_cmd(log: Path, out: Path) -> list[str] | None:
    try:
        import duckdb  # noqa: F401
    except ImportError:
        return None
    return [sys.executable, "-c", DUCKDB_JOB, str(log), str(out)]


def step_times(fn: Callable[[], object], spots: dict[str, tuple[object, str]]) -> tuple[float, dict[str, float]]:
    """Run ``fn`` in this process with the functions ``spots`` names (label → (owner, attribute))
    timed; (total seconds, seconds per label)."""
    spent = dict.fromkeys(spots, 0.0)
    saved = []
    for label, (owner, attr) in spots.items():
        orig = getattr(owner, attr)
        saved.append((owner, attr, orig))

        def wrapper(*a: object, _orig: Callable[..., object] = orig, _label: str = label, **k: object) -> object:
            t0 = time.perf_counter()
            try:
                out = _orig(*a, **k)
            finally:
                spent[_label] += time.perf_counter() - t0
            return _timed_iter(out, _label) if isinstance(out, Iterator) else out

        def _timed_iter(it: Iterator[object], label: str) -> Iterator[object]:
            while True:
                t0 = time.perf_counter()
                try:
                    item = next(it)
                except StopIteration:
                    return
                finally:
                    spent[label] += time.perf_counter() - t0
                yield item

        setattr(owner, attr, wrapper)
    t0 = time.perf_counter()
    try:
        fn()
    finally:
        for owner, attr, orig in saved:
            setattr(owner, attr, orig)
    return time.perf_counter() - t0, spent


def lifecycle_costs(n: int) -> dict[str, object]:
    """retain of a one-day store of ``n`` rows; subject erase across 7 raw days of ``n`` rows."""
    from logtool import store as store_mod
    from logtool.config import Policy
    from logtool.governance import subjects
    from logtool.inputs import make_inputs
    from logtool.lifecycle import retention
    from logtool.lifecycle.ingest import ingest
    from logtool.store import files

    policy, out = Policy(), {}
    with tempfile.TemporaryDirectory(prefix="logtool-bench-") as tmp:
        root = Path(tmp) / "one-day"
        st = store_mod.Store(root)
        ingest(st, make_inputs([str(make_log(n))]), policy, DAY0 + timedelta(days=1))
        spots = {
            "read raw partitions": (store_mod.Store, "iter_parts"),
            "truncate addresses": (retention, "networks"),
            "anonymise records": (retention, "anonymise_records"),
            "behavioural findings of the day": (retention, "behaviour_counts"),
            "unique visitors": (retention, "unique_visitors_by_vhost"),
            "write Parquet": (files.PartitionWriter, "write_day"),
        }
        secs, steps = step_times(lambda: retention.retain(st, policy, DAY0 + timedelta(days=9)), spots)
        st.close()
        out["retain"] = {"rows": n, "seconds": secs, "steps": steps}

        root = Path(tmp) / "seven-days"
        st = store_mod.Store(root)
        log = make_log(n, days=7)
        ingest(st, make_inputs([str(log)]), policy, DAY0 + timedelta(days=7))
        with open(log, encoding="utf-8", errors="replace") as f:
            first = f.readline().split()[0]  # the busiest client of the first day
        spots = {
            "read raw partitions": (store_mod.Store, "iter_parts"),
            "find the subject's rows": (subjects, "subject_mask"),
            "write Parquet": (files.PartitionWriter, "write_day"),
        }
        now = DAY0 + timedelta(days=7, hours=12)
        secs, steps = step_times(lambda: subjects.erase(st, first, now=now), spots)
        st.close()
        out["erase"] = {"rows": n, "days": 7, "seconds": secs, "steps": steps}
    return out


def startup(runs: int = 9) -> float:
    """Median seconds of ``logtool status`` on an empty store."""
    with tempfile.TemporaryDirectory(prefix="logtool-bench-") as tmp:
        from logtool.store import Store

        Store(Path(tmp) / "s").close()
        cmd = [str(BIN / "logtool"), "--store", str(Path(tmp) / "s"), "status"]
        return statistics.median(timed(cmd)[0] for _ in range(runs))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--lines", type=int, default=1_000_000)
    ap.add_argument("--big", type=int, default=0, help="also ingest a log of this many lines (one run)")
    ap.add_argument("--no-peers", action="store_true", help="only measure logtool")
    ap.add_argument("--no-lifecycle", action="store_true", help="skip retain, erase and the distinct-agent runs")
    ap.add_argument("--runs", type=int, default=3, help="runs per tool; the median is reported")
    args = ap.parse_args()
    n, runs = args.lines, args.runs
    log = make_log(n)
    results: dict[str, dict[str, float]] = {}
    logtool = str(BIN / "logtool")

    def record(name: str, secs: float, rss: int, lines: int = n) -> None:
        results[name] = {"lines": lines, "seconds": secs, "lines_per_s": lines / secs, "peak_rss_mib": rss}

    record("logtool ingest", *median_run([logtool, "ingest", str(log)], runs, fresh_store=True))
    record("logtool ingest .gz", *median_run([logtool, "ingest", str(gzipped(log))], runs, fresh_store=True))
    record("logtool anonymize", *median_run([logtool, "anonymize", str(log)], runs, fresh_store=True))
    if not args.no_peers:
        with tempfile.TemporaryDirectory() as d:
            if cmd := duckdb_cmd(log, Path(d) / "out.parquet"):
                record("duckdb (parse+truncate+parquet)", *median_run(cmd, runs))
        anonip = shutil.which("anonip", path=str(BIN)) or shutil.which("anonip")
        if anonip:
            record("anonip", *median_run([anonip, "-c", "1"], runs, stdin=log))
        goaccess = shutil.which("goaccess")
        if goaccess:
            with tempfile.TemporaryDirectory() as d:
                cmd = [goaccess, str(log), "--log-format=COMBINED", "-o", f"{d}/report.json", "--no-progress"]
                record("goaccess", *median_run(cmd, runs))
    if args.big:
        record(f"logtool ingest {args.big:,}", *median_run([logtool, "ingest", str(make_log(args.big))], 1,
                                                           fresh_store=True), lines=args.big)  # fmt: skip
    if not args.no_lifecycle:
        for agents in (10_000, n):
            path = make_log(n, agents=agents)
            record(f"ingest, {agents:,} agents", *median_run([logtool, "ingest", str(path)], 1, fresh_store=True))
    life = {} if args.no_lifecycle else lifecycle_costs(n)
    boot = startup()

    print(f"\n{n:,}-line combined log, {os.cpu_count()} cores, Python {sys.version.split()[0]}, median of {runs} runs")
    print(f"{'tool':<36} {'lines':>11} {'seconds':>8} {'lines/s':>10} {'peak RSS':>9}")
    for name, r in results.items():
        print(
            f"{name:<36} {r['lines']:>11,} {r['seconds']:>8.2f} {r['lines_per_s']:>10,.0f} {r['peak_rss_mib']:>5} MiB"
        )

    def ratio(a: str, b: str) -> float | None:
        return results[a]["lines_per_s"] / results[b]["lines_per_s"] if a in results and b in results else None

    print()
    checks = []
    ing = results["logtool ingest"]
    checks.append(("ingest lines/s", ing["lines_per_s"], TARGETS["ingest_lps"], ">="))
    checks.append(("ingest peak RSS (MiB)", ing["peak_rss_mib"], TARGETS["rss_mib"], "<="))
    if (r := ratio("logtool ingest", "duckdb (parse+truncate+parquet)")) is not None:
        checks.append(("ingest / DuckDB", r, TARGETS["ingest_vs_duckdb"], ">="))
    checks.append(("ingest .gz / plain", ratio("logtool ingest .gz", "logtool ingest"), TARGETS["gz_share"], ">="))
    if args.big:
        big = results[f"logtool ingest {args.big:,}"]
        checks.append((f"ingest {args.big:,} peak RSS (MiB)", big["peak_rss_mib"], TARGETS["rss_mib"], "<="))
        print(f"{args.big:,} lines vs {n:,}: {big['seconds'] / ing['seconds']:.1f}x the time, "
              f"{big['peak_rss_mib'] / ing['peak_rss_mib']:.2f}x the peak RSS")  # fmt: skip
    an = results["logtool anonymize"]
    checks.append(("anonymize lines/s", an["lines_per_s"], TARGETS["anonymize_lps"], ">="))
    checks.append(("anonymize peak RSS (MiB)", an["peak_rss_mib"], TARGETS["anonymize_rss_mib"], "<="))
    checks.append(("start-up, status on an empty store (s)", boot, TARGETS["startup_s"], "<="))
    for ours in ("logtool ingest", "logtool anonymize"):
        for peer in ("anonip", "goaccess", "duckdb (parse+truncate+parquet)"):
            if (r := ratio(ours, peer)) is not None:
                print(f"{ours} is {r:.1f}x {peer}")
    if not args.no_lifecycle:
        few, many = results["ingest, 10,000 agents"], results[f"ingest, {n:,} agents"]
        print(f"{n:,} distinct user agents vs 10,000: {many['seconds'] / few['seconds']:.1f}x the time "
              f"({(many['seconds'] - few['seconds']) / (n - 10_000) * 1e6:.0f} µs per extra distinct agent), "
              f"{many['peak_rss_mib']} vs {few['peak_rss_mib']} MiB")  # fmt: skip
        for what, r in life.items():
            steps = sorted(r["steps"].items(), key=lambda kv: -kv[1])
            where = ", ".join(f"{k} {v:.2f} s" for k, v in steps)
            days = f" across {r['days']} raw days" if "days" in r else ""
            print(f"{what} of {r['rows']:,} rows{days}: {r['seconds']:.2f} s; limited by {steps[0][0]} ({where})")
    print()
    for name, value, bar, op in checks:
        ok = value >= bar if op == ">=" else value <= bar
        fmt = f"{value:,.2f}" if value < 100 else f"{value:,.0f}"
        print(f"{'ok  ' if ok else 'MISS'} {name:<42} {fmt:>12}  (target {op} {bar:,})")
    (OUT / f"results-{n}.json").write_text(json.dumps({"lines": n, "results": results, "lifecycle": life,
                                                       "startup_s": boot}, indent=2, default=str))  # fmt: skip


if __name__ == "__main__":
    main()
