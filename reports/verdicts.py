"""A comparison in words: what each variant changes against the baseline, or why they tie.

``verdict_sentences(comparison)`` gives one sentence a variant, e.g. "least_cost / s_S vs
nearest_with_stock / s_S: cuts total cost by 22 % (95 % CI 18–26 %, better) and lowers
on-time delivery by 6.0 points (95 % CI 4.2–8.0, worse)". Rates (KPIs in 0..1) change by
percentage points, everything else by percent of the baseline mean. Only differences that
survive Holm's correction are told; the terminal summary and the HTML report share the words.
"""

from __future__ import annotations

import math

from simulator.experiment import Comparison
from simulator.metrics import KPI_DOC

#: KPIs a verdict names when they differ significantly, in this order, with their spoken name
SPOKEN: dict[str, str] = {
    "total_cost_rub": "total cost",
    "on_time_rate": "on-time delivery",
    "line_fill_rate": "line fill rate",
    "lead_time_p95_hours": "p95 lead time",
    "lost_sales_rub": "lost sales",
    "transport_cost_rub": "transport cost",
    "holding_cost_rub": "holding cost",
    "stockout_sku_hours": "stock-out hours",
}
_MAX_NAMED = 4
#: verdict -> the mark shown beside a difference, in words as well as colour
MARKS = {"better": "▲ better", "worse": "▼ worse", "different": "≠ different"}


def is_rate(kpi: str) -> bool:
    return KPI_DOC.get(kpi, "").endswith("(0..1)")


def _number(value: float) -> str:
    return f"{value:.1f}" if abs(value) < 10 else f"{value:,.0f}"


def change(comparison: Comparison, variant: int, kpi: str) -> str:
    """``"cuts total cost by 22 % (95 % CI 18–26 %, better)"``: the paired difference in words."""
    d = comparison.difference(variant, kpi)
    name = SPOKEN.get(kpi, kpi)
    if is_rate(kpi):
        scale, unit, between = 100.0, " points", ""
    else:
        base = comparison.estimate(0, kpi).mean
        scale = 100 / abs(base) if base and math.isfinite(base) else math.nan
        unit, between = " %", ""
    low, high = sorted((abs(d.low * scale), abs(d.high * scale)))
    if d.low < 0 < d.high:
        low = 0.0
    verb = "raises" if d.mean > 0 else ("cuts" if kpi.endswith("_rub") else "lowers")
    ci = f"{comparison.confidence:.0%} CI {_number(low)}{between}–{_number(high)}{unit}"
    judged = comparison.verdict(variant, kpi)
    return (f"{verb} {name} by {_number(abs(d.mean * scale))}{unit} "
            f"({ci}{', ' + judged if judged else ''})")


def why_identical(comparison: Comparison, variant: int) -> str:
    """The likeliest reason two variants came out identical, told from their runs' KPIs."""
    v, base = comparison.variants[variant], comparison.variants[0]
    runs = [r for arm in (comparison.runs[0], comparison.runs[variant]) for r in arm]

    def never(kpi: str) -> bool:
        return all(r.kpis.get(kpi, 0) == 0 for r in runs)

    if v.replenishment != base.replenishment and never("replenishment_orders"):
        return ("no replenishment order was placed in any replication (stock never fell to a "
                "reorder point within the horizon), so the replenishment policy never acted")
    if v.allocation != base.allocation and never("stockout_sku_hours") \
            and never("orders_refused"):
        return ("no SKU ran out at any warehouse in any replication, so the allocation "
                "policies never had to choose differently (each order went to its first-choice "
                "warehouse)")
    return "the variants made the same decision for every order in every replication"


def testing(comparison: Comparison) -> str:
    """How significance was judged, e.g. "Holm's correction over 28 paired t-tests"."""
    if comparison.tests == 0:
        return "no paired t-test: every KPI was equal to the baseline's on every seed"
    return f"Holm's correction over {comparison.tests} paired t-tests"


def verdict_sentence(comparison: Comparison, variant: int) -> str:
    label, base = comparison.labels[variant], comparison.labels[0]
    if comparison.identical(variant):
        return (f"{label} is identical to {base} on every KPI in every replication: "
                f"{why_identical(comparison, variant)}.")
    significant = [k for k in comparison.kpi_names() if comparison.significant(variant, k)]
    if not significant:
        return (f"{label} vs {base}: no KPI differs significantly "
                f"({comparison.tests} paired tests, Holm-corrected).")
    named = [k for k in SPOKEN if k in significant][:_MAX_NAMED] or significant[:2]
    parts = [change(comparison, variant, k) for k in named]
    text = f"{label} vs {base}: " + (", ".join(parts[:-1]) + " and " if len(parts) > 1
                                      else "") + parts[-1]
    if len(significant) > len(named):
        text += f"; {len(significant) - len(named)} more KPIs differ significantly"
    return text + "."


def verdict_headline(comparison: Comparison) -> str:
    """The comparison in one line: how many variants differ from the baseline, if any."""
    others = range(1, len(comparison.variants))
    base = comparison.labels[0]
    if all(comparison.identical(i) for i in others):
        return f"Every variant is identical to {base} on every KPI"
    differ = sum(any(comparison.significant(i, k) for k in comparison.kpi_names())
                 for i in others)
    if not differ:
        return f"No variant differs significantly from {base}"
    return f"{differ} of {len(others)} variants differ significantly from {base}"


def verdict_sentences(comparison: Comparison) -> list[str]:
    """One sentence a variant against the baseline; one sentence in all when every variant
    came out identical to it."""
    others = range(1, len(comparison.variants))
    if others and all(comparison.identical(i) for i in others):
        reason = why_identical(comparison, 1)
        return [f"All {len(comparison.variants)} variants came out identical on every KPI in "
                f"every replication: {reason}."]
    return [verdict_sentence(comparison, i) for i in others]
