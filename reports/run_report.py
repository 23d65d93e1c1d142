"""The HTML report of one simulation run: ``write_run_report(result, path) -> Path``.

The page opens with the headline figures (fill rate, on time, peak backlog and when it
cleared, per node), then the plots (div ids): ``plot-orders`` orders per hour against the
demand curve, ``plot-backlog`` backlog per warehouse and sorting centre, ``plot-fill`` fill
rate and stock-outs, ``plot-lead-time`` lead-time and cycle-time distributions against the
promised delivery, ``plot-utilisation`` utilisation heat map, ``plot-network`` the network
map with flows. Time axes are calendar times (the scenario's ``clock.start`` plus the
simulated hours) with the demand peaks shaded. A figure whose data is missing from the
result stays in the page with a "no data" note.
"""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path
from typing import Any

import numpy as np
import plotly.colors
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from reports.html import (
    Card,
    CardsBlock,
    FigureBlock,
    TableBlock,
    cell,
    empty_figure,
    fmt,
    write_page,
)
from reports.network_map import network_figure
from simulator.metrics import KPI_DOC, RunResult

#: div id -> section title, in page order
RUN_PLOTS: dict[str, str] = {
    "plot-orders": "Orders per hour against the demand curve",
    "plot-backlog": "Backlog per warehouse and sorting centre",
    "plot-fill": "Fill rate and stock-outs",
    "plot-lead-time": "Delivery lead time and order cycle time",
    "plot-utilisation": "Utilisation heat map",
    "plot-network": "Network map with flows",
}

#: a backlog counts as cleared once it is back under this share of its peak
CLEARED_SHARE = 0.05
_PEAK_FILL = "rgba(232, 89, 12, 0.08)"


# --------------------------------------------------------------------------- time


def clock(result: RunResult, hours: np.ndarray | list[float]) -> np.ndarray:
    """Calendar times of ``hours`` from the scenario start (plain hours if the start is unknown)."""
    hours = np.asarray(hours, dtype=float)
    if not result.clock_start:
        return hours
    minutes = np.round(hours * 60).astype("timedelta64[m]")
    return np.datetime64(result.clock_start, "m") + minutes


def when(result: RunResult, hour: float) -> str:
    """``"Fri 27 Nov 01:30"`` (or ``"hour 1.5"`` without a calendar start)."""
    if not result.clock_start:
        return f"hour {hour:g}"
    return clock(result, [hour])[0].astype(object).strftime("%a %d %b %H:%M")


def _time_title(result: RunResult) -> str:
    """The time axis says whose clock it shows: the platform's zone (older results: the
    scenario's clock)."""
    if not result.clock_start:
        return "hours from scenario start"
    return f"time ({result.time_zone})" if result.time_zone else "time (scenario clock)"


def mark_peaks(fig: go.Figure, result: RunResult, *, label_row: int | None = None) -> None:
    """Shade each demand peak of the scenario and name it once (at the top of the figure)."""
    peaks = result.tables.get("peaks") or []
    for i, peak in enumerate(peaks):
        x0, x1 = clock(result, [peak["start_hour"], peak["end_hour"]])
        fig.add_vrect(x0=x0, x1=x1, fillcolor=_PEAK_FILL, line_width=0, layer="below",
                      row="all" if label_row else None, col="all" if label_row else None)
        fig.add_annotation(x=x0, xanchor="left", y=1 - 0.06 * i, yref="paper", yanchor="top",
                           text=f"▸ {peak['name']} ×{peak['multiplier']:g}", showarrow=False,
                           font={"size": 11, "color": "#a33d00"},
                           bgcolor="rgba(255,255,255,0.7)")


#: a palette per node kind, so the lines of one chart of small multiples differ in colour
_PALETTES = (plotly.colors.qualitative.D3, plotly.colors.qualitative.Dark2)


def node_colours(groups: list[list[str]]) -> dict[str, str]:
    """A distinct colour per node: each group (node kind) takes its own qualitative palette,
    or a sampled Turbo scale when it has more nodes than its palette has colours."""
    colours: dict[str, str] = {}
    for k, ids in enumerate(groups):
        palette = _PALETTES[k % len(_PALETTES)]
        if len(ids) > len(palette):
            palette = plotly.colors.sample_colorscale("Turbo", np.linspace(0.03, 0.97, len(ids)))
        colours.update(zip(ids, palette, strict=False))
    return colours


def _colours(result: RunResult) -> dict[str, str]:
    return node_colours([result.series_columns.get(name, [])
                         for name in ("backlog_warehouse", "backlog_sorting")])


