"""Experiments in minutes: ``plan-stock`` and ``compare`` on the peak day, each against
today's path measured in the same run.

* **plan-stock** (target: within 2 minutes on 2 cores): the planner as it ran before, every
  refinement round on the full model (``screen=False``, the CLI's ``--full-rounds``), against
  the default: rounds on the inventory model, the plan to recommend checked on the full
  model, the fresh check on the full model as before.
* **compare** of two allocation policies x ``--reps`` replications (target: within 60 s on 2
  cores): one job per run (``share=False``) against jobs grouped per seed, each group in one
  worker sampling its demand once for every variant (``share=True``).

For each it prints wall seconds, CPU seconds (this process and its worker processes), the
full-model replications it ran, the answer, and the ratio old/new. The machine may be shared:
CPU time is the steadier figure, and ``CPU / jobs`` is what the run takes on idle cores.

    .venv/bin/python benchmarks/experiments.py                 # both, peak day, --jobs 2
    .venv/bin/python benchmarks/experiments.py --only compare --reps 4 \
        --scenario scenarios/smoke.yaml
"""

from __future__ import annotations

import argparse
import math
import resource
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from simulator.experiment import (  # noqa: E402
    HEADLINE_KPIS,
    compare,
    open_executor,
    policy_variants,
)
from simulator.planning import plan_stock  # noqa: E402
from simulator.scenario import Scenario, load_scenario  # noqa: E402

PLAN_TARGET_SECONDS, COMPARE_TARGET_SECONDS = 120, 60


def children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def measured(label: str, jobs: int, work: Callable[[Any], Any]) -> tuple[Any, dict[str, float]]:
    """Run ``work(executor)`` on a fresh pool of ``jobs`` processes (closed before the CPU
    of its workers is read) and time it."""
    wall, cpu, kids = time.perf_counter(), time.process_time(), children_cpu()
    with open_executor(jobs=jobs) as executor:
        result = work(executor)
    wall = time.perf_counter() - wall
    own, workers = time.process_time() - cpu, children_cpu() - kids
    figures = {"wall": wall, "cpu": own + workers, "own": own, "workers": workers}
    print(f"  {label:<34} wall {wall:7.1f} s   CPU {own + workers:7.1f} s (this process "
          f"{own:5.1f}, workers {workers:6.1f})   CPU/{jobs} {(own + workers) / jobs:6.1f} s",
          flush=True)
    return result, figures


def ratio_line(what: str, old: dict[str, float], new: dict[str, float], jobs: int,
               target: float) -> None:
    idle = new["cpu"] / jobs
    print(f"  => {what}: wall x{old['wall'] / new['wall']:.2f}, CPU x{old['cpu'] / new['cpu']:.2f}"
          f" faster; on {jobs} idle cores about {idle:.0f} s (target {target} s: "
          f"{'met' if max(idle, 0) <= target else 'not met'}; wall here {new['wall']:.0f} s)")


def bench_plan(scenario: Scenario, jobs: int, reps: int, rounds: int) -> None:
    print(f"plan-stock {scenario.name}: --reps {reps} --rounds {rounds} --jobs {jobs}")
    plans, figures = {}, {}
    for screen, label in ((False, "today: every round on the full model"),
                          (True, "inventory rounds + full-model check")):
        plans[screen], figures[screen] = measured(label, jobs, lambda ex, s=screen: plan_stock(
            scenario, reps=reps, rounds=rounds, executor=ex, screen=s))
    for screen, plan in plans.items():
        f = plan.validation.fill_rate
        full = sum(r.get("model", "full") == "full" for r in plan.rounds)
        print(f"  {'inventory' if screen else 'full':>9}: {full} full-model rounds, round "
              f"{plan.chosen_round} recommended, {plan.investment_rub:,.0f} RUB, fresh check "
              f"{f.mean:.4f} ({f.low:.4f}-{f.high:.4f}) on {f.n} seeds: "
              f"{'meets' if plan.validated else 'MISSES'} {plan.target:g}")
    ratio_line("plan-stock", figures[False], figures[True], jobs, PLAN_TARGET_SECONDS)


def bench_compare(scenario: Scenario, jobs: int, reps: int, policies: list[str]) -> None:
    print(f"compare {scenario.name}: --allocation {','.join(policies)} --reps {reps} "
          f"--jobs {jobs}")
    variants = policy_variants(policies, [])
    runs, figures = {}, {}
    for share, label in ((False, "today: one job per run"),
                         (True, "one job per seed, demand shared")):
        runs[share], figures[share] = measured(label, jobs, lambda ex, s=share: compare(
            scenario, variants, reps=reps, executor=ex, share=s))
    old, new = runs[False], runs[True]
    worst = 0.0
    for i in range(len(variants)):
        for kpi in HEADLINE_KPIS:
            a, b = old.estimate(i, kpi), new.estimate(i, kpi)
            if math.isfinite(a.half_width) and a.half_width > 0:
                worst = max(worst, abs(a.mean - b.mean) / a.half_width)
    same = all(old.runs[i][j].kpis == new.runs[i][j].kpis
               for i in range(len(variants)) for j in range(reps))
    print(f"  answers: {'identical KPIs on every run' if same else 'KPIs differ'}; largest "
          f"headline-KPI mean gap {worst:.2f} CI half-widths")
    ratio_line("compare", figures[False], figures[True], jobs, COMPARE_TARGET_SECONDS)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--scenario", type=Path, default=ROOT / "scenarios" / "peak_day.yaml")
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--reps", type=int, default=10, help="compare: replications")
    parser.add_argument("--policies", default="nearest_with_stock,least_cost")
    parser.add_argument("--plan-reps", type=int, default=8)
    parser.add_argument("--rounds", type=int, default=4)
    parser.add_argument("--only", choices=("plan", "compare"))
    args = parser.parse_args()
    scenario = load_scenario(args.scenario)
    if args.only != "compare":
        bench_plan(scenario, args.jobs, args.plan_reps, args.rounds)
    if args.only != "plan":
        bench_compare(scenario, args.jobs, args.reps, args.policies.split(","))


if __name__ == "__main__":
    main()
