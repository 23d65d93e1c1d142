"""Demand on local clocks: each region follows the hour-of-day and day-of-week profile on its
own clock, and a peak with ``local_time`` starts at each region's own hour.

Regions are grouped by clock offset (one group per distinct offset, a dozen at most in
Russia); each group has its own base rate (profile x global peaks at its local time) and its
own promotion state per minute. A minute's orders are drawn from the total rate, as without
zones; each order's group by the groups' shares of that minute's rate, and its region within
the group by weight (times the demand shock of the order's promotion state, if any). Built
only when some region's clock differs from the platform's or a peak is local: otherwise
:class:`~simulator.demand.DemandCurve` keeps its single-clock arrays, draw for draw.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from simulator.scenario import Demand, Scenario
from simulator.zones import offset_minutes


def region_offsets(scenario: Scenario) -> np.ndarray:
    """Minutes each region's clock is ahead of the platform's."""
    clock = scenario.clock
    return np.array([offset_minutes(r.time_zone, clock.time_zone, clock.start)
                     for r in scenario.network.regions], dtype=np.int64)


def _cdf(weights: np.ndarray) -> np.ndarray:
    """Cumulative shares along the last axis, +inf from the last positive weight on (so a
    uniform draw never lands on a weightless entry, whatever the rounding)."""
    total = weights.sum(axis=-1, keepdims=True)
    cdf = np.cumsum(weights, axis=-1) / np.where(total > 0, total, 1.0)
    last = weights.shape[-1] - 1 - np.argmax((weights > 0)[..., ::-1], axis=-1)
    cdf[np.arange(weights.shape[-1]) >= last[..., None]] = np.inf
    return cdf


@dataclass(frozen=True)
class ZonedDemand:
    """Order rate and the draw of each order's region when regions keep their own clocks."""

    rate: np.ndarray  # orders per minute, all regions
    states: np.ndarray  # distinct promotion states (rows of group multipliers)
    state_of: np.ndarray  # [zone group, minute] -> state
    zone_cdf: np.ndarray  # [minute, zone group] cumulative share of the minute's rate
    region_cdf: np.ndarray  # [state, zone group, region] cumulative share within the group
    shock: np.ndarray | None  # [sku group, region]

    @classmethod
    def build(cls, scenario: Scenario, demand: Demand, group_mass: np.ndarray,
              group_names: tuple[str, ...], shock: np.ndarray | None,
              mid: np.ndarray) -> ZonedDemand | None:
        """None when every region is on the platform's clock and no peak is local."""
        from simulator.demand import calendar

        offsets = region_offsets(scenario)
        if not offsets.any() and not any(p.local_time for p in demand.peaks):
            return None
        zone_offsets, region_zone = np.unique(offsets, return_inverse=True)
        n_k, n_g, minutes = zone_offsets.size, group_mass.size, mid.size
        group_index = {name: i for i, name in enumerate(group_names)}
        base = np.empty((n_k, minutes))
        zone_states, zone_state_of = [], []  # one clock at a time: one minute-by-group table
        for k, offset in enumerate(zone_offsets.tolist()):
            local = mid + offset
            hour, weekday = calendar(scenario.clock, local)
            base[k] = (demand.baseline_orders_per_hour / 60
                       * np.asarray(demand.hour_of_day)[hour]
                       * np.asarray(demand.day_of_week)[weekday])
            promo = np.ones((minutes, n_g))
            for peak in demand.peaks:
                at = local if peak.local_time else mid
                active = (at >= peak.start_minute) & (at < peak.end_minute)
                if peak.sku_groups is None:
                    base[k, active] *= peak.multiplier
                else:
                    for name in peak.sku_groups:
                        promo[active, group_index[name]] *= peak.multiplier
            states_k, of_minute = np.unique(promo, axis=0, return_inverse=True)
            zone_states.append(states_k)
            zone_state_of.append(of_minute.reshape(-1))
        states, merged = np.unique(np.concatenate(zone_states), axis=0, return_inverse=True)
        first = np.cumsum([0] + [len(s) for s in zone_states[:-1]])
        state_of = np.stack([merged.reshape(-1)[first[k] + zone_state_of[k]]
                             for k in range(n_k)])
        weights = np.array([r.weight for r in scenario.network.regions])
        factor = np.ones((n_g, weights.size)) if shock is None else shock
        # orders per minute of each region per unit of base rate, in each state: [S, R]
        region_mass = states @ (group_mass[:, None] * factor) * (weights / weights.sum())
        in_zone = region_zone[None, :] == np.arange(n_k)[:, None]  # [K, R]
        zone_mass = region_mass @ in_zone.T  # [S, K]
        zone_rate = base * zone_mass[state_of, np.arange(n_k)[:, None]]  # [K, minutes]
        region_cdf = _cdf(region_mass[:, None, :] * in_zone[None, :, :])
        return cls(zone_rate.sum(axis=0), states, state_of, _cdf(zone_rate.T), region_cdf,
                   shock)

    def draw_regions(self, minute: np.ndarray, rng: np.random.Generator
                     ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Region of each order arriving in ``minute``, the promotion states (rows of group
        multipliers, the region's shock included) and each order's row among them."""
        n = minute.size
        u, v = rng.random(n), rng.random(n)
        zone = (self.zone_cdf[minute] <= u[:, None]).sum(axis=1)
        state = self.state_of[zone, minute]
        n_k, n_r = self.region_cdf.shape[1:]
        combo = state * n_k + zone
        region = np.empty(n, dtype=np.int16)
        for code in np.unique(combo).tolist():
            rows = np.flatnonzero(combo == code)
            region[rows] = np.searchsorted(self.region_cdf[code // n_k, code % n_k], v[rows],
                                           side="right")
        if self.shock is None:
            return region, self.states, state
        states = (self.states[:, None, :] * self.shock.T[None, :, :]).reshape(
            -1, self.states.shape[1])
        return region, states, state * n_r + region
