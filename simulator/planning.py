"""Stock planning by simulation-optimisation: per (SKU, warehouse) a reorder point ``s`` and an
order-up-to level ``S`` (the stock to enter the peak with) that meet a target fill rate through
the peak at the least holding cost.

1. **Pilot.** Replications of the scenario with ample stock measure where demand lands: the
   mean units per (SKU, warehouse) over the horizon (``tables.sku_warehouse``), under the
   scenario's own allocation policy.
2. **Analytic start.** Demand of a pair over its protection window is a compound Poisson
   count (lines x units per line), fitted by a negative binomial with the same mean and
   variance (lead-time variability included through :func:`levels.lead_time_demand`). When
   the horizon is no longer than the supplier lead time nothing ordered arrives in time, so
   ``S`` alone must cover the horizon (a single period); otherwise ``s`` protects the peak
   lead-time window and ``S = s + Q``. Least holding cost for the aggregate fill-rate target
   is a Lagrangian problem: each pair takes the smallest level ``x`` with
   ``P(D > x) <= unit_cost / (lambda * cycles)`` (the marginal unit's expected filled demand
   against its cost), and ``lambda`` is bisected until the predicted aggregate fill rate
   reaches the target plus a margin.
3. **Refinement.** A few rounds of replications on common random numbers (the same seeds
   every round): pairs whose simulated fill rate falls short of what the plan expected for
   them are raised by the missing units; pairs that never ran out in any replication are
   lowered by half of the stock they never needed. The cheapest plan whose fill-rate
   confidence interval lies above the target is kept.
   On the simulator (the default ``screen``) the rounds run on its inventory part only
   (:mod:`simulator.screening`: each seed's demand stream sampled once, lines at their home
   warehouse, ``min(demand, S)`` per pair), and the plan they would recommend is checked on
   the full model on the same seeds; the per-seed gap between the two moves the next
   rounds' fill rates, up to ``CHECKS`` checks (another one when the check missed the
   target, or cleared it by more than its CI's half width and ``CHECK_SLACK``). Only checked
   plans can be recommended.
4. **Validation** runs exactly that plan (the recommended round's) on fresh seeds (an
   independent seed stream): the achieved fill rate with its confidence interval. When no
   round met the target there is no recommendation: the round with the best fill rate is
   validated and reported as such. The investment is ``sum(S * unit_cost)`` against the
   scenario's current initial stock.

A demand shock (``demand.shock``) widens each pair's demand by its CV in the analytic start;
the replications see it as it happens.

The fill rate is the unit fill rate (type-2 service): units filled / units demanded, summed
over pairs, per replication.
"""

from __future__ import annotations

import concurrent.futures as cf
import csv
import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from rich.console import Console
from scipy import stats

from simulator.demand import DemandCurve, build_skus
from simulator.experiment import (
    MODEL,
    Estimate,
    Job,
    PolicySpec,
    SerialExecutor,
    Variant,
    replication_seeds,
    run_jobs,
    t_interval,
)
from simulator.metrics import RunResult
from simulator.policies.levels import lead_time_demand
from simulator.scenario import Scenario
from simulator.screening import Screened
from simulator.sku_ids import index_of_sku, offer_id, sku_id

MARGIN = 0.004  # the analytic start aims this far above the target
GUARD = 0.001  # a plan is accepted when its fill-rate CI lies this far above the target
Z_PAIR = 3.0  # a pair's own loss calibration needs this many standard errors of evidence
PILOT_REPS = 4
CHECKS = 3  # screened plans checked on the full model at most (inventory-only rounds)
CHECK_SLACK = 0.0025  # a check that clears the target by no more than this ends the search


class PlanError(ValueError):
    """The scenario cannot be planned (e.g. no demand reaches any warehouse)."""


# --------------------------------------------------------------------------- demand model


def units_dispersion(scenario: Scenario) -> float:
    """Variance / mean of a SKU's units (compound Poisson of lines): E[u^2] / E[u]."""
    u = scenario.catalogue.units_per_line
    return (u.variance + u.mean**2) / u.mean


