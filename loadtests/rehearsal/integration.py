"""The integration under test: a command the rehearsal starts, or a service already running.

Either way the rehearsal needs the same three things of it: bring it up with its connection
(``OZON_API_URL``, ``OZON_CLIENT_ID``, ``OZON_API_KEY``), know at once when it is gone, and
say where its own log is. :class:`StartedIntegration` runs a shell command with the
connection in its environment; :class:`RunningIntegration` is a service started elsewhere (a
container, another host) that cannot be handed an environment: it reads the connection from
the ``ozon.env`` file the rehearsal writes (or was configured with a pre-seeded seller's
keys), and the rehearsal waits until its health URL answers.
"""

from __future__ import annotations

import asyncio
import os
from pathlib import Path
from typing import Protocol

from loadtests.processes import ManagedProcess, wait_http_ok
from loadtests.watch import BackendWatch

#: seconds a running integration may refuse connections before it counts as gone
GONE_AFTER_S = 5.0


class Integration(Protocol):
    description: str

    async def start(self, connection: dict[str, str], timeout_s: float) -> None:
        """Bring it up (``RuntimeError`` naming why it could not)."""

    def problem(self) -> str | None:
        """Why it is gone, or ``None`` while it is there."""

    def stop(self) -> None: ...

    def tail(self) -> str: ...


class StartedIntegration:
    """A shell command run with the connection in its environment, its output in ``log``."""

    def __init__(self, command: str, log: Path) -> None:
        self.description = "the integration"
        self.command, self.log = command, log
        self.process: ManagedProcess | None = None

    async def start(self, connection: dict[str, str], timeout_s: float) -> None:
        self.process = ManagedProcess("integration", ["bash", "-c", self.command], self.log,
                                      env={**os.environ, **connection}).start()

    def problem(self) -> str | None:
        code = self.process.poll() if self.process else None
        return None if code is None else f"it exited with code {code}"

    def stop(self) -> None:
        if self.process is not None:
            self.process.stop()

    def tail(self) -> str:
        return self.process.tail() if self.process else ""


class RunningIntegration:
    """A service started elsewhere; ``health_url`` answers 2xx while it is up."""

    def __init__(self, health_url: str) -> None:
        self.health_url = health_url
        self.description = f"the integration at {health_url}"
        self.watch = BackendWatch(health_url, give_up_s=GONE_AFTER_S)

    async def start(self, connection: dict[str, str], timeout_s: float) -> None:
        await asyncio.to_thread(wait_http_ok, self.health_url, timeout_s=timeout_s)

    def problem(self) -> str | None:
        if self.watch.gone():
            return f"it stopped accepting connections ({self.watch.problem})"
        return None

    def stop(self) -> None:
        """Not ours to stop."""

    def tail(self) -> str:
        return ""
