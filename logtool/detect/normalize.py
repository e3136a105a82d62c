"""Undo the tricks attackers use to slip past signatures, as polars expressions.

Repeated URL-decoding (also ``+``, ``%uXXXX``, ``%%32%%65``-style nested escapes and ``0x2e``
hex literals), overlong UTF-8 of every length for ``.``, ``/`` and ``\\`` (``%c0%ae`` …
``%fc%80%80%80%80%ae``), Unicode look-alikes (``%uff0e``, ``%u2215``, ``%u2216``, full-width
``＜``, curly quotes, also as percent-encoded UTF-8: ``%EF%BC%9C``, ``%E2%80%B2``), ``\\uXXXX``
and ``\\xHH`` escapes, HTML entities, lower case and runs of blanks. Line breaks (``%0A``)
stay line breaks, so ``%0Aid`` is still a command after a newline.

SQL comments are read both ways: ``UN/**/ION`` joins to ``union`` and ``/*!50000union*/``
keeps its content, so a payload hidden inside a comment and one split by a comment are both
seen. The two readings are joined by a line break, which no signature crosses unless it means to.
Likewise a word split by shell quotes (``c''at``, ``w'h'o'am'i``, ``c\\at``) is read once more
joined, and Log4j lookups once more resolved.
"""

from __future__ import annotations

import functools

import polars as pl

_PCT: dict[str, str] = {}
for _c in range(0x20, 0x7F):
    _PCT[f"%{_c:02X}"] = chr(_c)
    _PCT[f"%U00{_c:02X}"] = chr(_c)
    _PCT[f"\\U00{_c:02X}"] = chr(_c)  # \u006a (Java/JS escapes, Log4Shell)
    _PCT[f"\\X{_c:02X}"] = chr(_c)  # \x3c (logged \xHH escapes, JS strings)
for _c, _to in ((0x09, " "), (0x0A, "\n"), (0x0D, "\n"), (0x00, " "), (0x0B, " "), (0x0C, " ")):
    for _form in ("%{:02X}", "%U00{:02X}", "\\U00{:02X}", "\\X{:02X}"):
        _PCT[_form.format(_c)] = _to
#: Unicode look-alikes of ``.``, ``/``, ``\\``, ``<`` and ``>`` that path normalisers and best-fit
#: mappings fold.
_LOOKALIKE = {"%UFF0E": ".", "%U2215": "/", "%U2216": "\\", "%UFF0F": "/", "%UFF3C": "\\", "%U2044": "/",
              "%UEFC8": "/", "%UF025": "\\", "%UFF1C": "<", "%UFF1E": ">"}  # fmt: skip
#: The same look-alikes as characters; they are also sent as percent-encoded UTF-8 (``%E2%80%B2``).
_LOOKALIKE_CHARS = {"\u2032": "'", "\u2019": "'", "\u2018": "'", "\u201c": '"', "\u201d": '"', "\u2013": "-",
                    "\uff0e": ".", "\u2215": "/", "\u2216": "\\", "\uff0f": "/", "\uff3c": "\\", "\uff1c": "<",
                    "\uff1e": ">", "\uff02": '"', "\uff07": "'"}  # fmt: skip
for _ch, _to in _LOOKALIKE_CHARS.items():
    _LOOKALIKE[_ch] = _to
    _LOOKALIKE["".join(f"%{b:02X}" for b in _ch.encode())] = _to
#: Latin-1 letters and signs sent as percent-encoded UTF-8 (``%C2%BC`` is ``¼``, which a 7-bit
#: reader takes for ``<``; see the US-ASCII rule of :data:`logtool.detect.patterns.XSS`).
for _c in range(0xA0, 0x100):
    _LOOKALIKE.setdefault("".join(f"%{b:02X}" for b in chr(_c).encode()), chr(_c))
_NUMERIC = {60: "<", 62: ">", 34: '"', 39: "'", 40: "(", 41: ")", 58: ":", 59: ";", 47: "/", 61: "="}
_HEX_LITERAL = {"0X2E": ".", "0X2F": "/", "0X5C": "\\"}
_ENTITIES = {
    "&lt;": "<", "&gt;": ">", "&quot;": '"', "&apos;": "'", "&#39;": "'", "&#x27;": "'", "&#34;": '"',
    "&#x22;": '"', "&#60;": "<", "&#x3c;": "<", "&#62;": ">", "&#x3e;": ">", "&#40;": "(", "&#41;": ")",
    "&#x28;": "(", "&#x29;": ")", "&lpar;": "(", "&rpar;": ")", "&colon;": ":", "&#58;": ":", "&#x3a;": ":",
    "&sol;": "/", "&#47;": "/", "&tab;": " ", "&newline;": "\n", "&comma;": ",", "&period;": ".",
    "&semi;": ";", "&grave;": "`", "&amp;": "&",
}  # fmt: skip
#: Overlong UTF-8 (2 to 6 bytes) of ``.``, ``/`` and ``\\``, and the mangled forms scanners send.
_DOT = r"(?i)%(?:c0|e0%80|f0%80%80|f8%80%80%80|fc%80%80%80%80)%(?:ae|2e)|%c0%ee"
_SLASH = r"(?i)%(?:c0|e0%80|f0%80%80|f8%80%80%80|fc%80%80%80%80)%(?:af|2f)|%c0%9v|%c0%qf|%c1%8s"
_BACKSLASH = r"(?i)%c1%(?:9c|1c|pc)|%c0%5c|%(?:e0%80|f0%80%80|f8%80%80%80|fc%80%80%80%80)%dc"


