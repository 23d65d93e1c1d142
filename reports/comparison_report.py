"""The HTML report of a policy comparison or sweep: ``write_comparison_report(comparison, path)``.

Plots (div ids): ``plot-kpi-intervals`` mean and confidence interval of each headline KPI
per variant; ``plot-differences`` paired differences against the baseline (variant 0), in
percent of the baseline mean, with their intervals (filled markers = significant).
The table ``kpi-table`` lists every KPI: mean, CI, paired difference, verdict.
"""

from __future__ import annotations

import math
from pathlib import Path

import plotly.graph_objects as go
from plotly.subplots import make_subplots

from reports.html import Cell, FigureBlock, TableBlock, empty_figure, fmt, write_page
from simulator.experiment import HEADLINE_KPIS, Comparison

COMPARISON_PLOTS = ("plot-kpi-intervals", "plot-differences")
_PALETTE = ("#0b3d91", "#e8590c", "#2b8a3e", "#5f3dc4", "#c2255c", "#1098ad", "#e67700",
            "#495057", "#5c940d", "#862e9c")


def _color(i: int) -> str:
    return _PALETTE[i % len(_PALETTE)]


def _headline(comparison: Comparison, limit: int = 12) -> list[str]:
    names = comparison.kpi_names()
    head = [k for k in HEADLINE_KPIS if k in names]
    return (head or names)[:limit]


def intervals_figure(comparison: Comparison) -> go.Figure:
    kpis = _headline(comparison)
    if not kpis:
        return empty_figure("no KPIs in these runs")
    cols = 3
    rows = math.ceil(len(kpis) / cols)
    fig = make_subplots(rows=rows, cols=cols, subplot_titles=kpis, vertical_spacing=0.1)
    for i, label in enumerate(comparison.labels):
        for j, kpi in enumerate(kpis):
            e = comparison.estimate(i, kpi)
            fig.add_scatter(
                x=[label], y=[e.mean], mode="markers", name=label, legendgroup=label,
                showlegend=j == 0, marker={"color": _color(i), "size": 9},
                error_y={"type": "data", "array": [e.half_width if math.isfinite(e.half_width)
                                                   else 0], "visible": True},
                row=j // cols + 1, col=j % cols + 1,
            )
    fig.update_xaxes(showticklabels=False)
    fig.update_layout(height=260 * rows, legend={"orientation": "h", "y": -0.05})
    return fig


def differences_figure(comparison: Comparison) -> go.Figure:
    kpis = _headline(comparison, limit=20)
    if len(comparison.variants) < 2 or not kpis:
        return empty_figure("one variant only: nothing to compare against the baseline")
    fig = go.Figure()
    for i in range(1, len(comparison.variants)):
        xs, lows, highs, symbols, text = [], [], [], [], []
        for kpi in kpis:
            base = comparison.estimate(0, kpi).mean
            d = comparison.difference(i, kpi)
            scale = 100 / abs(base) if base and math.isfinite(base) else math.nan
            xs.append(d.mean * scale)
            hw = d.half_width * scale if math.isfinite(d.half_width) else 0
            lows.append(hw)
            highs.append(hw)
            symbols.append("circle" if d.significant else "circle-open")
            text.append(f"{kpi}: {fmt(d.mean)} [{fmt(d.low)}, {fmt(d.high)}] "
                        f"{comparison.verdict(i, kpi)}")
        fig.add_scatter(
            x=xs, y=kpis, mode="markers", name=comparison.labels[i],
            marker={"color": _color(i), "size": 10, "symbol": symbols},
            error_x={"type": "data", "array": highs, "arrayminus": lows, "visible": True},
            text=text, hoverinfo="text",
        )
    fig.add_vline(x=0, line_color="#495057")
    fig.update_layout(xaxis_title=f"difference vs {comparison.labels[0]} (% of baseline mean)",
                      yaxis={"autorange": "reversed"}, height=120 + 28 * len(kpis),
                      legend={"orientation": "h", "y": -0.15})
    return fig


def kpi_table(comparison: Comparison) -> TableBlock:
    pct = f"{comparison.confidence:.0%}"
    rows: list[list[Cell]] = []
    for kpi in comparison.kpi_names():
        for i, label in enumerate(comparison.labels):
            e = comparison.estimate(i, kpi)
            row = [Cell(kpi if i == 0 else ""), Cell(label, "text"), Cell(fmt(e.mean)),
                   Cell(f"[{fmt(e.low)}, {fmt(e.high)}]")]
            if i == 0:
                row += [Cell("baseline"), Cell(""), Cell("")]
            else:
                d = comparison.difference(i, kpi)
                verdict = comparison.verdict(i, kpi)
                mark = " *" if d.significant else ""
                sign = "+" if d.mean > 0 else ""
                row += [Cell(f"{sign}{fmt(d.mean)}{mark}", verdict),
                        Cell(f"[{fmt(d.low)}, {fmt(d.high)}]"), Cell(verdict, verdict)]
            rows.append(row)
    return TableBlock(
        "kpi-table", "KPIs by variant",
        ["KPI", "variant", "mean", f"{pct} CI", "Δ vs baseline", f"Δ {pct} CI", "verdict"],
        rows,
        note=f"{len(comparison.seeds)} replications per variant on common random numbers "
             f"(the same seeds for every variant); Δ is the paired difference, * marks an "
             f"interval that excludes 0.",
    )


def write_comparison_report(comparison: Comparison, path: Path | str) -> Path:
    """Write the comparison as one self-contained HTML file; returns the path."""
    blocks = [
        kpi_table(comparison),
        FigureBlock("plot-kpi-intervals", "Mean and confidence interval per variant",
                    intervals_figure(comparison)),
        FigureBlock("plot-differences", "Paired differences against the baseline",
                    differences_figure(comparison),
                    note="Filled markers: significant at the stated confidence."),
    ]
    seeds = comparison.seeds
    meta = [
        ("scenario", comparison.scenario),
        ("variants", ", ".join(comparison.labels)),
        ("baseline", comparison.labels[0]),
        ("replications", f"{len(seeds)} per variant (seeds {', '.join(map(str, seeds[:3]))}"
                         f"{', …' if len(seeds) > 3 else ''})"),
        ("confidence", f"{comparison.confidence:.0%} Student-t"),
    ]
    return write_page(path, kind="comparison", title=f"Peakline comparison — {comparison.scenario}",
                      subtitle=f"{len(comparison.variants)} variants x {len(seeds)} replications",
                      meta=meta, blocks=blocks)
