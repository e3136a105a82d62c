"""Per-category precision and recall of the signature detectors, and the benign false-positive
rate, on labelled HTTP parameter values (issue 6's harness).

Each payload of ``payload_train.csv`` (``payload,length,attack_type,label``) is wrapped into a
combined-format request ``GET /search?q=<payload> HTTP/1.1`` twice: as logged raw (quotes
escaped the way Apache does) and once more URL-encoded. The lines go through the project's
own parser, then the detectors. Targets: recall >= 95 % for sqli and xss, >= 90 % for
traversal and cmdi; benign false positives <= 0.5 %.

    python bench/detect_eval.py [--data ../shared/datasets/http-params/payload_train.csv]
"""

from __future__ import annotations

import argparse
import csv
import urllib.parse
from pathlib import Path

import polars as pl

from logtool.detect.signatures import categories
from logtool.parsers import get_format

LABELS = {"sqli": "sqli", "xss": "xss", "path-traversal": "traversal", "cmdi": "cmdi"}
TARGETS = {"sqli": 0.95, "xss": 0.95, "traversal": 0.90, "cmdi": 0.90}
DEFAULT = Path(__file__).resolve().parents[2] / "shared" / "datasets" / "http-params" / "payload_train.csv"


def line(target: str) -> str:
    escaped = target.replace("\\", "\\\\").replace('"', '\\"')
    return f'203.0.113.7 - - [24/Nov/2026:10:00:00 +0000] "GET /search?q={escaped} HTTP/1.1" 200 1 "-" "UA"'


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", type=Path, default=DEFAULT)
    args = ap.parse_args()
    with open(args.data, encoding="utf-8", newline="") as f:
        rows = list(csv.DictReader(f))
    for variant in ("raw", "url-encoded"):
        payloads = [r["payload"] if variant == "raw" else urllib.parse.quote(r["payload"], safe="") for r in rows]
        truth = [LABELS.get(r["attack_type"], "benign") for r in rows]
        text = [line(p.replace("\n", " ")) for p in payloads]
        rec, rej = get_format("combined").parse(pl.DataFrame({"line_no": range(1, len(text) + 1), "line": text}))
        keep = rec.get_column("line_no") - 1
        targets = rec.select(
            pl.when(pl.col("query").is_null())
            .then(pl.col("path"))
            .otherwise(pl.concat_str(["path", pl.lit("?"), "query"]))
        ).to_series()
        found = categories(targets)
        df = pl.concat([pl.DataFrame({"truth": [truth[i] for i in keep.to_list()]}), found], how="horizontal")
        any_hit = pl.any_horizontal([pl.col(c) for c in found.columns])
        print(f"\n{variant}: {len(rows):,} payloads, {rec.height:,} parsed, {rej.height:,} rejected by the parser")
        print(f"{'category':<12} {'recall':>8} {'precision':>10} {'target':>8}")
        for cat, target in TARGETS.items():
            tp = df.filter((pl.col("truth") == cat) & pl.col(cat)).height
            pos = df.filter(pl.col("truth") == cat).height
            flagged = df.filter(pl.col(cat)).height
            recall = tp / pos if pos else 0.0
            precision = tp / flagged if flagged else 0.0
            ok = "ok" if recall >= target else "below"
            print(f"{cat:<12} {recall:>8.1%} {precision:>10.1%} {target:>7.0%} {ok}")
        benign = df.filter(pl.col("truth") == "benign")
        fp = benign.filter(any_hit).height
        print(
            f"benign false positives: {fp:,} of {benign.height:,} = {fp / max(benign.height, 1):.2%} (target <= 0.5%)"
        )


if __name__ == "__main__":
    main()