def _hours_per_bin(result: RunResult) -> float:
    return result.resolution_minutes / 60


# --------------------------------------------------------------------------- headline


def backlog_peaks(result: RunResult) -> list[dict[str, Any]]:
    """Per node: its peak backlog, when, and when it cleared for good: the end of the last bin
    above ``CLEARED_SHARE`` of the peak (None if the run ended above it)."""
    rows = []
    t = result.series_time
    for name, kind, unit in (("backlog_warehouse", "warehouse", "units"),
                             ("backlog_sorting", "sorting centre", "parcels")):
        data = result.series.get(name)
        if data is None or np.ndim(data) != 2:
            continue
        for j, node in enumerate(result.series_columns.get(name, [])):
            level = np.asarray(data, dtype=float)[:, j]
            top = int(np.argmax(level))
            above = np.flatnonzero(level > CLEARED_SHARE * level[top])
            last = int(above[-1]) if above.size else -1
            cleared = float(t[last + 1]) if last + 1 < len(t) else None
            rows.append({"node": node, "kind": kind, "unit": unit, "peak": float(level[top]),
                         "peak_hour": float(t[top]), "cleared_hour": cleared})
    return rows


def _pct(value: float | None) -> str:
    return "–" if value is None or value != value else f"{value:.1%}"


def headline(result: RunResult) -> CardsBlock:
    k = result.kpis
    cards = [
        Card("line fill rate", _pct(k.get("line_fill_rate")),
             f"order fill rate {_pct(k.get('order_fill_rate'))}; "
             f"{k.get('lost_sales_units', 0):,.0f} units lost"),
        Card("delivered on time", _pct(k.get("on_time_rate")), _delivery_verdict(k)),
    ]
    peaks = backlog_peaks(result)
    for kind in ("warehouse", "sorting centre"):
        mine = [p for p in peaks if p["kind"] == kind]
        if not mine:
            continue
        worst = max(mine, key=lambda p: p["peak"])
        cleared = [p["cleared_hour"] for p in mine]
        last = ("not cleared by the end of the run" if None in cleared
                else f"all cleared by {when(result, max(c for c in cleared if c is not None))}")
        cards.append(Card(f"peak {kind} backlog",
                          f"{worst['peak']:,.0f} {worst['unit']}",
                          f"{worst['node']} at {when(result, worst['peak_hour'])}; {last}"))
    cards.append(Card("orders placed", f"{k.get('orders_placed', 0):,.0f}",
                      f"{k.get('orders_delivered', 0):,.0f} delivered, "
                      f"{k.get('orders_in_flight', 0):,.0f} in flight at the end"))
    cards.append(Card("total cost", f"{fmt(k.get('total_cost_rub'))} RUB",
                      f"holding {k.get('holding_cost_rub', 0):,.0f}, transport "
                      f"{k.get('transport_cost_rub', 0):,.0f}, return trips "
                      f"{k.get('return_transport_cost_rub', 0):,.0f}, supply "
                      f"{k.get('supply_cost_rub', 0):,.0f}, stock-out "
                      f"{k.get('stockout_cost_rub', 0):,.0f}"))
    return CardsBlock("headline", "Headline figures", cards)


def backlog_table(result: RunResult) -> TableBlock | None:
    rows = backlog_peaks(result)
    if not rows:
        return None
    body = [[cell(r["node"]), cell(r["kind"], "text"), cell(f"{r['peak']:,.0f} {r['unit']}"),
             cell(when(result, r["peak_hour"])),
             cell("not by the end" if r["cleared_hour"] is None
                  else when(result, r["cleared_hour"]),
                  "worse" if r["cleared_hour"] is None else "")]
            for r in sorted(rows, key=lambda r: -r["peak"])]
    return TableBlock("backlog-peaks", "Peak backlog per node and when it cleared",
                      ["node", "kind", "peak backlog", "peak at", "cleared at"], body,
                      note=f"Backlog averaged over {result.resolution_minutes}-minute bins; "
                           f"cleared = back under {CLEARED_SHARE:.0%} of the node's peak.")


# --------------------------------------------------------------------------- figures