def peak_window_share(scenario: Scenario, window_days: float) -> float:
    """The largest share of the horizon's demand that falls in any window of that length."""
    curve = DemandCurve(scenario, build_skus(scenario.catalogue))
    rate = curve.rate
    width = int(round(window_days * 1440))
    if width >= rate.size:
        return 1.0
    cumulative = np.concatenate([[0.0], np.cumsum(rate)])
    return float(np.max(cumulative[width:] - cumulative[:-width]) / cumulative[-1])


class PairDemand:
    """Demand of each pair over a window: a negative binomial with the given mean and variance
    (a compound Poisson count, variance >= mean). Gives quantiles and the expected shortage
    ``E[(D - x)^+]`` of levels ``x``, exactly: since ``k f(k; n) = m f(k - 1; n + 1)`` for the
    NB pmf ``f`` (m = its mean), ``E[(D - x)^+] = m P(D' >= x) - x P(D >= x + 1)`` with
    ``D' ~ NB(n + 1, p)`` (the Poisson loss formula when the variance equals the mean)."""

    def __init__(self, mean: np.ndarray, var: np.ndarray) -> None:
        self.mean = np.asarray(mean, dtype=float)
        var = np.maximum(np.asarray(var, dtype=float), self.mean * (1 + 1e-9))
        p = np.where(self.mean > 0, self.mean / np.maximum(var, 1e-300), 0.5)
        self.p = np.clip(p, 1e-12, 1 - 1e-12)
        self.n = np.maximum(self.mean * self.p / (1 - self.p), 1e-12)

    def quantile(self, prob: np.ndarray | float) -> np.ndarray:
        """Smallest integer x with P(D <= x) >= prob (0 where the mean is 0)."""
        prob = np.clip(np.broadcast_to(prob, self.mean.shape), 0, 1 - 1e-12)
        x = np.nan_to_num(stats.nbinom.ppf(prob, self.n, self.p), posinf=0, nan=0)
        return np.where(self.mean > 0, np.maximum(x, 0), 0).astype(np.int64)  # ppf(0) = -1

    def shortage(self, x: np.ndarray) -> np.ndarray:
        """E[(D - x)^+] per pair."""
        x = np.asarray(x, dtype=float)
        tail = self.mean * stats.nbinom.sf(x - 1, self.n + 1, self.p)
        out = tail - x * stats.nbinom.sf(x, self.n, self.p)
        return np.where(self.mean > 0, np.maximum(out, 0.0), 0.0)


def least_cost_levels(
    demand: PairDemand, cost: np.ndarray, *, weight: np.ndarray | float, horizon_demand:
    np.ndarray, target: float,
) -> tuple[np.ndarray, np.ndarray]:
    """Levels x per pair minimising ``sum(cost * x)`` subject to the predicted aggregate fill
    rate ``1 - sum(weight * shortage(x)) / sum(horizon_demand) >= target``, and the predicted
    per-pair fill rates. ``weight`` is the number of exposures per horizon (replenishment
    cycles) times a per-pair calibration factor. The marginal unit at level x saves
    ``weight * P(D > x)`` lost units, so for a multiplier lambda each pair stops where that
    falls below ``cost / lambda``; lambda is bisected on a log scale."""
    total = float(horizon_demand.sum())
    cost = np.maximum(cost, 1e-6)
    weight = np.broadcast_to(np.maximum(weight, 1e-9), cost.shape)

    def levels(lam: float) -> np.ndarray:
        return demand.quantile(1 - np.minimum(cost / (lam * weight), 1.0))

    def fill(x: np.ndarray) -> float:
        return 1 - float((weight * demand.shortage(x)).sum()) / total

    lo, hi = float(cost.min()) * 1e-3, float(cost.max()) * 10
    while fill(levels(hi)) < target and hi < 1e18:
        hi *= 10
    while hi / lo > 1.0005:
        mid = math.sqrt(lo * hi)
        if fill(levels(mid)) >= target:
            hi = mid
        else:
            lo = mid
    x = levels(hi)
    pair_fill = 1 - weight * demand.shortage(x) / np.maximum(horizon_demand, 1e-12)
    return x, np.clip(pair_fill, 0, 1)


