"""Small server-side SVG charts for the reports page: bars and lines over days.

Plain SVG, no script and no external file, so a chart shows the same on screen, in print and in
a saved PDF. Each chart is an image with a title and a description for screen readers; the page
puts the chart's data table next to it (a chart never carries numbers only it shows).
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence
from dataclasses import dataclass

from markupsafe import Markup, escape

WIDTH, HEIGHT = 640, 240
LEFT, RIGHT, TOP, BOTTOM = 44, 12, 28, 30
MAX_X_LABELS = 8
# Colours with enough contrast on white and told apart without colour: the legend names each
# series, bars and lines differ in shape, and the table holds every value.
COLOURS = ("#1f5fa8", "#c2410c", "#15803d", "#6b21a8")
_ids = itertools.count(1)


@dataclass(frozen=True)
class Series:
    name: str
    values: Sequence[float | None]


def nice_ceiling(value: float) -> float:
    """The smallest of 1, 2, 2.5, 5 x 10^n at or above *value* (a readable axis maximum)."""
    if value <= 0:
        return 1.0
    power = 10 ** math.floor(math.log10(value))
    for step in (1, 2, 2.5, 5, 10):
        if value <= step * power:
            return step * power
    return 10 * power  # pragma: no cover - the loop always returns


def chart(
    title: str,
    description: str,
    labels: Sequence[str],
    series: Sequence[Series],
    kind: str = "bars",
) -> Markup:
    """An SVG chart of *series* over *labels* (``kind``: ``"bars"`` or ``"line"``)."""
    uid = f"hd-chart-{next(_ids)}"
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
    values = [v for s in series for v in s.values if v is not None]
    top = nice_ceiling(max(values, default=0))
    n = max(len(labels), 1)
    slot = plot_w / n

    def y(value: float) -> float:
        return TOP + plot_h - plot_h * (value / top)

    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="hd-chart" viewBox="0 0 {WIDTH} {HEIGHT}"'
        f' role="img" aria-labelledby="{uid}-t {uid}-d" dir="ltr">',
        f'<title id="{uid}-t">{escape(title)}</title>',
        f'<desc id="{uid}-d">{escape(description)}</desc>',
    ]
    for step in range(5):  # grid and y axis labels
        value = top * step / 4
        parts.append(
            f'<line x1="{LEFT}" x2="{WIDTH - RIGHT}" y1="{y(value):.1f}" y2="{y(value):.1f}"'
            ' stroke="#d4d4d8" stroke-width="1"/>'
            f'<text x="{LEFT - 6}" y="{y(value) + 4:.1f}" text-anchor="end" font-size="11"'
            f' fill="#3f3f46">{_number(value)}</text>'
        )
    every = max(1, math.ceil(n / MAX_X_LABELS))
    for index, label in enumerate(labels):
        if index % every == 0:
            x = LEFT + slot * (index + 0.5)
            parts.append(
                f'<text x="{x:.1f}" y="{HEIGHT - BOTTOM + 16}" text-anchor="middle"'
                f' font-size="11" fill="#3f3f46">{escape(label)}</text>'
            )
    for number, item in enumerate(series):
        colour = COLOURS[number % len(COLOURS)]
        if kind == "bars":
            width = slot * 0.8 / max(len(series), 1)
            for index, value in enumerate(item.values):
                if not value:
                    continue
                x = LEFT + slot * index + slot * 0.1 + width * number
                parts.append(
                    f'<rect x="{x:.1f}" y="{y(value):.1f}" width="{max(width - 1, 1):.1f}"'
                    f' height="{TOP + plot_h - y(value):.1f}" fill="{colour}"/>'
                )
        else:
            points = " ".join(
                f"{LEFT + slot * (index + 0.5):.1f},{y(value):.1f}"
                for index, value in enumerate(item.values)
                if value is not None
            )
            parts.append(
                f'<polyline points="{points}" fill="none" stroke="{colour}" stroke-width="2"/>'
            )
        legend_x = LEFT + number * 160
        parts.append(
            f'<rect x="{legend_x}" y="8" width="12" height="12" fill="{colour}"/>'
            f'<text x="{legend_x + 16}" y="18" font-size="12" fill="#18181b">'
            f"{escape(item.name)}</text>"
        )
    parts.append(
        f'<line x1="{LEFT}" x2="{WIDTH - RIGHT}" y1="{TOP + plot_h}" y2="{TOP + plot_h}"'
        ' stroke="#52525b" stroke-width="1"/></svg>'
    )
    return Markup("".join(parts))


def _number(value: float) -> str:
    return f"{value:.0f}" if value == int(value) else f"{value:.1f}"
