"""``peakline compare`` and ``peakline plan-stock``: experiments over replications."""

from __future__ import annotations

import concurrent.futures as cf
import math
import re
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import typer
import yaml
from pydantic import ValidationError
from rich.console import Console
from rich.table import Table

from peakline.common import (
    JSON_OUT,
    MAX_MEMORY,
    MAX_TIME,
    QUIET,
    bad_input,
    complete_policies,
    console,
    did_you_mean,
    duration_seconds,
    fits_or_exit,
    interrupt_says_what_was_written,
    memory_size,
    policy_help,
    policy_names,
    print_json,
    scenario_or_exit,
    ui_console,
    unknown_name,
)
from reports.verdicts import MARKS
from simulator.experiment import (
    KPI_DIRECTION,
    Comparison,
    Estimate,
    SchedulerUnreachable,
    compare,
    open_executor,
    policy_variants,
    sweep_variants,
)
from simulator.scenario import FORECAST_FIELDS, Scenario
from simulator.sizing import Workload, estimate, human_seconds

if TYPE_CHECKING:
    from simulator.planning import StockPlan

_SET = re.compile(r"^([A-Za-z_][\w.]*)=(.+)$")
#: The levels ``plan-stock --policy`` plans.
PLAN_POLICIES = ("s_S", "base_stock")


def _names(value: str | None, kind: str) -> list[str]:
    """``"a,b"`` -> ["a", "b"], each checked against the policy registry (exit 2 if unknown)."""
    if not value:
        return []
    names = [n.strip() for n in value.split(",") if n.strip()]
    for name in names:
        if name not in (known := policy_names(kind)):
            raise unknown_name(f"{kind} policy", name, known)
    return names


def _grid(settings: list[str], scenario: Scenario) -> dict[str, list[Any]]:
    """``--set demand.baseline_orders_per_hour=60,120`` -> {field: [60, 120]}, validated."""
    grid: dict[str, list[Any]] = {}
    for item in settings:
        match = _SET.match(item)
        if not match:
            raise bad_input(f"--set {item!r}: expected FIELD=V1[,V2...]")
        field, values = match.group(1), [yaml.safe_load(v) for v in match.group(2).split(",")]
        for value in values:
            try:
                scenario.with_overrides(**{field: value})
            except (KeyError, IndexError, TypeError, ValueError) as exc:
                errors = exc.errors() if isinstance(exc, ValidationError) else []
                if not errors or any(e["type"] == "extra_forbidden" for e in errors):
                    hint = did_you_mean(field, _field_paths(scenario))
                    raise bad_input(f"--set {field}: no such field{hint}") from None
                problem = "; ".join(e["msg"] for e in errors)
                raise bad_input(f"--set {field}={value}: {problem}") from None
        grid[field] = values
    return grid


def fresh_folder(parent: Path, name: str) -> Path:
    """``parent/name-YYYYmmdd-HHMMSS`` (``-2``, ``-3``... if taken): a folder of its own per run."""
    stem = f"{name}-{datetime.now():%Y%m%d-%H%M%S}"
    path, n = parent / stem, 1
    while path.exists():
        n += 1
        path = parent / f"{stem}-{n}"
    return path


def _field_paths(scenario: Scenario) -> list[str]:
    """Every dotted field path ``--set`` accepts (list items by index)."""

    def walk(value: Any, prefix: str) -> Iterator[str]:
        items = value.items() if isinstance(value, dict) else (
            enumerate(value) if isinstance(value, list) else ())
        for key, child in items:
            path = f"{prefix}{key}"
            yield path
            yield from walk(child, path + ".")

    data = scenario.model_dump(by_alias=True)
    data["forecast"] = dict.fromkeys(FORECAST_FIELDS)  # (with_overrides fills it in)
    return list(walk(data, ""))


@contextmanager
def _executor(jobs: int, dask: str | None) -> Iterator[cf.Executor]:
    """:func:`open_executor`, exiting 2 with one line when the Dask scheduler does not answer."""
    with ExitStack() as stack:
        try:
            executor = stack.enter_context(open_executor(jobs=jobs, dask=dask))
        except SchedulerUnreachable as exc:
            raise bad_input(f"--dask: {exc}") from None
        yield executor


def _check_executor(jobs: int, dask: str | None) -> None:
    if jobs < 1:
        raise bad_input("--jobs must be >= 1")
    if dask is not None and not re.match(r"^(tcp|tls|inproc|ucx|ws|wss)://\S+$", dask):
        raise bad_input(f"--dask {dask!r}: expected a scheduler address like tcp://host:8786")


def _fits_or_exit(sc: Scenario, work: Workload, dask: str | None, max_memory: str | None,
                  max_time: str, ui: Console) -> None:
    """:func:`fits_or_exit` for runs on ``--jobs`` processes here; on a Dask cluster the runs
    use its machines: only their count and CPU time are said."""
    if dask is None:
        fits_or_exit(sc.name, work, max_memory=memory_size(max_memory),
                     max_time=duration_seconds(max_time), ui=ui)
    else:
        ui.print(f"[dim]run size: {len(work.runs):,} runs, {human_seconds(work.cpu_seconds)} of "
                 "CPU in all (on the Dask cluster: memory and time not checked here)[/]",
                 highlight=False)


def _num(value: float) -> str:
    """Readable in a table: thousands separators for big numbers, 3-4 digits otherwise."""
    if abs(value) >= 1000:
        return f"{value:,.0f}"
    if abs(value) >= 100:
        return f"{value:.1f}"
    return f"{value:.4g}" if abs(value) >= 1e-3 or value == 0 else f"{value:.2e}"


def _cell(e: Estimate, verdict: str) -> str:
    if math.isnan(e.mean):
        return "–"
    hw = "" if not math.isfinite(e.half_width) else f" ± {_num(e.half_width)}"
    text = f"{_num(e.mean)}{hw}"
    if verdict:
        style = {"better": "green", "worse": "red"}.get(verdict, "yellow")
        text = f"[{style}]{text} {MARKS[verdict]}[/]"
    return text


def comparison_table(comparison: Comparison, kpis: list[str]) -> Table:
    """KPIs (rows) x variants (columns): mean ± CI half width; a significant paired difference
    from the first variant is marked in words and colour (better, worse, or different)."""
    pct = f"{comparison.confidence:.0%}"
    caption = (f"marked: a paired difference vs {comparison.labels[0]} (common random "
               f"numbers) significant after Holm's correction for {comparison.tests} tests"
               if comparison.tests else f"every variant equals {comparison.labels[0]} on every "
               f"seed: nothing to test")
    table = Table(title=f"{comparison.scenario}: {len(comparison.seeds)} replications, "
                        f"mean ± {pct} CI", caption=caption)
    table.add_column("KPI")
    for i, label in enumerate(comparison.labels):
        table.add_column(label + (" (baseline)" if i == 0 else ""), justify="right")
    for kpi in kpis:
        row = [kpi]
        for i in range(len(comparison.variants)):
            row.append(_cell(comparison.estimate(i, kpi), comparison.verdict(i, kpi)))
        table.add_row(*row)
    return table


def compare_command(
    scenario: Path = typer.Argument(..., help="scenario YAML file"),
    allocation: str = typer.Option(None, help=policy_help(
        "allocation", "allocation policies, comma-separated"),
        autocompletion=complete_policies("allocation")),
    replenishment: str = typer.Option(None, help=policy_help(
        "replenishment", "replenishment policies, comma-separated"),
        autocompletion=complete_policies("replenishment")),
    reps: int = typer.Option(10, min=2, help="replications per variant (common seeds)"),
    seed: int = typer.Option(0, help="base seed; replication seeds are spawned from it"),
    set_: list[str] = typer.Option([], "--set", help="sweep a field: FIELD=V1,V2 (repeatable)"),
    jobs: int = typer.Option(1, help="worker processes"),
    dask: str = typer.Option(None, help="Dask scheduler address, e.g. tcp://host:8786"),
    out: Path = typer.Option(None, help="output folder (default: a new "
                             "out/compare-NAME-TIME for every run, NAME the scenario's)"),
    all_kpis: bool = typer.Option(False, "--all-kpis", help="show every KPI in the table"),
    max_memory: str = MAX_MEMORY,
    max_time: str = MAX_TIME,
    quiet: bool = QUIET,
    json_out: bool = JSON_OUT,
) -> None:
    """Compare policy combinations (and swept fields) over replications.

    Common random numbers: KPI means with confidence intervals, significant differences
    marked; writes comparison.html, comparison.json and comparison.csv.
    """
    sc = scenario_or_exit(scenario)
    _check_executor(jobs, dask)
    variants = policy_variants(_names(allocation, "allocation"),
                               _names(replenishment, "replenishment"))
    grid = _grid(set_, sc)
    variants = sweep_variants(grid, variants)
    if len(variants) < 2:
        raise bad_input("nothing to compare: give at least two policies or --set values")
    ui = ui_console(quiet=quiet, json_out=json_out)
    sizes = [estimate(variant.scenario(sc)) for variant in variants]
    _fits_or_exit(sc, Workload.of([size for size in sizes for _ in range(reps)], jobs), dask,
                  max_memory, max_time, ui)
    out = out or fresh_folder(Path("out"), f"compare-{sc.name}")
    ui.print(f"[bold]{len(variants)} variants x {reps} replications[/] of {sc.name} "
             f"({'Dask ' + dask if dask else f'{jobs} process(es)'})")
    with interrupt_says_what_was_written(out):
        with _executor(jobs, dask) as executor:
            result = compare(sc, variants, reps=reps, base_seed=seed, executor=executor,
                             progress=not quiet and ui)
        names = result.kpi_names()
        shown = names if all_kpis else [k for k in names if k in KPI_DIRECTION or
                                        k in {"demand_vs_forecast", "orders_placed",
                                              "avg_on_hand_units"}][:17] or names
        from reports.comparison_report import write_comparison_report
        from reports.verdicts import testing, verdict_sentences

        if not json_out:
            ui.print(comparison_table(result, shown))
            ui.print(f"[bold]Verdict[/] (only significant differences; {testing(result)}):")
            for sentence in verdict_sentences(result):
                ui.print(f"  {sentence}", highlight=False)

        with ui.status(f"writing {out}/ ..."):
            out.mkdir(parents=True, exist_ok=True)
            html = write_comparison_report(result, out / "comparison.html")
            result.write_json(out / "comparison.json")
            result.write_csv(out / "comparison.csv")
    ui.print(f"report: {html}\ndata:   {out / 'comparison.json'}, {out / 'comparison.csv'}")
    if json_out:
        print_json(result.to_dict())


def plan_summary_table(plan: StockPlan) -> Table:
    """Per warehouse: planned units and investment against the current stock."""
    mode = "single period" if plan.single_period else "with replenishment"
    table = Table(title=f"stock plan for {plan.scenario} ({plan.policy}, {mode})")
    for col in ("warehouse", "pairs", "sum s", "sum S", "now units", "plan RUB", "now RUB",
                "lost/rep"):
        table.add_column(col, justify="left" if col == "warehouse" else "right")
    wh = np.array(plan.warehouse)
    for w in sorted(set(plan.warehouse)):
        m = wh == w
        table.add_row(w, str(int(m.sum())), f"{int(plan.reorder_point[m].sum()):,}",
                      f"{int(plan.order_up_to[m].sum()):,}",
                      f"{int(plan.current_units[m].sum()):,}",
                      f"{float((plan.order_up_to[m] * plan.unit_cost[m]).sum()):,.0f}",
                      f"{float((plan.current_units[m] * plan.unit_cost[m]).sum()):,.0f}",
                      f"{float(plan.validation.lost[m].sum()):.1f}")
    return table


def rounds_table(plan: StockPlan) -> Table:
    """The refinement: each round's fill rate (common seeds), investment and moves."""
    table = Table(title=f"refinement ({plan.metric}, target {plan.target:g})")
    for col in ("round", "model", "fill rate", "95% CI", "investment RUB", "meets", "raised",
                "lowered"):
        table.add_column(col, justify="right")
    for r in plan.rounds:
        f = r["fill_rate"]
        table.add_row(str(r["round"]), r.get("model", "full"), f"{f['mean']:.4f}",
                      f"{f['low']:.4f}–{f['high']:.4f}",
                      f"{r['investment_rub']:,.0f}", "yes" if r["meets_target"] else "no",
                      str(r["raised"]), str(r["lowered"]))
    return table