def calibrate(lost: np.ndarray, predicted: np.ndarray, reps: int, dispersion: float,
              demand: np.ndarray) -> np.ndarray:
    """Per-pair multipliers of the model's predicted lost units, from simulated ones.

    A pair keeps the model (factor 1) unless its mean simulated losses over ``reps``
    replications differ from the prediction by more than ``Z_PAIR`` standard errors; then it
    takes its own ratio: pairs clearly below their planned fill rate (re-allocated demand,
    cancellations, replenishment timing the model leaves out) are raised, pairs that clearly
    lose less than planned are lowered. A loss is an excess of demand over stock, so its
    variance is taken as its mean times the demand's spread (sd of the pair's demand). The
    level of the whole plan is corrected separately through the aggregate fill rate; fitting
    every pair to the few seeds of the refinement would not hold on fresh seeds.
    """
    spread = np.sqrt(np.maximum(demand, 1.0) * dispersion)
    se = np.sqrt(np.maximum(predicted, 0.05) * spread / reps)
    own = np.clip((lost + 0.5 / reps) / (predicted + 0.5 / reps), 0.2, 50)
    clear = np.abs(lost - predicted) > Z_PAIR * se + 1.0 / reps
    return np.where(clear, own, 1.0)


# --------------------------------------------------------------------------- plan


@dataclass
class Evaluation:
    """A plan run on some seeds: fill-rate CIs and per-pair means per replication."""

    seeds: list[int]
    fill_rate: Estimate  # unit fill rate
    line_fill_rate: Estimate
    holding_cost: Estimate
    demand: np.ndarray  # per pair, mean units per replication
    lost: np.ndarray
    max_demand: np.ndarray  # per pair, the largest demand of any replication
    ever_out: np.ndarray  # per pair: lost units or stock-out hours in some replication
    stockout_hours: np.ndarray  # per pair, mean hours with nothing available
    per_seed: np.ndarray = field(default_factory=lambda: np.zeros(0))  # fill rate per seed

    def to_dict(self) -> dict[str, Any]:
        return {"seeds": self.seeds, "fill_rate": self.fill_rate.to_dict(),
                "line_fill_rate": self.line_fill_rate.to_dict(),
                "holding_cost_rub": self.holding_cost.to_dict()}


@dataclass
class StockPlan:
    """Recommended levels per pair (catalogue SKU ``sku[i]``, ``warehouse[i]``) and how they
    were found: ``chosen_round`` is the refinement round whose plan this is (None when no
    round met the target: then it is the round with the best fill rate, not a recommendation).
    ``validation`` ran this exact plan on fresh seeds."""

    scenario: str
    target: float
    policy: str
    sku: np.ndarray
    warehouse: list[str]
    reorder_point: np.ndarray
    order_up_to: np.ndarray
    analytic_order_up_to: np.ndarray
    unit_cost: np.ndarray
    current_units: np.ndarray
    current_reorder_point: np.ndarray  # the scenario's own policy at the start (NaN: none)
    current_order_up_to: np.ndarray
    pilot_demand: np.ndarray
    single_period: bool
    validation: Evaluation
    chosen_round: int | None
    rounds: list[dict[str, Any]] = field(default_factory=list)
    metric: str = "unit fill rate"

    @property
    def investment_rub(self) -> float:
        return float((self.order_up_to * self.unit_cost).sum())

    @property
    def current_investment_rub(self) -> float:
        return float((self.current_units * self.unit_cost).sum())

    @property
    def investment_change_rub(self) -> np.ndarray:
        """Per pair: (recommended S - current initial units) x unit cost."""
        return (self.order_up_to - self.current_units) * self.unit_cost

    @property
    def validated(self) -> bool:
        """A round met the target and its plan met it again on fresh seeds (mean)."""
        return self.chosen_round is not None and self.validation.fill_rate.mean >= self.target

    def levels(self) -> dict[tuple[int, str], tuple[int, int]]:
        return _levels_map(self.sku, self.warehouse, self.reorder_point, self.order_up_to)

    def rows(self) -> list[dict[str, Any]]:
        """One record per pair, the biggest change in investment first (ties: by SKU)."""
        v, change = self.validation, self.investment_change_rub
        order = np.lexsort((self.sku, -np.abs(change)))
        return [{
            "sku": int(sku_id(self.sku[i])), "offer_id": offer_id(self.sku[i]),
            "warehouse": self.warehouse[i],
            "current_reorder_point": _whole_or_none(self.current_reorder_point[i]),
            "reorder_point": int(self.reorder_point[i]),
            "current_order_up_to": _whole_or_none(self.current_order_up_to[i]),
            "order_up_to": int(self.order_up_to[i]), "current_units": int(self.current_units[i]),
            "unit_cost_rub": float(self.unit_cost[i]),
            "investment_rub": round(float(self.order_up_to[i] * self.unit_cost[i]), 2),
            "investment_change_rub": round(float(change[i]), 2),
            "expected_stockout_hours": round(float(v.stockout_hours[i]), 3),
            "pilot_demand_units": round(float(self.pilot_demand[i]), 3),
            "validated_demand_units": round(float(v.demand[i]), 3),
            "validated_lost_units": round(float(v.lost[i]), 3),
        } for i in order]

    def write_csv(self, path: Path) -> Path:
        rows = self.rows()
        with path.open("w", newline="", encoding="utf-8") as fh:
            out = csv.DictWriter(fh, fieldnames=list(rows[0]))
            out.writeheader()
            out.writerows(rows)
        return path

    def write_json(self, path: Path) -> Path:
        data = {
            "scenario": self.scenario, "target_fill_rate": self.target, "metric": self.metric,
            "policy": self.policy, "single_period": self.single_period,
            "pairs": len(self.sku), "investment_rub": self.investment_rub,
            "current_investment_rub": self.current_investment_rub,
            "chosen_round": self.chosen_round, "validated": self.validated,
            "validation": self.validation.to_dict(), "rounds": self.rounds,
        }
        path.write_text(json.dumps(data, indent=1), encoding="utf-8")
        return path


