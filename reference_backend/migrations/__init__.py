"""Alembic migrations of the backend schema, and :func:`upgrade` to apply them."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy import Engine

from reference_backend.db import make_engine, normalise_url

HERE = Path(__file__).resolve().parent
INI = HERE.parent / "alembic.ini"


def alembic_config(url: str) -> Config:
    """An Alembic config pointing at these migrations and at ``url``."""
    config = Config(str(INI)) if INI.exists() else Config()
    config.set_main_option("script_location", str(HERE))
    config.set_main_option("sqlalchemy.url", normalise_url(url).replace("%", "%%"))
    return config


def upgrade(url: str, revision: str = "head", *, engine: Engine | None = None) -> None:
    """Bring the database at ``url`` to ``revision`` (creating the schema on first use)."""
    _migrate(url, engine, lambda config: command.upgrade(config, revision))


def downgrade(url: str, revision: str) -> None:
    """Take the database at ``url`` back to ``revision``."""
    _migrate(url, None, lambda config: command.downgrade(config, revision))


def _migrate(url: str, engine: Engine | None, step: Callable[[Config], None]) -> None:
    """Run ``step`` in one transaction. On SQLite, foreign keys are not enforced meanwhile
    (checked at the end instead): a batch migration rebuilds a table by dropping it, and
    dropping a parent table with enforcement on deletes its children's rows in cascade."""
    config = alembic_config(url)
    owned = engine is None
    engine = engine or make_engine(url)
    try:
        with engine.connect() as connection:
            sqlite = connection.dialect.name == "sqlite"
            driver = connection.connection.driver_connection
            if sqlite:  # (outside any transaction: SQLite ignores the pragma inside one)
                driver.execute("PRAGMA foreign_keys=OFF")
            try:
                with connection.begin():
                    config.attributes["connection"] = connection
                    step(config)
                    broken = connection.exec_driver_sql("PRAGMA foreign_key_check").all() \
                        if sqlite else []
                    if broken:
                        raise RuntimeError(f"migration left rows without parents: {broken[:5]}")
            finally:
                if sqlite:
                    driver.execute("PRAGMA foreign_keys=ON")
    finally:
        if owned:
            engine.dispose()


def current_revision(url: str) -> str | None:
    """The revision the database is at (None when never migrated)."""
    from alembic.runtime.migration import MigrationContext

    engine = make_engine(url)
    try:
        with engine.connect() as connection:
            return MigrationContext.configure(connection).get_current_revision()
    finally:
        engine.dispose()
