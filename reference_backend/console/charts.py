"""Small bar charts drawn on the server as SVG (no script): the geometry is computed here,
``templates/chart.html`` draws it with axis labels and units."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field

WIDTH, HEIGHT = 560, 200
LEFT, RIGHT, TOP, BOTTOM = 56, 8, 12, 28
MAX_BAR = 48


@dataclass(frozen=True)
class Bar:
    x: float
    y: float
    width: float
    height: float
    label: str
    value: float
    faded: bool = False


@dataclass(frozen=True)
class Tick:
    y: float
    value: float


@dataclass
class BarChart:
    """Bars over labelled categories, with a few round y-axis ticks."""

    title: str
    unit: str
    #: ``unit`` is a currency code: values are shown as money
    money: bool = False
    bars: list[Bar] = field(default_factory=list)
    ticks: list[Tick] = field(default_factory=list)
    x_labels: list[tuple[float, str]] = field(default_factory=list)
    width: int = WIDTH
    height: int = HEIGHT
    left: int = LEFT
    bottom: int = HEIGHT - BOTTOM

    @property
    def empty(self) -> bool:
        return not any(b.value for b in self.bars)


def _nice_step(top: float, count: int = 4) -> float:
    raw = top / count
    power = 10 ** math.floor(math.log10(raw))
    for m in (1, 2, 2.5, 5, 10):
        if raw <= m * power:
            return m * power
    return 10 * power  # pragma: no cover


def bar_chart(title: str, unit: str, points: Sequence[tuple[str, float]], *,
              faded_before: int = 0, label_every: int = 0, money: bool = False) -> BarChart:
    """A chart of ``points`` (label, value); bars before index ``faded_before`` are drawn
    lighter (e.g. the previous period next to this one); ``money``: ``unit`` is a currency."""
    chart = BarChart(title=title, unit=unit, money=money)
    if not points:
        return chart
    top = max((v for _, v in points), default=0) or 1.0
    step = _nice_step(top)
    top = step * math.ceil(top / step)
    plot_w = WIDTH - LEFT - RIGHT
    plot_h = HEIGHT - TOP - BOTTOM
    slot = plot_w / len(points)
    every = label_every or max(1, math.ceil(len(points) / 8))
    for i, (label, value) in enumerate(points):
        h = plot_h * value / top
        x = LEFT + i * slot
        width = min(slot * 0.7, MAX_BAR)
        chart.bars.append(Bar(round(x + (slot - width) / 2, 1), round(TOP + plot_h - h, 1),
                              round(width, 1), round(h, 1), label, value,
                              faded=i < faded_before))
        if i % every == 0:
            chart.x_labels.append((round(x + slot / 2, 1), label))
    ticks = int(round(top / step))
    chart.ticks = [Tick(round(TOP + plot_h - plot_h * k / ticks, 1), step * k)
                   for k in range(ticks + 1)]
    return chart