def plan_verdict(plan: StockPlan) -> str:
    """In words: which plan is recommended, that it was checked on fresh seeds, and how it
    did; or that no round met the target (then nothing is recommended)."""
    f, target = plan.validation.fill_rate, plan.target
    checked = (f"{plan.metric} {f.mean:.4f} (95 % CI {f.low:.4f}–{f.high:.4f}) on {f.n} fresh "
               f"seeds")
    if plan.chosen_round is None:
        best = max(plan.rounds, key=lambda r: r["fill_rate"]["mean"])
        return (f"No round met the target {target:g}: nothing is recommended. The best, round "
                f"{best['round']} ({best['fill_rate']['mean']:.4f} on the planning seeds), "
                f"reached {checked}.")
    outcome = ("meets the target" if f.mean >= target else
               "MISSES the target there: do not rely on it (try more --reps or --rounds)")
    low = " (its CI reaches below the target)" if f.mean >= target > f.low else ""
    return (f"Recommended: the plan of round {plan.chosen_round}, the cheapest whose CI cleared "
            f"the target {target:g} on the planning seeds. This exact plan, checked on fresh "
            f"seeds: {checked}: {outcome}{low}.")


def _whole_or_none(value: float) -> int | None:
    return None if math.isnan(value) else int(value)


def _levels_map(sku, warehouse, s, big_s) -> dict[tuple[int, str], tuple[int, int]]:
    return {(int(k), w): (int(a), int(b))
            for k, w, a, b in zip(sku, warehouse, s, big_s, strict=True)}


# --------------------------------------------------------------------------- scenario helpers


def current_stock(scenario: Scenario) -> np.ndarray:
    """Initial units ``[sku, warehouse]`` the scenario's ``stock.initial`` rules give (the
    model's own rule: later rules win; ``days_of_cover`` is days of baseline demand split
    evenly over the matched warehouses)."""
    from simulator.stocking import initial_stock

    skus = build_skus(scenario.catalogue)
    daily = DemandCurve(scenario, skus).sku_daily_units()
    return initial_stock(scenario, skus.group, skus.group_names, daily)


