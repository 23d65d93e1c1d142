"""Built-in allocation policies: which warehouse serves each order line.

All four share the rules of the contract: never assign more than a warehouse has available
(a SKU appearing on two lines draws on one pool), never use a closed or unreachable
warehouse, and refuse the whole order (``Refusal`` with the indexes of the lines that cannot
be served) rather than serve part of it. Nothing is reserved here: the caller reserves what
an ``Allocation`` names.

Network distances and costs do not change within a run, so each policy ranks warehouses once
per buyer region and caches that ranking for the network object it was computed from (a call
with another network object starts a fresh cache). ``is_open`` and ``load`` are read on
every call.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Any, ClassVar

from simulator.policies.base import (
    Allocation,
    NetworkView,
    OrderRequest,
    Pick,
    Refusal,
    RefusalReason,
    StockView,
    allocation_policies,
)

__all__ = ["Balanced", "LeastCost", "NearestWithStock", "SingleWarehouse"]

# Branch-and-bound nodes least_cost explores per order before it settles for the best found.
_MAX_SEARCH_NODES = 20_000


def _number(what: str, value: Any, *, minimum: float = 0.0) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or math.isnan(value):
        raise ValueError(f"{what} must be a number, got {value!r}")
    if value < minimum:
        raise ValueError(f"{what} must be >= {minimum:g}, got {value!r}")
    return float(value)


class _RankingCache:
    """Per-region warehouse rankings, cached for one network object at a time."""

    def __init__(self) -> None:
        self._cache: tuple[object | None, dict[str, tuple[Any, ...]]] = (None, {})

    def _ranking(self, region: str, network: NetworkView) -> tuple[Any, ...]:
        cache = self._cache  # one read: safe if threads call with different networks
        if cache[0] is not network:
            cache = (network, {})
            self._cache = cache
        ranking = cache[1].get(region)
        if ranking is None:
            ranking = cache[1][region] = self._rank(region, network)
        return ranking

    def _rank(self, region: str, network: NetworkView) -> tuple[Any, ...]:
        raise NotImplementedError

    def clear_cache(self) -> None:
        """Forget cached rankings (only needed if a network's distances change in place)."""
        self._cache = (None, {})

    def __getstate__(self) -> dict[str, Any]:
        state = dict(self.__dict__)
        state["_cache"] = (None, {})  # the network does not travel with a pickled policy
        return state

    def __repr__(self) -> str:
        params = ", ".join(f"{k}={v!r}" for k, v in self.params().items())
        return f"{type(self).__name__}({params})"

    def params(self) -> dict[str, Any]:
        return {}


def _rank_by_transit(region: str, network: NetworkView) -> tuple[str, ...]:
    """Reachable warehouses, nearest first (ties: cheaper, then by id)."""
    keyed = []
    for wh in network.warehouses:
        hours = network.transit_hours(wh, region)
        if math.isfinite(hours):
            keyed.append((hours, network.cost_per_parcel(wh, region), wh))
    keyed.sort()
    return tuple(wh for _, _, wh in keyed)


def _rank_by_cost(region: str, network: NetworkView) -> tuple[tuple[str, float], ...]:
    """Reachable warehouses with their cost per parcel, cheapest first (ties: faster, id)."""
    keyed = []
    for wh in network.warehouses:
        cost = network.cost_per_parcel(wh, region)
        hours = network.transit_hours(wh, region)
        if math.isfinite(cost) and math.isfinite(hours):
            keyed.append((cost, hours, wh))
    keyed.sort()
    return tuple((wh, cost) for cost, _, wh in keyed)


def _check_quantity(i: int, quantity: int) -> None:
    if quantity < 0:
        raise ValueError(f"order line {i}: quantity must be >= 0, got {quantity}")


def _greedy(
    order: OrderRequest, stock: StockView, candidates: Sequence[str]
) -> tuple[list[Pick], list[int]]:
    """Per line: the first candidate holding the whole line, else split in candidate order.

    A line that cannot be covered is rolled back (it takes nothing from later lines) and its
    index reported. ``candidates`` are open warehouses in order of preference.
    """
    picks: list[Pick] = []
    unserved: list[int] = []
    taken: dict[tuple[int, str], int] = {}
    available = stock.available
    for i, line in enumerate(order.lines):
        sku, need = line.sku, line.quantity
        if need <= 0:
            _check_quantity(i, need)
            continue
        have: list[int] = []
        for wh in candidates:
            units = available(sku, wh) - taken.get((sku, wh), 0)
            if units >= need:
                picks.append(Pick(i, wh, need))
                taken[sku, wh] = taken.get((sku, wh), 0) + need
                break
            have.append(units)
        else:
            if sum(u for u in have if u > 0) < need:
                unserved.append(i)
                continue
            left = need
            for wh, units in zip(candidates, have, strict=True):
                if units <= 0:
                    continue
                part = units if units < left else left
                picks.append(Pick(i, wh, part))
                taken[sku, wh] = taken.get((sku, wh), 0) + part
                left -= part
                if not left:
                    break
    return picks, unserved


def _result(
    order: OrderRequest, picks: list[Pick], unserved: list[int], any_candidate: bool
) -> Allocation | Refusal:
    if not unserved:
        return Allocation(tuple(picks))
    if not any_candidate:
        return Refusal(RefusalReason.NO_OPEN_WAREHOUSE, tuple(unserved))
    return Refusal(RefusalReason.OUT_OF_STOCK, tuple(unserved))


def _whole_order(order: OrderRequest, warehouse: str) -> Allocation:
    return Allocation(
        tuple(
            Pick(i, warehouse, line.quantity)
            for i, line in enumerate(order.lines)
            if line.quantity > 0
        )
    )


def _holds(stock: StockView, warehouse: str, need: dict[int, int]) -> bool:
    available = stock.available
    for sku, units in need.items():  # noqa: SIM110  (a loop beats all(<genexpr>) here)
        if available(sku, warehouse) < units:
            return False
    return True


def _demand(order: OrderRequest) -> dict[int, int]:
    """Units asked per SKU over the whole order (a SKU may appear on several lines)."""
    need: dict[int, int] = {}
    for i, line in enumerate(order.lines):
        if line.quantity <= 0:
            _check_quantity(i, line.quantity)
            continue
        need[line.sku] = need.get(line.sku, 0) + line.quantity
    return need


def _positive_lines(order: OrderRequest) -> list[int]:
    return [i for i, line in enumerate(order.lines) if line.quantity > 0]


# --------------------------------------------------------------------------- policies


@allocation_policies.register
class NearestWithStock(_RankingCache):
    """Each line from the nearest open warehouse (routed transit hours) that has all of it.

    A line is split across warehouses, nearest first, only when no single open warehouse
    holds it. Lines are decided in order, each seeing what earlier lines took.
    """

    name: ClassVar[str] = "nearest_with_stock"

    def _rank(self, region: str, network: NetworkView) -> tuple[str, ...]:
        return _rank_by_transit(region, network)

    def allocate(
        self, order: OrderRequest, stock: StockView, network: NetworkView
    ) -> Allocation | Refusal:
        is_open = network.is_open
        candidates = [wh for wh in self._ranking(order.region, network) if is_open(wh)]
        picks, unserved = _greedy(order, stock, candidates)
        return _result(order, picks, unserved, bool(candidates))

    def preferences(
        self, region: str, network: NetworkView
    ) -> tuple[tuple[str, ...], tuple[str, ...]]:
        """Plain cases (see ``PlainCases``): a line held in full somewhere goes to the nearest
        such open warehouse."""
        is_open = network.is_open
        candidates = tuple(wh for wh in self._ranking(region, network) if is_open(wh))
        return candidates, candidates


@allocation_policies.register
class Balanced(_RankingCache):
    """Capacity-aware: rank open warehouses by transit hours + ``load_weight`` x backlog hours.

    ``NetworkView.load`` is the warehouse's backlog in hours of its pick capacity, i.e. how
    long a new parcel waits before it is picked; with ``load_weight = 1`` (default) an hour of
    backlog counts like an hour of transit, larger values spread load more eagerly. Lines are
    then served as in nearest_with_stock, in that ranking.
    """

    name: ClassVar[str] = "balanced"

    def __init__(self, load_weight: float = 1.0) -> None:
        super().__init__()
        self.load_weight = _number("balanced: load_weight", load_weight)

    def params(self) -> dict[str, Any]:
        return {"load_weight": self.load_weight}

    def _rank(self, region: str, network: NetworkView) -> tuple[tuple[str, float], ...]:
        ranked = []
        for wh in network.warehouses:
            hours = network.transit_hours(wh, region)
            if math.isfinite(hours):
                ranked.append((wh, hours))
        return tuple(ranked)

    def allocate(
        self, order: OrderRequest, stock: StockView, network: NetworkView
    ) -> Allocation | Refusal:
        is_open, load, weight = network.is_open, network.load, self.load_weight
        scored = [
            (hours + weight * load(wh), hours, wh)
            for wh, hours in self._ranking(order.region, network)
            if is_open(wh)
        ]
        scored.sort()
        candidates = [wh for _, _, wh in scored]
        picks, unserved = _greedy(order, stock, candidates)
        return _result(order, picks, unserved, bool(candidates))


@allocation_policies.register
class LeastCost(_RankingCache):
    """Least total transport cost: the sum of cost per parcel over the postings it creates.

    Cost is per parcel (one parcel per warehouse posting), so the question is which set of
    warehouses to ship from. The cheapest single warehouse holding the whole order is tried
    first; a branch-and-bound over warehouse sets (cheapest first) finds a cheaper or the only
    feasible split. Ties go to fewer postings, then to faster warehouses. Within the chosen set
    each line comes from its cheapest warehouse that holds it, split cheapest-first otherwise.
    """

    name: ClassVar[str] = "least_cost"

    def _rank(self, region: str, network: NetworkView) -> tuple[tuple[str, float], ...]:
        return _rank_by_cost(region, network)

    def allocate(
        self, order: OrderRequest, stock: StockView, network: NetworkView
    ) -> Allocation | Refusal:
        is_open = network.is_open
        ranked = [(wh, cost) for wh, cost in self._ranking(order.region, network) if is_open(wh)]
        candidates = [wh for wh, _ in ranked]
        need = _demand(order)
        if not need:
            return Allocation(())
        chosen = self._cheapest_set(need, stock, ranked)
        if chosen is not None and len(chosen) == 1:
            return _whole_order(order, chosen[0])
        if chosen is None:  # short somewhere: report lines as the cheapest-first greedy sees them
            picks, unserved = _greedy(order, stock, candidates)
            return _result(order, picks, unserved, bool(candidates))
        picks, unserved = _greedy(order, stock, chosen)
        assert not unserved  # a feasible set covers every SKU in total, splitting allowed
        return Allocation(tuple(picks))

    def preferences(
        self, region: str, network: NetworkView
    ) -> tuple[tuple[str, ...], tuple[str, ...]]:
        """Plain cases (see ``PlainCases``): an order the cheapest open warehouse holds in full
        goes there whole (no set of two or more costs less, costs being non-negative)."""
        is_open = network.is_open
        ranked = tuple(wh for wh, _ in self._ranking(region, network) if is_open(wh))
        return ranked[:1], ranked

    @staticmethod
    def _cheapest_set(
        need: dict[int, int], stock: StockView, ranked: list[tuple[str, float]]
    ) -> list[str] | None:
        available = stock.available
        skus = list(need)
        best_cost, best_size, best = math.inf, math.inf, None
        for wh, cost in ranked:  # cheapest single warehouse holding everything
            if _holds(stock, wh, need):
                best_cost, best_size, best = cost, 1, [wh]
                break
        if len(ranked) < 2 or ranked[0][1] + ranked[1][1] >= best_cost:
            return best  # no pair can be cheaper (costs are sorted and non-negative)

        # Branch and bound over sets, cheapest first; a set stops growing once feasible.
        units = [[max(0, available(sku, wh)) for sku in skus] for wh, _ in ranked]
        short0 = [need[sku] for sku in skus]
        if any(s > sum(u[k] for u in units) for k, s in enumerate(short0)):
            return None
        nodes = 0
        chosen: list[int] = []

        def search(start: int, cost: float, short: list[int]) -> None:
            nonlocal best_cost, best_size, best, nodes
            size = len(chosen) + 1
            for j in range(start, len(ranked)):
                total = cost + ranked[j][1]
                if (total, size) >= (best_cost, best_size) or nodes >= _MAX_SEARCH_NODES:
                    return  # sorted by cost: every later j is no better
                nodes += 1
                row = units[j]
                if not any(row[k] for k, s in enumerate(short) if s > 0):
                    continue  # adds nothing that is missing
                left = [s - row[k] if s > 0 else 0 for k, s in enumerate(short)]
                chosen.append(j)
                if max(left) <= 0:
                    best_cost, best_size, best = total, size, [ranked[i][0] for i in chosen]
                else:
                    search(j + 1, total, left)
                chosen.pop()

        search(0, 0.0, short0)
        return best


@allocation_policies.register
class SingleWarehouse(_RankingCache):
    """The whole order from one open warehouse, never split: the nearest that holds it all.

    ``rank_by`` = ``"transit"`` (default) or ``"cost"`` orders the candidates. When no single
    warehouse holds the whole order the refusal names the lines that even the best-placed
    warehouse (most lines covered, ties to the nearer) cannot serve.
    """

    name: ClassVar[str] = "single_warehouse"

    _RANKINGS: ClassVar[dict[str, Callable[[str, NetworkView], tuple[Any, ...]]]] = {
        "transit": _rank_by_transit,
        "cost": lambda region, net: tuple(wh for wh, _ in _rank_by_cost(region, net)),
    }

    def __init__(self, rank_by: str = "transit") -> None:
        super().__init__()
        if rank_by not in self._RANKINGS:
            raise ValueError(
                f"single_warehouse: rank_by must be one of {sorted(self._RANKINGS)}, "
                f"got {rank_by!r}"
            )
        self.rank_by = rank_by

    def params(self) -> dict[str, Any]:
        return {"rank_by": self.rank_by}

    def _rank(self, region: str, network: NetworkView) -> tuple[str, ...]:
        return self._RANKINGS[self.rank_by](region, network)

    def allocate(
        self, order: OrderRequest, stock: StockView, network: NetworkView
    ) -> Allocation | Refusal:
        is_open = network.is_open
        candidates = [wh for wh in self._ranking(order.region, network) if is_open(wh)]
        need = _demand(order)
        if not need:
            return Allocation(())
        for wh in candidates:
            if _holds(stock, wh, need):
                return _whole_order(order, wh)
        if not candidates:
            return Refusal(RefusalReason.NO_OPEN_WAREHOUSE, tuple(_positive_lines(order)))
        best_unserved: list[int] | None = None
        for wh in candidates:
            _, unserved = _greedy(order, stock, (wh,))
            if best_unserved is None or len(unserved) < len(best_unserved):
                best_unserved = unserved
        assert best_unserved is not None
        _, short_overall = _greedy(order, stock, candidates)
        if short_overall:  # the open network as a whole lacks stock for these lines
            return Refusal(RefusalReason.OUT_OF_STOCK, tuple(short_overall))
        return Refusal(RefusalReason.NOT_IN_ONE_WAREHOUSE, tuple(best_unserved))

    def preferences(
        self, region: str, network: NetworkView
    ) -> tuple[tuple[str, ...], tuple[str, ...]]:
        """Plain cases (see ``PlainCases``): an order the first open candidate holds in full
        goes there whole."""
        is_open = network.is_open
        candidates = tuple(wh for wh in self._ranking(region, network) if is_open(wh))
        return candidates[:1], candidates
