"""The HTML report of a policy comparison or sweep: ``write_comparison_report(comparison, path)``.

The page opens with the verdict in words (``reports.verdicts``), then the plots (div ids):
``plot-kpi-intervals`` mean and confidence interval of each headline KPI, one panel a KPI with
the variants named on its axis; ``plot-differences`` paired differences against the baseline
(variant 0) in percent of the baseline mean, significant ones filled and labelled "better" /
"worse". The table ``kpi-table`` lists every KPI: mean, CI, paired difference, Holm-adjusted
p-value and verdict; ``seed-table`` the seed of every replication.
"""

from __future__ import annotations

import math
from pathlib import Path

import plotly.graph_objects as go
from plotly.subplots import make_subplots

from reports.html import (
    Cell,
    FigureBlock,
    TableBlock,
    Verdict,
    empty_figure,
    fmt,
    write_page,
)
from reports.verdicts import MARKS, is_rate, testing, verdict_headline, verdict_sentences
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
    labels = comparison.labels
    height = 60 + rows * (110 + 30 * len(labels))
    fig = make_subplots(rows=rows, cols=cols, subplot_titles=kpis, shared_yaxes=True,
                        vertical_spacing=min(70 / height, 0.9 / rows), horizontal_spacing=0.04)
    for i, label in enumerate(labels):
        for j, kpi in enumerate(kpis):
            e = comparison.estimate(i, kpi)
            fig.add_scatter(
                x=[e.mean], y=[label], mode="markers", name=label, legendgroup=label,
                showlegend=False, marker={"color": _color(i), "size": 10},
                error_x={"type": "data", "array": [e.half_width if math.isfinite(e.half_width)
                                                   else 0], "visible": True},
                hovertext=f"{label}: {fmt(e.mean)} [{fmt(e.low)}, {fmt(e.high)}]",
                hoverinfo="text", row=j // cols + 1, col=j % cols + 1,
            )
    for j, kpi in enumerate(kpis):
        if is_rate(kpi):
            means = [comparison.estimate(i, kpi) for i in range(len(labels))]
            low = min(e.low if math.isfinite(e.low) else e.mean for e in means)
            high = max(e.high if math.isfinite(e.high) else e.mean for e in means)
            pad = max(0.005, 0.2 * (high - low))
            fig.update_xaxes(tickformat=".1%", range=[max(0, low - pad), min(1, high) + pad],
                             row=j // cols + 1, col=j % cols + 1)
    fig.update_yaxes(autorange="reversed", categoryorder="array", categoryarray=labels)
    fig.update_layout(height=height, showlegend=False,
                      margin={"l": 20})
    return fig


def differences_figure(comparison: Comparison) -> go.Figure:
    kpis = _headline(comparison, limit=20)
    if len(comparison.variants) < 2 or not kpis:
        return empty_figure("one variant only: nothing to compare against the baseline")
    others = range(1, len(comparison.variants))
    if all(comparison.identical(i) for i in others):
        return empty_figure(f"every variant is identical to {comparison.labels[0]} on every "
                            f"KPI in every replication: no differences to draw")
    fig = go.Figure()
    step = 0.7 / max(len(others), 1)
    for i in others:
        xs, errors, symbols, marks, hover = [], [], [], [], []
        for kpi in kpis:
            base = comparison.estimate(0, kpi).mean
            d = comparison.difference(i, kpi)
            scale = 100 / abs(base) if base and math.isfinite(base) else math.nan
            xs.append(d.mean * scale)
            errors.append(d.half_width * scale if math.isfinite(d.half_width) else 0)
            verdict = comparison.verdict(i, kpi)
            symbols.append("circle" if verdict else "circle-open")
            marks.append(MARKS.get(verdict, ""))
            hover.append(f"{kpi}: {fmt(d.mean)} [{fmt(d.low)}, {fmt(d.high)}], p (Holm) "
                         f"{fmt(comparison.p_value(i, kpi))} {verdict}")
        ys = [k + (i - (len(others) + 1) / 2) * step for k in range(len(kpis))]
        fig.add_scatter(
            x=xs, y=ys, mode="markers", name=comparison.labels[i],
            marker={"color": _color(i), "size": 10, "symbol": symbols},
            error_x={"type": "data", "array": errors, "visible": True},
            hovertext=hover, hoverinfo="text",
        )
        fig.add_scatter(  # the verdict in words, just past the interval's end
            x=[x + e if x == x else 0 for x, e in zip(xs, errors, strict=True)], y=ys,
            mode="text", text=marks, textposition="middle right", showlegend=False,
            textfont={"color": _color(i), "size": 11}, hoverinfo="skip",
            name=f"{comparison.labels[i]} verdicts",
        )
    fig.add_vline(x=0, line_color="#495057")
    fig.update_layout(xaxis_title=f"difference vs {comparison.labels[0]} (% of its mean)",
                      xaxis_ticksuffix=" %",
                      yaxis={"autorange": "reversed", "tickvals": list(range(len(kpis))),
                             "ticktext": kpis, "zeroline": False},
                      height=140 + 28 * len(kpis), legend={"orientation": "h", "y": 1.02,
                                                           "yanchor": "bottom"})
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
                row += [Cell("baseline"), Cell(""), Cell(""), Cell("")]
            else:
                d = comparison.difference(i, kpi)
                verdict = comparison.verdict(i, kpi)
                p = comparison.p_value(i, kpi)
                sign = "+" if d.mean > 0 else ""
                row += [Cell(f"{sign}{fmt(d.mean)}{' *' if verdict else ''}", verdict),
                        Cell(f"[{fmt(d.low)}, {fmt(d.high)}]"),
                        Cell("equal on every seed" if math.isnan(p) else fmt(p)),
                        Cell(MARKS.get(verdict, ""), verdict)]
            rows.append(row)
    return TableBlock(
        "kpi-table", "KPIs by variant",
        ["KPI", "variant", "mean", f"{pct} CI", "Δ vs baseline", f"Δ {pct} CI", "p (Holm)",
         "verdict"],
        rows,
        note=f"Δ is the paired difference over common random numbers (the same seeds for every "
             f"variant). * and a verdict mark a difference whose paired t-test stays under "
             f"{1 - comparison.confidence:.2g} after Holm's correction for the "
             f"{comparison.tests} tests in this comparison (every KPI of every variant against "
             f"the baseline); the interval itself is not corrected.",
    )


def seed_table(comparison: Comparison) -> TableBlock:
    rows = [[Cell(str(n)), Cell(str(seed))] for n, seed in enumerate(comparison.seeds, 1)]
    return TableBlock("seed-table", "Replication seeds", ["replication", "seed"], rows,
                      note=f"Spawned from base seed {comparison.base_seed} (numpy SeedSequence); "
                           f"every variant ran these seeds. Rerun one replication with "
                           f"peakline simulate SCENARIO --seed SEED.")


def write_comparison_report(comparison: Comparison, path: Path | str) -> Path:
    """Write the comparison as one self-contained HTML file; returns the path."""
    blocks = [
        FigureBlock("plot-kpi-intervals", "Mean and confidence interval per variant",
                    intervals_figure(comparison)),
        FigureBlock("plot-differences", "Paired differences against the baseline",
                    differences_figure(comparison),
                    note="Filled markers with a mark beside them: significant after Holm's "
                         "correction; open markers: not significant."),
        kpi_table(comparison),
        seed_table(comparison),
    ]
    verdict = Verdict(verdict_headline(comparison), [
        *verdict_sentences(comparison),
        f"Only significant differences are told ({testing(comparison)})."])
    seeds = comparison.seeds
    meta = [
        ("scenario", comparison.scenario),
        ("variants", ", ".join(comparison.labels)),
        ("baseline", comparison.labels[0]),
        ("replications", f"{len(seeds)} per variant on common seeds, spawned from base seed "
                         f"{comparison.base_seed} (listed at the end)"),
        ("statistics", f"{comparison.confidence:.0%} Student-t intervals; "
                       f"{testing(comparison)}"),
    ]
    return write_page(path, kind="comparison", title=f"Peakline comparison — {comparison.scenario}",
                      subtitle=f"{len(comparison.variants)} variants x {len(seeds)} replications",
                      meta=meta, blocks=blocks, verdict=verdict)
