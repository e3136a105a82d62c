"""Lines cut into segments that put them back together byte for byte (for ``logtool anonymize``).

A :class:`Layout` is a group of lines of a batch that share one shape: ``parts`` holds one
string column per segment, and the segments of a row, concatenated, are its line. ``kinds``
says what each segment is: a field name the anonymiser knows (``client``, ``user``,
``request``, ``target``, ``query``, ``referrer``, ``ua``, ``xff`` …), ``gap`` for text between
fields (masked as free text; ``jsongap``: JSON text between values, whose URL strings are
redacted too), or ``lit`` for text kept as it is. A ``json:`` prefix marks a
JSON string's text (escaped; unescaped for masking and escaped again), ``bare:`` a bare JSON
scalar.

Formats without a rewrite template of their own produce layouts: the fixed-layout formats
from their parse regex (:func:`segment_regex`), the JSON formats from learned key layouts,
the W3C formats from their ``#Fields`` header.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

import polars as pl

_NAMED = re.compile(r"\(\?P<(\w+)>")
_COUNTED = re.compile(r"\{[0-9]+(?:,[0-9]*)?\}")


@dataclass(frozen=True)
class Layout:
    rows: pl.Series  # positions of the lines in the batch
    parts: pl.DataFrame  # one String column per segment
    kinds: tuple[str, ...]


def _closing(regex: str, i: int, open_: str, close: str) -> int:
    """Index of the bracket closing the one at ``i`` (escapes and character classes skipped)."""
    depth = 0
    while i < len(regex):
        c = regex[i]
        if c == "\\":
            i += 2
            continue
        if c == "[" and open_ == "(":
            i = _closing(regex, i, "[", "]") + 1
            continue
        if c == open_ and (open_ == "(" or depth == 0):
            depth += 1
            if open_ == "[":  # a class: ``]`` or ``^]`` first is a literal
                i += 1
                if regex[i : i + 1] == "^":
                    i += 1
                if regex[i : i + 1] == "]":
                    i += 1
                continue
        elif c == close:
            depth -= 1
            if depth == 0:
                return i
        i += 1
    raise ValueError(f"unbalanced {open_} in {regex!r}")


def _atoms(regex: str) -> list[tuple[str, str]] | None:
    """The top-level atoms of ``regex`` (without ``^``/``$``): ``("field", name)`` for a named
    group that always takes part, ``("rx", text)`` for anything else; None if the top level
    has an alternation (no single sequence to cut)."""
    body = regex.removeprefix("^")
    body = body[:-1] if body.endswith("$") and not body.endswith("\\$") else body
    atoms: list[tuple[str, str]] = []
    i = 0
    while i < len(body):
        c = body[i]
        if c == "|":
            return None
        if c == "\\":
            j = i + 2
        elif c in "([":
            j = _closing(body, i, c, ")" if c == "(" else "]") + 1
        else:
            j = i + 1
        quant = re.match(r"(?:[*+?]|\{[0-9]+(?:,[0-9]*)?\})\??", body[j:])
        end = j + (quant.end() if quant else 0)
        text = body[i:end]
        named = _NAMED.match(text)
        if named and not quant and j == end:
            atoms.append(("field", named.group(1)))
            atoms.append(("inner", text[named.end() : -1]))
        else:
            atoms.append(("rx", text))
        i = end
    return atoms


@lru_cache(maxsize=64)
def segment_regex(regex: str) -> tuple[str, tuple[str, ...]] | None:
    """``regex`` rewritten so that a matching line is captured whole, in segments: each
    top-level named group as itself, the text between them as ``gap``, the rest of the line as
    a final ``gap``. Returns (regex, kinds), or None if the regex cannot be cut."""
    atoms = _atoms(regex)
    if atoms is None:
        return None
    out, kinds, gap = ["^"], [], []

    def close_gap() -> None:
        if gap:
            out.append(f"(?P<s{len(kinds)}>" + _NAMED.sub("(?:", "".join(gap)) + ")")
            kinds.append("gap")
            gap.clear()

    pending = ""
    for kind, text in atoms:
        if kind == "field":
            close_gap()
            pending = text
        elif kind == "inner":
            out.append(f"(?P<s{len(kinds)}>" + _NAMED.sub("(?:", text) + ")")
            kinds.append(pending)
        else:
            gap.append(text)
    close_gap()
    out.append(f"(?P<s{len(kinds)}>.*)$")
    kinds.append("gap")
    return "".join(out), tuple(kinds)


def regex_layout(lines: pl.Series, regex: str, kinds: tuple[str, ...]) -> tuple[Layout, pl.Series]:
    """The lines ``regex`` (from :func:`segment_regex`) cuts, and the positions of the rest."""
    g = pl.DataFrame({"line": lines}).lazy().select(pl.col("line").str.extract_groups(regex)).unnest("line")
    g = g.with_row_index("_i").collect(engine="streaming")
    hit = pl.col("s0").is_not_null()
    matched = g.filter(hit)
    layout = Layout(matched.get_column("_i"), matched.drop("_i"), kinds)
    return layout, g.filter(~hit).get_column("_i")
