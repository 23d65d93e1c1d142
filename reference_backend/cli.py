"""``peakline serve | db upgrade | seed | seller create``: the backend's commands."""

from __future__ import annotations

import contextlib
import json
import os
import sys
import tempfile
from datetime import timedelta
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any

import typer

from peakline.common import bad_input, console, err_console, scenario_or_exit


class LogFormat(StrEnum):
    """``serve --log-format``."""

    auto = "auto"
    json = "json"
    text = "text"

    def json_logs(self) -> bool:
        """Whether the server logs JSON lines."""
        if self is LogFormat.auto:
            chosen = os.environ.get("PEAKLINE_JSON_LOGS")
            if chosen is not None:
                return chosen.strip().lower() in {"1", "true", "yes", "on"}
            return not sys.stderr.isatty()
        return self is LogFormat.json


class Subscription(StrEnum):
    """``seed --subscription``: the seller's Ozon subscription (buyer chats need Premium Plus
    or Premium Pro beyond their list)."""

    none = "none"
    premium = "premium"
    premium_plus = "premium_plus"
    premium_pro = "premium_pro"


DbOption = Annotated[
    str | None,
    typer.Option("--db", help="database URL (default: DATABASE_URL or sqlite:///./peakline.db)"),
]


CredentialsOut = Annotated[
    Path, typer.Option("--credentials-out", help="where the keys are written (mode 0600; an "
                       "existing file is not overwritten)"),
]
ShowKeys = Annotated[bool, typer.Option("--show-keys", help="also print the keys")]
DEFAULT_CREDENTIALS = Path("peakline-credentials.json")
SECRETS = ("api_key", "platform_key", "password")


def _settings(db: str | None):  # type: ignore[no-untyped-def]
    from pydantic import ValidationError

    from reference_backend.app import discover
    from reference_backend.settings import Settings, unknown_variables

    discover()  # (every settings class loaded: their variables are the known ones)
    for warning in unknown_variables():
        console.print(f"[yellow]warning: {warning}[/]", highlight=False)
    try:
        return Settings(database_url=db) if db else Settings()
    except ValidationError as exc:
        raise bad_input(f"bad settings: {exc.errors()[0]['msg']}") from None


def _upgrade(url: str) -> None:
    from sqlalchemy.exc import SQLAlchemyError

    from reference_backend.migrations import upgrade
    from reference_backend.settings import mask_url

    try:
        upgrade(url)
    except SQLAlchemyError as exc:
        reason = str(getattr(exc, "orig", None) or exc).splitlines()[0].replace(url, "")
        raise bad_input(f"cannot migrate {mask_url(url)}: {reason}") from None


def _check_credentials_out(out: Path) -> None:
    """Refuse, before any change, a credentials file that would overwrite another."""
    if out.exists():
        raise bad_input(f"{out} exists: pass --credentials-out with a new file (keys in it "
                        "would be lost)")


def _write_credentials(data: dict, out: Path, show_keys: bool) -> None:
    """The keys to ``out`` only (mode 0600); the rest, or everything with ``show_keys``,
    on standard output."""
    text = json.dumps(data, indent=2, ensure_ascii=False)
    out.parent.mkdir(parents=True, exist_ok=True)
    with os.fdopen(os.open(out, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600), "w",
                   encoding="utf-8") as file:
        file.write(text + "\n")
    shown = data if show_keys else {k: v for k, v in data.items() if k not in SECRETS}
    console.print_json(json.dumps(shown, ensure_ascii=False))
    console.print(f"keys written to {out} (readable by you only)", highlight=False)


@contextlib.contextmanager
def _seller_database(db: str | None, credentials_out: Path):  # type: ignore[no-untyped-def]
    """Settings and the upgraded database for a command that writes a credentials file: the
    file is checked before any change, and a refused change exits 2 with its reason."""
    from reference_backend.db import Database
    from reference_backend.domain_errors import DomainError

    _check_credentials_out(credentials_out)
    settings = _settings(db)
    _upgrade(settings.database_url)
    database = Database(settings.database_url, settings)
    try:
        yield settings, database
    except DomainError as exc:
        raise bad_input(exc.message) from None
    finally:
        database.dispose()


