"""Benchmark: `logtool ingest` and `logtool anonymize` against anonip and GoAccess.

Generates an N-line combined log with the project's deterministic generator (cached in
bench/out/), then times each tool as a separate process on the same file and reports lines/s
and peak RSS (from the kernel's rusage of that process). anonip runs when installed (`pip
install anonip`, done by `make bench`), GoAccess when the `goaccess` binary is on PATH
(Debian: `apt-get install goaccess`).

    python bench/bench_ingest.py --lines 1000000
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

OUT = Path(__file__).parent / "out"
BIN = Path(sys.executable).parent


def make_log(n: int) -> Path:
    from logtool import generate

    OUT.mkdir(exist_ok=True)
    version = hashlib.sha256(Path(generate.__file__).read_bytes()).hexdigest()[:8]  # a changed generator: new file
    path = OUT / f"combined-{n}-{version}.log"
    if path.exists():
        return path
    for stale in OUT.glob(f"combined-{n}-*.log"):
        stale.unlink()
    tmp = path.with_suffix(".tmp")
    start = datetime(2026, 11, 1, tzinfo=UTC)
    with open(tmp, "w", encoding="utf-8") as f:
        chunk = 1_000_000
        for i in range(0, n, chunk):
            k = min(chunk, n - i)
            f.write("\n".join(generate.lines(start + timedelta(days=i // chunk), k, seed=i + 1, clients=50_000)))
            f.write("\n")
    tmp.rename(path)
    return path


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


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--lines", type=int, default=1_000_000)
    ap.add_argument("--no-peers", action="store_true", help="Only measure logtool.")
    ap.add_argument("--runs", type=int, default=3, help="Runs per tool; the median is reported.")
    args = ap.parse_args()
    log = make_log(args.lines)
    n = args.lines
    results: dict[str, dict[str, float]] = {}

    runs = args.runs

    def record(name: str, secs: float, rss: int) -> None:
        results[name] = {"seconds": secs, "lines_per_s": n / secs, "peak_rss_mib": rss}

    record("logtool ingest", *median_run([str(BIN / "logtool"), "ingest", str(log)], runs, fresh_store=True))
    record("logtool anonymize", *median_run([str(BIN / "logtool"), "anonymize", str(log)], runs, fresh_store=True))
    if not args.no_peers:
        anonip = shutil.which("anonip", path=str(BIN)) or shutil.which("anonip")
        if anonip:
            record("anonip", *median_run([anonip, "-c", "1"], runs, stdin=log))
        goaccess = shutil.which("goaccess")
        if goaccess:
            with tempfile.TemporaryDirectory() as d:
                cmd = [goaccess, str(log), "--log-format=COMBINED", "-o", f"{d}/report.json", "--no-progress"]
                record("goaccess", *median_run(cmd, runs))

    print(f"\n{n:,} combined lines, {os.cpu_count()} cores, Python {sys.version.split()[0]}, median of {runs} runs")
    print(f"{'tool':<18} {'seconds':>8} {'lines/s':>10} {'peak RSS':>9}")
    for name, r in results.items():
        print(f"{name:<18} {r['seconds']:>8.2f} {r['lines_per_s']:>10,.0f} {r['peak_rss_mib']:>6} MiB")
    for ours in ("logtool ingest", "logtool anonymize"):
        for peer in ("anonip", "goaccess"):
            if peer in results:
                ratio = results[ours]["lines_per_s"] / results[peer]["lines_per_s"]
                print(f"{ours} is {ratio:.1f}x {peer}")
    (OUT / f"results-{n}.json").write_text(json.dumps({"lines": n, "results": results}, indent=2))


if __name__ == "__main__":
    main()
