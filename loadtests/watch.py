"""Is the backend still there? A connection probe the harness runs beside the load.

A load test against a backend that is down would run its whole duration recording nothing
but connection errors. :func:`connect_problem` tries one TCP connection to the URL's host and
port; :class:`BackendWatch` probes at most once a second while the load runs and says the
backend is gone once every probe has failed for ``give_up_s`` seconds in a row. A backend
that accepts connections but answers slowly, or with errors, is not gone: that is what the
load test measures.
"""

from __future__ import annotations

import socket
import time
from collections.abc import Callable
from urllib.parse import urlsplit


def connect_problem(url: str, timeout_s: float = 2.0) -> str | None:
    """Why no TCP connection to ``url``'s host and port could be opened; ``None`` if one was."""
    parts = urlsplit(url)
    host = parts.hostname or "localhost"
    port = parts.port or (443 if parts.scheme == "https" else 80)
    try:
        with socket.create_connection((host, port), timeout=timeout_s):
            return None
    except TimeoutError:
        return f"no connection within {timeout_s:g} s"
    except ConnectionRefusedError:
        return "connection refused"
    except OSError as exc:
        return exc.strerror or type(exc).__name__


class BackendWatch:
    """Probes ``url`` every ``every_s``; :meth:`gone` once it has refused for ``give_up_s``."""

    def __init__(self, url: str, *, give_up_s: float, every_s: float = 1.0,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.url, self.give_up_s, self.every_s, self.clock = url, give_up_s, every_s, clock
        self.failing_since: float | None = None
        self.problem: str | None = None
        self._next = 0.0

    def gone(self) -> bool:
        """Probe if a probe is due; whether the backend has been unreachable long enough."""
        now = self.clock()
        if now >= self._next:
            self._next = now + self.every_s
            self.problem = connect_problem(self.url, timeout_s=min(2.0, self.give_up_s))
            if self.problem is None:
                self.failing_since = None
            elif self.failing_since is None:
                self.failing_since = now
        return self.failing_since is not None and now - self.failing_since >= self.give_up_s
