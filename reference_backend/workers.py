"""Several uvicorn workers, each listening on its own socket of one ``SO_REUSEPORT`` group.

uvicorn's workers share one listening socket and race to accept from it, and the kernel
wakes the worker that waited last: a few workers take most connections (2 workers and 64
keep-alive connections were seen split 16/51, so one worker ran at its limit while the
other idled). With a socket per worker in one ``SO_REUSEPORT`` group the kernel spreads
new connections over the workers by a hash of their addresses (Linux).

uvicorn's supervisor is used as is (worker restarts, health checks, signals). It hands each
worker process the listening sockets pickled; :class:`ReusePortListeners` pickles as a
recipe instead, so each worker process, new or restarted, binds a socket of its own.
"""

from __future__ import annotations

import socket
import sys

from uvicorn import Config
from uvicorn.supervisors import Multiprocess

#: Linux balances connections over the sockets of a group; elsewhere one socket takes all.
BALANCED = sys.platform.startswith("linux") and hasattr(socket, "SO_REUSEPORT")


def reuse_port_socket(host: str, port: int) -> socket.socket:
    """A TCP socket bound to ``host:port`` in the port's ``SO_REUSEPORT`` group (the server
    starts listening on it)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    try:
        sock.bind((host, port))
    except OSError:
        sock.close()
        raise
    sock.set_inheritable(True)
    return sock


def _bound_here(host: str, port: int) -> list[socket.socket]:
    return [reuse_port_socket(host, port)]


class ReusePortListeners(list[socket.socket]):
    """The sockets argument of uvicorn's supervisor: empty in the parent; unpickled in a
    worker process, a list of one socket bound there (:func:`reuse_port_socket`)."""

    def __init__(self, host: str, port: int) -> None:
        super().__init__()
        self.address = (host, port)

    def __reduce__(self):  # type: ignore[no-untyped-def]
        return _bound_here, self.address


def run(config: Config) -> None:
    """Serve ``config`` (an import-string app, ``workers`` > 1) until a signal stops it.

    The parent binds the port first, without listening (it takes no connections): a port in
    use fails here, once, and port 0 becomes the free port the workers then share."""
    try:
        reserved = reuse_port_socket(config.host, config.port)
    except OSError as exc:
        raise SystemExit(f"cannot listen on {config.host}:{config.port}: {exc.strerror}") from None
    with reserved:
        config.port = reserved.getsockname()[1]
        print(f"peakline serving http://{config.host}:{config.port} with {config.workers} "
              "workers", file=sys.stderr, flush=True)
        Multiprocess(config, sockets=ReusePortListeners(config.host, config.port)).run()