def serve(
    db: DbOption = None,
    host: Annotated[str, typer.Option(help="interface to bind")] = "127.0.0.1",
    port: Annotated[int, typer.Option(min=0, max=65535, help="port to listen on (0: any free "
                                      "port)")] = 8000,
    workers: Annotated[int, typer.Option(min=1, max=64, help="uvicorn worker processes")] = 1,
    log_format: Annotated[LogFormat, typer.Option(
        help="logs on standard error: a short line per request (text), JSON lines (json), or "
             "text on a terminal and JSON otherwise (auto; PEAKLINE_JSON_LOGS decides if set)",
    )] = LogFormat.auto,
) -> None:
    """Run the backend with uvicorn (migrates the database first)."""
    import uvicorn

    from reference_backend import workers as balanced_workers
    from reference_backend.metrics import MULTIPROCESS_DIR
    from reference_backend.settings import mask_url

    settings = _settings(db)
    if port:
        _refuse_taken_port(host, port)
    _upgrade(settings.database_url)
    os.environ["DATABASE_URL"] = settings.database_url
    os.environ["PEAKLINE_MIGRATE_ON_START"] = "false"  # done once above, not per worker
    json_logs = log_format.json_logs()
    os.environ["PEAKLINE_JSON_LOGS"] = str(json_logs).lower()  # read by every worker
    _warn_if_autovacuum_off(settings.database_url)
    url_host = f"[{host}]" if ":" in host else host
    console.print(f"serving on [bold]http://{url_host}:{port or '<any free port>'}[/] · database "
                  f"{mask_url(settings.database_url)} · {workers} worker(s) · "
                  f"{'JSON' if json_logs else 'text'} logs on stderr · Ctrl-C stops",
                  highlight=False)
    app = "reference_backend.app:app_from_env"
    options: dict[str, Any] = dict(
        factory=True, host=host, port=port, workers=workers, access_log=False,
        log_config=None, timeout_graceful_shutdown=5,
        proxy_headers=False)  # X-Forwarded-For: only from PEAKLINE_TRUSTED_PROXIES (the app)
    with contextlib.ExitStack() as stack:
        if workers > 1 and MULTIPROCESS_DIR not in os.environ:  # /metrics sums the workers
            os.environ[MULTIPROCESS_DIR] = stack.enter_context(
                tempfile.TemporaryDirectory(prefix="peakline-metrics-"))
        if workers > 1 and balanced_workers.BALANCED:  # connections spread evenly
            balanced_workers.run(uvicorn.Config(app, **options))
        else:
            uvicorn.run(app, **options)


def _refuse_taken_port(host: str, port: int) -> None:
    """Exit 2 when another process holds ``host:port``. The bind is tried without
    SO_REUSEPORT: a server of several workers binds with it, and so would silently share
    the port with another such server (the kernel splitting connections between them)."""
    import socket

    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # (TIME_WAIT is free)
        try:
            probe.bind((host, port))
        except OSError as exc:
            raise bad_input(f"cannot listen on {host}:{port}: {exc.strerror}") from None


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
    credentials_out: CredentialsOut = DEFAULT_CREDENTIALS,
    show_keys: ShowKeys = False,
    name: Annotated[str | None, typer.Option(help="seller name (default: scenario name)")] = None,
    history_days: Annotated[int, typer.Option(
        "--history-days", min=0, help="also N days of trading history, simulated and "
        "replayed with back-dated timestamps")] = 0,
    history_seed: Annotated[int, typer.Option(help="seed of the simulated history")] = 1,
    subscription: Annotated[Subscription, typer.Option(
        help="the seller's Ozon subscription: buyer chats beyond their list (history, send, "
        "read, start) need premium_plus or premium_pro")] = Subscription.premium_plus,
) -> None:
    """Create a seller from SCENARIO (warehouses, catalogue, stock, warning lines).

    Its keys go to the credentials file. With `--history-days N` the seller also has N days
    of past orders, postings and returns.
    """
    from reference_backend.sellers.service import seed_scenario

    world = scenario_or_exit(scenario)
    with _seller_database(db, credentials_out) as (settings, database):
        with database.session() as session:
            creds = seed_scenario(session, scenario=world, settings=settings, name=name,
                                  subscription=subscription.value.upper())
            if history_days:
                _history(session, creds, world, history_days, history_seed)
        database.analyze()  # statistics for the rows just loaded
    _write_credentials(creds.to_dict(), credentials_out, show_keys)


