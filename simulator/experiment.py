"""Experiments: replications with independent seeds, common random numbers, confidence intervals,
paired differences, parameter sweeps, and one ``concurrent.futures`` interface to run them.

A replication is the pure, picklable call ``model.run(scenario, seed, allocation=..,
replenishment=..) -> RunResult``. An experiment is a list of :class:`Job` (scenario, variant,
seed) handed to any :class:`concurrent.futures.Executor`: :class:`SerialExecutor` in-process,
a process pool (``jobs > 1``) or a Dask distributed client (``dask="tcp://host:8786"``), all
opened by :func:`open_executor`. The same seed gives the same result on every executor.

Comparisons use common random numbers: every variant runs the same seeds, so the demand
stream of replication ``i`` is the same for every variant and differences are paired
(``d_i = x_i(variant) - x_i(baseline)``), which removes the demand noise shared by both.
The variants of one seed run together in one worker and sample that demand once
(:func:`run_seed`).
Means and differences carry Student-t confidence intervals. A comparison tests every KPI of
every variant against the baseline at once (~39 KPIs each), so a difference counts as
significant only when its paired t-test survives Holm's step-down correction over all those
tests (family-wise error at most ``1 - confidence``); KPIs equal on every seed are not tested.
"""

from __future__ import annotations

import concurrent.futures as cf
import csv
import importlib
import itertools
import json
import math
import multiprocessing
import signal
import socket
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from simulator.metrics import RunResult
from simulator.scenario import Scenario

#: KPIs the summary tables show first (all KPIs are still kept and written).
HEADLINE_KPIS: tuple[str, ...] = (
    "orders_placed",
    "orders_delivered",
    "line_fill_rate",
    "order_fill_rate",
    "lost_sales_rub",
    "lead_time_p50_hours",
    "lead_time_p95_hours",
    "on_time_rate",
    "avg_on_hand_units",
    "holding_cost_rub",
    "transport_cost_rub",
    "total_cost_rub",
    "picker_utilisation",
    "sorting_utilisation",
)

#: +1 when more is better, -1 when less is better (KPIs not listed have no direction).
KPI_DIRECTION: dict[str, int] = {
    "orders_delivered": 1,
    "line_fill_rate": 1,
    "order_fill_rate": 1,
    "on_time_rate": 1,
    "orders_cancelled": -1,
    "orders_not_accepted": -1,
    "lost_sales_units": -1,
    "lost_sales_rub": -1,
    "cycle_time_p50_hours": -1,
    "cycle_time_p95_hours": -1,
    "cycle_time_p99_hours": -1,
    "lead_time_p50_hours": -1,
    "lead_time_p95_hours": -1,
    "lead_time_p99_hours": -1,
    "holding_cost_rub": -1,
    "transport_cost_rub": -1,
    "return_transport_cost_rub": -1,
    "supply_cost_rub": -1,
    "stockout_cost_rub": -1,
    "total_cost_rub": -1,
    "stockout_sku_hours": -1,
}

MODEL = "simulator.model:run"

# --------------------------------------------------------------------------- statistics


@dataclass(frozen=True)
class Estimate:
    """A sample mean with its Student-t confidence interval ``mean ± half_width``."""

    mean: float
    half_width: float
    sd: float
    n: int
    confidence: float = 0.95

    @property
    def low(self) -> float:
        return self.mean - self.half_width

    @property
    def high(self) -> float:
        return self.mean + self.half_width

    @property
    def significant(self) -> bool:
        """For a difference: the interval excludes zero."""
        return bool(self.n > 1 and (self.low > 0 or self.high < 0))

    def covers(self, value: float) -> bool:
        return self.low <= value <= self.high

    def to_dict(self) -> dict[str, float]:
        return {"mean": self.mean, "low": self.low, "high": self.high,
                "half_width": self.half_width, "sd": self.sd, "n": self.n}


def t_interval(values: Iterable[float], confidence: float = 0.95) -> Estimate:
    """Mean and Student-t confidence interval of independent observations (NaNs dropped).

    With one observation the half width is infinite; with none everything is NaN.
    """
    x = np.asarray(list(values), dtype=float)
    x = x[~np.isnan(x)]
    n = int(x.size)
    if n == 0:
        return Estimate(math.nan, math.nan, math.nan, 0, confidence)
    mean = float(x.mean())
    if n == 1:
        return Estimate(mean, math.inf, math.nan, 1, confidence)
    from scipy import stats  # imported here: scipy is slow to import for every command

    sd = float(x.std(ddof=1))
    t = float(stats.t.ppf(0.5 + confidence / 2, n - 1))
    return Estimate(mean, t * sd / math.sqrt(n), sd, n, confidence)


def paired_difference(
    variant: Sequence[float], baseline: Sequence[float], confidence: float = 0.95
) -> Estimate:
    """Mean of ``variant[i] - baseline[i]`` (same seed ``i``) with its t interval."""
    a, b = np.asarray(variant, dtype=float), np.asarray(baseline, dtype=float)
    if a.shape != b.shape:
        raise ValueError(f"paired samples differ in length: {a.size} vs {b.size}")
    return t_interval(a - b, confidence)


def paired_p_value(variant: Sequence[float], baseline: Sequence[float]) -> float:
    """Two-sided p-value of a paired t-test of ``variant - baseline`` against zero.

    NaN when the pairs are equal on every seed (nothing to test) or fewer than two; 0 for a
    constant non-zero difference (no noise left to explain it).
    """
    d = np.asarray(variant, dtype=float) - np.asarray(baseline, dtype=float)
    d = d[~np.isnan(d)]
    if d.size < 2 or not d.any():
        return math.nan
    sd = float(d.std(ddof=1))
    if sd == 0:
        return 0.0
    from scipy import stats

    t = float(d.mean()) / (sd / math.sqrt(d.size))
    return float(2 * stats.t.sf(abs(t), d.size - 1))


def holm(p_values: Sequence[float]) -> np.ndarray:
    """Holm-Bonferroni adjusted p-values: the ``k``-th smallest of ``m`` is multiplied by
    ``m - k + 1``, then made non-decreasing in that order and capped at 1. NaNs (no test) are
    left out of the family and stay NaN."""
    p = np.asarray(p_values, dtype=float)
    out = np.full(p.shape, math.nan)
    tested = np.flatnonzero(~np.isnan(p))
    order = tested[np.argsort(p[tested], kind="stable")]
    m = order.size
    out[order] = np.minimum(1.0, np.maximum.accumulate((m - np.arange(m)) * p[order]))
    return out


# --------------------------------------------------------------------------- seeds


def replication_seeds(base_seed: int, reps: int, stream: int = 0) -> list[int]:
    """``reps`` independent 63-bit seeds spawned from ``base_seed``.

    Different ``stream`` numbers give disjoint, independent families (e.g. stream 1 for a
    validation run on fresh seeds after planning on stream 0).
    """
    if reps < 0:
        raise ValueError("reps must be >= 0")
    root = np.random.SeedSequence(entropy=base_seed, spawn_key=(stream,))
    return [int(c.generate_state(1, np.uint64)[0] >> np.uint64(1)) for c in root.spawn(reps)]


# --------------------------------------------------------------------------- jobs


@dataclass(frozen=True)
class PolicySpec:
    """A registered policy by name with its parameters (built inside the worker)."""

    name: str
    params: Mapping[str, Any] = field(default_factory=dict)

    def build(self, kind: str) -> Any:
        import simulator.policies  # noqa: F401  (registers the built-ins)
        from simulator.policies.base import allocation_policies, replenishment_policies

        registry = allocation_policies if kind == "allocation" else replenishment_policies
        return registry.create(self.name, dict(self.params))

    def label(self) -> str:
        return self.name


@dataclass(frozen=True)
class Variant:
    """One arm of an experiment: policy choices (None = the scenario's) and field overrides."""

    label: str
    allocation: PolicySpec | None = None
    replenishment: PolicySpec | None = None
    overrides: tuple[tuple[str, Any], ...] = ()

    def scenario(self, base: Scenario) -> Scenario:
        return base.with_overrides(**dict(self.overrides)) if self.overrides else base


@dataclass(frozen=True)
class Job:
    """One replication: a variant of a scenario under one seed.

    ``keep`` names the parts of the RunResult shipped back besides the KPIs ("series",
    "samples", "tables"); dropping the rest keeps cluster traffic small.
    """

    scenario: Scenario
    variant: Variant
    seed: int
    keep: frozenset[str] = frozenset()
    model: str = MODEL


def _model(path: str) -> Callable[..., RunResult]:
    module, _, name = path.partition(":")
    return getattr(importlib.import_module(module), name)


def run_job(job: Job) -> RunResult:
    """Run one replication (the function executors call; top-level so it pickles)."""
    v = job.variant
    result = _model(job.model)(
        v.scenario(job.scenario),
        job.seed,
        allocation=v.allocation.build("allocation") if v.allocation else None,
        replenishment=v.replenishment.build("replenishment") if v.replenishment else None,
    )
    if "series" not in job.keep:
        result.series_time, result.series, result.series_columns = np.zeros(0), {}, {}
    if "samples" not in job.keep:
        result.samples = {}
    if "tables" not in job.keep:
        result.tables = {}
    return result


def run_seed(jobs: Sequence[Job]) -> list[RunResult]:
    """Runs under one seed (the variants of a comparison) in turn in one process: their
    demand is sampled once and shared (:func:`simulator.demand.shared_demand`); each result
    is the one :func:`run_job` gives."""
    from simulator.demand import shared_demand

    with shared_demand(size=1):
        return [run_job(job) for job in jobs]


# --------------------------------------------------------------------------- executors


class SerialExecutor(cf.Executor):
    """Runs each call at submit time in this process (``jobs=1``; debugging, small runs)."""

    def submit(self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> cf.Future:
        future: cf.Future = cf.Future()
        try:
            future.set_result(fn(*args, **kwargs))
        except BaseException as exc:  # noqa: BLE001 - delivered through the future
            future.set_exception(exc)
        return future


#: How long ``open_executor(dask=ADDRESS)`` waits for the scheduler to answer.
DASK_CONNECT_SECONDS = 5


class SchedulerUnreachable(ConnectionError):
    """The Dask scheduler address given to :func:`open_executor` does not answer."""


@contextmanager
def open_executor(jobs: int = 1, dask: Any = None) -> Iterator[cf.Executor]:
    """The executor for ``--jobs N`` / ``--dask ADDRESS``; closed on exit.

    ``dask`` is a scheduler address (``tcp://host:8786``) or an existing
    ``distributed.Client`` / ``LocalCluster`` (an address that does not answer within
    ``DASK_CONNECT_SECONDS`` raises :class:`SchedulerUnreachable`); a process pool uses the
    *spawn* start method so it is safe next to threads (progress bars, Dask), and its workers
    leave Ctrl-C to this process (which cancels what is queued).
    """
    if dask is not None:
        from distributed import Client

        own = not isinstance(dask, Client)
        if own:
            _probe_scheduler(str(dask))
        try:
            client = Client(dask, timeout=DASK_CONNECT_SECONDS) if own else dask
        except OSError as exc:  # (TimeoutError too) it listens but does not answer
            raise SchedulerUnreachable(
                f"no Dask scheduler answers at {dask} within {DASK_CONNECT_SECONDS} s") from exc
        try:
            yield client.get_executor(pure=False)
        finally:
            if own:
                client.close()
    elif jobs > 1:
        ctx = multiprocessing.get_context("spawn")
        with cf.ProcessPoolExecutor(max_workers=jobs, mp_context=ctx,
                                    initializer=_ignore_ctrl_c) as pool:
            yield pool
    elif jobs == 1:
        yield SerialExecutor()
    else:
        raise ValueError("jobs must be >= 1")


def _probe_scheduler(address: str) -> None:
    """Fail at once when nothing listens at a ``tcp://host:port`` address (the Dask client
    would retry until its timeout)."""
    from urllib.parse import urlsplit

    parts = urlsplit(address)
    if parts.scheme != "tcp" or not parts.hostname or not parts.port:
        return
    try:
        socket.create_connection((parts.hostname, parts.port),
                                 timeout=DASK_CONNECT_SECONDS).close()
    except OSError as exc:
        reason = exc.strerror or type(exc).__name__
        raise SchedulerUnreachable(f"cannot reach a Dask scheduler at {address}: {reason}"
                                   ) from exc


def _ignore_ctrl_c() -> None:
    """In a pool worker: SIGINT goes to the parent, which stops the experiment."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)


def run_jobs(
    jobs: Sequence[Job],
    executor: cf.Executor,
    *,
    progress: bool | Console = False,
    description: str = "replications",
    share: bool = False,
) -> list[RunResult]:
    """Run every job on ``executor``; results in job order. A rich bar when ``progress``.
    ``share``: the jobs of one seed go to one worker together (:func:`run_seed`)."""
    console = progress if isinstance(progress, Console) else None
    bar = Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=console,
        disable=not progress,
        transient=False,
    )
    results: list[RunResult | None] = [None] * len(jobs)
    with bar:
        task = bar.add_task(description, total=len(jobs))
        for i, result in as_finished(jobs, executor, share=share):
            results[i] = result
            bar.advance(task)
    return results  # type: ignore[return-value]


def as_finished(jobs: Sequence[Job], executor: cf.Executor, *,
                share: bool = False) -> Iterator[tuple[int, RunResult]]:
    """``(index, result)`` of each job as it finishes. In-process jobs run one at a time
    here, so each is reported when done (and Ctrl-C stops at once, not after the rest).
    With ``share`` the jobs of one seed run together (:func:`run_seed`)."""
    if share:
        groups: dict[int, list[int]] = {}
        for i, job in enumerate(jobs):
            groups.setdefault(job.seed, []).append(i)
        tasks = [(run_seed, [jobs[i] for i in members], members) for members in groups.values()]
    else:
        tasks = [(run_job, job, [i]) for i, job in enumerate(jobs)]

    def unpack(fn: Callable[..., Any], result: Any) -> list[RunResult]:
        return result if fn is run_seed else [result]

    if isinstance(executor, SerialExecutor):
        for fn, arg, members in tasks:
            yield from zip(members, unpack(fn, fn(arg)), strict=True)
        return
    futures = {executor.submit(fn, arg): (fn, members) for fn, arg, members in tasks}
    try:
        for future in cf.as_completed(futures):
            fn, members = futures[future]
            yield from zip(members, unpack(fn, future.result()), strict=True)
    except BaseException:  # a failed run or Ctrl-C: do not wait for the queued ones
        for future in futures:
            future.cancel()
        raise


# --------------------------------------------------------------------------- comparisons


@dataclass
class Comparison:
    """Results of variants run on the same seeds (common random numbers).

    ``runs[v][i]`` is variant ``v`` under ``seeds[i]``; differences are against variant 0.
    """

    scenario: str
    variants: list[Variant]
    seeds: list[int]
    runs: list[list[RunResult]]
    confidence: float = 0.95
    base_seed: int = 0

    @property
    def labels(self) -> list[str]:
        return [v.label for v in self.variants]

    def kpi_names(self) -> list[str]:
        names = sorted({k for runs in self.runs for r in runs for k in r.kpis})
        head = [k for k in HEADLINE_KPIS if k in names]
        return head + [k for k in names if k not in head]

    def values(self, variant: int, kpi: str) -> np.ndarray:
        return np.array([r.kpis.get(kpi, math.nan) for r in self.runs[variant]], dtype=float)

    def estimate(self, variant: int, kpi: str) -> Estimate:
        return t_interval(self.values(variant, kpi), self.confidence)

    def difference(self, variant: int, kpi: str) -> Estimate:
        """Paired difference variant - baseline (variant 0) over the common seeds."""
        return paired_difference(self.values(variant, kpi), self.values(0, kpi), self.confidence)

    @cached_property
    def _holm(self) -> dict[tuple[int, str], float]:
        tests = [(i, k) for i in range(1, len(self.variants)) for k in self.kpi_names()]
        raw = [paired_p_value(self.values(i, k), self.values(0, k)) for i, k in tests]
        return dict(zip(tests, holm(raw).tolist(), strict=True))

    @property
    def tests(self) -> int:
        """How many paired differences were tested (the family Holm's correction covers)."""
        return sum(not math.isnan(p) for p in self._holm.values())

    def p_value(self, variant: int, kpi: str) -> float:
        """Holm-adjusted p-value of ``kpi``'s paired difference (NaN: equal on every seed)."""
        return self._holm.get((variant, kpi), math.nan)

    def significant(self, variant: int, kpi: str) -> bool:
        """The difference from the baseline survives Holm's correction at ``1 - confidence``."""
        return self.p_value(variant, kpi) < 1 - self.confidence

    def identical(self, variant: int) -> bool:
        """Every KPI equals the baseline's on every seed (the policies decided alike)."""
        return all(np.array_equal(self.values(variant, k), self.values(0, k), equal_nan=True)
                   for k in self.kpi_names())

    def verdict(self, variant: int, kpi: str) -> str:
        """"better" / "worse" / "different" when significant against the baseline, else ""."""
        if variant == 0 or not self.significant(variant, kpi):
            return ""
        diff = self.difference(variant, kpi)
        direction = KPI_DIRECTION.get(kpi, 0)
        if direction == 0:
            return "different"
        return "better" if (diff.mean > 0) == (direction > 0) else "worse"

    def to_dict(self) -> dict[str, Any]:
        kpis = self.kpi_names()
        return {
            "scenario": self.scenario,
            "confidence": self.confidence,
            "base_seed": self.base_seed,
            "seeds": self.seeds,
            "baseline": self.labels[0],
            "tests": self.tests,
            "multiple_testing": "Holm-Bonferroni over every (variant, KPI) paired t-test",
            "variants": [
                {
                    "label": v.label,
                    "allocation": v.allocation.name if v.allocation else None,
                    "replenishment": v.replenishment.name if v.replenishment else None,
                    "overrides": dict(v.overrides),
                    "kpis": {k: self.estimate(i, k).to_dict() for k in kpis},
                    "vs_baseline": {
                        k: {**self.difference(i, k).to_dict(), "p_holm": self.p_value(i, k),
                            "verdict": self.verdict(i, k)}
                        for k in kpis
                    } if i else {},
                    "identical_to_baseline": self.identical(i) if i else None,
                    "replications": [r.kpis for r in self.runs[i]],
                }
                for i, v in enumerate(self.variants)
            ],
        }

    def write_json(self, path: Path) -> Path:
        path.write_text(json.dumps(self.to_dict(), indent=1, default=_jsonable), encoding="utf-8")
        return path

    def write_csv(self, path: Path) -> Path:
        """One row per (variant, KPI): mean, CI, and the paired difference to the baseline."""
        with path.open("w", newline="", encoding="utf-8") as fh:
            out = csv.writer(fh)
            out.writerow(["variant", "kpi", "mean", "ci_low", "ci_high", "n", "diff_mean",
                          "diff_low", "diff_high", "p_holm", "significant", "verdict"])
            for i, label in enumerate(self.labels):
                for k in self.kpi_names():
                    e = self.estimate(i, k)
                    d = self.difference(i, k) if i else None
                    out.writerow([
                        label, k, e.mean, e.low, e.high, e.n,
                        d.mean if d else "", d.low if d else "", d.high if d else "",
                        self.p_value(i, k) if d else "",
                        self.significant(i, k) if d else "", self.verdict(i, k),
                    ])
        return path


def _jsonable(value: Any) -> Any:
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    return str(value)


def policy_variants(
    allocations: Sequence[str | PolicySpec | None],
    replenishments: Sequence[str | PolicySpec | None],
) -> list[Variant]:
    """Every allocation x replenishment pair (None keeps the scenario's choice)."""

    def spec(value: str | PolicySpec | None) -> PolicySpec | None:
        return PolicySpec(value) if isinstance(value, str) else value

    variants = []
    for alloc, repl in itertools.product(allocations or [None], replenishments or [None]):
        a, r = spec(alloc), spec(repl)
        label = " / ".join(p.name if p else "scenario" for p in (a, r))
        variants.append(Variant(label=label, allocation=a, replenishment=r))
    return variants


def sweep_variants(grid: Mapping[str, Sequence[Any]], variants: Sequence[Variant]) -> list[Variant]:
    """The product of dotted-field values (``{"demand.baseline_orders_per_hour": [60, 120]}``)
    and policy variants; labels name both."""
    if not grid:
        return list(variants)
    fields = list(grid)
    out = []
    for values in itertools.product(*(grid[f] for f in fields)):
        overrides = tuple(zip(fields, values, strict=True))
        setting = ", ".join(f"{f.rsplit('.', 1)[-1]}={v}" for f, v in overrides)
        for v in variants:
            label = f"{setting} | {v.label}" if len(variants) > 1 else setting
            out.append(replace(v, label=label, overrides=v.overrides + overrides))
    return out


def compare(
    scenario: Scenario,
    variants: Sequence[Variant],
    *,
    reps: int,
    base_seed: int = 0,
    executor: cf.Executor | None = None,
    keep: Iterable[str] = (),
    progress: bool | Console = False,
    model: str = MODEL,
    confidence: float = 0.95,
    share: bool = True,
) -> Comparison:
    """Run every variant on the same ``reps`` seeds (common random numbers); ``share``: the
    variants of one seed run in one worker and sample its demand once (same results)."""
    if not variants:
        raise ValueError("no variants to compare")
    if reps < 1:
        raise ValueError("reps must be >= 1")
    for v in variants:
        v.scenario(scenario)  # a bad override fails here, before any run
    seeds = replication_seeds(base_seed, reps)
    keep = frozenset(keep)
    jobs = [Job(scenario, v, s, keep, model) for v in variants for s in seeds]
    results = run_jobs(jobs, executor or SerialExecutor(), progress=progress,
                       description=f"{len(variants)} variants x {reps} reps",
                       share=share and len(variants) > 1)
    runs = [results[i * reps:(i + 1) * reps] for i in range(len(variants))]
    return Comparison(scenario.name, list(variants), seeds, runs, confidence, base_seed)


def replicate(
    scenario: Scenario,
    *,
    reps: int,
    base_seed: int = 0,
    variant: Variant | None = None,
    executor: cf.Executor | None = None,
    keep: Iterable[str] = (),
    progress: bool | Console = False,
    model: str = MODEL,
) -> list[RunResult]:
    """``reps`` independent replications of one variant (default: the scenario as written)."""
    comparison = compare(scenario, [variant or Variant("scenario")], reps=reps,
                         base_seed=base_seed, executor=executor, keep=keep,
                         progress=progress, model=model)
    return comparison.runs[0]
