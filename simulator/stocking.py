"""Stock quantities a scenario plans from its demand: initial units per (SKU, warehouse).

Pure functions of the scenario (numpy, no SimPy): the simulator starts its ledger from them and
the reference backend seeds a seller's stock from them, so both start from the same units.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np


def initial_stock(scenario, sku_group: np.ndarray, group_names: Sequence[str],
                  sku_daily_units: np.ndarray) -> np.ndarray:
    """Units per ``[sku, warehouse]`` at minute 0 from ``stock.initial`` (later rules win).

    ``days_of_cover`` is that many days of the SKU's baseline demand, divided evenly among the
    warehouses the rule matches, rounded up to whole units.
    """
    warehouses = [w.id for w in scenario.network.warehouses]
    units = np.zeros((sku_group.size, len(warehouses)))
    group_index = {name: i for i, name in enumerate(group_names)}
    for rule in scenario.stock.initial:
        wmask = np.array([rule.warehouse in ("*", w) for w in warehouses])
        smask = np.ones(sku_group.size, dtype=bool)
        if rule.sku_group != "*":
            smask &= sku_group == group_index[rule.sku_group]
        if rule.sku is not None:
            smask &= np.arange(sku_group.size) == rule.sku
        if rule.units is not None:
            value = np.full(int(smask.sum()), float(rule.units))
        else:
            value = np.ceil(rule.days_of_cover * sku_daily_units[smask] / wmask.sum() - 1e-9)
        units[np.ix_(smask, wmask)] = value[:, None]
    return units.astype(np.int64)
