"""Routers are matched hot ones first (``app.HOT_ROUTERS``): that is only safe while no
request path and method is served by routes of two routers."""

from __future__ import annotations

import re

from fastapi.routing import APIRoute

from reference_backend.app import HOT_ROUTERS, discover


def _sample(path: str) -> str:
    """A concrete path for a route template (each parameter a plain value)."""
    return re.sub(r"\{[^}]+\}", "1", path)


def test_no_path_is_served_by_two_routers() -> None:
    routers, _ = discover()
    routes = [(i, r) for i, router in enumerate(routers) for r in router.routes
              if isinstance(r, APIRoute)]
    assert len(routes) > 100
    shared = [(a.path, b.path) for i, a in routes for j, b in routes
              if i != j and a.methods & b.methods and b.path_regex.match(_sample(a.path))]
    assert shared == []


def test_hot_routers_come_first() -> None:
    routers, _ = discover()
    paths = {r.path for router in routers[:len(HOT_ROUTERS)] for r in router.routes}
    assert {"/v3/posting/fbs/list", "/v4/posting/fbs/unfulfilled/list",
            "/marketplace/v1/orders"} <= paths
