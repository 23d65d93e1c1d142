"""``peakline serve | db upgrade | seed | seller create``: the backend's commands."""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
from pathlib import Path
from typing import Annotated, Any

import typer

from peakline.common import bad_input, console, scenario_or_exit

DbOption = Annotated[
    str | None,
    typer.Option("--db", help="database URL (default: DATABASE_URL or sqlite:///./peakline.db)"),
]


def _settings(db: str | None):  # type: ignore[no-untyped-def]
    from pydantic import ValidationError

    from reference_backend.settings import Settings

    try:
        return Settings(database_url=db) if db else Settings()
    except ValidationError as exc:
        raise bad_input(f"bad settings: {exc.errors()[0]['msg']}") from None


def _upgrade(url: str) -> None:
    from sqlalchemy.exc import SQLAlchemyError

    from reference_backend.migrations import upgrade

    try:
        upgrade(url)
    except SQLAlchemyError as exc:
        raise bad_input(f"cannot migrate {url}: {str(exc).splitlines()[0]}") from None


def _write_credentials(data: dict, out: Path | None) -> None:
    text = json.dumps(data, indent=2, ensure_ascii=False)
    console.print_json(text)
    if out is not None:
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(text + "\n", encoding="utf-8")
        console.print(f"credentials written to {out}", highlight=False)


def serve(
    db: DbOption = None,
    host: Annotated[str, typer.Option(help="interface to bind")] = "127.0.0.1",
    port: Annotated[int, typer.Option(min=0, max=65535)] = 8000,
    workers: Annotated[int, typer.Option(min=1, max=64, help="uvicorn worker processes")] = 1,
) -> None:
    """Run the backend with uvicorn (migrates the database first)."""
    import uvicorn

    from reference_backend import workers as balanced_workers
    from reference_backend.metrics import MULTIPROCESS_DIR

    settings = _settings(db)
    _upgrade(settings.database_url)
    os.environ["DATABASE_URL"] = settings.database_url
    os.environ["PEAKLINE_MIGRATE_ON_START"] = "false"  # done once above, not per worker
    _warn_if_autovacuum_off(settings.database_url)
    app = "reference_backend.app:app_from_env"
    options: dict[str, Any] = dict(
        factory=True, host=host, port=port, workers=workers, access_log=False,
        log_config=None, timeout_graceful_shutdown=5)
    with contextlib.ExitStack() as stack:
        if workers > 1 and MULTIPROCESS_DIR not in os.environ:  # /metrics sums the workers
            os.environ[MULTIPROCESS_DIR] = stack.enter_context(
                tempfile.TemporaryDirectory(prefix="peakline-metrics-"))
        if workers > 1 and balanced_workers.BALANCED:  # connections spread evenly
            balanced_workers.run(uvicorn.Config(app, **options))
        else:
            uvicorn.run(app, **options)


def _warn_if_autovacuum_off(url: str) -> None:
    """Statistics that lag the tables' growth slow every order down (a foreign-key check
    planned on an empty table scans it whole): say so when autovacuum is not keeping them."""
    from reference_backend.db import Database

    database = Database(url)
    try:
        if database.autovacuum_off():
            console.print("[yellow]warning: PostgreSQL autovacuum is off: planner statistics "
                          "will lag the orders placed and every order gets slower; turn it on "
                          "or run ANALYZE regularly[/]")
    finally:
        database.dispose()


def db_upgrade(db: DbOption = None) -> None:
    """Create or upgrade the database schema to the latest migration."""
    from reference_backend.migrations import current_revision

    settings = _settings(db)
    _upgrade(settings.database_url)
    console.print(f"database at revision {current_revision(settings.database_url)}")


def seed(
    scenario: Annotated[Path, typer.Argument(help="scenario YAML file")],
    db: DbOption = None,
    credentials_out: Annotated[
        Path | None, typer.Option("--credentials-out", help="also write the JSON here")
    ] = None,
    name: Annotated[str | None, typer.Option(help="seller name (default: scenario name)")] = None,
) -> None:
    """Create a seller from SCENARIO (warehouses, catalogue, stock, warning lines); print keys."""
    from reference_backend.db import Database
    from reference_backend.domain_errors import DomainError
    from reference_backend.sellers.service import seed_scenario

    world = scenario_or_exit(scenario)
    settings = _settings(db)
    _upgrade(settings.database_url)
    database = Database(settings.database_url, settings)
    try:
        with database.session() as session:
            creds = seed_scenario(session, scenario=world, settings=settings, name=name)
        database.analyze()  # statistics for the rows just loaded
    except DomainError as exc:
        raise bad_input(exc.message) from None
    finally:
        database.dispose()
    _write_credentials(creds.to_dict(), credentials_out)


def seller_create(
    name: Annotated[str, typer.Argument(help="seller name")],
    db: DbOption = None,
    credentials_out: Annotated[
        Path | None, typer.Option("--credentials-out", help="also write the JSON here")
    ] = None,
) -> None:
    """Create an empty seller (no warehouses or products); print its keys."""
    from reference_backend.db import Database
    from reference_backend.domain_errors import DomainError
    from reference_backend.sellers.service import create_seller

    settings = _settings(db)
    _upgrade(settings.database_url)
    database = Database(settings.database_url, settings)
    try:
        with database.session() as session:
            creds = create_seller(session, name=name, settings=settings)
    except DomainError as exc:
        raise bad_input(exc.message) from None
    finally:
        database.dispose()
    _write_credentials(creds.to_dict(), credentials_out)


def register(app: typer.Typer) -> None:
    app.command()(serve)
    app.command()(seed)
    db_app = typer.Typer(help="Database schema (Alembic migrations).", no_args_is_help=True)
    db_app.command("upgrade")(db_upgrade)
    app.add_typer(db_app, name="db")
    seller_app = typer.Typer(help="Sellers (tenants).", no_args_is_help=True)
    seller_app.command("create")(seller_create)
    app.add_typer(seller_app, name="seller")
