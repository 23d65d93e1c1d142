"""The HTML report of a stock plan: ``write_plan_report(plan, path)``.

Plot ``plot-tradeoff``: achieved fill rate (with its CI) against inventory investment for every
refinement round, the recommended plan's check on fresh seeds and the target line.
Table ``plan-pairs``: per (SKU, warehouse) the current and recommended reorder point and
order-up-to level, expected stock-out hours and the change in investment, biggest changes
first (every pair is in ``stock_plan.csv``).
"""

from __future__ import annotations

from pathlib import Path

import plotly.graph_objects as go

from reports.html import Cell, FigureBlock, TableBlock, cell, fmt, write_page
from simulator.planning import StockPlan, plan_verdict

PLAN_PLOTS = ("plot-tradeoff",)
TABLE_ROWS = 200
_MET, _MISSED, _CHECK = "#2b8a3e", "#c92a2a", "#0b3d91"


def tradeoff_figure(plan: StockPlan) -> go.Figure:
    """Fill rate against investment, one point per round (planning seeds) and the check."""
    fig = go.Figure()
    rounds = plan.rounds
    fig.add_scatter(
        x=[r["investment_rub"] for r in rounds], y=[r["fill_rate"]["mean"] for r in rounds],
        mode="lines+markers", name="refinement rounds (planning seeds)",
        text=[f"round {r['round']} ({r.get('model', 'full')} model)" for r in rounds],
        line={"color": "#adb5bd", "dash": "dot"},
        marker={"size": 11, "color": [_MET if r["meets_target"] else _MISSED for r in rounds],
                # diamonds: checks on the full model (the rounds between ran on its inventory part)
                "symbol": ["diamond" if r.get("model", "full") == "full" and any(
                    q.get("model") == "inventory" for q in rounds) else "circle" for r in rounds]},
        error_y={"type": "data", "symmetric": False,
                 "array": [r["fill_rate"]["high"] - r["fill_rate"]["mean"] for r in rounds],
                 "arrayminus": [r["fill_rate"]["mean"] - r["fill_rate"]["low"] for r in rounds]},
        hovertemplate="%{text}<br>%{x:,.0f} RUB<br>fill rate %{y:.4f}<extra></extra>",
    )
    f = plan.validation.fill_rate
    label = ("recommended plan" if plan.chosen_round is not None else "best round (not met)")
    fig.add_scatter(
        x=[plan.investment_rub], y=[f.mean], mode="markers", name=f"{label}, fresh seeds",
        marker={"size": 18, "symbol": "star", "color": _CHECK},
        error_y={"type": "data", "symmetric": False, "array": [f.high - f.mean],
                 "arrayminus": [f.mean - f.low]},
        hovertemplate="fresh seeds<br>%{x:,.0f} RUB<br>fill rate %{y:.4f}<extra></extra>",
    )
    fig.add_hline(y=plan.target, line={"color": "#e8590c", "dash": "dash"},
                  annotation_text=f"target {plan.target:g}", annotation_position="top left")
    if plan.chosen_round is not None:
        chosen = rounds[plan.chosen_round]
        fig.add_annotation(x=chosen["investment_rub"], y=chosen["fill_rate"]["mean"],
                           text=f"round {plan.chosen_round}: recommended", ax=90, ay=30)
    fig.update_xaxes(title_text="inventory investment, RUB (sum of S x unit cost)",
                     tickformat=",.0f")
    fig.update_yaxes(title_text=f"{plan.metric} (95 % CI)", tickformat=".3f")
    fig.update_layout(height=480, legend={"orientation": "h", "y": -0.2})
    return fig


def _pairs_table(plan: StockPlan) -> TableBlock:
    columns = ["SKU", "offer id", "warehouse", "reorder point now", "reorder point",
               "order-up-to now", "order-up-to", "expected stock-out h", "investment change RUB"]
    rows: list[list[Cell]] = []
    all_rows = plan.rows()
    for r in all_rows[:TABLE_ROWS]:
        change = r["investment_change_rub"]
        rows.append([
            cell(str(r["sku"])), cell(r["offer_id"]), cell(r["warehouse"]),
            cell(r["current_reorder_point"]), cell(r["reorder_point"]),
            cell(r["current_order_up_to"]), cell(r["order_up_to"]),
            cell(r["expected_stockout_hours"]),
            Cell(f"{change:+,.0f}", "worse" if change > 0 else "better" if change < 0 else ""),
        ])
    shown = (f"the {TABLE_ROWS} biggest of {len(all_rows)}" if len(all_rows) > TABLE_ROWS
             else f"all {len(all_rows)}")
    note = (f"{shown} pairs, biggest change in investment first (all in stock_plan.csv). "
            "'Now' is the scenario's own policy at the start, on the forecast; the reorder "
            "point is what --apply writes as the backend's warning level. Expected stock-out "
            "hours: mean over the fresh-seed check. SKU and offer id as `peakline seed` names "
            "them (first seller).")
    title = ("Recommended levels per (SKU, warehouse)" if plan.chosen_round is not None else
             "Levels of the best round per (SKU, warehouse): not a recommendation")
    return TableBlock("plan-pairs", title, columns, rows, note=note)


def write_plan_report(plan: StockPlan, path: Path | str) -> Path:
    """Write the self-contained HTML report of ``plan`` to ``path``; returns the path."""
    change = plan.investment_rub - plan.current_investment_rub
    mode = "single period (nothing reordered arrives in time)" if plan.single_period else \
        "with replenishment"
    meta = [
        ("verdict", plan_verdict(plan)),
        ("target", f"{plan.metric} {plan.target:g}"),
        ("policy", f"{plan.policy}, {mode}"),
        ("investment", f"{fmt(plan.investment_rub)} RUB against current stock "
                       f"{fmt(plan.current_investment_rub)} RUB ({change:+,.0f} RUB)"),
        ("pairs", f"{len(plan.sku):,} (SKU, warehouse) pairs with demand"),
    ]
    note = ("Each round's plan on the same planning seeds (green: its CI cleared the target; "
            "red: it did not); the star is the plan the verdict names, run again on fresh "
            "seeds. Left and up is better: the curve is the price of each step of fill rate.")
    if any(r.get("model") == "inventory" for r in plan.rounds):
        note += (" Circles ran on the inventory part of the model (moved by the gap the last "
                 "check found); diamonds are checks on the full model, and only those can be "
                 "recommended.")
    blocks = [FigureBlock("plot-tradeoff", "Fill rate against investment", tradeoff_figure(plan),
                          note=note), _pairs_table(plan)]
    outcome = ("no round met it: nothing recommended" if plan.chosen_round is None else
               "the recommended plan meets it on fresh seeds" if plan.validated else
               "the recommended plan missed it on fresh seeds")
    subtitle = f"target {plan.metric} {plan.target:g}: {outcome}"
    return write_page(path, kind="plan", title=f"Peakline stock plan — {plan.scenario}",
                      subtitle=subtitle, meta=meta, blocks=blocks)
