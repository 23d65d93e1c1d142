"""The Ozon compatibility table: every Seller API method of the subset, and what the backend serves.

The subset's methods are catalogued here by section (the reference the backend is built from);
what is served, and the note beside it, are read from the running application's own routes
(paths under ``/v<N>/`` and the first sentence of each route's docstring). So the table
cannot drift from the code: ``python -m reference_backend.compatibility`` writes
``docs/ozon-compatibility.md`` and a test checks the committed file is what it prints.
"""

from __future__ import annotations

import re
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

SELLER_API_PATH = re.compile(r"^/v\d+/")
DOC_PATH = Path(__file__).resolve().parent.parent / "docs" / "ozon-compatibility.md"


@dataclass(frozen=True)
class Method:
    """One method of the subset: its section, HTTP verb and path, its standing in the docs, and
    (``unserved``) why the backend deliberately does not serve it (answered 404 like any
    unknown path)."""

    section: str
    path: str
    standing: str = "current"
    verb: str = "POST"
    unserved: str = ""


#: Section titles, in the reference's order.
SECTIONS: dict[str, str] = {
    "3": "Warehouses and delivery methods",
    "4": "Products, prices, stocks",
    "5": "FBS postings",
    "6": "Delivery status updates (rFBS)",
    "7": "Returns",
    "8": "Analytics and API-key roles",
    "9.5": "Push notification settings",
    "11": "Promotions",
    "12": "Chats with buyers",
    "13": "rFBS return requests",
    "14": "FBS hand-over documents",
    "15": "Finance reports",
    "16": "Description categories, attributes, price info",
}

OLDER = "older version, still called"
LEGACY = "legacy, absent from current docs (optional)"
LEAVING = "scheduled for removal, still called"
NEW_2026 = "2026 replacement"
#: Why a legacy method is deliberately left unserved: the reference gives no wire shape to follow.
NO_SHAPE = ("Deliberately unserved (404): the reference documents no wire shape for it, and a "
            "guessed body would break the old clients that call it; they get the same data from ")

