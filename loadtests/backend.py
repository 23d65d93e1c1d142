"""The reference backend as the load test starts it: seeded from a scenario, served on 127.0.0.1.

Both steps go through the public CLI (``peakline seed`` and ``peakline serve``) in child
processes, so the load test measures exactly what a user would run.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx

from loadtests.processes import ManagedProcess, free_port, wait_http_ok

PEAKLINE = [sys.executable, "-m", "peakline"]


class BackendError(RuntimeError):
    """The reference backend could not be seeded or started."""


def sqlite_url(path: Path) -> str:
    return f"sqlite:///{path}"


def ensure_database(db_url: str) -> None:
    """Create the PostgreSQL database of ``db_url`` when it does not exist yet (SQLite files
    are created on first use), so a load test can be pointed at a fresh database name."""
    if not db_url.startswith("postgresql"):
        return
    import psycopg
    from psycopg import sql
    from sqlalchemy.engine import make_url

    url = make_url(db_url)
    if not url.database:
        raise BackendError("the PostgreSQL URL names no database")
    server = url.set(drivername="postgresql", database="postgres")
    try:
        with psycopg.connect(server.render_as_string(hide_password=False), autocommit=True,
                             connect_timeout=10) as conn:
            if conn.execute("SELECT 1 FROM pg_database WHERE datname = %s",
                            (url.database,)).fetchone() is None:
                conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(url.database)))
    except psycopg.Error as exc:
        raise BackendError(f"cannot reach or create database {url.database!r} on "
                           f"{url.host or 'localhost'}: {exc}".strip()) from None


def seed(scenario: Path, db_url: str, credentials_out: Path, log_path: Path, *,
         name: str | None = None, timeout_s: float = 120) -> dict[str, Any]:
    """``peakline seed``: fill ``db_url`` from ``scenario``; return the credentials it wrote.

    ``name``: the seller's name (a database can hold many sellers; one name, one seller)."""
    argv = [*PEAKLINE, "seed", str(scenario), "--db", db_url,
            "--credentials-out", str(credentials_out)]
    if name:
        argv += ["--name", name]
    with log_path.open("ab") as log:
        try:
            done = subprocess.run(argv, stdout=log, stderr=subprocess.STDOUT,
                                  stdin=subprocess.DEVNULL, timeout=timeout_s, check=False)
        except subprocess.TimeoutExpired:
            raise BackendError(f"peakline seed did not finish within {timeout_s:g} s") from None
    if done.returncode != 0:
        tail = "\n".join(log_path.read_text(errors="replace").splitlines()[-15:])
        raise BackendError(f"peakline seed exited with code {done.returncode}:\n{tail}")
    try:
        return json.loads(credentials_out.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise BackendError(f"peakline seed wrote no readable credentials: {exc}") from None


@contextmanager
def serve(db_url: str, log_path: Path, *, workers: int = 1, port: int | None = None,
          timeout_s: float = 60, env: dict[str, str] | None = None) -> Iterator[str]:
    """Run ``peakline serve`` on 127.0.0.1 until the block ends; yield its base URL.

    ``env``: settings for the backend on top of this process's environment."""
    port = port or free_port()
    argv = [*PEAKLINE, "serve", "--db", db_url, "--host", "127.0.0.1", "--port", str(port)]
    if workers > 1:
        argv += ["--workers", str(workers)]
    base = f"http://127.0.0.1:{port}"
    with ManagedProcess("peakline serve", argv, log_path,
                        env={**os.environ, **env} if env else None) as proc:
        try:
            wait_http_ok(f"{base}/health", timeout_s=timeout_s, process=proc)
        except RuntimeError as exc:
            raise BackendError(str(exc)) from None
        yield base


def warm_up(base_url: str, credentials: dict[str, Any], *, rounds: int = 3) -> None:
    """A few untimed reads through the Seller API so the first measured requests do not pay
    the backend's cold start (lazy imports, connection pool, statement caches)."""
    headers = {"Client-Id": str(credentials["client_id"]), "Api-Key": credentials["api_key"]}
    with httpx.Client(base_url=base_url, headers=headers, timeout=10) as client:
        for _ in range(rounds):
            for path, body in (("/v1/warehouse/list", {}),
                               ("/v3/product/list", {"filter": {}, "limit": 100}),
                               ("/v3/product/info/list", {"product_id": [1, 2, 3]}),
                               ("/v4/product/info/stocks", {"filter": {}, "limit": 10})):
                try:
                    client.post(path, json=body)
                except httpx.HTTPError:
                    return
