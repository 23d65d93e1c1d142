"""An ordinary Ozon Seller API client for reading a seller's history (httpx + tenacity).

Only public Seller API methods, called as a careful client calls real Ozon
(``https://api-seller.ozon.ru``), so it works unchanged against Ozon and against Peakline's
backend:

* ``Client-Id`` / ``Api-Key`` headers, JSON bodies, every method a ``POST``;
* each method paged the way it defines (cursor, ``last_id`` or offset), stopping on
  ``has_next: false``, an empty page or a cursor that does not move;
* a 429 is retried after the ``Retry-After`` seconds the server asks for (Ozon's published
  limits: 50 requests a second per Client-Id, ``/v1/analytics/data`` once a minute), a 5xx or
  a dropped connection with exponential backoff; other errors are not retried.

Errors become :class:`CalibrationError` with what went wrong in words: the server cannot be
reached, the keys are rejected, or a method answered an error.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

import httpx
from tenacity import (
    RetryCallState,
    Retrying,
    retry_if_exception_type,
    stop_after_attempt,
    wait_exponential,
)

from simulator.calibration.history import CalibrationError

#: called after every page: (method path, rows on this page)
PageHook = Callable[[str, int], None]

MAX_PERIOD = timedelta(days=365)  # the posting list's longest period per request
MAX_FINANCE_PERIOD = timedelta(days=28)  # transactions: at most a month per request
DELIVERED_TO_CUSTOMER = "OperationAgentDeliveredToCustomer"


class RateLimited(Exception):
    def __init__(self, path: str, retry_after: float | None) -> None:
        super().__init__(f"{path}: 429 Too Many Requests")
        self.path = path
        self.retry_after = retry_after


class ServerFailed(Exception):
    """A 5xx answer or a dropped connection: worth another try."""


@dataclass
class Throttle:
    """One 429: the server asked for ``retry_after`` s; the client waited ``waited`` s."""

    path: str
    retry_after: float | None
    waited: float = 0.0


def _retry_after(response: httpx.Response) -> float | None:
    try:
        return max(0.0, float(response.headers["Retry-After"]))
    except (KeyError, ValueError):
        return None


def _message(response: httpx.Response) -> str:
    try:
        body = response.json()
    except ValueError:
        return response.text[:200]
    return str(body.get("message") or body) if isinstance(body, dict) else str(body)[:200]


@dataclass
class OzonClient:
    """A Seller API session for one Client-Id; use as a context manager."""

    base_url: str
    client_id: str
    api_key: str
    page_size: int = 100
    timeout: float = 30.0
    max_attempts: int = 6
    on_page: PageHook | None = None
    throttled: list[Throttle] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._http = httpx.Client(
            base_url=self.base_url.rstrip("/"), timeout=self.timeout,
            headers={"Client-Id": self.client_id, "Api-Key": self.api_key,
                     "Content-Type": "application/json", "User-Agent": "peakline-calibrate"})

    def __enter__(self) -> OzonClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self._http.close()

    # ----------------------------------------------------------------------- transport

    def _wait(self, state: RetryCallState) -> float:
        exc = state.outcome.exception() if state.outcome else None
        if isinstance(exc, RateLimited) and exc.retry_after is not None:
            return exc.retry_after
        return wait_exponential(multiplier=0.5, max=30)(state)

    def _sleep(self, seconds: float) -> None:
        if self.throttled and self.throttled[-1].waited == 0:
            self.throttled[-1].waited = seconds
        time.sleep(seconds)

    def post(self, path: str, body: dict[str, Any]) -> dict[str, Any]:
        """One method call with retries on 429 (after ``Retry-After``) and on 5xx."""
        retrying = Retrying(
            retry=retry_if_exception_type((RateLimited, ServerFailed)), wait=self._wait,
            stop=stop_after_attempt(self.max_attempts), sleep=self._sleep, reraise=True)
        try:
            return retrying(self._post_once, path, body)
        except RateLimited as exc:
            raise CalibrationError(
                f"{path}: still rate-limited (429) after {self.max_attempts} attempts") from exc
        except ServerFailed as exc:
            raise CalibrationError(f"{path}: {exc}") from exc

    def _post_once(self, path: str, body: dict[str, Any]) -> dict[str, Any]:
        try:
            response = self._http.post(path, json=body)
        except (httpx.ConnectError, httpx.UnsupportedProtocol, httpx.ConnectTimeout) as exc:
            raise CalibrationError(
                f"cannot reach the Seller API at {self.base_url}: {exc}") from exc
        except httpx.TransportError as exc:
            raise ServerFailed(f"connection failed: {exc}") from exc
        if response.status_code == 429:
            self.throttled.append(Throttle(path, _retry_after(response)))
            raise RateLimited(path, _retry_after(response))
        if response.status_code >= 500:
            raise ServerFailed(f"HTTP {response.status_code}: {_message(response)}")
        if response.status_code in (401, 403) or (
                response.status_code == 404 and "api-key" in _message(response).lower()):
            raise CalibrationError(
                f"the Seller API at {self.base_url} rejected the keys "
                f"(Client-Id {self.client_id}): {_message(response)}")
        if response.status_code >= 400:
            raise CalibrationError(
                f"{path}: HTTP {response.status_code}: {_message(response)}")
        try:
            return response.json()
        except ValueError as exc:
            raise CalibrationError(f"{path}: the answer is not JSON") from exc

    def _page(self, path: str, rows: list) -> list:
        if self.on_page:
            self.on_page(path, len(rows))
        return rows

    # ----------------------------------------------------------------------- paging styles

    def _by_cursor(self, path: str, body: dict, key: str) -> Iterator[dict]:
        cursor = ""
        while True:
            answer = self.post(path, {**body, "cursor": cursor, "limit": self.page_size})
            rows = self._page(path, answer.get(key) or [])
            yield from rows
            next_cursor = answer.get("cursor") or ""
            if not rows or not answer.get("has_next", True) or next_cursor in ("", cursor):
                return
            cursor = next_cursor

    def _by_last_id(self, path: str, body: dict, read: Callable[[dict], tuple[list, Any]],
                    first: Any) -> Iterator[dict]:
        last_id = first
        while True:
            answer = self.post(path, {**body, "last_id": last_id, "limit": self.page_size})
            rows, next_id = read(answer)
            yield from self._page(path, rows)
            has_next = answer.get("has_next", answer.get("result", {}).get("has_next", True))
            if not rows or not has_next or next_id in (None, "", 0, last_id):
                return
            last_id = next_id

    # ----------------------------------------------------------------------- methods

    def postings(self, since: datetime, to: datetime) -> Iterator[dict]:
        """``/v4/posting/fbs/list`` with analytics and financial data, in periods of at most
        a year (the method's limit)."""
        start = since
        while start < to:
            end = min(to, start + MAX_PERIOD)
            body = {"filter": {"since": _iso(start), "to": _iso(end)}, "sort_dir": "ASC",
                    "with": {"analytics_data": True, "financial_data": True}}
            yield from self._by_cursor("/v4/posting/fbs/list", body, "postings")
            start = end

    def changed_status(self, since: datetime, to: datetime, status: str,
                       changed_from: datetime, changed_to: datetime) -> Iterator[dict]:
        """``/v4/posting/fbs/list`` of the period's postings in ``status`` whose last status
        change fell in ``[changed_from, changed_to]`` (``last_changed_status_date``)."""
        body = {"filter": {"since": _iso(since), "to": _iso(to), "statuses": [status],
                           "last_changed_status_date": {"from": _iso(changed_from),
                                                        "to": _iso(changed_to)}},
                "sort_dir": "ASC"}
        yield from self._by_cursor("/v4/posting/fbs/list", body, "postings")

    def deliveries(self, since: datetime, to: datetime) -> Iterator[dict]:
        """``/v3/finance/transaction/list`` operations ``OperationAgentDeliveredToCustomer``
        (a posting delivered to its buyer, at ``operation_date``), a month per request (the
        method's limit), ``page`` paging."""
        start = since
        while start < to:
            end = min(to, start + MAX_FINANCE_PERIOD)
            page = 1
            while True:
                answer = self.post("/v3/finance/transaction/list", {
                    "filter": {"date": {"from": _iso(start), "to": _iso(end)},
                               "operation_type": [DELIVERED_TO_CUSTOMER],
                               "transaction_type": "orders"},
                    "page": page, "page_size": 1000})
                result = answer.get("result") or {}
                rows = self._page("/v3/finance/transaction/list",
                                  result.get("operations") or [])
                yield from rows
                if not rows or page >= int(result.get("page_count") or 1):
                    break
                page += 1
            start = end

    def returns(self, since: datetime, to: datetime) -> Iterator[dict]:
        """``/v1/returns/list`` of returns created in the period (``last_id`` paging)."""
        body = {"filter": {"logistic_return_date": {"time_from": _iso(since),
                                                    "time_to": _iso(to)}}}

        def read(answer: dict) -> tuple[list, Any]:
            rows = answer.get("returns") or []
            return rows, rows[-1].get("id") if rows else None

        yield from self._by_last_id("/v1/returns/list", body, read, 0)

    def warehouses(self) -> Iterator[dict]:
        """``/v2/warehouse/list`` (cursor)."""
        yield from self._by_cursor("/v2/warehouse/list", {}, "warehouses")

    def products(self) -> Iterator[dict]:
        """``/v3/product/list`` (``last_id``) and each page's details from
        ``/v3/product/info/list`` (SKU, name, price)."""

        def read(answer: dict) -> tuple[list, Any]:
            result = answer.get("result") or {}
            return result.get("items") or [], result.get("last_id")

        body = {"filter": {"visibility": "ALL"}}
        for page in _chunks(self._by_last_id("/v3/product/list", body, read, ""), 1000):
            ids = [item["product_id"] for item in page]
            answer = self.post("/v3/product/info/list", {"product_id": ids})
            yield from self._page("/v3/product/info/list", answer.get("items") or [])

    def stocks(self, skus: list[int]) -> Iterator[dict]:
        """``/v2/product/info/stocks-by-warehouse/fbs`` for ``skus`` (cursor; 100 SKUs a
        request)."""
        for chunk in _chunks(iter(skus), 100):
            body = {"sku": [str(sku) for sku in chunk]}
            yield from self._by_cursor("/v2/product/info/stocks-by-warehouse/fbs", body,
                                       "products")

    def ordered_units_by_day(self, since: date, to: date) -> dict[str, float]:
        """``/v1/analytics/data`` ordered units per day (offset paging; once a minute)."""
        units: dict[str, float] = {}
        offset = 0
        while True:
            answer = self.post("/v1/analytics/data", {
                "date_from": since.isoformat(), "date_to": to.isoformat(),
                "dimension": ["day"], "metrics": ["ordered_units"],
                "limit": 1000, "offset": offset})
            rows = self._page("/v1/analytics/data", (answer.get("result") or {}).get("data")
                              or [])
            for row in rows:
                units[str(row["dimensions"][0]["id"])] = float(row["metrics"][0])
            if len(rows) < 1000:
                return units
            offset += len(rows)


def _iso(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%S.000Z")


def _chunks(rows: Iterator, size: int) -> Iterator[list]:
    chunk: list = []
    for row in rows:
        chunk.append(row)
        if len(chunk) == size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk
