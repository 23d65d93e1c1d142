"""JSON logs (python-json-logger, encoded by orjson) with the current request id on every record.

The access log (one line per request, :class:`AccessLog`) is the exception: at thousands of
requests a second, a ``LogRecord`` and python-json-logger's formatting per request cost more
than the rest of a trivial request. Its lines are the same (the same keys and values, JSON or
readable like the handler's), but a request only appends a tuple; a thread formats what
gathered and writes it in one go, every :data:`AccessLog.FLUSH_EVERY_S` at most.
"""

from __future__ import annotations

import atexit
import logging
import sys
import threading
import time
from collections import deque
from contextvars import ContextVar
from typing import IO

import orjson
from pythonjsonlogger.orjson import OrjsonFormatter

#: The logger of one record per request (:class:`AccessLog`).
ACCESS_LOGGER = "reference_backend.access"

#: The id of the request being served (``-`` outside a request).
request_id_var: ContextVar[str] = ContextVar("peakline_request_id", default="-")


class RequestIdFilter(logging.Filter):
    """Adds ``request_id`` to every record."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.request_id = request_id_var.get()
        return True


class ReadableFormatter(logging.Formatter):
    """Short lines for a person at a terminal: ``12:00:01 GET /v3/posting/fbs/list 200 4.1 ms``
    for a request, ``12:00:01 WARNING logger: message`` for anything else."""

    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)s %(name)s: %(message)s", datefmt="%H:%M:%S")

    def format(self, record: logging.LogRecord) -> str:
        if record.name == ACCESS_LOGGER and hasattr(record, "status"):
            return (f"{self.formatTime(record, self.datefmt)} {record.method} {record.path} "
                    f"{record.status} {record.duration_ms:.1f} ms")
        return super().format(record)


def configure_logging(level: str = "INFO", *, json_logs: bool = True) -> None:
    """Route the root logger to stderr, as JSON lines with request ids, or short readable lines.

    Idempotent: calling it again replaces the handler it installed before.
    """
    root = logging.getLogger()
    for handler in list(root.handlers):
        if getattr(handler, "_peakline", False):
            root.removeHandler(handler)
    handler = logging.StreamHandler(sys.stderr)
    handler._peakline = True  # type: ignore[attr-defined]
    if json_logs:
        handler.setFormatter(
            OrjsonFormatter(
                "%(asctime)s %(levelname)s %(name)s %(message)s %(request_id)s",
                rename_fields={"asctime": "time", "levelname": "level", "name": "logger"},
            )
        )
    else:
        handler.setFormatter(ReadableFormatter())
    handler.addFilter(RequestIdFilter())
    root.addHandler(handler)
    root.setLevel(level.upper())
    ACCESS.write_to(handler, json_lines=json_logs)
    logging.getLogger("uvicorn.access").disabled = True  # AccessLog logs requests
    for chatty in ("alembic", "httpx"):
        logging.getLogger(chatty).setLevel(logging.WARNING)


class AccessLog:
    """One line per request, formatted and written off the request path, in batches.

    :meth:`add` is all a request pays. The lines go to the stream of the handler that
    :func:`configure_logging` installed (under its lock, so they never interleave with other
    records), formatted as that handler would have formatted an ``INFO`` record of
    :data:`ACCESS_LOGGER` with ``method``, ``path``, ``status`` and ``duration_ms``; with no
    such handler, through ``logging`` as ordinary records. Nothing is logged while that
    logger is not enabled for ``INFO``.
    """

    FLUSH_EVERY_S = 0.1

    def __init__(self) -> None:
        self.logger = logging.getLogger(ACCESS_LOGGER)
        self.handler: logging.StreamHandler[IO[str]] | None = None
        self.json_lines = True
        #: (unix time, request id, method, path, status, seconds); appended by requests,
        #: taken by :meth:`flush` (a deque: both ends are thread-safe)
        self.pending: deque[tuple[float, str, str, str, int, float]] = deque()
        self._wake = threading.Event()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()  # a flush at a time
        self._second = (-1, "")  # the last formatted second: (int(time), its text)

    def write_to(self, handler: logging.StreamHandler[IO[str]], *, json_lines: bool) -> None:
        self.flush()
        self.handler, self.json_lines = handler, json_lines

    def add(self, method: str, path: str, status: int, seconds: float) -> None:
        """A finished request (of the current request id)."""
        if not self.logger.isEnabledFor(logging.INFO):
            return
        self.pending.append((time.time(), request_id_var.get(), method, path, status, seconds))
        if self._thread is None:
            self._start()
        if not self._wake.is_set():  # (set after the writer cleared it: it writes this line)
            self._wake.set()

    def _start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="peakline-access-log",
                                        daemon=True)
        self._thread.start()
        atexit.register(self.flush)

    def _run(self) -> None:
        while True:
            self._wake.wait()
            self._wake.clear()
            time.sleep(self.FLUSH_EVERY_S)  # let a batch gather
            self.flush()

    def flush(self) -> None:
        """Write what gathered (also at exit, and before the handler changes)."""
        with self._lock:
            batch = [self.pending.popleft() for _ in range(len(self.pending))]
            if not batch:
                return
            handler = self.handler
            if handler is None or not self.logger.isEnabledFor(logging.INFO):
                for when, request_id, method, path, status, seconds in batch:
                    self._as_record(when, request_id, method, path, status, seconds)
                return
            text = "".join(self._line(*entry) for entry in batch)
            handler.acquire()
            try:
                handler.stream.write(text)
                handler.flush()
            except (OSError, ValueError):  # a closed or broken stream: as logging does
                pass
            finally:
                handler.release()

    def _line(self, when: float, request_id: str, method: str, path: str, status: int,
              seconds: float) -> str:
        second = int(when)
        if second != self._second[0]:
            self._second = (second, time.strftime(
                "%Y-%m-%d %H:%M:%S", time.localtime(second)))
        stamp = self._second[1]
        if not self.json_lines:
            return f"{stamp[11:]} {method} {path} {status} {seconds * 1000:.1f} ms\n"
        return orjson.dumps({
            "time": f"{stamp},{int((when - second) * 1000):03d}", "level": "INFO",
            "logger": ACCESS_LOGGER, "message": "request", "request_id": request_id,
            "method": method, "path": path, "status": status,
            "duration_ms": round(seconds * 1000, 2)}).decode() + "\n"

    def _as_record(self, when: float, request_id: str, method: str, path: str, status: int,
                   seconds: float) -> None:
        token = request_id_var.set(request_id)
        try:
            self.logger.info("request", extra={"method": method, "path": path, "status": status,
                                               "duration_ms": round(seconds * 1000, 2)})
        finally:
            request_id_var.reset(token)


#: The process's access log.
ACCESS = AccessLog()
