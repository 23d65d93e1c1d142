"""The price a product sells at now: its lowest action price among the actions running now,
else its own price, and the action that set it.

Both are correlated subqueries over ``action_products`` (indexed by product), put into the
buyer order's candidate-stock read itself, so a promotion costs the order hot path no extra
statement. :data:`PRICE_NOW_SQL` / :data:`ACTION_NOW_SQL` are for the driver-level
statements (the products table aliased ``p``; "now" is the statement's time, the order's);
:func:`price_at` / :func:`action_at` are the same in SQLAlchemy Core for the portable writer,
at a given time (a back-dated order of a replayed history sells at the prices of its day).
"""

from __future__ import annotations

from sqlalchemy import ColumnElement, Numeric, Table, cast, func, select

from reference_backend.tables import Action, ActionProduct

_RUNNING = ("FROM action_products ap JOIN actions a ON a.id = ap.action_id "
            "WHERE ap.product_id = p.product_id AND a.date_start <= CURRENT_TIMESTAMP "
            "AND a.date_end > CURRENT_TIMESTAMP "
            "ORDER BY CAST(ap.action_price AS NUMERIC), ap.action_id LIMIT 1")
#: The price of product ``p`` now (a decimal string, as ``products.price``).
PRICE_NOW_SQL = f"COALESCE((SELECT ap.action_price {_RUNNING}), p.price)"
#: The action whose price :data:`PRICE_NOW_SQL` took (NULL: the product's own price).
ACTION_NOW_SQL = f"(SELECT ap.action_id {_RUNNING})"

_AP, _A = ActionProduct.__table__, Action.__table__


def _running(column: ColumnElement, products: Table, at: ColumnElement) -> ColumnElement:
    return (
        select(column)
        .select_from(_AP.join(_A, _A.c.id == _AP.c.action_id))
        .where(_AP.c.product_id == products.c.product_id, _A.c.date_start <= at,
               _A.c.date_end > at)
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
