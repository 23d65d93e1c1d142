"""``peakline calibrate``: a seller's history (Seller API or CSV export) -> a fitted scenario
and an HTML calibration report."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path

import typer
from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn
from rich.table import Table

from peakline.common import bad_input, console, err_console
from simulator.calibration.demand_fit import MOSCOW
from simulator.calibration.fitting import Calibration, calibrate
from simulator.calibration.history import CalibrationError, History


def parse_moment(text: str, *, end: bool = False) -> datetime:
    """``2026-11-30`` -> that day's Moscow midnight (``end``: the next one, so the day is
    included); a date-time with an offset is taken as it is, without one as Moscow time."""
    try:
        day = date.fromisoformat(text)
    except ValueError:
        try:
            moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
        except ValueError:
            raise bad_input(f"{text!r} is not a date (YYYY-MM-DD) or an ISO-8601 date-time") \
                from None
        return moment if moment.tzinfo else moment.replace(tzinfo=MOSCOW)
    return datetime.combine(day + timedelta(days=int(end)), time(), MOSCOW)


def _read_api(url: str, client_id: str, api_key: str, since: datetime, to: datetime,
              page_size: int) -> History:
    from simulator.calibration.ozon_client import OzonClient
    from simulator.calibration.ozon_history import read_history

    columns = (SpinnerColumn(finished_text="[green]✓[/]"), TextColumn("{task.description}"),
               TextColumn("[bold]{task.completed:,.0f}[/] rows"), TimeElapsedColumn())
    with Progress(*columns, console=err_console, transient=False) as progress:
        tasks: dict[str, int] = {}

        def on_page(path: str, rows: int) -> None:
            if path not in tasks:
                tasks[path] = progress.add_task(f"reading {path}", total=None)
            progress.advance(tasks[path], rows)

        with OzonClient(url, client_id, api_key, page_size=page_size, on_page=on_page) as api:
            history = read_history(api, since, to)
            for task in progress.tasks:  # done: the spinner becomes a tick
                progress.update(task.id, total=task.completed)
            for throttle in api.throttled:
                err_console.print(f"rate-limited on {throttle.path}: waited "
                                  f"{throttle.waited:.1f} s (Retry-After "
                                  f"{throttle.retry_after})", highlight=False)
    return history


def summary(cal: Calibration) -> Table:
    d, c, o, r = cal.demand, cal.catalogue, cal.outcomes, cal.regions
    table = Table(title=f"calibrated from {cal.history.source}", show_header=False)
    table.add_row("orders", f"{d.orders:,} over {d.days:.1f} days")
    table.add_row("baseline demand", f"{d.baseline_orders_per_hour:.2f} orders/h "
                                     f"(hourly fit r={d.correlation:.3f})")
    table.add_row("past peaks", "; ".join(f"{p.start:%Y-%m-%d %H:%M} {p.hours} h "
                                          f"x{p.multiplier:.2f}" for p in d.peaks) or "none")
    table.add_row("SKU popularity", f"Zipf s={c.zipf_exponent:.3f} over {len(c.sku_ids):,} "
                  f"SKUs, bootstrap p={c.bootstrap_p:.2f}: "
                  + ("Zipf fits" if c.zipf_fits else "empirical shares written"))
    table.add_row("baskets", f"{cal.baskets.lines_per_order.mean:.2f} lines/order, "
                             f"{cal.baskets.units_per_line.mean:.2f} units/line")
    table.add_row("cancelled / returned", f"{o.cancelled.value:.2%} / {o.returned.value:.2%}")
    table.add_row("regions", ", ".join(f"{city.name} {share:.0%}"
                                       for city, share in list(r.weights.items())[:6]))
    if r.unknown:
        table.add_row("[red]unknown places[/]", ", ".join(
            f"{name} ({share:.1%})" for name, share in r.unknown.items()))
    table.add_row("coming peak", f"x{cal.uplift:g}")
    return table


def calibrate_command(
    ozon_url: str = typer.Option(None, help="Seller API base URL, e.g. https://api-seller.ozon.ru"),
    client_id: str = typer.Option(None, envvar="OZON_CLIENT_ID", help="Client-Id"),
    api_key: str = typer.Option(None, envvar="OZON_API_KEY", help="Api-Key"),
    csv: Path = typer.Option(None, "--csv", help="a CSV export of postings instead of the API"),
    since: str = typer.Option(None, help="first day (YYYY-MM-DD, Moscow) or ISO date-time"),
    to: str = typer.Option(None, help="last day, included (YYYY-MM-DD) or ISO date-time"),
    uplift: float = typer.Option(1.0, min=0.01, help="demand multiplier of the coming peak"),
    horizon_days: float = typer.Option(7.0, min=0.05, help="length of the coming period"),
    out: Path = typer.Option(Path("calibrated.yaml"), help="scenario file to write"),
    report: Path = typer.Option(None, help="HTML report (default: beside --out)"),
    page_size: int = typer.Option(100, min=1, max=1000, help="rows per Seller API page"),
) -> None:
    """Fit a scenario to a seller's history, read through the Ozon Seller API or a CSV
    export; write it (with where each number came from) and an HTML calibration report."""
    from simulator.calibration.report import write_calibration_report
    from simulator.calibration.scenario_writer import write_scenario

    start = parse_moment(since) if since else None
    end = min(parse_moment(to, end=True), datetime.now(UTC)) if to else None  # no future
    try:
        if csv is not None:
            from simulator.calibration.csv_export import read_csv

            history = read_csv(csv, start, end)
        else:
            missing = [flag for flag, value in (("--ozon-url", ozon_url),
                                                ("--client-id", client_id),
                                                ("--api-key", api_key), ("--since", since),
                                                ("--to", to)) if not value]
            if missing:
                raise bad_input(f"give --csv FILE, or {', '.join(missing)} to read the "
                                f"Seller API")
            if end <= start:
                raise bad_input("--to must not be before --since")
            history = _read_api(ozon_url, client_id, api_key, start, end, page_size)
        cal = calibrate(history, uplift=uplift)
        scenario = write_scenario(cal, out, horizon_days=horizon_days)
    except CalibrationError as exc:
        raise bad_input(str(exc)) from None
    page = write_calibration_report(
        cal, report or out.with_name(f"{out.stem}-report.html"), scenario=scenario)
    console.print(summary(cal))
    console.print(f"scenario: {scenario}\nreport:   {page}", highlight=False)


def register(app: typer.Typer) -> None:
    app.command("calibrate")(calibrate_command)
