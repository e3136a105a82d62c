"""Conversation throughput: ingest and anonymise N call-transcript sentences.

Generates Voice Intelligence transcripts (JSON lines, one transcript per line, about 100
sentences each; about one customer sentence in six carries a number, e-mail, IBAN, card or
address) with the project's generator (cached in bench/out/), then runs, each as its own
process under ``/usr/bin/time``:

- ``logtool ingest`` (parse, number areas, the day's aggregates, Parquet), and
- ``logtool retain`` as of a day past the raw window (every sentence redacted into the
  anonymised stage).

    python bench/bench_conversations.py --sentences 1000000
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import tempfile
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parents[1]))

from logtool import convgen  # noqa: E402

OUT = Path(__file__).parent / "out"
DAY = datetime(2026, 11, 1, tzinfo=UTC)
PER_TRANSCRIPT = 100


def make_transcripts(sentences: int) -> Path:
    path = OUT / f"transcripts-{sentences}.jsonl"
    if path.exists():
        return path
    OUT.mkdir(exist_ok=True)
    written, day = 0, 0
    with open(path, "w", encoding="utf-8") as f:
        while written < sentences:
            gen = convgen.generate_day(DAY + timedelta(days=day % 7), calls=500, chats=0, seed=day,
                                       sentences=PER_TRANSCRIPT)  # fmt: skip
            for t in gen.transcripts:
                t["sentences"] = t["sentences"][: sentences - written]
                written += len(t["sentences"])
                f.write(convgen.json_lines([t]))
                if written >= sentences:
                    break
            day += 1
    return path


def timed(args: list[str]) -> tuple[float, float, int]:
    """Wall seconds, CPU seconds (user + system) and peak RSS (KiB) of one logtool process.
    On a shared machine the wall time includes waiting for the disk and for other work; the
    CPU time is what the process itself spent."""
    cmd = ["/usr/bin/time", "-f", "TIME %e %U %S %M", sys.executable, "-m", "logtool", *args]
    r = subprocess.run(cmd, capture_output=True, text=True, check=True, env={**os.environ, "LOGTOOL_CONFIG": ""})
    m = re.search(r"TIME ([0-9.]+) ([0-9.]+) ([0-9.]+) ([0-9]+)", r.stderr)
    assert m, r.stderr
    return float(m.group(1)), float(m.group(2)) + float(m.group(3)), int(m.group(4))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sentences", type=int, default=1_000_000)
    args = ap.parse_args()
    src = make_transcripts(args.sentences)
    mb = src.stat().st_size / 1e6
    with tempfile.TemporaryDirectory(prefix="logtool-bench-conv-") as tmp:
        store = ["--store", str(Path(tmp) / "store"), "-q"]
        now = DAY + timedelta(days=8)
        ingest = timed([*store, "ingest", "--now", now.isoformat(), "--no-geo", str(src)])
        anon = timed([*store, "retain", "--now", (now + timedelta(days=31)).isoformat()])
    n = args.sentences
    print(f"{n:,} transcript sentences ({mb:.0f} MB of JSON lines)")
    for what, (wall, cpu, rss) in (("ingest", ingest), ("anonymise", anon)):
        print(f"  {what:<10} {wall:6.1f} s wall ({n / wall:>9,.0f} sentences/s), {cpu:6.1f} s CPU "
              f"({n / cpu:>9,.0f} sentences/s), peak RSS {rss / 1024:,.0f} MiB")  # fmt: skip


if __name__ == "__main__":
    main()
