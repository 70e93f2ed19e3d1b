"""Small charts as inline SVG, drawn on the server: horizontal bars and lines over months.

Hand-written rather than a charting library: the console sends no script (its CSP allows
none) and no inline styles, and these two kinds of chart are a few dozen shapes each. Every
chart is `role="img"` with a title and a description; its table beside it is the
accessible equivalent, so the SVG's own text is left to sighted readers. Colours are from the
GOV.UK palette, each at least 4.5:1 against white; lines differ by dash pattern as well as
colour, and bars keep the legend's order in each row and carry their values as text.
"""

from __future__ import annotations

from collections.abc import Sequence
from itertools import groupby

from markupsafe import Markup

from ccin_bridge.handlers.engagement import Chart, Series

WIDTH = 640
COLOURS = ("#1d70b8", "#d4351c", "#00703c", "#4c2c92", "#0b0c0c", "#912b88")
DASHES = ("", "8 4", "2 4", "12 4 2 4", "4 4", "1 2")
GRID = "#b1b4b6"
LABEL_CHARS = 28


def _font(size: int = 16) -> Markup:
    return Markup('font-family="Arial, Helvetica, sans-serif" font-size="%d" fill="#0b0c0c"') % size


def _short(text: str, chars: int = LABEL_CHARS) -> str:
    return text if len(text) <= chars else text[: chars - 1].rstrip() + "…"


def _scale(top: int) -> tuple[int, int]:
    """A round maximum for the axis, and its step: 0, step, ... max in at most five steps."""
    step = 1
    while True:
        for times in (1, 2, 5):
            if top <= step * times * 5:
                size = step * times
                return max(size, -(-top // size) * size), size
        step *= 10


def _svg(chart: Chart, height: int, body: Markup, key: str = "", title: str = "") -> Markup:
    ident = f"chart-{chart.slug}{key}"
    return Markup(
        '<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 %d %d" role="img" '
        'aria-labelledby="%s-title %s-desc" focusable="false" class="chart">'
        '<title id="%s-title">%s</title><desc id="%s-desc">%s</desc>%s</svg>'
    ) % (WIDTH, height, ident, ident, ident, title or chart.title, ident, chart.summary, body)


def _legend(series: Sequence[Series], y: int, line: bool) -> Markup:
    parts = []
    x = 0
    for i, one in enumerate(series):
        colour, dash = COLOURS[i % len(COLOURS)], DASHES[i % len(DASHES)]
        if line:
            parts.append(
                Markup(
                    '<line x1="%d" y1="%d" x2="%d" y2="%d" stroke="%s" stroke-width="3" '
                    'stroke-dasharray="%s"/>'
                )
                % (x, y - 5, x + 28, y - 5, colour, dash)
            )
        else:
            parts.append(
                Markup('<rect x="%d" y="%d" width="18" height="18" fill="%s"/>')
                % (x + 6, y - 15, colour)
            )
        parts.append(Markup('<text x="%d" y="%d" %s>%s</text>') % (x + 34, y, _font(), one.name))
        x += 34 + 9 * len(one.name) + 24
    return Markup("").join(parts)


def bars(chart: Chart) -> Markup:
    """Horizontal bars, one group of bars per row, one bar per series."""
    series = chart.series
    bar, gap, left, top = 18, 14, 250, 34 if len(series) > 1 else 8
    right = WIDTH - 50
    group = bar * len(series) + gap
    height = top + group * len(chart.rows) + 24
    most, step = _scale(max((v for s in series for v in s.values), default=0))
    parts: list[Markup] = []
    if len(series) > 1:
        parts.append(_legend(series, 16, line=False))
    for tick in range(0, most + 1, step):
        x = left + (right - left) * tick / most
        parts.append(
            Markup('<line x1="%.1f" y1="%d" x2="%.1f" y2="%d" stroke="%s"/>')
            % (x, top, x, height - 20, GRID)
        )
        parts.append(
            Markup('<text x="%.1f" y="%d" text-anchor="middle" %s>%d</text>')
            % (x, height - 4, _font(), tick)
        )
    for r, row in enumerate(chart.rows):
        y0 = top + r * group
        parts.append(
            Markup('<text x="%d" y="%d" text-anchor="end" %s>%s</text>')
            % (left - 8, y0 + (group - gap) / 2 + 5, _font(), _short(row))
        )
        for i, one in enumerate(series):
            value = one.values[r]
            y = y0 + i * bar
            width = (right - left) * value / most
            parts.append(
                Markup('<rect x="%d" y="%d" width="%.1f" height="%d" fill="%s"/>')
                % (left, y, width, bar - 2, COLOURS[i % len(COLOURS)])
            )
            parts.append(
                Markup('<text x="%.1f" y="%d" %s>%d</text>')
                % (left + width + 4, y + bar - 4, _font(14), value)
            )
    return _svg(chart, height, Markup("").join(parts), "")


def _line_panel(chart: Chart, title: str, series: Sequence[Series], key: str) -> Markup:
    left, right, top, plot = 48, WIDTH - 36, 60, 200
    bottom = top + plot
    height = bottom + 34
    most, step = _scale(max((v for s in series for v in s.values), default=0))
    count = len(chart.rows)
    every = 1 if count <= 6 else 2 if count <= 12 else 3

    def x_at(i: int) -> float:
        return left + (right - left) * (i / (count - 1) if count > 1 else 0.5)

    def y_at(value: int) -> float:
        return bottom - plot * value / most

    parts = [Markup('<text x="0" y="16" %s font-weight="bold">%s</text>') % (_font(), title)]
    parts.append(_legend(series, 42, line=True))
    for tick in range(0, most + 1, step):
        parts.append(
            Markup('<line x1="%d" y1="%.1f" x2="%d" y2="%.1f" stroke="%s"/>')
            % (left, y_at(tick), right, y_at(tick), GRID)
        )
        parts.append(
            Markup('<text x="%d" y="%.1f" text-anchor="end" %s>%d</text>')
            % (left - 6, y_at(tick) + 5, _font(), tick)
        )
    for i, row in enumerate(chart.rows):
        if (count - 1 - i) % every == 0:  # evenly spaced, ending at the latest
            parts.append(
                Markup('<text x="%.1f" y="%d" text-anchor="middle" %s>%s</text>')
                % (x_at(i), bottom + 22, _font(), row)
            )
    for i, one in enumerate(series):
        colour, dash = COLOURS[i % len(COLOURS)], DASHES[i % len(DASHES)]
        points = " ".join(f"{x_at(j):.1f},{y_at(v):.1f}" for j, v in enumerate(one.values))
        parts.append(
            Markup(
                '<polyline points="%s" fill="none" stroke="%s" stroke-width="3" '
                'stroke-dasharray="%s"/>'
            )
            % (points, colour, dash)
        )
    body = Markup("").join(parts)
    return _svg(chart, height, body, key, f"{chart.title}: {title}" if title else "")


def lines(chart: Chart) -> list[Markup]:
    """One line chart per panel (a group), a line per series in it (a platform)."""
    panels = []
    for n, (panel, series) in enumerate(groupby(chart.series, key=lambda s: s.panel)):
        panels.append(_line_panel(chart, panel, list(series), f"-{n}"))
    return panels


def draw(chart: Chart) -> list[Markup]:
    """The chart's SVG, as one or more images (none when it has nothing to show)."""
    if chart.empty or not chart.rows:
        return []
    return lines(chart) if chart.kind == "lines" else [bars(chart)]
