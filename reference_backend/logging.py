"""JSON logs (python-json-logger, encoded by orjson) with the current request id on every record."""

from __future__ import annotations

import logging
import sys
from contextvars import ContextVar

from pythonjsonlogger.orjson import OrjsonFormatter

#: The id of the request being served (``-`` outside a request).
request_id_var: ContextVar[str] = ContextVar("peakline_request_id", default="-")


class RequestIdFilter(logging.Filter):
    """Adds ``request_id`` to every record."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.request_id = request_id_var.get()
        return True


def configure_logging(level: str = "INFO", *, json_logs: bool = True) -> None:
    """Route the root logger to stderr, as JSON lines (or plain text), with request ids.

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
        handler.setFormatter(
            logging.Formatter("%(asctime)s %(levelname)s %(name)s [%(request_id)s] %(message)s")
        )
    handler.addFilter(RequestIdFilter())
    root.addHandler(handler)
    root.setLevel(level.upper())
    logging.getLogger("uvicorn.access").disabled = True  # RequestIdMiddleware logs requests
    for chatty in ("alembic", "httpx"):
        logging.getLogger(chatty).setLevel(logging.WARNING)
