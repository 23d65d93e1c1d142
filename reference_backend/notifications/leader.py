"""One delivering process per database: a lock that dies with its holder.

``peakline serve --workers N`` starts N processes, each with an outbox worker; only the
holder of this lock delivers, the others stand by and retry. The lock is released by the
operating system or the database when the holder exits or is killed, so a SIGKILL never
leaves it stuck.

* PostgreSQL: a session advisory lock held on one dedicated connection.
* SQLite file: ``flock`` on ``<database file>.push.lock``.
* In-memory SQLite: one process only, nothing to lock.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
from typing import Protocol

from sqlalchemy import Connection, Engine, text

#: Advisory-lock key (any constant int64): "PEAKPUSH" in ASCII.
ADVISORY_KEY = 0x5045414B50555348 & 0x7FFFFFFFFFFFFFFF


class LeaderLock(Protocol):
    def try_acquire(self) -> bool:
        """True when this process holds (or just took) the lock."""

    def release(self) -> None:
        """Give the lock up (idempotent)."""


class NoLock:
    """Always the leader (in-memory databases live in one process)."""

    def try_acquire(self) -> bool:
        return True

    def release(self) -> None:
        pass


class FileLock:
    """An exclusive non-blocking ``flock`` on a file beside the SQLite database."""

    def __init__(self, path: str) -> None:
        self.path = path
        self._fd: int | None = None

    def try_acquire(self) -> bool:
        if self._fd is not None:
            return True
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            os.close(fd)
            return False
        self._fd = fd
        return True

    def release(self) -> None:
        if self._fd is not None:
            with contextlib.suppress(OSError):
                fcntl.flock(self._fd, fcntl.LOCK_UN)
            os.close(self._fd)
            self._fd = None


class AdvisoryLock:
    """``pg_try_advisory_lock`` on a connection kept out of the pool while held."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._conn: Connection | None = None

    def try_acquire(self) -> bool:
        if self._conn is not None:
            try:  # still alive? (a server restart drops the lock with the session)
                self._conn.execute(text("SELECT 1")).scalar()
                self._conn.commit()
                return True
            except Exception:
                self._drop()
        conn = self.engine.connect()
        try:
            got = bool(
                conn.execute(text("SELECT pg_try_advisory_lock(:k)"), {"k": ADVISORY_KEY}).scalar()
            )
            conn.commit()
        except Exception:
            conn.close()
            raise
        if not got:
            conn.close()
            return False
        self._conn = conn
        return True

    def _drop(self) -> None:
        if self._conn is not None:
            with contextlib.suppress(Exception):
                self._conn.invalidate()
                self._conn.close()
            self._conn = None

    def release(self) -> None:
        if self._conn is not None:
            with contextlib.suppress(Exception):
                self._conn.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": ADVISORY_KEY})
                self._conn.commit()
                self._conn.close()
            self._conn = None


def leader_lock_for(engine: Engine) -> LeaderLock:
    """The right lock for the engine's database."""
    if engine.dialect.name == "postgresql":
        return AdvisoryLock(engine)
    database = engine.url.database
    if not database or database == ":memory:" or database.startswith("file::memory:"):
        return NoLock()
    return FileLock(os.path.abspath(database) + ".push.lock")
