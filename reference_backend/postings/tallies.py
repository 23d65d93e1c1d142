"""Posting tallies (migration 0010) kept small on PostgreSQL: the rows of backends gone.

Each PostgreSQL backend writes its own tally rows (``shard = pg_backend_pid()``); once a
backend has ended, nothing writes its rows again but a new backend given the same pid.
:func:`fold_gone_shards` moves the rows of backends no longer running (``pg_stat_activity``)
into shard 0, keeping every sum; it runs at start-up and then every
``tally_fold_interval_s`` (:func:`lifespan`). A backend that starts meanwhile with a pid
being folded waits for the fold's row locks and then adds to a row of its own: the sums stay
exact. SQLite has one shard, nothing to fold.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from sqlalchemy import Connection
from starlette.concurrency import run_in_threadpool

from reference_backend.db import Database

log = logging.getLogger(__name__)

#: ``pg_try_advisory_xact_lock`` key: one fold at a time across workers.
FOLD_LOCK = 0x7A11_0009
_COLUMNS = "seller_id, status, warehouse_id, delivery_method_id"
_FOLD = f"""WITH gone AS (
    DELETE FROM posting_tallies
    WHERE shard <> 0
      AND shard NOT IN (SELECT pid FROM pg_stat_activity WHERE pid IS NOT NULL)
    RETURNING {_COLUMNS}, n)
INSERT INTO posting_tallies AS t ({_COLUMNS}, shard, n)
SELECT {_COLUMNS}, 0, sum(n) FROM gone GROUP BY {_COLUMNS} HAVING sum(n) <> 0
ON CONFLICT ({_COLUMNS}, shard) DO UPDATE SET n = t.n + excluded.n"""


def fold_gone_shards(conn: Connection) -> int | None:
    """Fold the tally rows of backends no longer running into shard 0, and drop rows of
    shard 0 at zero, in the caller's transaction; the rows then kept (None: another fold
    holds the lock, or SQLite)."""
    if conn.dialect.name != "postgresql":
        return None
    if not conn.exec_driver_sql(f"SELECT pg_try_advisory_xact_lock({FOLD_LOCK})").scalar():
        return None
    conn.exec_driver_sql(_FOLD)
    conn.exec_driver_sql("DELETE FROM posting_tallies WHERE shard = 0 AND n = 0")
    return int(conn.exec_driver_sql("SELECT count(*) FROM posting_tallies").scalar() or 0)


def fold(db: Database) -> int | None:
    """:func:`fold_gone_shards` in a transaction of its own."""
    with db.engine.begin() as conn:
        return fold_gone_shards(conn)


async def _fold_now(db: Database) -> None:
    try:
        kept = await run_in_threadpool(fold, db)
    except Exception:  # (a fold put off is only a larger table till the next one)
        log.warning("posting tallies not folded", exc_info=True)
        return
    if kept is not None:
        log.debug("posting tallies folded", extra={"rows": kept})


async def _fold_every(db: Database, interval_s: float) -> None:
    while True:
        await asyncio.sleep(interval_s)
        await _fold_now(db)


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    """Fold at start-up and every ``tally_fold_interval_s`` on PostgreSQL."""
    db: Database = app.state.db
    if db.is_sqlite:
        yield
        return
    await _fold_now(db)
    task = asyncio.create_task(_fold_every(db, app.state.settings.tally_fold_interval_s))
    try:
        yield
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
