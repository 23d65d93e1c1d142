"""Shared fixtures, and the CI rule that PostgreSQL tests never skip silently."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SCENARIOS = ROOT / "scenarios"


def pytest_sessionstart(session: pytest.Session) -> None:
    """In CI (``CI`` set), PEAKLINE_TEST_DATABASE_URL must be set and reachable."""
    if not os.environ.get("CI"):
        return
    url = os.environ.get("PEAKLINE_TEST_DATABASE_URL")
    if not url:
        raise pytest.UsageError("CI is set but PEAKLINE_TEST_DATABASE_URL is not")
    import psycopg

    try:
        psycopg.connect(url, connect_timeout=5).close()
    except psycopg.OperationalError as exc:
        raise pytest.UsageError(f"PEAKLINE_TEST_DATABASE_URL is unreachable: {exc}") from exc


@pytest.fixture(scope="session")
def smoke_path() -> Path:
    return SCENARIOS / "smoke.yaml"


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Files of the longest tests first (a larger ``timeout`` mark, then ``slow``), so that on
    several workers (``make test``) they start at once instead of finishing last on one worker."""

    def weight(item: pytest.Item) -> tuple[float, bool]:
        timeout = item.get_closest_marker("timeout")
        return (float(timeout.args[0]) if timeout and timeout.args else 0.0,
                item.get_closest_marker("slow") is not None)

    heaviest: dict[Path, tuple[float, bool]] = {}
    for item in items:
        heaviest[item.path] = max(heaviest.get(item.path, (0.0, False)), weight(item))
    items.sort(key=lambda item: heaviest[item.path], reverse=True)  # stable within a weight