def orders_figure(result: RunResult) -> go.Figure:
    s = result.series
    if "orders_placed" not in s or result.series_time.size == 0:
        return empty_figure("no order series in this result")
    t = clock(result, result.series_time)
    per_hour = 1 / _hours_per_bin(result)
    fig = go.Figure()
    fig.add_bar(x=t, y=np.asarray(s["orders_placed"]) * per_hour, name="orders placed",
                marker_color="#4c6ef5", opacity=0.75)
    if "demand_expected" in s:
        fig.add_scatter(x=t, y=np.asarray(s["demand_expected"]) * per_hour, mode="lines",
                        name="demand curve (expected)", line={"color": "#e8590c", "width": 2.5})
    if "orders_delivered" in s:
        fig.add_scatter(x=t, y=np.asarray(s["orders_delivered"]) * per_hour, mode="lines",
                        name="orders delivered", line={"color": "#2b8a3e", "dash": "dot"})
    mark_peaks(fig, result)
    fig.update_layout(xaxis_title=_time_title(result), yaxis_title="orders per hour",
                      bargap=0.05, height=420, hovermode="x unified")
    return fig


def _lines(fig: go.Figure, result: RunResult, name: str, colours: dict[str, str], row: int,
           col: int = 1, prefix: str = "") -> bool:
    data = result.series.get(name)
    if data is None or np.ndim(data) != 2:
        return False
    columns = result.series_columns.get(name) or [str(i) for i in range(np.shape(data)[1])]
    t = clock(result, result.series_time)
    for j, node in enumerate(columns):
        fig.add_scatter(x=t, y=np.asarray(data)[:, j], mode="lines", name=f"{prefix}{node}",
                        legendgroup=node, line={"color": colours.get(node), "width": 1.6},
                        row=row, col=col)
    return True


def backlog_figure(result: RunResult) -> go.Figure:
    fig = make_subplots(rows=2, cols=1, shared_xaxes=True, vertical_spacing=0.1,
                        subplot_titles=("warehouses: units awaiting picking",
                                        "sorting centres: parcels queued"))
    colours = _colours(result)
    found = _lines(fig, result, "backlog_warehouse", colours, 1, prefix="warehouse ")
    found |= _lines(fig, result, "backlog_sorting", colours, 2, prefix="sorting centre ")
    if not found:
        return empty_figure("no backlog series in this result")
    mark_peaks(fig, result, label_row=1)
    fig.update_xaxes(title_text=_time_title(result), row=2, col=1)
    fig.update_yaxes(title_text="units", row=1, col=1)
    fig.update_yaxes(title_text="parcels", row=2, col=1)
    fig.update_layout(height=640, hovermode="x unified")
    return fig


def fill_rates(result: RunResult) -> dict[str, float]:
    """Unit fill rate per warehouse (filled / demanded units of its (SKU, warehouse) rows)."""
    demand: dict[str, float] = defaultdict(float)
    filled: dict[str, float] = defaultdict(float)
    for r in result.tables.get("sku_warehouse") or []:
        demand[r["warehouse"]] += float(r["demand_units"])
        filled[r["warehouse"]] += float(r["filled_units"])
    return {w: filled[w] / demand[w] for w in demand if demand[w]}


def fill_axis_range(rates: list[float]) -> list[float]:
    """A fill-rate axis zoomed to the data (so 95.9 % and 96.2 % are told apart), up to 100 %."""
    low = min(rates)
    span = max(1.0 - low, 0.02)
    return [max(0.0, low - 0.35 * span), 1.0 + 0.08 * span]


def fill_figure(result: RunResult) -> go.Figure:
    rates = fill_rates(result)
    stockouts = result.series.get("stockouts_warehouse")
    if not rates and stockouts is None:
        return empty_figure("no fill-rate table or stock-out series in this result")
    fig = make_subplots(rows=1, cols=2, column_widths=[0.35, 0.65], horizontal_spacing=0.12,
                        subplot_titles=("unit fill rate per warehouse (axis zoomed)",
                                        "SKUs out of stock (time average per bin)"))
    colours = _colours(result)
    if rates:
        whs = sorted(rates, key=rates.get)
        fig.add_scatter(x=[rates[w] for w in whs], y=whs, mode="markers+text", name="fill rate",
                        marker={"color": [colours.get(w, "#2b8a3e") for w in whs], "size": 11},
                        text=[f"{rates[w]:.1%}" for w in whs], textposition="middle right",
                        showlegend=False, row=1, col=1)
        line = result.kpis.get("line_fill_rate")
        if line is not None and line == line:
            fig.add_scatter(x=[line, line], y=[whs[0], whs[-1]], mode="lines",
                            name=f"line fill rate, all warehouses ({line:.1%})",
                            line={"dash": "dash", "color": "#495057"}, row=1, col=1)
        fig.update_xaxes(range=fill_axis_range(list(rates.values())), tickformat=".1%",
                         row=1, col=1)
    if stockouts is not None and np.ndim(stockouts) == 2:
        _lines(fig, result, "stockouts_warehouse", colours, 1, 2, prefix="stock-outs ")
        fig.update_xaxes(title_text=_time_title(result), row=1, col=2)
        fig.update_yaxes(title_text="SKUs at zero", row=1, col=2)
        for peak in result.tables.get("peaks") or []:
            x0, x1 = clock(result, [peak["start_hour"], peak["end_hour"]])
            fig.add_vrect(x0=x0, x1=x1, fillcolor=_PEAK_FILL, line_width=0, layer="below",
                          row=1, col=2)
    fig.update_layout(height=max(420, 120 + 30 * len(rates)))
    return fig


