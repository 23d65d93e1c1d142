"""The policy registry: built-in names, clear errors, and third-party entry points."""

from __future__ import annotations

import importlib
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest

import simulator.policies  # noqa: F401  (registers the built-ins)
from simulator.policies.base import (
    Allocation,
    AllocationPolicy,
    MappingStock,
    OrderLine,
    OrderRequest,
    ReplenishmentPolicy,
    StaticNetwork,
    UnknownPolicy,
    allocation_policies,
    replenishment_policies,
)

ALLOCATION = ["balanced", "least_cost", "nearest_with_stock", "single_warehouse"]
REPLENISHMENT = ["base_stock", "forecast", "periodic_review", "r_Q", "s_S"]

PLUGIN = '''
from typing import ClassVar
from simulator.policies.base import Allocation, Pick, Refusal


class FirstListed:
    """Serves every line from the first warehouse the network lists, or refuses."""

    name: ClassVar[str] = "first_listed"

    def __init__(self, patience: int = 0) -> None:
        if patience < 0:
            raise ValueError("first_listed: patience must be >= 0")
        self.patience = patience

    def allocate(self, order, stock, network):
        wh = network.warehouses[0]
        if all(stock.available(l.sku, wh) >= l.quantity for l in order.lines):
            return Allocation(tuple(Pick(i, wh, l.quantity) for i, l in enumerate(order.lines)))
        return Refusal("out_of_stock", tuple(range(len(order.lines))))


class Never:
    name: ClassVar[str] = "never"
    review_hours = None

    def order_quantity(self, state):
        return 0
'''


@pytest.fixture
def plugin(tmp_path: Path) -> Iterator[str]:
    """An installed distribution in a sys.path directory, as pip would leave it."""
    module = "peakline_plugin_example"
    (tmp_path / f"{module}.py").write_text(textwrap.dedent(PLUGIN))
    dist = tmp_path / "peakline_plugin_example-0.1.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text(
        "Metadata-Version: 2.1\nName: peakline-plugin-example\nVersion: 0.1\n"
    )
    (dist / "entry_points.txt").write_text(
        "[peakline.allocation]\n"
        f"first_listed = {module}:FirstListed\n"
        f"nearest_with_stock = {module}:FirstListed\n"  # cannot shadow a built-in
        "broken = peakline_no_such_module:Policy\n"
        "\n[peakline.replenishment]\n"
        f"never = {module}:Never\n"
    )
    sys.path.insert(0, str(tmp_path))
    importlib.invalidate_caches()
    allocation_policies.refresh()
    replenishment_policies.refresh()
    try:
        yield module
    finally:
        sys.path.remove(str(tmp_path))
        sys.modules.pop(module, None)
        importlib.invalidate_caches()
        allocation_policies.refresh()
        replenishment_policies.refresh()


def test_builtin_names_are_listed() -> None:
    assert set(ALLOCATION) <= set(allocation_policies.names())
    assert set(REPLENISHMENT) <= set(replenishment_policies.names())
    for name in ALLOCATION:
        assert isinstance(allocation_policies.create(name), AllocationPolicy)
    for name in REPLENISHMENT:
        assert isinstance(replenishment_policies.create(name), ReplenishmentPolicy)


def test_unknown_name_lists_the_known_ones() -> None:
    with pytest.raises(UnknownPolicy) as info:
        allocation_policies.create("nearest")
    message = str(info.value)
    assert "unknown allocation policy 'nearest'" in message
    assert all(name in message for name in ALLOCATION)
    assert isinstance(info.value, KeyError) and info.value.known == allocation_policies.names()


def test_unknown_or_missing_parameters_are_value_errors() -> None:
    with pytest.raises(ValueError, match=r"unknown parameter\(s\) 'S'; accepted: s_days, S_days"):
        replenishment_policies.create("s_S", {"S": 3})

    from simulator.policies.base import Registry

    registry: Registry = Registry("allocation", "peakline.test-nothing")

    @registry.register
    class NeedsRadius:
        name = "needs_radius"

        def __init__(self, radius_km: float) -> None:
            self.radius_km = radius_km

    with pytest.raises(ValueError, match="missing required parameter.*radius_km"):
        registry.create("needs_radius")
    assert registry.create("needs_radius", {"radius_km": 5}).radius_km == 5
    with pytest.raises(TypeError, match="name"):
        registry.register(type("Nameless", (), {}))


def test_a_policy_installed_through_an_entry_point_is_found_by_name(plugin: str) -> None:
    assert "first_listed" in allocation_policies.names()
    assert "never" in replenishment_policies.names()
    policy = allocation_policies.create("first_listed", {"patience": 2})
    assert type(policy).__module__ == plugin and policy.patience == 2
    network = StaticNetwork(["A", "B"], {("A", "R"): 9.0, ("B", "R"): 1.0})
    order = OrderRequest("R", (OrderLine(1, 2),))
    result = policy.allocate(order, MappingStock({(1, "A"): 5}), network)
    assert isinstance(result, Allocation) and result.warehouses() == ["A"]
    # the plugin's own constructor validation and the registry's parameter check both apply
    with pytest.raises(ValueError, match="patience must be >= 0"):
        allocation_policies.create("first_listed", {"patience": -1})
    with pytest.raises(ValueError, match="unknown parameter.*accepted: patience"):
        allocation_policies.create("first_listed", {"speed": 1})
    assert replenishment_policies.create("never").review_hours is None
    # a built-in keeps its name; a plugin that fails to import names its entry point
    assert type(allocation_policies.create("nearest_with_stock")).__module__ != plugin
    with pytest.raises(ValueError, match="peakline_no_such_module:Policy.*failed to load"):
        allocation_policies.create("broken")


def test_entry_points_disappear_after_refresh(plugin: str, tmp_path: Path) -> None:
    assert "first_listed" in allocation_policies.names()
    sys.path.remove(str(tmp_path))
    try:
        importlib.invalidate_caches()
        allocation_policies.refresh()
        assert "first_listed" not in allocation_policies.names()
    finally:
        sys.path.insert(0, str(tmp_path))
