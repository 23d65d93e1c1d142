"""The price a product sells at now: its lowest action price among the actions running now
that have units left, else its own price; the action that set it, and its units left.

Both are correlated subqueries over ``action_products`` (indexed by product), put into the
buyer order's candidate-stock read itself, so a promotion costs the order hot path no extra
statement. :data:`PRICE_NOW_SQL` / :data:`ACTION_NOW_SQL` are for the driver-level
statements (the products table aliased ``p``; "now" is the statement's time, the order's);
:func:`price_at` / :func:`action_at` are the same in SQLAlchemy Core for the portable writer,
at a given time (a back-dated order of a replayed history sells at the prices of its day).

An action's ``stock`` (0: not set) caps the units sold at its price: :func:`settle` keeps
the action price for an order's SKU only while its units fit in what is left (a line that
does not fit sells at the product's own price), and the order's writer adds them to
``sold`` under a guard (``sold <= stock``, also a CHECK constraint), so concurrent orders
never sell more than ``stock`` units at the action price.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy import ColumnElement, Numeric, Table, case, cast, func, select

from reference_backend.tables import Action, ActionProduct

_RUNNING = ("FROM action_products ap JOIN actions a ON a.id = ap.action_id "
            "WHERE ap.product_id = p.product_id AND a.date_start <= CURRENT_TIMESTAMP "
            "AND a.date_end > CURRENT_TIMESTAMP AND (ap.stock = 0 OR ap.sold < ap.stock) "
            "ORDER BY CAST(ap.action_price AS NUMERIC), ap.action_id LIMIT 1")
#: The price of product ``p`` now (a decimal string, as ``products.price``).
PRICE_NOW_SQL = f"COALESCE((SELECT ap.action_price {_RUNNING}), p.price)"
#: The action whose price :data:`PRICE_NOW_SQL` took (NULL: the product's own price).
ACTION_NOW_SQL = f"(SELECT ap.action_id {_RUNNING})"
#: The units that action has left for the product (NULL: no limit, or no action).
LEFT_NOW_SQL = (f"(SELECT CASE WHEN ap.stock = 0 THEN NULL ELSE ap.stock - ap.sold END "
                f"{_RUNNING})")

_AP, _A = ActionProduct.__table__, Action.__table__


def _running(column: ColumnElement, products: Table, at: ColumnElement) -> ColumnElement:
    return (
        select(column)
        .select_from(_AP.join(_A, _A.c.id == _AP.c.action_id))
        .where(_AP.c.product_id == products.c.product_id, _A.c.date_start <= at,
               _A.c.date_end > at, (_AP.c.stock == 0) | (_AP.c.sold < _AP.c.stock))
        .order_by(cast(_AP.c.action_price, Numeric), _AP.c.action_id)
        .limit(1)
        .scalar_subquery()
    )


def price_at(products: Table, at: ColumnElement) -> ColumnElement:
    """:data:`PRICE_NOW_SQL` at time ``at`` for the ``products`` table in a Core query."""
    return func.coalesce(_running(_AP.c.action_price, products, at), products.c.price)


def action_at(products: Table, at: ColumnElement) -> ColumnElement:
    """:data:`ACTION_NOW_SQL` at time ``at`` for the ``products`` table in a Core query."""
    return _running(_AP.c.action_id, products, at)


def left_at(products: Table, at: ColumnElement) -> ColumnElement:
    """:data:`LEFT_NOW_SQL` at time ``at`` for the ``products`` table in a Core query."""
    return _running(case((_AP.c.stock == 0, None), else_=_AP.c.stock - _AP.c.sold), products, at)


#: Units an order takes at an action price: ``(action_id, product_id, quantity)``.
ActionMove = tuple[int, int, int]


def settle(
    units: Mapping[int, int], products: Mapping[int, Any],
    taken: dict[tuple[int, int], int] | None = None,
) -> tuple[dict[int, Any], list[ActionMove]]:
    """The candidate rows an order sells at, and the action units it takes.

    ``units``: units per SKU of the order; ``products``: each SKU's candidate row
    (:data:`reference_backend.orders.plan.Candidate`: price at 6, action at 8, the product's
    own price at 9, the action's units left at 10). A SKU whose units do not fit in what its
    action has left (less ``taken`` by earlier orders of the same batch, updated here) gets
    the product's own price and no action.
    """
    out = dict(products)
    moves: list[ActionMove] = []
    for sku, quantity in units.items():
        row = products[sku]
        action_id, left = row[8], row[10]
        if action_id is None or left is None:
            continue
        key = (action_id, row[3])
        already = taken.get(key, 0) if taken is not None else 0
        if quantity <= left - already:
            moves.append((action_id, row[3], quantity))
            if taken is not None:
                taken[key] = already + quantity
        else:
            out[sku] = (*row[:6], row[9], row[7], None, row[9], None)
    return out, moves
