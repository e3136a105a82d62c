"""Undo the tricks attackers use to slip past signatures, as polars expressions.

Repeated URL-decoding (also ``+`` and ``%uXXXX``), overlong UTF-8 sequences for ``.``, ``/`` and
``\\``, common HTML entities, lower case, SQL comments (``UN/**/ION``) and runs of blanks.
"""

from __future__ import annotations

import polars as pl

_PCT: dict[str, str] = {}
for _c in range(0x20, 0x7F):
    _PCT[f"%{_c:02X}"] = chr(_c)
    _PCT[f"%U00{_c:02X}"] = chr(_c)
for _c in (0x09, 0x0A, 0x0D, 0x00):
    _PCT[f"%{_c:02X}"] = " "
_OVERLONG = {"%C0%AE": ".", "%E0%80%AE": ".", "%C0%AF": "/", "%E0%80%AF": "/", "%C1%9C": "\\", "%C1%1C": "\\"}
_ENTITIES = {
    "&lt;": "<", "&gt;": ">", "&quot;": '"', "&apos;": "'", "&#39;": "'", "&#x27;": "'", "&#34;": '"',
    "&#x22;": '"', "&#60;": "<", "&#x3c;": "<", "&#62;": ">", "&#x3e;": ">", "&#40;": "(", "&#41;": ")",
    "&lpar;": "(", "&rpar;": ")", "&colon;": ":", "&#58;": ":", "&sol;": "/", "&#47;": "/", "&amp;": "&",
}  # fmt: skip


def normalise(expr: pl.Expr, rounds: int = 3) -> pl.Expr:
    out = expr
    for _ in range(rounds):  # %2527 → %27 → '; "+" is a blank at every layer (form encoding)
        out = out.str.replace_all("+", " ", literal=True)
        out = out.str.replace_many(_OVERLONG, ascii_case_insensitive=True)
        out = out.str.replace_many(_PCT, ascii_case_insensitive=True)
    out = out.str.replace_many(_ENTITIES, ascii_case_insensitive=True).str.to_lowercase()
    # A comment stands for a blank (UNION/**/SELECT) or splits a keyword (UN/**/ION): where there
    # are comments, both readings are kept, joined by a separator no pattern crosses.
    spaced = out.str.replace_all(r"/\*.*?\*/", " ")
    joined = out.str.replace_all(r"/\*.*?\*/", "")
    out = (
        pl.when(out.str.contains("/*", literal=True))
        .then(pl.concat_str([spaced, pl.lit(" \n "), joined]))
        .otherwise(out)
    )
    return out.str.replace_all(r"[ \t\r\x00\x0b\x0c]+", " ")