def plan_stock_command(
    scenario: Path = typer.Argument(..., help="scenario YAML file"),
    target_fill_rate: float = typer.Option(0.98, help="target fill rate through the peak"),
    reps: int = typer.Option(8, min=2, help="replications per planning round"),
    rounds: int = typer.Option(4, min=0, help="simulation refinement rounds"),
    validate_reps: int = typer.Option(None, help="replications of the validation on fresh "
                                                  "seeds (default: --reps)"),
    policy: str = typer.Option("s_S", help="the levels to plan: s_S (reorder point + "
                               "order-up-to) or base_stock"),
    seed: int = typer.Option(0, help="base seed"),
    jobs: int = typer.Option(1, help="worker processes"),
    dask: str = typer.Option(None, help="Dask scheduler address, e.g. tcp://host:8786"),
    out: Path = typer.Option(None, help="output folder "
                             "(default out/plan-NAME, NAME the scenario's name)"),
    apply: str = typer.Option(None, "--apply", help="backend base URL: write the recommended "
                              "reorder points as the seller's warning levels"),
    credentials: Path = typer.Option(None, help="seller credentials JSON for --apply "
                                     "(peakline seed --credentials-out)"),
    full_rounds: bool = typer.Option(False, "--full-rounds", help="run every refinement "
                                     "round on the full model (slower); by default rounds "
                                     "run on the inventory model and the plan to recommend "
                                     "is checked on the full model"),
    max_memory: str = MAX_MEMORY,
    max_time: str = MAX_TIME,
) -> None:
    """Recommend stock levels per SKU and warehouse that meet a target fill rate.

    A reorder point and order-up-to level per (SKU, warehouse) at least holding cost: analytic
    start, refined by simulation, the recommended plan checked on fresh seeds. Writes
    stock_plan.csv, plan.html and plan.json; exits 1 when no plan met the target (nothing is
    applied then).
    """
    from simulator.apply_plan import ApplyError, apply_plan, read_credentials
    from simulator.planning import PlanError, plan_stock, plan_verdict, planning_runs

    sc = scenario_or_exit(scenario)
    _check_executor(jobs, dask)
    if not 0.5 <= target_fill_rate < 1:
        raise bad_input("--target-fill-rate must be in [0.5, 1)")
    if policy not in PLAN_POLICIES:
        raise unknown_name("--policy", policy, PLAN_POLICIES)
    if (apply is None) != (credentials is None):
        raise bad_input("--apply URL and --credentials FILE go together")
    try:
        creds = read_credentials(credentials) if credentials is not None else None
    except ApplyError as exc:
        raise bad_input(str(exc)) from None
    runs = planning_runs(reps, rounds, validate_reps, screen=not full_rounds)
    _fits_or_exit(sc, Workload.of([estimate(sc)] * runs, jobs), dask, max_memory, max_time,
                  console)
    out = out or Path("out") / f"plan-{sc.name}"
    with interrupt_says_what_was_written(out):
        with _executor(jobs, dask) as executor:
            try:
                plan = plan_stock(sc, target_fill_rate=target_fill_rate, reps=reps,
                                  rounds=rounds, validate_reps=validate_reps or reps,
                                  policy=policy, base_seed=seed, executor=executor,
                                  progress=console, screen=not full_rounds)
            except PlanError as exc:
                raise bad_input(str(exc)) from None
        from reports.plan_report import write_plan_report

        with console.status(f"writing {out}/ ..."):
            out.mkdir(parents=True, exist_ok=True)
            csv_path = plan.write_csv(out / "stock_plan.csv")
            plan.write_json(out / "plan.json")
            html = write_plan_report(plan, out / "plan.html")
    console.print(rounds_table(plan))
    console.print(plan_summary_table(plan))
    change = plan.investment_rub - plan.current_investment_rub
    console.print(
        f"inventory investment {plan.investment_rub:,.0f} RUB vs current stock "
        f"{plan.current_investment_rub:,.0f} RUB ({change:+,.0f} RUB)"
    )
    console.print(f"plan: {csv_path}\nreport: [bold]{html}[/]")
    style = "green" if plan.validated else "red"
    console.print(f"[{style}]{plan_verdict(plan)}[/]", highlight=False)
    if not plan.validated:
        if apply:
            console.print("[red]nothing applied to the backend[/]")
        raise typer.Exit(1)
    if apply and creds is not None:
        try:
            applied = apply_plan(plan, apply, creds)
        except ApplyError as exc:
            console.print(f"[red]--apply failed: {exc}[/]")
            raise typer.Exit(1) from None
        console.print(f"applied to {apply}: {applied.updated:,} warning levels set to the "
                      f"recommended reorder points"
                      + (f", [red]{len(applied.failed)} refused[/]: {applied.failed[:3]}"
                         if applied.failed else ""))
        if applied.failed:
            raise typer.Exit(1)


def register(app: typer.Typer) -> None:
    app.command("compare")(compare_command)
    app.command("plan-stock")(plan_stock_command)