def _history(session, creds, world, days: int, seed: int) -> None:  # type: ignore[no-untyped-def]
    """Simulate ``days`` of ``world`` before today and replay them for the new seller."""
    from datetime import UTC, datetime

    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

    from reference_backend.sellers.history import replay_history
    from simulator.calibration.simulated_history import simulate_history

    warehouse_ids = [creds.warehouses[w.id] for w in world.network.warehouses]
    history = simulate_history(world, days=days, end=datetime.now(UTC), seed=seed,
                               sku_id=lambda k: creds.sku_base + k,
                               warehouse_id=lambda w: warehouse_ids[w])
    columns = (TextColumn("replaying the history"), BarColumn(),
               TextColumn("{task.percentage:>3.0f} %"), TimeElapsedColumn())
    with Progress(*columns, console=err_console) as bar:
        task = bar.add_task("history", total=None)
        report = replay_history(session, seller_id=creds.seller_id, history=history,
                                progress=lambda done, total: bar.update(
                                    task, completed=done, total=total))
    err_console.print(report.summary(), highlight=False)


def seller_create(
    name: Annotated[str, typer.Argument(help="seller name")],
    db: DbOption = None,
    credentials_out: CredentialsOut = DEFAULT_CREDENTIALS,
    show_keys: ShowKeys = False,
) -> None:
    """Create an empty seller (no warehouses or products); its keys go to the credentials
    file."""
    from reference_backend.sellers.service import create_seller

    with _seller_database(db, credentials_out) as (settings, database):
        creds = database.write(create_seller, name=name, settings=settings)
    _write_credentials(creds.to_dict(), credentials_out, show_keys)


def seller_owner_key(
    client_id: Annotated[str, typer.Argument(help="the seller's Client-Id")],
    db: DbOption = None,
    credentials_out: CredentialsOut = DEFAULT_CREDENTIALS,
    show_keys: ShowKeys = False,
) -> None:
    """Issue a new API key for the seller's owner (e.g. when its keys are lost); the key goes
    to the credentials file."""
    from reference_backend.accounts.service import issue_owner_key

    with _seller_database(db, credentials_out) as (settings, database):
        key_id, plaintext = database.write(
            issue_owner_key, client_id=client_id,
            lifetime=timedelta(days=settings.api_key_lifetime_days))
    _write_credentials({"client_id": client_id, "api_key": plaintext, "key_id": key_id,
                        "base_url": settings.base_url}, credentials_out, show_keys)


def seller_owner_sign_in(
    client_id: Annotated[str, typer.Argument(help="the seller's Client-Id")],
    email: Annotated[str, typer.Option(help="the owner's sign-in email")],
    db: DbOption = None,
    credentials_out: CredentialsOut = DEFAULT_CREDENTIALS,
    show_keys: ShowKeys = False,
) -> None:
    """Set the seller owner's sign-in email and a new random password (for the web console
    at /console); the password goes to the credentials file."""
    from reference_backend.accounts.service import set_owner_sign_in

    with (_seller_database(db, credentials_out) as (settings, database),
          database.session() as session):
        owner, password = set_owner_sign_in(session, client_id=client_id, email=email)
        email = owner.email or email
    _write_credentials({"client_id": client_id, "email": email, "password": password,
                        "console_url": f"{settings.base_url.rstrip('/')}/console/"},
                       credentials_out, show_keys)


def register(app: typer.Typer) -> None:
    app.command()(serve)
    app.command()(seed)
    db_app = typer.Typer(help="Database schema (Alembic migrations).", no_args_is_help=True)
    db_app.command("upgrade")(db_upgrade)
    app.add_typer(db_app, name="db")
    seller_app = typer.Typer(help="Sellers (tenants).", no_args_is_help=True)
    seller_app.command("create")(seller_create)
    seller_app.command("owner-key")(seller_owner_key)
    seller_app.command("owner-sign-in")(seller_owner_sign_in)
    app.add_typer(seller_app, name="seller")
