"""Log text made safe to show: every value from a log line is attacker-controlled.

* :func:`visible` — control characters (ESC, BEL, CR, NUL, C1, bidi overrides …) become visible
  escapes (``\\x1b``), so nothing in a log can drive the terminal or hide what it says;
* :func:`cell` — a rich ``Text`` for tables: never parsed as markup, control characters visible;
* :func:`csv_safe` — spreadsheet formulas neutralised the way OWASP recommends.

The rules live in :mod:`logtool.escape` (the foundation), so exports use them too; every
renderer and every CLI line that shows log-derived text goes through these functions.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from rich.text import Text

from logtool.escape import csv_safe, csv_safe_frame, visible

__all__ = ["visible", "cell", "csv_safe", "csv_safe_frame"]


def cell(text: object) -> Text:
    """A table cell holding ``text`` literally (no markup, no control characters)."""
    from rich.text import Text  # here: commands that draw no table start without rich

    return Text(visible(text))
