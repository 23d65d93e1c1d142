"""The HTML calibration report: observed against fitted for every block, with goodness-of-fit
statistics and a verdict in words. ``write_calibration_report(cal, path) -> Path``.

Plots (div ids): ``plot-hourly`` orders per hour over the history against the fitted curve,
``plot-hour-of-day`` the daily profile, ``plot-rank`` SKU rank-frequency (log-log) against
Zipf, ``plot-baskets`` lines per order and units per line against shifted Poisson,
``plot-handling`` handling times per warehouse against lognormal.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import plotly.graph_objects as go
from plotly.subplots import make_subplots
from scipy import stats

from reports.html import FigureBlock, TableBlock, cell, write_page
from simulator.calibration.fitting import Calibration, CountFit

OBSERVED, FITTED = "#4c6ef5", "#e8590c"


def _verdict(ok: bool | None, good: str, bad: str) -> tuple[str, str]:
    if ok is None:
        return good or "not tested", ""
    return (good, "pass") if ok else (bad, "fail")


def fit_table(cal: Calibration) -> TableBlock:
    d, c, b, o = cal.demand, cal.catalogue, cal.baskets, cal.outcomes
    rows = []

    def row(block: str, fit: str, statistic: str, ok: bool | None, good: str, bad: str) -> None:
        text, css = _verdict(ok, good, bad)
        rows.append([cell(block), cell(fit, "text"), cell(statistic), cell(text, css)])

    row("demand curve", f"baseline {d.baseline_orders_per_hour:.2f} orders/h, "
        f"{len(d.peaks)} past peaks", f"r={d.correlation:.3f}, dispersion {d.dispersion:.2f}",
        d.dispersion < 1.5, "Poisson noise around the fit",
        "more variation than the model explains (events it does not know?)")
    row("SKU popularity", f"Zipf s={c.zipf_exponent:.3f} over {len(c.sku_ids):,} SKUs",
        f"KS D={c.ks_distance:.4f}, bootstrap p={c.bootstrap_p:.2f}", c.zipf_fits,
        "Zipf fits: written as an exponent", "Zipf rejected: empirical shares written")
    for name, fit in (("lines per order", b.lines_per_order), ("units per line",
                                                               b.units_per_line)):
        if math.isnan(fit.chi2_p):
            row(name, f"shifted Poisson mean {fit.mean:.3f}", "", None,
                "too few distinct counts to test", "")
            continue
        row(name, f"shifted Poisson mean {fit.mean:.3f}", f"chi-square p={fit.chi2_p:.2f}",
            fit.chi2_p >= 0.05, "fits", "shifted Poisson rejected (the mean is still right)")
    low, high = o.cancelled.interval()
    row("cancellations", f"{o.cancelled.value:.2%} of {cal.demand.orders:,} orders",
        f"95 % CI {low:.2%}-{high:.2%}", None, "a share: its interval says how sure", "")
    if o.cancel_delay.mean is not None:
        row("cancellation delay", f"gamma mean {o.cancel_delay.mean:.2f} h sd "
            f"{o.cancel_delay.sd:.2f} h", f"KS D={o.cancel_delay.ks_distance:.3f}", None,
            "those too late for hand-over are unseen: the KS distance overstates the misfit",
            "")
    low, high = o.returned.interval()
    row("returns", f"{o.returned.value:.2%} of {o.handed_over:,} postings handed over",
        f"95 % CI {low:.2%}-{high:.2%}", None, "a share: its interval says how sure", "")
    if o.return_delay.mean is not None:
        row(f"return delay (from {'delivery' if o.return_clock == 'delivered' else 'hand-over'})",
            f"gamma mean {o.return_delay.mean:.1f} h sd {o.return_delay.sd:.1f} h",
            f"KS D={o.return_delay.ks_distance:.3f}", o.return_delay.ks_distance < 0.1,
            "fits", "gamma is a rough fit")
    names = {w.warehouse_id: w.name for w in cal.history.warehouses}
    for fit in cal.handling.values():
        row(f"handling, {names.get(fit.warehouse_id, fit.warehouse_id)}",
            f"lognormal median {fit.median_hours:.2f} h",
            f"KS D={fit.ks_distance:.3f}", fit.ks_distance < 0.1, "fits", "lognormal is rough")
    return TableBlock("table-fits", "Goodness of fit", ["block", "fitted", "statistic",
                                                         "verdict"], rows,
                      note="KS distances and p-values are computed against parameters fitted "
                           "to the same data (optimistic), except Zipf's parametric bootstrap.")


def regions_table(cal: Calibration) -> TableBlock:
    r = cal.regions
    rows = [[cell(city.name), cell(city.name_ru), cell(f"{share:.1%}"), cell("placed", "pass")]
            for city, share in r.weights.items()]
    rows += [[cell(name), cell(""), cell(f"{share:.1%}"), cell("unknown: left out", "fail")]
             for name, share in r.unknown.items()]
    return TableBlock("table-regions", "Buyer regions", ["city", "in Russian", "orders",
                                                         "placed"], rows)


def hourly_figure(cal: Calibration) -> go.Figure:
    d = cal.demand
    fig = go.Figure()
    fig.add_bar(x=d.hours, y=d.observed, name="orders observed", marker_color=OBSERVED,
                opacity=0.6)
    fig.add_scatter(x=d.hours, y=d.fitted, mode="lines", name="fitted (with past peaks)",
                    line={"color": FITTED, "width": 2})
    for peak in d.peaks:
        fig.add_vrect(x0=peak.start, x1=peak.start + np.timedelta64(peak.hours, "h"),
                      fillcolor="#fab005", opacity=0.25, line_width=0,
                      annotation_text=f"x{peak.multiplier:.1f}")
    fig.update_layout(xaxis_title="Moscow time", yaxis_title="orders per hour", bargap=0,
                      height=420)
    return fig


def hour_of_day_figure(cal: Calibration) -> go.Figure:
    d = cal.demand
    hour = np.array([h.hour for h in d.hours])
    observed = np.bincount(hour, weights=d.observed, minlength=24)
    fitted = np.bincount(hour, weights=d.fitted, minlength=24)
    fig = go.Figure()
    fig.add_bar(x=list(range(24)), y=observed, name="orders observed", marker_color=OBSERVED)
    fig.add_scatter(x=list(range(24)), y=fitted, mode="lines+markers", name="fitted",
                    line={"color": FITTED})
    fig.update_layout(xaxis_title="hour of day (Moscow)", yaxis_title="orders over the history",
                      height=360)
    return fig


def rank_figure(cal: Calibration) -> go.Figure:
    c = cal.catalogue
    ranks = np.arange(1, len(c.sku_ids) + 1)
    shares = c.lines / c.lines.sum()
    seen = shares > 0
    fig = go.Figure()
    fig.add_scatter(x=ranks[seen], y=shares[seen], mode="markers", name="observed share",
                    marker={"color": OBSERVED, "size": 6},
                    text=[str(s) for s, k in zip(c.sku_ids, seen, strict=True) if k])
    fig.add_scatter(x=ranks, y=c.zipf_pmf(), mode="lines", name=f"Zipf s={c.zipf_exponent:.2f}",
                    line={"color": FITTED, "width": 2})
    fig.update_xaxes(type="log", title="SKU rank")
    fig.update_yaxes(type="log", title="share of order lines")
    fig.update_layout(height=420)
    return fig


def _count_traces(fig: go.Figure, fit: CountFit, col: int) -> None:
    k = np.arange(1, fit.max + 1)
    observed = np.array([np.mean(fit.values == j) for j in k])
    fig.add_bar(x=k, y=observed, name="observed", marker_color=OBSERVED, row=1, col=col,
                showlegend=col == 1)
    fig.add_scatter(x=k, y=fit.pmf(k), mode="lines+markers", name="shifted Poisson",
                    line={"color": FITTED}, row=1, col=col, showlegend=col == 1)


def baskets_figure(cal: Calibration) -> go.Figure:
    fig = make_subplots(rows=1, cols=2, subplot_titles=("lines per order", "units per line"))
    _count_traces(fig, cal.baskets.lines_per_order, 1)
    _count_traces(fig, cal.baskets.units_per_line, 2)
    fig.update_yaxes(title="share", row=1, col=1)
    fig.update_layout(height=360)
    return fig


def handling_figure(cal: Calibration) -> go.Figure:
    fits = list(cal.handling.values())
    names = {w.warehouse_id: w.name for w in cal.history.warehouses}
    fig = make_subplots(rows=1, cols=len(fits), subplot_titles=[
        f"{names.get(f.warehouse_id, f.warehouse_id)} (KS D={f.ks_distance:.3f})" for f in fits])
    for i, fit in enumerate(fits, start=1):
        top = float(np.quantile(fit.hours, 0.99))
        fig.add_histogram(x=fit.hours[fit.hours <= top], histnorm="probability density",
                          nbinsx=40, marker_color=OBSERVED, name="observed", row=1, col=i,
                          showlegend=i == 1)
        x = np.linspace(top / 200, top, 200)
        shape = math.sqrt(math.log(1 + (fit.sd / fit.mean) ** 2))
        scale = fit.mean / math.exp(shape**2 / 2)
        fig.add_scatter(x=x, y=stats.lognorm.pdf(x, shape, 0, scale), mode="lines",
                        name="lognormal", line={"color": FITTED}, row=1, col=i,
                        showlegend=i == 1)
        fig.update_xaxes(title="hours, taken into processing -> handed over", row=1, col=i)
    fig.update_layout(height=360)
    return fig


def write_calibration_report(cal: Calibration, path: Path | str, *, scenario: Path | None = None
                             ) -> Path:
    h = cal.history
    meta = [("history", h.source), ("period (UTC)", f"{h.since:%Y-%m-%d %H:%M} - "
                                                    f"{h.to:%Y-%m-%d %H:%M}"),
            ("read", f"{len(h.postings):,} postings, {len(h.returns):,} returns, "
                     f"{len(h.products):,} products, {len(h.stocks):,} stock rows"),
            ("coming peak", f"x{cal.uplift:g} (--uplift)")]
    if scenario is not None:
        meta.append(("scenario written", str(scenario)))
    for peak in cal.demand.peaks:
        meta.append(("past peak", f"{peak.start:%Y-%m-%d %H:%M} for {peak.hours} h: "
                                  f"x{peak.multiplier:.2f} ({peak.orders:,} orders)"))
    blocks = [
        fit_table(cal),
        FigureBlock("plot-hourly", "Orders per hour: observed and fitted", hourly_figure(cal),
                    note="; ".join(cal.demand.notes)),
        FigureBlock("plot-hour-of-day", "Hour-of-day profile", hour_of_day_figure(cal)),
        FigureBlock("plot-rank", "SKU rank-frequency", rank_figure(cal)),
        FigureBlock("plot-baskets", "Basket sizes", baskets_figure(cal)),
        FigureBlock("plot-handling", "Warehouse handling times", handling_figure(cal)),
        regions_table(cal),
    ]
    return write_page(path, kind="calibration", title="Calibration report",
                      subtitle=f"a scenario fitted to {h.source}", meta=meta, blocks=blocks)
