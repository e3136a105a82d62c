"""Chart geometry for the HTML report: numbers in, shapes out (bars, columns, stacks, a strip).

The template (``templates/charts.html.j2``) draws these shapes as inline SVG, so the report
needs no script, no font and no file from elsewhere, prints as it shows, and every label goes
through the template engine's escaping like any other text. Nothing here writes markup.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field

#: Canvas widths (SVG user units) of a panel and of a full-width panel: text stays about 12 px.
WIDTH, WIDE = 560, 820
#: Colour-blind-safe palette (Okabe & Ito).
PALETTE = ("#0072B2", "#E69F00", "#009E73", "#D55E00", "#CC79A7", "#56B4E9", "#F0E442", "#000000")
GREY = "#9a9a9a"
STATUS_COLOURS = {"1xx": GREY, "2xx": "#009E73", "3xx": "#56B4E9", "4xx": "#E69F00", "5xx": "#D55E00"}
STAGE_COLOURS = {"raw": "#D55E00", "raw + anonymised": "#E69F00", "anonymised": "#56B4E9", "deleted": "#c8c8c8"}
OTHER = "(other)"


def compact(n: float) -> str:
    """``950``, ``12.3k``, ``4.5M``: axis labels."""
    for unit, size in (("G", 1e9), ("M", 1e6), ("k", 1e3)):
        if abs(n) >= size:
            return f"{n / size:.1f}".rstrip("0").rstrip(".") + unit
    return f"{n:.0f}" if float(n).is_integer() else f"{n:.2g}"


def nice_ticks(top: float, count: int = 4) -> list[float]:
    """Round tick values from 0 covering ``top`` (1, 2, 2.5 or 5 times a power of ten apart)."""
    if top <= 0:
        return [0.0, 1.0]
    raw = top / count
    mag = 10 ** math.floor(math.log10(raw))
    step = next(m * mag for m in (1, 2, 2.5, 5, 10) if m * mag >= raw)
    return [step * i for i in range(math.ceil(top / step - 1e-9) + 1)]


@dataclass
class Bar:
    x: float
    y: float
    w: float
    h: float
    colour: str
    title: str  # the tooltip (and the accessible name): label and value


@dataclass
class Label:
    x: float
    y: float
    text: str
    anchor: str = "middle"


@dataclass
class Chart:
    """Shapes on a ``WIDTH`` × ``height`` canvas, with a title for screen readers."""

    kind: str
    title: str
    height: float
    bars: list[Bar] = field(default_factory=list)
    labels: list[Label] = field(default_factory=list)
    #: Horizontal grid lines with their value labels (column charts).
    grid: list[Label] = field(default_factory=list)
    #: A line over the columns: SVG points and the dots on them.
    line: str = ""
    dots: list[Bar] = field(default_factory=list)
    legend: list[tuple[str, str]] = field(default_factory=list)  # (colour, name)
    width: int = WIDTH


def _short(text: str, n: int) -> str:
    return text if len(text) <= n else text[: n - 1] + "…"


def hbars(title: str, rows: Sequence[tuple[str, float, str]], colour: str = PALETTE[0], width: int = WIDTH) -> Chart:
    """Horizontal bars, one per (label, value, value text) as given. ``(other)`` is left to the
    table (it would dwarf the rest), unless it is all there is."""
    rows = [r for r in rows if r[0] != OTHER] or list(rows)
    row_h, label_w, value_w = 22, 200, 64
    chart = Chart("hbars", title, max(1, len(rows)) * row_h + 6, width=width)
    top = max((v for _, v, _ in rows), default=0) or 1
    span = width - label_w - value_w
    for i, (label, value, text) in enumerate(rows):
        y = 3 + i * row_h
        w = max(1.0, span * value / top) if value else 0.0
        fill = GREY if label == OTHER else colour
        chart.bars.append(Bar(label_w, y + 3, round(w, 1), row_h - 6, fill, f"{label}: {text}"))
        chart.labels.append(Label(label_w - 8, y + 15, _short(label, 30), "end"))
        chart.labels.append(Label(label_w + w + 6, y + 15, text, "start"))
    return chart


def _frame(kind: str, title: str, top: float, names: Sequence[str], width: int, every: int | None = None
           ) -> tuple[Chart, float, float]:  # fmt: skip
    """A column chart's canvas: grid lines up to ``top``, one slot per name (every ``every``-th
    labelled); returns the chart, the slot width and the scale (pixels per unit)."""
    height, left, bottom, head, n = 220, 52, 28, 10, len(names)
    chart = Chart(kind, title, height, width=width)
    ticks = nice_ticks(top)
    scale = (height - bottom - head) / (ticks[-1] or 1)
    for t in ticks:
        chart.grid.append(Label(left, round(height - bottom - t * scale, 1), compact(t), "end"))
    slot = (width - left - 8) / max(1, n)
    every = every or max(1, math.ceil(n / (width / 45)))
    for i, name in enumerate(names):
        if i % every == 0:
            chart.labels.append(Label(round(left + slot * (i + 0.5), 1), height - bottom + 16, name))
    return chart, slot, scale


def columns(title: str, names: Sequence[str], values: Sequence[float], unit: str = "requests",
            line: Sequence[float | None] | None = None, line_name: str = "", every: int | None = None,
            width: int = WIDTH) -> Chart:  # fmt: skip
    """One column per name; optionally a line (e.g. visitors) on the same scale."""
    top = max([*values, *(v for v in line or [] if v is not None), 0])
    chart, slot, scale = _frame("columns", title, top, names, width, every)
    base = chart.height - 28
    for i, (name, v) in enumerate(zip(names, values, strict=True)):
        h = v * scale
        x = 52 + slot * i + slot * 0.15
        chart.bars.append(Bar(round(x, 1), round(base - h, 1), round(slot * 0.7, 1), round(h, 1), PALETTE[0],
                              f"{name}: {v:,.0f} {unit}"))  # fmt: skip
    if line is not None:
        pts = []
        for i, (name, v) in enumerate(zip(names, line, strict=True)):
            if v is None:
                continue
            x, y = round(52 + slot * (i + 0.5), 1), round(base - v * scale, 1)
            pts.append(f"{x},{y}")
            chart.dots.append(Bar(x, y, 3, 3, PALETTE[1], f"{name}: {v:,.0f} {line_name}"))
        chart.line = " ".join(pts)
        chart.legend = [(PALETTE[0], unit), (PALETTE[1], line_name)]
    return chart


def stacked(title: str, names: Sequence[str], keys: Sequence[str], values: dict[tuple[str, str], float],
            colours: dict[str, str] | None = None, unit: str = "requests", width: int = WIDE) -> Chart:  # fmt: skip
    """Stacked columns: for each name (a day) the values of ``keys`` on top of each other."""
    colours = colours or {}
    colour = {k: colours.get(k) or (GREY if k == OTHER else PALETTE[i % len(PALETTE)]) for i, k in enumerate(keys)}
    top = max([sum(values.get((n, k), 0) for k in keys) for n in names] + [0])
    chart, slot, scale = _frame("stacked", title, top, names, width)
    base = chart.height - 28
    for i, name in enumerate(names):
        y = base
        for k in keys:
            v = values.get((name, k), 0)
            if not v:
                continue
            h = v * scale
            y -= h
            chart.bars.append(Bar(round(52 + slot * i + slot * 0.15, 1), round(y, 1), round(slot * 0.7, 1),
                                  round(h, 1), colour[k], f"{name} {k}: {v:,.0f} {unit}"))  # fmt: skip
    chart.legend = [(colour[k], k) for k in keys]
    return chart


def strip(title: str, cells: Sequence[tuple[str, str]], colours: dict[str, str], width: int = WIDTH) -> Chart:
    """One cell per (name, state), coloured by state: the lifecycle of the report's days."""
    height, n = 56, max(1, len(cells))
    chart = Chart("strip", title, height, width=width)
    w = width / n
    for i, (name, state) in enumerate(cells):
        chart.bars.append(Bar(round(i * w + 1, 1), 4, round(max(1.0, w - 2), 1), 28, colours.get(state, GREY),
                              f"{name}: {state}"))  # fmt: skip
    every = max(1, math.ceil(n / (width / 56)))
    for i, (name, _) in enumerate(cells):
        if i % every == 0:
            chart.labels.append(Label(round(i * w + w / 2, 1), 48, name))
    chart.legend = [(c, s) for s, c in colours.items()]
    return chart
