"""Signature detectors: a hand-written table of positives and negatives, evasions included."""

from __future__ import annotations

from pathlib import Path

import polars as pl
import pytest

from logtool.detect.normalize import normalise
from logtool.detect.signatures import categories

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
        ("UN/**/ION+SELECT", "un ion select \n union select"),  # both readings of a comment
        ("a%09 b", "a b"),  # control characters and runs of blanks
    ],
)
def test_normalise(raw: str, normal: str) -> None:
    assert pl.select(normalise(pl.lit(raw))).item() == normal


def test_only_distinct_values_are_classified() -> None:
    values = pl.Series(["/.env"] * 1000 + ["/index.html"] * 1000)
    out = categories(values)
    assert out.height == 2000 and out["sensitive_file"].sum() == 1000
