"""Backend settings (pydantic-settings): database, policies for new sellers, secrets, logging.

Read from the environment: ``DATABASE_URL`` (or ``PEAKLINE_DATABASE_URL``) and
``PEAKLINE_<FIELD>`` for everything else, e.g. ``PEAKLINE_DEFAULT_ALLOCATION_POLICY=least_cost``.
"""

from __future__ import annotations

import difflib
import ipaddress
import os
from collections.abc import Iterator, Mapping
from typing import Any

from pydantic import AliasChoices, Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

DEFAULT_DATABASE_URL = "sqlite:///./peakline.db"


class Settings(BaseSettings):
    """Everything the backend reads at start; validated, immutable."""

    model_config = SettingsConfigDict(env_prefix="PEAKLINE_", extra="ignore", frozen=True,
                                      hide_input_in_errors=True)  # (URLs carry passwords)

    database_url: str = Field(
        default=DEFAULT_DATABASE_URL,
        validation_alias=AliasChoices("DATABASE_URL", "PEAKLINE_DATABASE_URL", "database_url"),
        description="sqlite:///file.db (WAL mode) or postgresql://user@host/db",
    )
    migrate_on_start: bool = Field(default=True, description="run Alembic upgrade at app start")

    # database tuning
    db_pool_size: int = Field(default=10, ge=1, le=200)
    db_max_overflow: int = Field(default=20, ge=0, le=500)
    db_pool_timeout_s: float = Field(default=30.0, gt=0)
    #: PostgreSQL connections of the async pool buyer orders use (per worker process).
    db_async_pool_size: int = Field(default=6, ge=1, le=100)
    #: Threads for blocking work (sync routes, database calls) per worker process. Python
    #: work holding the GIL gains nothing from more threads, and 40 (starlette's default)
    #: contending for it made a page of postings cost twice its CPU time under 64 clients;
    #: raise it for slow database round trips (or run more workers).
    worker_threads: int = Field(default=4, ge=1, le=400)
    sqlite_busy_timeout_ms: int = Field(default=30_000, ge=0)
    #: PostgreSQL: seconds between folds of the posting tallies of backends gone
    #: (reference_backend/postings/tallies.py; also once at start-up).
    tally_fold_interval_s: float = Field(default=600.0, gt=0)

    # policies given to new sellers (a seeded seller takes its scenario's choice instead)
    default_allocation_policy: str = "nearest_with_stock"
    default_allocation_params: dict[str, Any] = Field(default_factory=dict)
    default_replenishment_policy: str = "s_S"
    default_replenishment_params: dict[str, Any] = Field(
        default_factory=lambda: {"s_days": 2, "S_days": 5}
    )
    #: Days of sales history a replenishment suggestion looks at.
    replenishment_history_days: int = Field(default=14, ge=1, le=365)
    #: Hours from order to the assemble-by deadline (``shipment_date``).
    shipment_deadline_hours: float = Field(default=24.0, gt=0)
    #: Attempts to re-allocate when a concurrent order took the stock between read and reserve.
    order_allocation_attempts: int = Field(default=3, ge=1, le=20)
    #: Buyer orders arriving together are placed in one transaction (a batch) of at most
    #: this many orders, with at most ``order_batches_in_flight`` batches at a time per
    #: worker process on PostgreSQL, one on SQLite (more overlap means shorter waits, fewer
    #: means bigger batches).
    order_batch_max: int = Field(default=64, ge=1, le=1000)
    order_batches_in_flight: int = Field(default=2, ge=1, le=16)
    #: A batch starts beside a running one only when this many orders wait (a backlog):
    #: under moderate load orders then gather into fewer, larger batches.
    order_batch_overlap_from: int = Field(default=16, ge=1, le=1000)

    #: An FBS act (``/v2/posting/fbs/act/create``) is being formed this long before
    #: ``check-status`` says ``ready`` and its documents exist (Ozon forms them asynchronously).
    act_forming_seconds: float = Field(default=2.0, ge=0, le=3600)

    # Ozon's request rate limits (spec §1.6; see reference_backend/rate_limits.py)
    ozon_rate_limits: bool = Field(default=False, description="answer 429 over Ozon's limits")
    ozon_rate_limit_per_second: int = Field(default=50, ge=1, description="per Client-Id")
    ozon_method_rate_limits: dict[str, str] = Field(
        default_factory=lambda: {"/v2/products/stocks": "80/minute",
                                 "/v1/analytics/data": "1/minute"},
        description="per Client-Id and method path, in the limits library's notation")
    #: Ozon's bad moments injected on purpose: a reference_backend.faults.FaultProfile as
    #: JSON (off when unset; ``peakline rehearse --ozon-faults`` sets it)
    ozon_faults: str | None = None
    #: a (product, warehouse) pair's stock can be set once per this many seconds
    ozon_stock_pair_interval_s: int = Field(default=30, ge=1)
    ozon_product_import_daily_limit: int | None = Field(
        default=None, ge=1, description="with ozon_rate_limits: products a Client-Id may "
        "create or update a day (Ozon's quota differs per seller and is not published; "
        "unset: no quota)")
    ozon_rate_limit_storage: str = "async+memory://"

    #: A new API key expires this many days after it is issued unless its issuer sets
    #: ``expires_at`` (an expired key is refused like a revoked one; ``/v1/roles`` shows when).
    api_key_lifetime_days: int = Field(default=365, ge=1, le=3650)

    # secrets
    secret_key: str = Field(default="", description="server secret (sessions); empty = random")
    platform_key: str = Field(
        default="", description="an extra marketplace platform key accepted as-is (optional)"
    )

    # observability and workers
    log_level: str = "INFO"
    json_logs: bool = True
    log_requests: bool = True
    run_outbox_worker: bool = True
    base_url: str = Field(default="http://127.0.0.1:8000",
                          description="where clients reach this server (printed by seed)")
    trusted_proxies: str = Field(
        default="", description="reverse proxies (addresses or CIDRs, comma-separated) whose "
        "X-Forwarded-For names the client, e.g. 10.0.0.0/8,127.0.0.1; empty: the peer is the "
        "client (a header from anyone else is never believed)")

    @field_validator("database_url")
    @classmethod
    def _known_database(cls, value: str) -> str:
        if not value.startswith(("sqlite", "postgresql", "postgres")):
            raise ValueError("DATABASE_URL must be a sqlite:// or postgresql:// URL")
        try:
            url = make_url(value)
        except ArgumentError:
            raise ValueError(f"not a database URL: {mask_url(value)}") from None
        if value.startswith("postgres") and not url.database:
            raise ValueError("a PostgreSQL URL must name its database "
                             "(postgresql://user@host/DATABASE)")
        return value

    @field_validator("trusted_proxies")
    @classmethod
    def _addresses(cls, value: str) -> str:
        for item in filter(None, (part.strip() for part in value.split(","))):
            try:
                ipaddress.ip_network(item, strict=False)
            except ValueError:
                raise ValueError(f"{item!r} is not an IP address or CIDR "
                                 "(e.g. 10.0.0.0/8)") from None
        return value

    @property
    def trusted_proxy_list(self) -> list[str]:
        """:attr:`trusted_proxies` as a list (empty when none)."""
        return [part.strip() for part in self.trusted_proxies.split(",") if part.strip()]

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")


def mask_url(url: str) -> str:
    """``url`` with its password hidden (``***``), fit for messages and logs."""
    try:
        return make_url(url).render_as_string(hide_password=True)
    except ArgumentError:
        return "<a database URL>"


#: ``PEAKLINE_*`` variables read outside the settings classes.
OTHER_VARIABLES = frozenset({"PEAKLINE_TEST_DATABASE_URL"})


def _settings_classes(cls: type = BaseSettings) -> Iterator[type[BaseSettings]]:
    for sub in cls.__subclasses__():
        yield sub
        yield from _settings_classes(sub)


def known_variables() -> set[str]:
    """Every ``PEAKLINE_*`` environment variable some settings class (loaded so far) reads."""
    names = set(OTHER_VARIABLES)
    for cls in _settings_classes():
        prefix = str(cls.model_config.get("env_prefix") or "")
        if prefix.startswith("PEAKLINE_"):
            names |= {f"{prefix}{name}".upper() for name in cls.model_fields}
    return names


def unknown_variables(environ: Mapping[str, str] = os.environ) -> list[str]:
    """A warning for each ``PEAKLINE_*`` variable that no setting reads (a misspelling is
    otherwise ignored silently), naming the closest valid name."""
    known = known_variables()
    warnings = []
    for name in sorted(n for n in environ if n.startswith("PEAKLINE_") and n not in known):
        close = difflib.get_close_matches(name, known, n=1, cutoff=0.6)
        hint = f" (did you mean {close[0]}?)" if close else ""
        warnings.append(f"unknown setting {name} is ignored{hint}")
    return warnings
