"""The one permission table: which role may do what on which route group.

Every authenticated route of the backend belongs to exactly one :class:`RouteGroup` and
performs one :class:`Action` (``read`` or ``write``; the Ozon methods are all ``POST``,
so the action is declared per route, never guessed from the HTTP verb). A key's role is
allowed a route when :func:`is_allowed` says so. This module is the single source of
truth: the auth dependency asks it, ``POST /v1/roles`` answers from it, and the README
table is :func:`permission_table_markdown`'s output.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from enum import StrEnum


class Role(StrEnum):
    """Role of a seller's account (and of every API key issued to it)."""

    OWNER = "owner"
    SALES = "sales"
    CUSTOMER_SERVICE = "customer_service"
    WAREHOUSE = "warehouse"
    ANALYST = "analyst"


class Action(StrEnum):
    """What a route does to the group's objects."""

    READ = "read"
    WRITE = "write"


class RouteGroup(StrEnum):
    """A family of seller routes that share one permission."""

    WAREHOUSES = "warehouses"
    PRODUCTS = "products"
    STOCKS = "stocks"
    POSTINGS = "postings"
    RETURNS = "returns"
    ANALYTICS = "analytics"
    FINANCE = "finance"
    PROMOTIONS = "promotions"
    CHATS = "chats"
    PLANNING = "planning"
    ROLES = "roles"
    PROFILE = "profile"
    ACCOUNTS = "accounts"
    WEBHOOKS = "webhooks"


@dataclass(frozen=True)
class GroupInfo:
    """How a route group is shown to people (README) and to Ozon clients (``/v1/roles``)."""

    ozon_name: str
    covers: str


GROUPS: Mapping[RouteGroup, GroupInfo] = {
    RouteGroup.WAREHOUSES: GroupInfo("Warehouses", "warehouse and delivery-method lists"),
    RouteGroup.PRODUCTS: GroupInfo("Product", "product import, lists, info and prices"),
    RouteGroup.STOCKS: GroupInfo("Stocks", "stock updates and stock info"),
    RouteGroup.POSTINGS: GroupInfo(
        "Posting FBS",
        "FBS postings: lists, get, ship, labels, cancel, arbitration, delivery statuses, "
        "hand-over acts",
    ),
    RouteGroup.RETURNS: GroupInfo(
        "Returns", "returns list, receiving, write-off, refunds, exchanges, return requests"
    ),
    RouteGroup.ANALYTICS: GroupInfo("Analytics", "analytics data and stock on warehouses"),
    RouteGroup.FINANCE: GroupInfo(
        "Finance", "transactions, their totals and the realization report"
    ),
    RouteGroup.PROMOTIONS: GroupInfo(
        "Promos", "promotions: candidates, joining and leaving, buyers' discount requests"
    ),
    RouteGroup.CHATS: GroupInfo("Chat", "buyer chats: lists, history, messages, files, read marks"),
    RouteGroup.PLANNING: GroupInfo(
        "Stock planning", "warning levels, low-stock alerts, replenishment suggestions"
    ),
    RouteGroup.ROLES: GroupInfo("Roles", "the roles of the calling key (`/v1/roles`)"),
    RouteGroup.PROFILE: GroupInfo(
        "Profile", "the caller's own account: password, TOTP enrolment, sign-out"
    ),
    RouteGroup.ACCOUNTS: GroupInfo(
        "Accounts", "sub-accounts, their roles and API keys, 2FA policy"
    ),
    RouteGroup.WEBHOOKS: GroupInfo("Notifications", "push-notification webhooks and their secrets"),
}

_R = frozenset({Action.READ})
_RW = frozenset({Action.READ, Action.WRITE})
_NONE: frozenset[Action] = frozenset()
G = RouteGroup

#: role -> group -> allowed actions. A group missing from a role's row means no access.
PERMISSIONS: Mapping[Role, Mapping[RouteGroup, frozenset[Action]]] = {
    Role.OWNER: {group: _RW for group in RouteGroup},
    Role.SALES: {
        G.WAREHOUSES: _R, G.PRODUCTS: _RW, G.STOCKS: _R, G.POSTINGS: _R, G.RETURNS: _R,
        G.ANALYTICS: _R, G.FINANCE: _R, G.PROMOTIONS: _RW, G.CHATS: _R, G.PLANNING: _R,
        G.ROLES: _R, G.PROFILE: _RW,
    },
    Role.CUSTOMER_SERVICE: {
        G.WAREHOUSES: _R, G.PRODUCTS: _R, G.STOCKS: _R, G.POSTINGS: _RW, G.RETURNS: _RW,
        G.PROMOTIONS: _R, G.CHATS: _RW, G.ROLES: _R, G.PROFILE: _RW,
    },
    Role.WAREHOUSE: {
        G.WAREHOUSES: _R, G.PRODUCTS: _R, G.STOCKS: _RW, G.POSTINGS: _RW, G.RETURNS: _RW,
        G.PLANNING: _RW, G.ROLES: _R, G.PROFILE: _RW,
    },
    Role.ANALYST: {
        G.WAREHOUSES: _R, G.PRODUCTS: _R, G.STOCKS: _R, G.POSTINGS: _R, G.RETURNS: _R,
        G.ANALYTICS: _R, G.FINANCE: _R, G.PROMOTIONS: _R, G.PLANNING: _R, G.ROLES: _R,
        G.PROFILE: _RW,
    },
}


def allowed_actions(role: Role | str, group: RouteGroup | str) -> frozenset[Action]:
    """The actions ``role`` may perform on ``group`` (empty when none).

    An unknown role or group raises ``ValueError``: a route must never fall through to
    "allowed" because it was registered with a misspelt group.
    """
    return PERMISSIONS[Role(role)].get(RouteGroup(group), _NONE)


def is_allowed(role: Role | str, group: RouteGroup | str, action: Action | str) -> bool:
    """True when ``role`` may perform ``action`` on routes of ``group``."""
    return Action(action) in allowed_actions(role, group)


@dataclass(frozen=True)
class RouteSpec:
    """One authenticated route as the permission table sees it."""

    path: str
    group: RouteGroup
    action: Action


def ozon_roles(role: Role | str, routes: Iterable[RouteSpec]) -> list[dict[str, object]]:
    """The ``roles`` list of ``POST /v1/roles`` for a key with ``role``.

    One entry per route group the role can use, named as Ozon clients expect
    (``{"name": "Posting FBS", "methods": ["/v3/posting/fbs/list", ...]}``), listing exactly
    the paths of ``routes`` that the role may call. Groups with no callable path are left out.
    """
    methods: dict[RouteGroup, set[str]] = {}
    for spec in routes:
        if is_allowed(role, spec.group, spec.action):
            methods.setdefault(RouteGroup(spec.group), set()).add(spec.path)
    return [
        {"name": GROUPS[group].ozon_name, "methods": sorted(methods[group])}
        for group in RouteGroup
        if group in methods
    ]


def _cell(role: Role, group: RouteGroup) -> str:
    actions = allowed_actions(role, group)
    return ", ".join(a.value for a in Action if a in actions) or "—"


def permission_table_markdown() -> str:
    """The permission table as a Markdown table (route groups as rows, roles as columns)."""
    header = ["route group", "covers", *(r.value for r in Role)]
    lines = ["| " + " | ".join(header) + " |", "|" + " --- |" * len(header)]
    for group in RouteGroup:
        cells = [f"`{group.value}`", GROUPS[group].covers, *(_cell(r, group) for r in Role)]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":  # pragma: no cover - `python -m reference_backend.permissions`
    print(permission_table_markdown(), end="")
