"""The access log writes its lines in batches, off the request path: the same lines as a
``logging`` record of the access logger would have given, JSON or readable."""

from __future__ import annotations

import io
import json
import logging
import re
import time

import pytest

from reference_backend.logging import ACCESS, ACCESS_LOGGER, configure_logging, request_id_var


@pytest.fixture
def captured():  # type: ignore[no-untyped-def]
    """The handler configure_logging installs, writing to a buffer; restored afterwards."""
    def configure(json_logs: bool, level: str = "INFO") -> io.StringIO:
        configure_logging(level, json_logs=json_logs)
        handler = ACCESS.handler
        assert handler is not None
        buffer = io.StringIO()
        handler.setStream(buffer)
        return buffer

    yield configure
    configure_logging("INFO", json_logs=True)


def _as_a_record(buffer: io.StringIO) -> dict:
    """What ``logging`` writes for the same request, through the same handler."""
    token = request_id_var.set("abc")
    try:
        logging.getLogger(ACCESS_LOGGER).info("request", extra={
            "method": "POST", "path": "/v3/posting/fbs/list", "status": 200,
            "duration_ms": 12.35})
    finally:
        request_id_var.reset(token)
    return json.loads(buffer.getvalue().splitlines()[-1])


def test_json_lines_are_those_of_a_log_record(captured) -> None:
    buffer = captured(json_logs=True)
    token = request_id_var.set("abc")
    try:
        ACCESS.add("POST", "/v3/posting/fbs/list", 200, 0.012345)
    finally:
        request_id_var.reset(token)
    ACCESS.flush()
    ours = json.loads(buffer.getvalue())
    theirs = _as_a_record(buffer)
    assert list(ours) == list(theirs)  # the same keys in the same order
    assert {k: v for k, v in ours.items() if k != "time"} == {
        k: v for k, v in theirs.items() if k != "time"}
    assert re.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3}", ours["time"])


def test_readable_lines_and_a_batch_written_without_a_flush_call(captured) -> None:
    buffer = captured(json_logs=False)
    for status in (200, 404):
        ACCESS.add("GET", "/health", status, 0.0041)
    deadline = time.monotonic() + 10
    while buffer.getvalue().count("\n") < 2 and time.monotonic() < deadline:
        time.sleep(0.02)  # the writer thread takes the batch within FLUSH_EVERY_S
    lines = buffer.getvalue().splitlines()
    assert [line[9:] for line in lines] == ["GET /health 200 4.1 ms", "GET /health 404 4.1 ms"]
    assert re.fullmatch(r"\d\d:\d\d:\d\d", lines[0][:8])


def test_nothing_is_logged_below_the_level(captured) -> None:
    buffer = captured(json_logs=True, level="WARNING")
    ACCESS.add("GET", "/health", 200, 0.001)
    ACCESS.flush()
    assert buffer.getvalue() == ""
