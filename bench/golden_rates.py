"""Share of lines each golden file's own format parses (``tests/cases/<format>/*.log``).

The golden files hold the layouts servers really write (syslog prefixes, trailing fields, raw
quotes, notices that are no access-log lines …), so this is the parse rate on real-world
shapes; the lines a format must not read (notices, truncated lines) keep it below 100 %.

    python bench/golden_rates.py [--cases tests/cases]
"""

from __future__ import annotations

import argparse
from pathlib import Path

import polars as pl

from logtool.inputs import iter_batches, make_inputs
from logtool.parsers import REGISTRY


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--cases", type=Path, default=Path(__file__).parents[1] / "tests" / "cases")
    args = ap.parse_args()
    totals: dict[str, list[int]] = {}
    print(f"{'golden file':<28} {'parsed':>9} {'rate':>7}")
    for path in sorted(args.cases.glob("*/*.log")):
        name = path.parent.name
        if name not in REGISTRY:
            continue
        parser = REGISTRY[name].parser()
        parsed = lines = 0
        for batch in iter_batches(make_inputs([str(path)])[0]):
            rec, _ = parser.parse(batch)  # W3C directives (#Fields …) describe the file: not lines
            parsed += rec.height
            lines += batch.filter(~pl.col("line").str.starts_with("#")).height
        t = totals.setdefault(name, [0, 0])
        t[0], t[1] = t[0] + parsed, t[1] + lines
        print(f"{name + '/' + path.stem:<28} {parsed:>4}/{lines:<4} {parsed / lines:7.1%}")
    parsed, lines = (sum(t[i] for t in totals.values()) for i in (0, 1))
    print(f"{'all':<28} {parsed:>4}/{lines:<4} {parsed / lines:7.1%}")


if __name__ == "__main__":
    main()