def current_levels(scenario: Scenario, sku: np.ndarray, warehouse: list[str]
                   ) -> tuple[np.ndarray, np.ndarray]:
    """(s, S) per pair that the scenario's own replenishment policy holds at the start: the
    policy asked with the model's demand prior (the forecast). Policies with an order-up-to
    level only give s = S; a policy with neither gives NaN."""
    from simulator.model import Simulation
    from simulator.policies.base import InventoryState

    sim = Simulation(scenario, 0)
    policy, replenisher = sim.replenishment, sim.replenisher
    columns = {w: i for i, w in enumerate(sim.network.warehouse_ids)}
    s, big_s = np.full(len(sku), np.nan), np.full(len(sku), np.nan)
    for i, (k, w) in enumerate(zip(sku.tolist(), warehouse, strict=True)):
        mean = float(replenisher.mean[k, columns[w]])
        state = InventoryState(k, w, 0.0, 0, 0, 0, mean, math.sqrt(mean),
                               float(replenisher.lead_mean[k]), float(replenisher.lead_sd[k]))
        if hasattr(policy, "reorder_levels"):
            s[i], big_s[i] = policy.reorder_levels(state)
        elif hasattr(policy, "order_up_to"):
            s[i] = big_s[i] = policy.order_up_to(state)
    return s, big_s


def _ample_stock(scenario: Scenario) -> Scenario:
    """The scenario with so much initial stock that no pair runs out (for the pilot)."""
    mult = math.prod(p.multiplier for p in scenario.demand.peaks if p.multiplier > 1)
    days = len(scenario.network.warehouses) * scenario.clock.horizon_hours / 24 * mult * 4
    rule = {"warehouse": "*", "sku_group": "*", "days_of_cover": max(1000.0, days)}
    return scenario.with_overrides(**{"stock.initial": [rule]})


def plan_variant(policy: str, params: dict[str, Any], sku, warehouse, s, big_s) -> Variant:
    """Initial stock = S per planned pair (0 elsewhere) and the policy with absolute levels."""
    rules = [{"warehouse": "*", "sku_group": "*", "units": 0}]
    rules += [{"warehouse": w, "sku": int(k), "units": int(u)}
              for k, w, u in zip(sku, warehouse, big_s, strict=True) if u > 0]
    levels = _levels_map(sku, warehouse, s, big_s)
    spec = PolicySpec(policy, {**params, "levels": levels})
    return Variant(f"plan/{policy}", replenishment=spec, overrides=(("stock.initial", rules),))


def _policy_params(scenario: Scenario, policy: str) -> tuple[dict[str, Any], float]:
    """Days-based parameters kept for unplanned pairs, and the order cycle Q in days."""
    choice = scenario.policies.replenishment
    params = dict(choice.params) if choice.name == policy else {}
    params.pop("levels", None)
    q_days = 3.0
    if choice.name == "s_S":
        q_days = max(0.5, float(choice.params.get("S_days", 7.0)) -
                     float(choice.params.get("s_days", 3.0)))
    return params, q_days


# --------------------------------------------------------------------------- evaluation


def _evaluate(results: list[RunResult], index: dict[tuple[int, str], int],
              confidence: float = 0.95) -> Evaluation:
    n = len(index)
    demand, lost, ever_out = np.zeros(n), np.zeros(n), np.zeros(n, dtype=bool)
    out_hours = np.zeros(n)
    max_demand = np.zeros(n)
    fills = []
    for r in results:
        rep_demand = np.zeros(n)
        total_d = total_f = 0.0
        for row in r.tables.get("sku_warehouse", []):
            d, f = float(row["demand_units"]), float(row["filled_units"])
            total_d += d
            total_f += f
            i = index.get((index_of_sku(row["sku"]), str(row["warehouse"])))
            if i is None:
                continue
            rep_demand[i] += d
            lost[i] += float(row["lost_units"])
            out_hours[i] += float(row.get("stockout_hours", 0))
            if float(row["lost_units"]) > 0 or float(row.get("stockout_hours", 0)) > 0:
                ever_out[i] = True
        demand += rep_demand
        max_demand = np.maximum(max_demand, rep_demand)
        fills.append(total_f / total_d if total_d else math.nan)
    reps = max(len(results), 1)
    return Evaluation(
        seeds=[r.seed for r in results],
        fill_rate=t_interval(fills, confidence),
        line_fill_rate=t_interval([r.kpis.get("line_fill_rate", math.nan) for r in results],
                                  confidence),
        holding_cost=t_interval([r.kpis.get("holding_cost_rub", math.nan) for r in results],
                                confidence),
        demand=demand / reps, lost=lost / reps, max_demand=max_demand, ever_out=ever_out,
        stockout_hours=out_hours / reps, per_seed=np.array(fills, dtype=float),
    )


