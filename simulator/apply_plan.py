"""Write a stock plan to a running reference backend: its reorder points become the seller's
low-stock warning levels, so the backend alerts where the planner wants a reorder.

Speaks the backend's own API (``PUT /peakline/v1/warning-levels``, at most 1,000 items a
request) as the seller in the credentials ``peakline seed --credentials-out`` wrote; SKUs are
the seller's (its ``sku_base`` + catalogue index), warehouses its ids for the scenario's.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from simulator.planning import StockPlan
from simulator.sku_ids import sku_id

BATCH = 1000


class ApplyError(RuntimeError):
    """The plan could not be written (bad credentials file, backend unreachable or refusing)."""


@dataclass
class ApplyResult:
    updated: int = 0
    failed: list[dict[str, Any]] = field(default_factory=list)  # item and its errors


def read_credentials(path: Path) -> dict[str, Any]:
    """The seller credentials JSON of ``peakline seed --credentials-out``."""
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except OSError as exc:
        raise ApplyError(f"{path}: {exc.strerror or exc}") from None
    except json.JSONDecodeError as exc:
        raise ApplyError(f"{path}: not JSON ({exc})") from None
    missing = [k for k in ("client_id", "api_key", "sku_base", "warehouses")
               if not isinstance(data, dict) or k not in data]
    if missing:
        raise ApplyError(f"{path}: missing {', '.join(missing)} (write it with "
                         "`peakline seed --credentials-out`)")
    return data


def warning_items(plan: StockPlan, credentials: dict[str, Any]) -> list[dict[str, int]]:
    """One warning-level item per planned pair: the seller's SKU, warehouse id and ``s``."""
    warehouses = credentials["warehouses"]
    unknown = sorted(set(plan.warehouse) - set(warehouses))
    if unknown:
        raise ApplyError(f"the seller has no warehouse {', '.join(unknown)} (was it seeded "
                         f"from scenario {plan.scenario}?)")
    base = int(credentials["sku_base"])
    return [{"sku": int(sku_id(k, base)), "warehouse_id": int(warehouses[w]),
             "warning_level": int(s)}
            for k, w, s in zip(plan.sku.tolist(), plan.warehouse, plan.reorder_point.tolist(),
                               strict=True)]


def apply_plan(plan: StockPlan, base_url: str, credentials: dict[str, Any], *,
               timeout: float = 30.0) -> ApplyResult:
    """Set the warning levels of every planned pair; items the backend refuses are listed."""
    headers = {"Client-Id": str(credentials["client_id"]), "Api-Key": credentials["api_key"]}
    items = warning_items(plan, credentials)
    result = ApplyResult()
    url = base_url.rstrip("/") + "/peakline/v1/warning-levels"
    with httpx.Client(headers=headers, timeout=timeout) as client:
        for start in range(0, len(items), BATCH):
            batch = items[start:start + BATCH]
            try:
                response = client.put(url, json={"items": batch})
            except httpx.HTTPError as exc:
                raise ApplyError(f"{url}: {exc}") from None
            if response.status_code != 200:
                raise ApplyError(f"{url}: HTTP {response.status_code}: {response.text[:300]}")
            for item, answer in zip(batch, response.json()["result"], strict=True):
                if answer.get("updated"):
                    result.updated += 1
                else:
                    result.failed.append({**item, "errors": answer.get("errors", [])})
    return result
