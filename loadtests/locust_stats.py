"""Locust's statistics classes, imported without gevent's monkey-patching.

``import locust`` patches the whole process for gevent. The ``peakline`` CLI and the test
suite only need ``locust.stats`` to read and judge what a Locust run recorded, so they import
it here with ``LOCUST_SKIP_MONKEY_PATCH`` set for the moment of the import (the environment
is restored so Locust child processes still patch themselves).
"""

from __future__ import annotations

import os
from types import ModuleType


def stats_module() -> ModuleType:
    """``locust.stats``, imported once without monkey-patching this process."""
    already = os.environ.get("LOCUST_SKIP_MONKEY_PATCH")
    os.environ["LOCUST_SKIP_MONKEY_PATCH"] = "1"
    try:
        import locust.stats
    finally:
        if already is None:
            os.environ.pop("LOCUST_SKIP_MONKEY_PATCH", None)
    return locust.stats