#: Quotes and backslashes inside a word, which a shell drops: ``c''at``, ``w'h'o'am'i``, ``c\\at``.
_SHELL_QUOTES = r"([a-z])(?:['\"]+|\\)([a-z])"


def _decode_round(expr: pl.Expr) -> pl.Expr:
    out = expr.str.replace_all("+", " ", literal=True)  # "+" is a blank in form encoding
    out = out.str.replace_all("\\n", "\n", literal=True).str.replace_all("\\r", "\n", literal=True)
    out = out.str.replace_all(_DOT, ".").str.replace_all(_SLASH, "/").str.replace_all(_BACKSLASH, "\\")
    out = out.str.replace_many(_LOOKALIKE, ascii_case_insensitive=True)
    out = out.str.replace_many(_PCT, ascii_case_insensitive=True)
    # %%32%%65 decodes to "%2%e": an escape split in two halves is joined for the next round
    return out.str.replace_all(r"%([0-9a-fA-F])%([0-9a-fA-F])", "%${1}${2}")


def _entities_undone(out: pl.Expr) -> pl.Expr:
    """What follows the decoding rounds (each of which undoes one layer of escapes: %2527 → %27
    → '): hex literals, HTML entities, lower case."""
    out = out.str.replace_many(_HEX_LITERAL, ascii_case_insensitive=True)
    out = out.str.replace_many(_ENTITIES, ascii_case_insensitive=True).str.to_lowercase()
    # &lt and &gt without their semicolon, as browsers read them (not &ltd=, a parameter name)
    out = out.str.replace_all(r"&lt([^a-z]|$)", "<${1}").str.replace_all(r"&gt([^a-z]|$)", ">${1}")
    for code, char in _NUMERIC.items():  # &#60 &#060; &#x3c &#X003C; (with or without the semicolon)
        out = out.str.replace_all(rf"&#(?:0*{code}|x0*{code:x});?", char.replace("$", "$$"))
    return out


#: A character every pattern of a decoding round starts with or is: text with none of them is
#: what the round makes of it, and so are all the rounds after it.
_ROUND_CHANGES = "[+%\\\\" + "".join(_LOOKALIKE_CHARS) + "]"


def normalise(expr: pl.Expr, rounds: int = 3) -> pl.Expr:
    """The text signatures match (see :func:`normal_forms`), as an expression."""
    return expr.map_batches(lambda s: normal_forms(s, rounds), return_dtype=pl.String)


def normal_forms(values: pl.Series, rounds: int = 3) -> pl.Series:
    """The text signatures match, per value: decoded, lower case, blanks collapsed, SQL comments
    read both ways (content kept and markers blank; comments removed), Log4j lookups resolved
    and shell quotes inside words dropped in further readings. Built step by step on
    materialised columns (an expression that nested each reading in the next would grow with
    every step)."""
    steps, df = _steps(), pl.DataFrame({"d": values.cast(pl.String)})
    for _ in range(rounds):  # (a round rebuilds its replacements' automata on every call)
        if not df.get_column("d").str.contains(_ROUND_CHANGES).any():
            break  # no value has a character a round's patterns start with: the rest change nothing
        df = df.with_columns(steps.round)
    for step in steps.after:
        df = df.with_columns(step)
    return df.get_column("d").alias(values.name)


@functools.cache
def _steps() -> _Steps:
    return _Steps()


class _Steps:
    """The expressions :func:`normal_forms` runs, built once (building them cost more than
    running them on a few values)."""

    def __init__(self) -> None:
        d = pl.col("d")
        kept = d.str.replace_all(r"/\*!?\d*|\*/", " ")  # /*!50000union*/ → " union "
        joined = d.str.replace_all(r"/\*.*?\*/", "")  # UN/**/ION → UNION
        unquoted = d.str.replace_all(_SHELL_QUOTES, "${1}${2}").str.replace_all(_SHELL_QUOTES, "${1}${2}")
        self.round = _decode_round(d)
        self.after = (
            _entities_undone(d),
            pl.when(d.str.contains("/*", literal=True)).then(pl.concat_str([kept, pl.lit("\n"), joined])).otherwise(d),
            pl.when(d.str.contains("${", literal=True)).then(pl.concat_str([d, pl.lit("\n"), lookups(d)])).otherwise(d),
            pl.when(d.str.contains(_SHELL_QUOTES)).then(pl.concat_str([d, pl.lit("\n"), unquoted])).otherwise(d),
            d.str.replace_all(r"[ \t\x00\x0b\x0c]+", " "),
        )


def lookups(expr: pl.Expr, rounds: int = 3) -> pl.Expr:
    """Log4j lookups resolved the way Log4j resolves them, innermost first: ``${::-j}`` and
    ``${env:X:-j}`` to their default ``j``, ``${lower:J}`` / ``${upper:j}`` to their argument,
    ``${date:'j'}`` to its quoted text; so ``${${::-j}ndi:`` reads ``${jndi:``."""
    out = expr
    for _ in range(rounds):
        out = out.str.replace_all(r"\$\{[^${}]*?:-([^${}]*)\}", "${1}")
        out = out.str.replace_all(r"\$\{\s*(?:lower|upper)\s*:([^${}]*)\}", "${1}")
        out = out.str.replace_all(r"\$\{\s*date\s*:\s*'([^'${}]*)'\}", "${1}")
    return out
