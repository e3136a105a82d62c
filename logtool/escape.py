"""Log text made harmless, for every layer that writes it somewhere a person or a program reads.

Every value from a log line is attacker-controlled:

* :func:`visible` — control characters (ESC, BEL, CR, NUL, C1, bidi overrides …) become visible
  escapes (``\\x1b``), so nothing in a log can drive a terminal or hide what it says;
* :func:`csv_safe` / :func:`csv_safe_frame` — spreadsheet formulas neutralised the way OWASP
  recommends: a cell starting with ``=``, ``+``, ``-``, ``@``, a tab or a CR gets a leading
  apostrophe (``'=cmd|' /C calc'!A0``), so a spreadsheet shows it as text and runs nothing.

:mod:`logtool.render.text` adds rich table cells on top; this module is in the foundation so
that exports and evidence bundles (governance) use the same rules.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # polars loads when a frame is escaped: commands that show none start faster
    import polars as pl

#: C0 and C1 controls, DEL, and the Unicode format characters that reorder or hide text.
_CONTROL = re.compile("[\\x00-\\x08\\x0b-\\x1f\\x7f-\\x9f\\u200b-\\u200f\\u202a-\\u202e\\u2066-\\u2069\\ufeff]")


def _escape(m: re.Match[str]) -> str:
    c = ord(m.group())
    return f"\\x{c:02x}" if c < 0x100 else f"\\u{c:04x}"


def visible(text: object, newlines: bool = False) -> str:
    """``text`` with every control character shown as an escape (tab kept; a newline too when
    ``newlines``, else escaped)."""
    s = "" if text is None else str(text)
    s = _CONTROL.sub(_escape, s)
    return s if newlines else s.replace("\n", "\\n")


_FORMULA = ("=", "+", "-", "@", "\t", "\r")
_FORMULA_RX = r"^[=+\-@\t\r]"


def csv_safe(value: object) -> object:
    """A CSV cell that a spreadsheet will not run: text starting with ``= + - @``, a tab or a CR
    gets a leading apostrophe (OWASP's recommendation); other values are unchanged."""
    if isinstance(value, str) and value.startswith(_FORMULA):
        return "'" + value
    return value


def csv_safe_frame(df: pl.DataFrame) -> pl.DataFrame:
    """:func:`csv_safe` on every text column of ``df`` (vectorised; numbers and times unchanged)."""
    import polars as pl

    text = [c for c, t in df.schema.items() if t == pl.String]
    if not text:
        return df
    return df.with_columns(
        pl.when(pl.col(c).str.contains(_FORMULA_RX)).then(pl.lit("'") + pl.col(c)).otherwise(pl.col(c)).alias(c)
        for c in text
    )