METHODS: tuple[Method, ...] = (
    Method("3", "/v2/warehouse/list"),
    Method("3", "/v1/warehouse/list", OLDER),
    Method("3", "/v2/delivery-method/list"),
    Method("3", "/v1/delivery-method/list", OLDER),
    Method("4", "/v3/product/import"),
    Method("4", "/v1/product/import/info"),
    Method("4", "/v3/product/list"),
    Method("4", "/v3/product/info/list"),
    Method("4", "/v2/product/info", LEGACY, unserved=NO_SHAPE + "`/v3/product/info/list`."),
    Method("4", "/v1/product/import/prices"),
    Method("4", "/v2/products/stocks"),
    Method("4", "/v4/product/info/stocks"),
    Method("4", "/v2/product/info/stocks-by-warehouse/fbs"),
    Method("4", "/v1/product/info/stocks-by-warehouse/fbs", OLDER),
    Method("5", "/v3/posting/fbs/list", LEAVING),
    Method("5", "/v4/posting/fbs/list"),
    Method("5", "/v3/posting/fbs/unfulfilled/list", LEAVING),
    Method("5", "/v4/posting/fbs/unfulfilled/list"),
    Method("5", "/v3/posting/fbs/get"),
    Method("5", "/v2/posting/fbs/get-by-barcode"),
    Method("5", "/v4/posting/fbs/ship"),
    Method("5", "/v4/posting/fbs/ship/package"),
    Method("5", "/v3/posting/fbs/ship", LEGACY),
    Method("5", "/v2/posting/fbs/package-label"),
    Method("5", "/v1/posting/fbs/package-label/create", LEAVING),
    Method("5", "/v2/posting/fbs/package-label/create"),
    Method("5", "/v3/posting/fbs/package-label/create"),
    Method("5", "/v1/posting/fbs/package-label/get", OLDER),
    Method("5", "/v2/posting/fbs/package-label/get"),
    Method("5", "/v2/posting/fbs/cancel"),
    Method("5", "/v2/posting/fbs/product/cancel"),
    Method("5", "/v2/posting/fbs/cancel-reason/list"),
    Method("5", "/v1/posting/fbs/cancel-reason"),
    Method("5", "/v1/cancel-reason/list", "newer generic method (shape unconfirmed)"),
    Method("5", "/v1/cancel-reason/list-by-order", "newer generic method (shape unconfirmed)"),
    Method("5", "/v1/cancel-reason/list-by-posting", "newer generic method (shape unconfirmed)"),
    Method("5", "/v2/posting/fbs/arbitration"),
    Method("5", "/v2/posting/fbs/awaiting-delivery"),
    Method("6", "/v2/fbs/posting/tracking-number/set"),
    Method("6", "/v2/fbs/posting/delivering"),
    Method("6", "/v2/fbs/posting/last-mile"),
    Method("6", "/v2/fbs/posting/delivered"),
    Method("7", "/v1/returns/list"),
    Method("7", "/v2/returns/company/fbs", LEGACY),
    Method("8", "/v1/analytics/data"),
    Method("8", "/v2/analytics/stock_on_warehouses", LEAVING),
    Method("8", "/v1/analytics/stocks", NEW_2026),
    Method("8", "/v1/roles"),
    Method("9.5", "/v1/notification/set"),
    Method("9.5", "/v1/notification/list"),
    Method("9.5", "/v1/notification/push-type/list"),
    Method("9.5", "/v1/notification/check"),
    Method("9.5", "/v1/notification/enable"),
    Method("9.5", "/v1/notification/update"),
    Method("9.5", "/v1/notification/delete"),
    Method("11", "/v1/actions", verb="GET"),
    Method("11", "/v1/actions/candidates", LEAVING),
    Method("11", "/v1/actions/products", LEAVING),
    Method("11", "/v2/actions/candidates", NEW_2026),
    Method("11", "/v2/actions/products", NEW_2026),
    Method("11", "/v1/actions/products/activate", LEAVING),
    Method("11", "/v1/actions/products/deactivate", LEAVING),
    Method("11", "/v1/actions/products/update", NEW_2026),
    Method("11", "/v2/actions/products/deactivate", NEW_2026),
    Method("11", "/v1/actions/discounts-task/list"),
    Method("11", "/v2/actions/discounts-task/list", "2026 beta (paging unconfirmed)"),
    Method("11", "/v1/actions/discounts-task/approve"),
    Method("11", "/v1/actions/discounts-task/decline"),
    Method("12", "/v3/chat/list"),
    Method("12", "/v2/chat/list", OLDER),
    Method("12", "/v3/chat/history"),
    Method("12", "/v2/chat/history", OLDER),
    Method("12", "/v1/chat/send/message"),
    Method("12", "/v1/chat/send/file"),
    Method("12", "/v2/chat/read"),
    Method("12", "/v1/chat/start"),
    Method("12", "/v1/chat/list", LEGACY, unserved=NO_SHAPE + "`/v3/chat/list`."),
    Method("12", "/v1/chat/history", LEGACY, unserved=NO_SHAPE + "`/v3/chat/history`."),
    Method("12", "/v1/chat/updates", LEGACY,
           unserved=NO_SHAPE + "`/v3/chat/history` and the chat pushes."),
    Method("13", "/v2/returns/rfbs/list"),
    Method("13", "/v2/returns/rfbs/get"),
    Method("13", "/v1/returns/rfbs/action/set"),
    Method("13", "/v2/returns/rfbs/verify", LEAVING),
    Method("13", "/v2/returns/rfbs/reject", LEAVING),
    Method("13", "/v2/returns/rfbs/compensate", LEAVING),
    Method("13", "/v2/returns/rfbs/receive-return", LEAVING),
    Method("13", "/v2/returns/rfbs/return-money", LEAVING),
    Method("14", "/v2/posting/fbs/act/create", LEAVING),
    Method("14", "/v2/posting/fbs/act/check-status"),
    Method("14", "/v2/posting/fbs/act/get-pdf"),
    Method("14", "/v2/posting/fbs/act/get-container-labels"),
    Method("14", "/v2/posting/fbs/act/get-barcode"),
    Method("14", "/v2/posting/fbs/act/get-barcode/text"),
    Method("14", "/v2/posting/fbs/digital/act/check-status", "switched off 2026-03-22"),
    Method("14", "/v2/posting/fbs/digital/act/get-pdf", "switched off 2026-03-22"),
    Method("14", "/v2/posting/fbs/act/list"),
    Method("14", "/v2/posting/fbs/act/get-postings"),
    Method("15", "/v3/finance/transaction/list", LEAVING),
    Method("15", "/v3/finance/transaction/totals", LEAVING),
    Method("15", "/v2/finance/realization"),
    Method("15", "/v1/finance/realization", LEGACY, unserved=(
        "Deliberately unserved (404): the reference names only its request (`date: YYYY-MM`) and "
        "three of its old field names, from client code (unconfirmed); the same report is "
        "`/v2/finance/realization`.")),
    Method("16", "/v1/description-category/tree"),
    Method("16", "/v1/description-category/attribute"),
    Method("16", "/v1/description-category/attribute/values"),
    Method("16", "/v1/description-category/attribute/values/search"),
    Method("16", "/v4/product/info/attributes"),
    Method("16", "/v5/product/info/prices"),
    Method("16", "/v4/product/info/prices", LEGACY,
           unserved=NO_SHAPE + "`/v5/product/info/prices`."),
    Method("16", "/v1/product/info/prices", LEGACY,
           unserved=NO_SHAPE + "`/v5/product/info/prices`."),
)


