"""JSON logs (python-json-logger, encoded by orjson) with the current request id on every record."""

from __future__ import annotations

import logging
import sys
from contextvars import ContextVar

from pythonjsonlogger.orjson import OrjsonFormatter

#: The logger of one record per request (``RequestIdMiddleware``).
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
    logging.getLogger("uvicorn.access").disabled = True  # RequestIdMiddleware logs requests
    for chatty in ("alembic", "httpx"):
        logging.getLogger(chatty).setLevel(logging.WARNING)
