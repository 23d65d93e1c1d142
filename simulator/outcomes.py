"""Order outcomes at the end of a run, and the delivery KPIs that count every due order.

Every placed order ends a run in exactly one outcome:

* ``delivered_on_time`` / ``delivered_late``: every posting delivered, the last one within /
  after the region's ``promised_days`` from the order;
* ``in_flight_late``: not delivered yet and already past its promised date (it is late
  whatever happens next);
* ``not_yet_due``: not delivered yet, promised date after the end of the run (reported apart:
  the run cannot tell whether it will be on time);
* ``cancelled``, ``not_accepted`` (a posting refused at a sorting centre: it never arrives).

The on-time rate is taken over the orders that were due: delivered, in flight late and not
accepted. Lead time counts delivered orders at their lead time and orders in flight late at
their age at the end of the run (a lower bound), so a stuck order can only raise it.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

#: outcome name -> meaning; the outcomes partition the placed orders
OUTCOMES: dict[str, str] = {
    "delivered_on_time": "delivered within the region's promised_days",
    "delivered_late": "delivered after the region's promised_days",
    "in_flight_late": "not delivered at the end of the run and already past its promised date",
    "not_yet_due": "not delivered at the end of the run, promised date still ahead",
    "cancelled": "cancelled by the buyer",
    "not_accepted": "a posting refused at a sorting centre (never delivered)",
}

LEAD_QUANTILES = (50, 95, 99)


@dataclass(frozen=True)
class Outcomes:
    """Per-order outcome masks and the due orders' lead times (hours)."""

    masks: dict[str, np.ndarray]  # outcome -> bool per order (placed orders only)
    lead_hours: np.ndarray  # per order: delivered -> lead time, in flight late -> age, else NaN

    @classmethod
    def of(cls, *, placed: np.ndarray, delivered: np.ndarray, in_flight: np.ndarray,
           cancelled: np.ndarray, not_accepted: np.ndarray, ordered_at: np.ndarray,
           delivered_at: np.ndarray, promised_minutes: np.ndarray, end: float) -> Outcomes:
        """From the order states at ``end`` (minutes); ``promised_minutes`` per order."""
        due_at = ordered_at + promised_minutes
        lead = np.full(ordered_at.size, np.nan)
        lead[delivered] = delivered_at[delivered] - ordered_at[delivered]
        overdue = placed & in_flight & (due_at <= end)
        lead[overdue] = end - ordered_at[overdue]
        masks = {
            "delivered_on_time": delivered & (lead <= promised_minutes),
            "delivered_late": delivered & (lead > promised_minutes),
            "in_flight_late": overdue,
            "not_yet_due": placed & in_flight & (due_at > end),
            "cancelled": cancelled,
            "not_accepted": not_accepted,
        }
        return cls(masks, lead / 60)

    def counts(self, within: np.ndarray) -> dict[str, int]:
        return {name: int((mask & within).sum()) for name, mask in self.masks.items()}

    def on_time_rate(self, within: np.ndarray) -> float:
        """Delivered on time / due orders (delivered, in flight late, not accepted)."""
        c = self.counts(within)
        due = c["delivered_on_time"] + c["delivered_late"] + c["in_flight_late"] + c["not_accepted"]
        return c["delivered_on_time"] / due if due else float("nan")

    def lead_percentiles(self, within: np.ndarray) -> dict[str, float]:
        lead = self.lead_hours[within & ~np.isnan(self.lead_hours)]
        values = (np.percentile(lead, LEAD_QUANTILES) if lead.size
                  else [float("nan")] * len(LEAD_QUANTILES))
        return {f"lead_time_p{q}_hours": float(v)
                for q, v in zip(LEAD_QUANTILES, values, strict=True)}

    def region_rows(self, region_of_order: np.ndarray, region_ids: list[str],
                    promised_days: list[float], within: np.ndarray) -> list[dict]:
        """One row per region: outcome counts, on-time rate and lead-time percentiles."""
        rows = []
        for r, (rid, days) in enumerate(zip(region_ids, promised_days, strict=True)):
            sel = within & (region_of_order == r)
            lead = self.lead_percentiles(sel)
            rows.append({"region": rid, "promised_days": days,
                         **{f"orders_{k}": v for k, v in self.counts(sel).items()},
                         "on_time_rate": self.on_time_rate(sel),
                         "lead_time_p50_hours": lead["lead_time_p50_hours"],
                         "lead_time_p95_hours": lead["lead_time_p95_hours"]})
        return rows