def _screened(screened: Screened, offset: np.ndarray, seeds: list[int],
              confidence: float = 0.95) -> Evaluation:
    """An inventory-model evaluation as the refinement reads it: fill rates per seed moved by
    the full model's paired ``offset`` (zero until a plan was checked there)."""
    nothing = t_interval([], confidence)
    fills = screened.fills + offset
    return Evaluation(
        seeds=list(seeds), fill_rate=t_interval(fills, confidence), line_fill_rate=nothing,
        holding_cost=nothing, demand=screened.demand.mean(axis=0),
        lost=screened.lost.mean(axis=0), max_demand=screened.demand.max(axis=0),
        ever_out=screened.out.any(axis=0), stockout_hours=np.zeros(screened.demand.shape[1]),
        per_seed=fills,
    )


def _run(jobs: list[Job], executor: cf.Executor, progress: bool | Console,
         what: str) -> list[RunResult]:
    return run_jobs(jobs, executor, progress=progress, description=what)


# --------------------------------------------------------------------------- the planner


def planning_runs(reps: int, rounds: int, validate_reps: int | None = None, *,
                  screen: bool = False) -> int:
    """Full-model replications :func:`plan_stock` runs at most: the pilot, every round (or,
    with ``screen``, each check of a screened plan), the validation."""
    checked = CHECKS if screen else rounds + 1
    return PILOT_REPS + checked * reps + (validate_reps or reps)