def histogram_edges(*samples: np.ndarray, bins: int = 60) -> np.ndarray:
    """One set of bin edges for several samples, so their histograms compare bar for bar."""
    values = np.concatenate([np.asarray(s, dtype=float) for s in samples])
    return np.histogram_bin_edges(values, bins=bins)


def promised_hours(result: RunResult) -> dict[float, list[str]]:
    """Promised delivery time (hours) -> the regions promised it."""
    out: dict[float, list[str]] = defaultdict(list)
    for row in result.tables.get("regions") or []:
        out[float(row["promised_days"]) * 24].append(row["region"])
    return dict(sorted(out.items()))


def lead_time_figure(result: RunResult) -> go.Figure:
    lead = np.asarray(result.samples.get("lead_time_hours", []), dtype=float)
    cycle = np.asarray(result.samples.get("cycle_time_hours", []), dtype=float)
    lead, cycle = lead[np.isfinite(lead)], cycle[np.isfinite(cycle)]
    if lead.size == 0 and cycle.size == 0:
        return empty_figure("no delivered orders (no lead-time samples)")
    edges = histogram_edges(lead, cycle)
    fig = go.Figure()
    for values, name, color in ((cycle, "order cycle time", "#e8590c"),
                                (lead, "delivery lead time", "#4c6ef5")):
        if values.size:
            counts = np.histogram(values, bins=edges)[0]
            fig.add_bar(x=(edges[:-1] + edges[1:]) / 2, y=counts / values.size, name=name,
                        width=float(edges[1] - edges[0]), marker_color=color, opacity=0.6)
    for hours, regions in promised_hours(result).items():
        days = f"{hours / 24:g} day{'s' if hours != 24 else ''}"
        fig.add_vline(x=hours, line_color="#b42318", line_width=2,
                      annotation_text=f"promised {days} ({len(regions)} regions)",
                      annotation_position="top right", annotation_font_color="#b42318")
    if lead.size:
        for q, dash in ((50, "dot"), (95, "dash")):
            v = float(np.percentile(lead, q))
            fig.add_vline(x=v, line_dash=dash, line_color="#1f2933",
                          annotation_text=f"lead p{q} {v:.1f} h",
                          annotation_position="bottom right")
    fig.update_layout(barmode="overlay", xaxis_title="hours from order placed",
                      yaxis_title="share of delivered orders", yaxis_tickformat=".0%", height=440,
                      legend={"orientation": "h", "y": 1.12})
    return fig


def utilisation_figure(result: RunResult) -> go.Figure:
    labels, rows = [], []
    for name, prefix in (("utilisation_warehouse", "warehouse"),
                         ("utilisation_sorting", "sorting")):
        data = result.series.get(name)
        if data is None or np.ndim(data) != 2:
            continue
        cols = result.series_columns.get(name) or [str(i) for i in range(np.shape(data)[1])]
        for j, col in enumerate(cols):
            labels.append(f"{prefix} {col}")
            rows.append(np.asarray(data, dtype=float)[:, j])
    if not rows:
        return empty_figure("no utilisation series in this result")
    fig = go.Figure(go.Heatmap(z=np.vstack(rows), x=clock(result, result.series_time), y=labels,
                               colorscale="YlOrRd", zmin=0, zmax=max(1.0, float(np.nanmax(rows))),
                               colorbar={"title": "utilisation", "tickformat": ".0%"},
                               name="utilisation"))
    fig.update_layout(xaxis_title=_time_title(result),
                      height=max(260, 40 + 26 * len(labels)))
    return fig


_NOTES = {
    "plot-lead-time": "Cycle time: order placed → last posting handed to the carrier. Lead time: "
                      "order placed → last posting delivered. Same bins for both; red lines "
                      "mark the regions' promised delivery times.",
    "plot-network": "Country outline from the countryinfo package (Natural Earth 1:110m, "
                    "public domain); arrows show the direction of each flow, line width its "
                    "volume. Hover a node or a flow for details.",
}

