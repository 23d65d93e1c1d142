"""Self-contained HTML pages: tables and plotly figures in one file that opens offline.

A page is an optional :class:`Verdict` in words, then a list of blocks (:class:`CardsBlock`
headline figures, :class:`TableBlock`, :class:`FigureBlock`) rendered by the
``page.html.j2`` template.
plotly.js is embedded inline exactly once, by the first figure (``include_plotlyjs=True``);
every figure is a ``<div id="plot-...">``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import plotly.graph_objects as go
from jinja2 import Environment, PackageLoader, select_autoescape

_ENV = Environment(
    loader=PackageLoader("reports", "templates"),
    autoescape=select_autoescape(["html", "j2"]),
    trim_blocks=True,
    lstrip_blocks=True,
)


@dataclass(frozen=True)
class Cell:
    text: str
    css: str = ""
    tip: str = ""


@dataclass
class TableBlock:
    id: str
    title: str
    columns: Sequence[str]
    rows: list[list[Cell]]
    note: str = ""
    kind: str = field(default="table", init=False)


@dataclass(frozen=True)
class Verdict:
    """What a page concludes, first and in words: a headline and the lines that explain it;
    ``css`` is ``pass`` or ``fail``."""

    headline: str
    lines: Sequence[str] = ()
    css: str = ""


@dataclass(frozen=True)
class Card:
    label: str
    value: str
    detail: str = ""


@dataclass
class CardsBlock:
    """Headline figures, each a big value with a label and one line of detail."""

    id: str
    title: str
    cards: list[Card]
    note: str = ""
    kind: str = field(default="cards", init=False)


@dataclass
class FigureBlock:
    id: str  # becomes the div id, e.g. "plot-orders"
    title: str
    figure: go.Figure
    note: str = ""
    kind: str = field(default="figure", init=False)
    html: str = field(default="", init=False)


def cell(value: Any, css: str = "", tip: str = "") -> Cell:
    """A table cell; numbers are formatted compactly."""
    return Cell(fmt(value) if not isinstance(value, str) else value, css, tip)


def fmt(value: Any) -> str:
    """Compact number formatting for tables (thousands separators, 3-4 significant digits)."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, float):
        if math.isnan(value):
            return "–"
        if math.isinf(value):
            return "∞"
        if value.is_integer() and abs(value) < 1e15:  # a count or whole days, not "1.000"
            return f"{value:,.0f}"
        if value != 0 and abs(value) < 0.01:
            return f"{value:.2e}"
        if abs(value) >= 1000:
            return f"{value:,.0f}"
        if abs(value) >= 10:
            return f"{value:,.1f}"
        return f"{value:.3f}"
    return str(value)


def empty_figure(message: str) -> go.Figure:
    """A placeholder figure (kept so every plot id is present) that says why it is empty."""
    fig = go.Figure()
    fig.add_annotation(text=message, showarrow=False, x=0.5, y=0.5, xref="paper", yref="paper")
    fig.update_xaxes(visible=False)
    fig.update_yaxes(visible=False)
    fig.update_layout(height=200)
    return fig


def render_page(
    *,
    kind: str,
    title: str,
    subtitle: str = "",
    meta: Sequence[tuple[str, str]] = (),
    blocks: Sequence[TableBlock | FigureBlock | CardsBlock],
    verdict: Verdict | None = None,
) -> str:
    """The whole HTML document; plotly.js is inlined by the first figure only."""
    first = True
    config = {"displaylogo": False, "responsive": True}
    for block in blocks:
        if isinstance(block, FigureBlock):
            block.figure.update_layout(template="plotly_white", margin={"t": 40, "r": 20})
            block.html = block.figure.to_html(
                full_html=False, include_plotlyjs=first, div_id=block.id, config=config
            )
            first = False
    return _ENV.get_template("page.html.j2").render(
        kind=kind, title=title, subtitle=subtitle, meta=list(meta), blocks=list(blocks),
        verdict=verdict,
    )


def write_page(path: Path | str, **page: Any) -> Path:
    """Render with :func:`render_page` and write ``path`` (parent folders created)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(render_page(**page), encoding="utf-8")
    return path
