"""Reusable backend fixtures for tests: fresh databases, a seeded seller, a real uvicorn.

* :func:`fresh_postgres_url` -> context manager giving the URL of a new PostgreSQL database
  (``CREATE DATABASE peakline_<random>`` on the server of ``PEAKLINE_TEST_DATABASE_URL``,
  dropped at exit); :func:`postgres_admin_url` is None when the variable is unset.
* :func:`sqlite_url` -> a SQLite file URL inside a directory.
* :func:`seed_smoke` -> migrate ``url`` and seed the smoke scenario; returns the credentials.
* :func:`seeded_sqlite` -> a copy of a migrated, seeded SQLite template (fast per test).
* :func:`running_server` -> context manager: ``uvicorn`` serving ``create_app`` for ``url`` in
  a subprocess on a free 127.0.0.1 port; yields the base URL; terminates it at exit.
  ``start_server``/``ServerProcess`` give the process for tests that SIGKILL it.
"""

from __future__ import annotations

import atexit
import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
SMOKE = ROOT / "scenarios" / "smoke.yaml"
PG_ENV = "PEAKLINE_TEST_DATABASE_URL"


def postgres_admin_url() -> str | None:
    """The test PostgreSQL server URL, or None (tests then skip)."""
    return os.environ.get(PG_ENV) or None


@contextlib.contextmanager
def fresh_postgres_url(admin_url: str | None = None) -> Iterator[str]:
    """A new empty database on the test server for the duration of the block."""
    import psycopg

    admin_url = admin_url or postgres_admin_url()
    if not admin_url:
        raise RuntimeError(f"{PG_ENV} is not set")
    name = f"peakline_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    base, _, _ = admin_url.rpartition("/")
    try:
        yield f"{base}/{name}"
    finally:
        with psycopg.connect(admin_url, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def sqlite_url(directory: Path, name: str = "peakline.db") -> str:
    return f"sqlite:///{Path(directory) / name}"


def seed_smoke(url: str, *, scenario: Path = SMOKE, name: str | None = None) -> dict:
    """Migrate ``url`` and seed a seller from ``scenario``; the credentials as a dict."""
    from reference_backend.db import Database
    from reference_backend.migrations import upgrade
    from reference_backend.sellers.service import seed_scenario
    from reference_backend.settings import Settings
    from simulator.scenario import load_scenario

    upgrade(url)
    settings = Settings(database_url=url)
    db = Database(url, settings)
    try:
        with db.session() as session:
            creds = seed_scenario(session, scenario=load_scenario(scenario), settings=settings,
                                  name=name)
    finally:
        db.dispose()
    return creds.to_dict()


_TEMPLATES: dict[str, tuple[Path, dict]] = {}


def seeded_sqlite(directory: Path, *, scenario: Path = SMOKE) -> tuple[str, dict]:
    """A SQLite database in ``directory`` already migrated and seeded from ``scenario``.

    The first call per scenario seeds a template; later calls copy its file (fast).
    """
    key = str(scenario)
    if key not in _TEMPLATES:
        template_dir = Path(tempfile.mkdtemp(prefix="peakline-template-"))
        atexit.register(shutil.rmtree, template_dir, True)
        creds = seed_smoke(sqlite_url(template_dir), scenario=scenario)
        _TEMPLATES[key] = (template_dir / "peakline.db", creds)
    source, creds = _TEMPLATES[key]
    shutil.copyfile(source, Path(directory) / "peakline.db")
    return sqlite_url(directory), dict(creds)


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class ServerProcess:
    """A uvicorn subprocess serving the backend; ``base_url`` once :meth:`wait_ready`."""

    def __init__(self, url: str, *, port: int | None = None, workers: int = 1,
                 env: dict[str, str] | None = None, log_path: Path | None = None) -> None:
        self.db_url = url
        self.port = port or free_port()
        self.base_url = f"http://127.0.0.1:{self.port}"
        full_env = {**os.environ, "DATABASE_URL": url, "PEAKLINE_LOG_REQUESTS": "false",
                    "PEAKLINE_LOG_LEVEL": "WARNING", **(env or {})}
        if log_path is None:  # kept, to show when the server does not come up
            log_path = Path(tempfile.mkstemp(prefix="peakline-server-", suffix=".log")[1])
            atexit.register(log_path.unlink, missing_ok=True)
        self.log_path = log_path
        self._log = open(log_path, "ab")  # noqa: SIM115
        self.process = subprocess.Popen(
            [sys.executable, "-m", "uvicorn", "reference_backend.app:app_from_env", "--factory",
             "--host", "127.0.0.1", "--port", str(self.port), "--workers", str(workers),
             "--no-access-log", "--log-level", "warning", "--no-proxy-headers"],
            env=full_env, cwd=ROOT, stdout=self._log, stderr=self._log,
        )

    def wait_ready(self, timeout: float = 60.0) -> ServerProcess:
        """Poll /health with a growing pause (a busy machine starts slowly); on failure the
        error carries the server's output."""
        deadline = time.monotonic() + timeout
        pause = 0.05
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                self.stop()
                raise RuntimeError(f"server exited with {self.process.returncode}:\n"
                                   f"{self.output()}")
            try:
                if httpx.get(self.base_url + "/health", timeout=2.0).status_code == 200:
                    return self
            except httpx.HTTPError:
                pass
            time.sleep(pause)
            pause = min(pause * 1.5, 1.0)
        self.stop()
        raise RuntimeError(f"server did not become ready within {timeout:g} s:\n{self.output()}")

    def output(self, tail: int = 4000) -> str:
        """The end of what the server wrote."""
        return self.log_path.read_bytes()[-tail:].decode("utf-8", "replace")

    def kill(self) -> None:
        """SIGKILL (a crash): no shutdown hooks run."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait(10)

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(15)
            except subprocess.TimeoutExpired:
                self.kill()
        self._log.close()


def start_server(url: str, **kwargs) -> ServerProcess:
    """Start and wait for a server (migrations run at its start)."""
    return ServerProcess(url, **kwargs).wait_ready()


@contextlib.contextmanager
def running_server(url: str, **kwargs) -> Iterator[str]:
    """``with running_server(db_url) as base_url: ...`` (real uvicorn, free port). When the
    body fails, the error carries the server's last output and whether it was still running."""
    server = start_server(url, **kwargs)
    try:
        yield server.base_url
    except BaseException as exc:
        state = "running" if server.process.poll() is None else \
            f"exited with {server.process.returncode}"
        exc.add_note(f"the server ({state}) wrote:\n{server.output()}")
        raise
    finally:
        server.stop()


def seller_headers(creds: dict) -> dict[str, str]:
    return {"Client-Id": creds["client_id"], "Api-Key": creds["api_key"]}


def platform_headers(creds: dict) -> dict[str, str]:
    return {"Authorization": f"Bearer {creds['platform_key']}"}