def served_routes(openapi: dict[str, Any]) -> dict[tuple[str, str], str]:
    """``(VERB, path) -> note`` for every Seller API operation the application serves."""
    served = {}
    for path, operations in openapi["paths"].items():
        for verb, op in operations.items():
            if SELLER_API_PATH.match(path):
                served[(verb.upper(), path)] = first_sentence(op.get("description") or "")
    return served


def first_sentence(text: str) -> str:
    """The first sentence of a docstring on one line, with reST literals as Markdown code."""
    flat = " ".join(text.split())
    match = re.match(r"(.+?[.:])(\s|$)", flat)
    sentence = (match.group(1) if match else flat).rstrip(":.") + "."
    return sentence.replace("``", "`").replace("|", "\\|") if flat else ""


def render(openapi: dict[str, Any]) -> str:
    """The compatibility table as Markdown."""
    served = served_routes(openapi)
    catalogued = {(m.verb, m.path) for m in METHODS}
    lines = [
        "# Ozon Seller API compatibility",
        "",
        "Generated by `python -m reference_backend.compatibility` from the backend's own routes;",
        "a test fails when this file and the code disagree. Every method of the subset the backend",
        "follows is listed, in each version real clients call, with whether it is served.",
        "",
    ]
    total = sum((m.verb, m.path) in served for m in METHODS)
    lines += [f"**{total} of {len(METHODS)} methods served.**", ""]
    for section, title in SECTIONS.items():
        methods = [m for m in METHODS if m.section == section]
        count = sum((m.verb, m.path) in served for m in methods)
        lines += [f"## {section}. {title} ({count} of {len(methods)} served)", "",
                  "| method | standing | served | notes |", "| --- | --- | --- | --- |"]
        for m in methods:
            key = (m.verb, m.path)
            mark = "yes" if key in served else "no"
            note = served.get(key) or m.unserved
            lines.append(f"| `{m.verb} {m.path}` | {m.standing} | {mark} | {note} |")
        lines.append("")
    extra = sorted(set(served) - catalogued)
    if extra:
        lines += ["## Served beyond the subset", "", "| method | notes |", "| --- | --- |"]
        lines += [f"| `{verb} {path}` | {served[(verb, path)]} |" for verb, path in extra]
        lines.append("")
    return "\n".join(lines)


def main() -> None:
    """Write ``docs/ozon-compatibility.md`` (or print it with ``-``)."""
    from reference_backend.app import create_app

    text = render(create_app().openapi())
    if sys.argv[1:] == ["-"]:
        sys.stdout.write(text)
        return
    DOC_PATH.parent.mkdir(exist_ok=True)
    DOC_PATH.write_text(text, encoding="utf-8")
    print(f"wrote {DOC_PATH}")


if __name__ == "__main__":
    main()
