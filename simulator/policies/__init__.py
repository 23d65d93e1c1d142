"""Allocation and replenishment policies (pure Python), by registered name.

Importing this package registers the built-ins; see :mod:`simulator.policies.base`.
"""

from simulator.policies import allocation as _allocation  # noqa: F401  (registers built-ins)
from simulator.policies import replenishment as _replenishment  # noqa: F401
from simulator.policies.base import (
    Allocation,
    AllocationPolicy,
    InventoryState,
    MappingStock,
    NetworkView,
    OrderLine,
    OrderRequest,
    Pick,
    Refusal,
    RefusalReason,
    ReplenishmentPolicy,
    StaticNetwork,
    StockView,
    UnknownPolicy,
    allocation_policies,
    replenishment_policies,
)

__all__ = [
    "Allocation",
    "AllocationPolicy",
    "InventoryState",
    "MappingStock",
    "NetworkView",
    "OrderLine",
    "OrderRequest",
    "Pick",
    "Refusal",
    "RefusalReason",
    "ReplenishmentPolicy",
    "StaticNetwork",
    "StockView",
    "UnknownPolicy",
    "allocation_policies",
    "replenishment_policies",
]
