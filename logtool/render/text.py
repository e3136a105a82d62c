"""Log text made safe to show: every value from a log line is attacker-controlled.

* :func:`visible` — control characters (ESC, BEL, CR, NUL, C1, bidi overrides …) become visible
  escapes (``\\x1b``), so nothing in a log can drive the terminal or hide what it says;
* :func:`cell` — a rich ``Text`` for tables: never parsed as markup, control characters visible;
* :func:`csv_safe` — spreadsheet formulas neutralised the way OWASP recommends.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from rich.text import Text

#: C0 and C1 controls, DEL, and the Unicode format characters that reorder or hide text.
_CONTROL = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u200b-\u200f\u202a-\u202e\u2066-\u2069\ufeff]")


def _escape(m: re.Match[str]) -> str:
    c = ord(m.group())
    return f"\\x{c:02x}" if c < 0x100 else f"\\u{c:04x}"


def visible(text: object, newlines: bool = False) -> str:
    """``text`` with every control character shown as an escape (tab kept; a newline too when
    ``newlines``, else escaped)."""
    s = "" if text is None else str(text)
    s = _CONTROL.sub(_escape, s)
    return s if newlines else s.replace("\n", "\\n")


def cell(text: object) -> Text:
    """A table cell holding ``text`` literally (no markup, no control characters)."""
    from rich.text import Text  # here: commands that draw no table start without rich

    return Text(visible(text))


_FORMULA = ("=", "+", "-", "@", "\t", "\r")


def csv_safe(value: object) -> object:
    """A CSV cell that a spreadsheet will not run: text starting with ``= + - @``, a tab or a CR
    gets a leading apostrophe (OWASP's recommendation); other values are unchanged."""
    if isinstance(value, str) and value.startswith(_FORMULA):
        return "'" + value
    return value