_FIGURES = {
    "plot-orders": orders_figure,
    "plot-backlog": backlog_figure,
    "plot-fill": fill_figure,
    "plot-lead-time": lead_time_figure,
    "plot-utilisation": utilisation_figure,
    "plot-network": network_figure,
}


def _kpi_table(result: RunResult) -> TableBlock:
    rows = [[cell(name), cell(float(value)), cell(KPI_DOC.get(name, ""), "text")]
            for name, value in result.kpis.items()]
    return TableBlock("kpis", "Every KPI", ["KPI", "value", "meaning"], rows)


def _stockout_table(result: RunResult, top: int = 15) -> TableBlock | None:
    rows = result.tables.get("sku_warehouse") or []
    worst = sorted(rows, key=lambda r: (-float(r.get("lost_units", 0)),
                                        -float(r.get("stockout_hours", 0))))[:top]
    worst = [r for r in worst if float(r.get("lost_units", 0)) > 0
             or float(r.get("stockout_hours", 0)) > 0]
    if not worst:
        return None
    cols = ["sku", "offer_id", "warehouse", "demand_units", "filled_units", "lost_units",
            "avg_on_hand", "stockout_hours"]
    return TableBlock("stockouts", f"Worst {len(worst)} (SKU, warehouse) pairs by lost units, "
                                   f"then stock-out hours",
                      cols, [[cell(str(r.get(c)) if c == "sku" else r.get(c)) for c in cols]
                             for r in worst])


def _delivery_verdict(k: dict[str, float]) -> str:
    """On time in words, with what was left out."""
    due = sum(k.get(f"orders_{name}", 0) for name in ("delivered", "in_flight_late",
                                                       "not_accepted"))
    if "on_time_rate" not in k:
        return "no on-time figure in this result"
    if not due:
        return "no order was due by the end of the run"
    late, ahead = int(k.get("orders_in_flight_late", 0)), int(k.get("orders_not_yet_due", 0))
    return (f"{k['on_time_rate']:.1%} on time of {int(due):,} orders that were due ({late:,} "
            f"still in flight past the promise count as late); {ahead:,} in flight not yet due "
            f"at the end, left out")


def _region_table(result: RunResult) -> TableBlock | None:
    rows = result.tables.get("regions") or []
    if not rows:
        return None
    cols = {"region": "region", "promised_days": "promise, d",
            "orders_delivered_on_time": "on time", "orders_delivered_late": "late",
            "orders_in_flight_late": "overdue", "orders_not_yet_due": "not yet due",
            "orders_cancelled": "cancelled", "orders_not_accepted": "refused",
            "on_time_rate": "on-time rate", "lead_time_p50_hours": "lead p50, h",
            "lead_time_p95_hours": "lead p95, h"}
    note = ("On time = delivered within the promise / orders that were due (delivered; "
            "overdue: in flight past the promise; refused: not accepted). Orders still in flight "
            "whose promise lies beyond the end of the run are not yet due and left out; lead "
            "time counts overdue orders at their age at the end (a lower bound).")
    body = [[cell(f"{r[c]:.1%}" if c == "on_time_rate" and r[c] == r[c] else r[c]) for c in cols]
            for r in rows]
    return TableBlock("regions", "Delivery by region", list(cols.values()), body, note=note)


def write_run_report(result: RunResult, path: Path | str) -> Path:
    """Write one self-contained HTML report of ``result`` to ``path``; returns the path."""
    blocks: list[Any] = [headline(result)]
    if (regions := _region_table(result)) is not None:
        blocks.append(regions)
    if (table := backlog_table(result)) is not None:
        blocks.append(table)
    for div_id, title in RUN_PLOTS.items():
        blocks.append(FigureBlock(div_id, title, _FIGURES[div_id](result),
                                  note=_NOTES.get(div_id, "")))
    if (table := _stockout_table(result)) is not None:
        blocks.append(table)
    blocks.append(_kpi_table(result))
    start = f" from {when(result, 0)}" if result.clock_start else ""
    if result.clock_start and result.time_zone:
        start += f" (every time on this page is {result.time_zone} time)"
    subtitle = (f"seed {result.seed} · allocation {result.allocation} · replenishment "
                f"{result.replenishment} · {result.horizon_hours:g} h{start}, series every "
                f"{result.resolution_minutes} min")
    return write_page(path, kind="run", title=f"Peakline run — {result.scenario}",
                      subtitle=subtitle, blocks=blocks)
