"""The parser interface: registered formats are immutable and build per-input parsers and
rewriters, so two inputs never share state (a W3C header of one file cannot leak into another)."""

from __future__ import annotations

import dataclasses

import polars as pl
import pytest

from logtool.parsers import REGISTRY, get_format


def batch(*lines: str) -> pl.DataFrame:
    return pl.DataFrame({"line_no": list(range(1, len(lines) + 1)), "line": list(lines)})


@pytest.mark.parametrize("name", list(REGISTRY))
def test_every_format_is_immutable_and_builds_fresh_parsers(name: str) -> None:
    fmt = REGISTRY[name]
    with pytest.raises(dataclasses.FrozenInstanceError):
        fmt.name = "changed"  # type: ignore[misc]
    rec, rej = fmt.parser().parse(batch(*fmt.sample.split("\n")))
    assert rec.height >= 1 and rej.height == 0, rej.to_dicts()
    rw = fmt.rewriter()
    assert hasattr(rw, "template") and callable(rw.context) and callable(rw.layouts)


def test_w3c_headers_stay_with_their_input() -> None:
    iis = get_format("iis")
    header, data = iis.sample.split("\n")
    first, second = iis.parser(), iis.parser()
    first.parse(batch(header))  # the first file's header …
    rec, rej = second.parse(batch(data))  # … does not describe the second file's lines
    assert rec.height == 0 and rej.get_column("reason").to_list() == ["no #Fields header before this line (iis)"]
    rec, rej = first.parse(batch(data))  # the first file's later batches keep it
    assert rec.height == 1 and rej.height == 0


def test_rewriters_carry_their_own_context() -> None:
    cf = get_format("cloudfront")
    header, data = cf.sample.split("\n")
    a, b = cf.rewriter(), cf.rewriter()
    a.context(pl.Series([header]))
    assert a.context(pl.Series([data])).to_list() == [header.removeprefix("#Fields:").strip()]
    assert b.context(pl.Series([data])).to_list() == [None]