def plan_stock(
    scenario: Scenario,
    *,
    target_fill_rate: float = 0.98,
    reps: int = 8,
    rounds: int = 4,
    validate_reps: int | None = None,
    policy: str = "s_S",
    base_seed: int = 0,
    executor: cf.Executor | None = None,
    progress: bool | Console = False,
    model: str = MODEL,
    screen: bool | None = None,
) -> StockPlan:
    """Plan stock levels for ``scenario`` (see the module docstring); validated on fresh seeds.

    ``screen``: refine on the inventory model and check candidates on the full model (default
    when ``model`` is the simulator's); False runs every round on ``model``.
    """
    if screen is None:
        screen = model == MODEL
    if not 0 < target_fill_rate < 1:
        raise PlanError("the target fill rate must be between 0 and 1")
    if policy not in {"s_S", "base_stock"}:
        raise PlanError(f"policy must be s_S or base_stock, not {policy!r}")
    executor = executor or SerialExecutor()
    tables = frozenset({"tables"})
    warehouses = [w.id for w in scenario.network.warehouses]

    # 1. pilot: where does demand land?
    pilot_seeds = replication_seeds(base_seed, PILOT_REPS, stream=2)
    ample = _ample_stock(scenario)
    pilot = _run([Job(ample, Variant("pilot"), s, tables, model) for s in pilot_seeds],
                 executor, progress, "pilot (ample stock)")
    totals: dict[tuple[int, str], float] = {}
    for r in pilot:
        for row in r.tables.get("sku_warehouse", []):
            key = (index_of_sku(row["sku"]), str(row["warehouse"]))
            totals[key] = totals.get(key, 0.0) + float(row["demand_units"]) / len(pilot)
    pairs = sorted(k for k, v in totals.items() if v > 0)
    if not pairs:
        raise PlanError("the pilot run saw no demand at any warehouse")
    sku = np.array([k for k, _ in pairs], dtype=np.int64)
    wh = [w for _, w in pairs]
    index = {p: i for i, p in enumerate(pairs)}
    m_h = np.array([totals[p] for p in pairs])
    skus = build_skus(scenario.catalogue)
    cost = skus.unit_cost[sku].astype(float)
    current = current_stock(scenario)[sku, [warehouses.index(w) for w in wh]]

    # 2. analytic start (and the demand model the refinement calibrates)
    lead = scenario.stock.supplier_lead_time_days
    horizon_days = scenario.clock.horizon_hours / 24
    params, q_days = _policy_params(scenario, policy)
    review_days = float(params.get("review_hours") or 0) / 24
    single = horizon_days <= lead.mean + review_days
    disp = units_dispersion(scenario)
    window = lead.mean + review_days
    share = 1.0 if single else peak_window_share(scenario, window)
    predictive = 1 + 1 / len(pilot)  # demand means are estimates from the pilot's replications
    shock_cv2 = scenario.demand.shock.cv**2 if scenario.demand.shock else 0.0

    def demand_model(horizon_mean: np.ndarray) -> tuple[PairDemand, np.ndarray, float]:
        """Window demand, order quantities Q and the number of exposures per horizon."""
        if single:  # nothing ordered arrives within the horizon: S covers it alone
            var = horizon_mean * disp * predictive + shock_cv2 * horizon_mean**2
            return PairDemand(horizon_mean, var), np.zeros(len(sku), int), 1.0
        w_mean = horizon_mean * share  # s protects the busiest lead-time window; S = s + Q
        _, sd = np.vectorize(lead_time_demand)(w_mean / window, np.sqrt(w_mean / window * disp),
                                               window, math.sqrt(lead.variance))
        q = np.maximum(1, np.rint(horizon_mean / horizon_days * q_days)).astype(np.int64)
        return (PairDemand(w_mean, sd**2 * predictive + shock_cv2 * w_mean**2), q,
                max(1.0, float(horizon_mean.sum() / q.sum())))

    def levels_of(x: np.ndarray, q: np.ndarray, horizon_mean: np.ndarray):
        if single:  # s: the post-peak reorder point, a lead time of demand at the peak's rate
            lt_mean = horizon_mean / horizon_days * lead.mean
            s = np.minimum(PairDemand(lt_mean, lt_mean * disp).quantile(target_fill_rate), x)
            big_s = x
        else:
            s, big_s = x, x + q
        return (big_s.copy() if policy == "base_stock" else s), big_s

    demand, q, cycles = demand_model(m_h)
    factor = np.ones(len(sku))
    tau = min(target_fill_rate + MARGIN, 0.9999)
    x, _ = least_cost_levels(demand, cost, weight=cycles * factor, horizon_demand=m_h,
                             target=tau)
    s, big_s = levels_of(x, q, m_h)
    analytic = big_s.copy()

    # 3. refinement on common random numbers: calibrate each pair's losses, re-solve
    seeds = replication_seeds(base_seed, reps)
    log: list[dict[str, Any]] = []
    lost_sum, predicted_sum = np.zeros(len(sku)), np.zeros(len(sku))
    evidence = 0  # evaluations pooled in lost_sum (all on the same seeds)

    def full_model(s: np.ndarray, big_s: np.ndarray, what: str) -> Evaluation:
        variant = plan_variant(policy, params, sku, wh, s, big_s)
        return _evaluate(_run([Job(scenario, variant, seed, tables, model) for seed in seeds],
                              executor, progress, what), index)

    def record(ev: Evaluation, big_s: np.ndarray, how: str) -> dict[str, Any]:
        entry = {"round": len(log), "fill_rate": ev.fill_rate.to_dict(),
                 "investment_rub": float((big_s * cost).sum()),
                 "meets_target": ev.fill_rate.low >= target_fill_rate + GUARD,
                 "analytic_target": tau, "raised": 0, "lowered": 0, "model": how}
        log.append(entry)
        return entry

    def refine(ev: Evaluation, entry: dict[str, Any]) -> None:
        """One step: calibrate each pair on its losses, move the model's target by the gap
        between the fill rate ``ev`` found and the one wanted, re-solve the levels."""
        nonlocal x, s, big_s, factor, tau, evidence, lost_sum, predicted_sum
        # each pair's losses against the model's prediction (the demand model stays the
        # pilot's: these seeds are reused every round, fitting their demand would overfit)
        evidence += 1
        lost_sum = lost_sum + ev.lost  # pooled over rounds (same seeds: evidence of ``reps``)
        predicted_sum = predicted_sum + cycles * demand.shortage(x)
        factor = calibrate(lost_sum / evidence, predicted_sum / evidence, len(seeds), disp,
                           demand.mean)
        spread = ev.fill_rate.half_width if math.isfinite(ev.fill_rate.half_width) else MARGIN
        wanted = target_fill_rate + GUARD + spread
        # (the model's own target may go below the real one where the model is pessimistic,
        # e.g. replenishment cycles that overlap less than it assumes)
        tau = min(max(tau + wanted - ev.fill_rate.mean, 0.5), 0.9999)
        new_x, _ = least_cost_levels(demand, cost, weight=cycles * factor, horizon_demand=m_h,
                                     target=tau)
        entry["raised"] = int((new_x > x).sum())
        entry["lowered"] = int((new_x < x).sum())
        x = new_x
        s, big_s = levels_of(x, q, m_h)

    if screen:  # candidates on the inventory model, the one to recommend on the full model
        from simulator.screening import InventoryModel, seed_demand

        inventory = InventoryModel(
            scenario, list(executor.map(seed_demand, [scenario] * len(seeds), seeds)), sku,
            np.array([warehouses.index(w) for w in wh]))
        offset = np.zeros(len(seeds))  # per seed: full model's fill rate - inventory model's
        best = fallback = None
        for check in range(CHECKS):
            candidate: tuple[bool, float, np.ndarray, np.ndarray, np.ndarray] | None = None
            for rnd in range(rounds + 1):
                ev = _screened(inventory.evaluate(big_s), offset, seeds)
                entry = record(ev, big_s, "inventory")
                # the cheapest that met, else the best fill rate
                rank = (entry["meets_target"],
                        -entry["investment_rub"] if entry["meets_target"] else ev.fill_rate.mean)
                if candidate is None or rank > candidate[:2]:
                    candidate = (*rank, x.copy(), s.copy(), big_s.copy())
                if rnd == rounds:
                    break
                refine(ev, entry)
                if not entry["raised"] and not entry["lowered"]:
                    break  # the levels settled: the next round would be this one again
            assert candidate is not None
            x, s, big_s = candidate[2], candidate[3], candidate[4]
            ev = full_model(s, big_s, f"check {check + 1} on the full model: {len(seeds)} reps")
            entry = record(ev, big_s, "full")
            if entry["meets_target"] and (best is None or entry["investment_rub"] < best[0]):
                best = (entry["investment_rub"], entry["round"], s.copy(), big_s.copy())
            if fallback is None or ev.fill_rate.mean > fallback[0]:
                fallback = (ev.fill_rate.mean, entry["round"], s.copy(), big_s.copy())
            offset = ev.per_seed - inventory.evaluate(big_s).fills
            slack = ev.fill_rate.low - (target_fill_rate + GUARD)
            if entry["meets_target"] and slack <= max(ev.fill_rate.half_width, CHECK_SLACK):
                break  # met, and not by so much that a cheaper plan is worth another check
            if check < CHECKS - 1:
                refine(ev, entry)
        assert fallback is not None
        met = best is not None
        _, chosen_round, s, big_s = best if best is not None else fallback
    else:
        best: tuple[float, int, np.ndarray, np.ndarray] | None = None  # cheapest that met
        fallback: tuple[float, int, np.ndarray, np.ndarray] | None = None  # best fill rate
        for rnd in range(rounds + 1):
            ev = full_model(s, big_s, f"round {rnd}: {len(seeds)} reps")
            entry = record(ev, big_s, "full")
            if entry["meets_target"] and (best is None or entry["investment_rub"] < best[0]):
                best = (entry["investment_rub"], rnd, s.copy(), big_s.copy())
            if fallback is None or ev.fill_rate.mean > fallback[0]:
                fallback = (ev.fill_rate.mean, rnd, s.copy(), big_s.copy())
            if rnd == rounds:
                break
            refine(ev, entry)
        assert fallback is not None
        met = best is not None
        _, chosen_round, s, big_s = best if best is not None else fallback

    # 4. validation on fresh seeds
    fresh = replication_seeds(base_seed, validate_reps or reps, stream=1)
    variant = plan_variant(policy, params, sku, wh, s, big_s)
    results = _run([Job(scenario, variant, seed, tables, model) for seed in fresh],
                   executor, progress, "validation (fresh seeds)")
    now_s, now_big_s = current_levels(scenario, sku, wh)
    return StockPlan(
        scenario=scenario.name, target=target_fill_rate, policy=policy, sku=sku, warehouse=wh,
        reorder_point=s, order_up_to=big_s, analytic_order_up_to=analytic, unit_cost=cost,
        current_units=current, current_reorder_point=now_s, current_order_up_to=now_big_s,
        pilot_demand=m_h, single_period=single, validation=_evaluate(results, index),
        chosen_round=chosen_round if met else None, rounds=log,
    )
