"""The parser interface: a registered format *builds* what works on one input.

A :class:`LineFormat` is an immutable description, safe to share (the registry holds one of
each). ``parser()`` returns a fresh :class:`Parser` for one input — per-file state (a W3C
``#Fields`` header carried from batch to batch) lives there, never on the format.
``rewriter()`` returns a fresh :class:`Rewriter`, what ``logtool anonymize`` needs to rebuild
lines in their own format: a rewrite ``template`` (the CLF family and user format strings), or
``layouts`` that cut lines into segments (fixed-layout, JSON and W3C formats).
"""

from __future__ import annotations

from typing import Protocol

import polars as pl

from logtool.parsers.formatstr import CompiledFormat
from logtool.parsers.layout import Layout


class Parser(Protocol):
    def parse(self, batch: pl.DataFrame) -> tuple[pl.DataFrame, pl.DataFrame]:
        """A ``line_no``/``line`` batch → (canonical records, rejects with a ``reason``)."""
        ...


class Rewriter(Protocol):
    #: A template that rebuilds a matching line from its fields (or None: use ``layouts``).
    template: CompiledFormat | None

    def context(self, lines: pl.Series) -> object:
        """What a batch needs from the batches before it (called in input order)."""
        ...

    def layouts(self, lines: pl.Series, context: object) -> tuple[list[Layout], pl.Series]:
        """The lines cut into segments by shape, and the positions of the lines that fit none."""
        ...


class LineFormat(Protocol):
    name: str
    description: str
    sample: str

    def match_rate(self, lines: pl.Series) -> float:
        """Share of non-empty ``lines`` this format reads (auto-detection)."""
        ...

    def parser(self) -> Parser:
        """A fresh parser for one input."""
        ...

    def rewriter(self) -> Rewriter:
        """A fresh rewriter for one input."""
        ...


class Stateless:
    """Mix-in for formats without per-file state: the format is its own parser."""

    def parser(self) -> Parser:
        return self  # type: ignore[return-value]


class LayoutRewriter:
    """A rewriter that cuts lines with a stateless ``cut(lines)`` function."""

    template: CompiledFormat | None = None

    def __init__(self, cut: object) -> None:
        self._cut = cut

    def context(self, lines: pl.Series) -> object:
        return None

    def layouts(self, lines: pl.Series, context: object) -> tuple[list[Layout], pl.Series]:
        return self._cut(lines)  # type: ignore[operator,no-any-return]
