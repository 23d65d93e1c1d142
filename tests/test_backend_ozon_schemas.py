"""Ozon request tolerance (§1.2), cursors (§1.7) and the label PDF, without a server."""

from __future__ import annotations

import io
from datetime import UTC, datetime

import pypdf
import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import ValidationError

from reference_backend import pagination
from reference_backend.catalog.schemas import ProductImportRequest, StocksUpdateRequest
from reference_backend.postings.labels.pdf import LabelData, render_labels
from reference_backend.postings.schemas import PostingListV3Request, PostingListV4Request
from reference_backend.postings.service import available_actions
from simulator.lifecycle import PostingStatus, can_transition, is_final


def test_nulls_are_absent_everywhere() -> None:
    req = PostingListV4Request.model_validate(
        {"cursor": None, "filter": None, "limit": None, "with": None, "sort_dir": None}
    )
    assert req.cursor == "" and req.limit == 100 and req.filter.statuses == []
    nested = PostingListV3Request.model_validate(
        {"filter": {"since": None, "status": None, "warehouse_id": None}, "offset": None}
    )
    assert nested.offset == 0 and nested.filter.warehouse_id == []


def test_ids_as_strings_enums_any_case_flexible_datetimes() -> None:
    req = PostingListV3Request.model_validate(
        {
            "dir": "ASC",
            "filter": {
                "since": "2024-01-01T00:00:00.000Z",
                "to": "2024-02-01T00:00:00.000000+03:00",
                "status": "AWAITING_PACKAGING",
                "warehouse_id": ["22142605386000", 7],
            },
            "limit": "10",
        }
    )
    assert req.dir == "asc" and req.filter.status == "awaiting_packaging"
    assert req.filter.warehouse_id == [22142605386000, 7] and req.limit == 10
    assert req.filter.since == datetime(2024, 1, 1, tzinfo=UTC)
    assert req.filter.to == datetime(2024, 1, 31, 21, tzinfo=UTC)


@pytest.mark.parametrize(
    "body",
    [
        {"filter": {"status": "shipped"}},
        {"filter": {"warehouse_id": ["12a"]}},
        {"filter": {"since": "yesterday"}},
        {"limit": -1},
        {"filter": {"warehouse_id": [2**70]}},
    ],
)
def test_bad_values_are_refused(body: dict) -> None:
    with pytest.raises(ValidationError):
        PostingListV3Request.model_validate(body)


def test_vat_numeric_and_flat_complex_attributes() -> None:
    req = ProductImportRequest.model_validate(
        {
            "items": [
                {
                    "offer_id": 123,
                    "vat": "0.10",
                    "price": 279,
                    "complex_attributes": [{"id": 4, "complex_id": 0, "values": []}],
                }
            ]
        }
    )
    item = req.items[0]
    assert item.offer_id == "123" and float(item.vat) == 0.1 and float(item.price) == 279
    assert item.complex_attributes[0].attributes[0].id == 4


def test_stock_item_needs_stock_and_warehouse_only() -> None:
    req = StocksUpdateRequest.model_validate(
        {"stocks": [{"stock": "5", "warehouse_id": "1", "offer_id": None, "product_id": None}]}
    )
    assert req.stocks[0].stock == 5 and req.stocks[0].product_id == 0


@given(st.integers(min_value=-(2**63), max_value=2**63 - 1))
def test_cursor_round_trip(key: int) -> None:
    cursor = pagination.encode_cursor(key)
    assert cursor and pagination.decode_cursor(cursor) == key


@pytest.mark.parametrize("garbage", ["!!!", "abc", pagination.encode_cursor(1)[:-2] + "zz"])
def test_foreign_cursor_is_bad_page(garbage: str) -> None:
    with pytest.raises(pagination.BadPage):
        pagination.decode_cursor(garbage)


def test_last_page_keeps_a_cursor_past_the_end() -> None:
    rows = [1, 2, 3]
    first = pagination.cursor_page(rows, 2, lambda r: r, None)
    assert first.items == [1, 2] and first.has_next
    last = pagination.cursor_page([3], 2, lambda r: r, 2)
    assert last.items == [3] and not last.has_next and last.cursor
    empty = pagination.cursor_page([], 2, lambda r: r, 3)
    assert empty.items == [] and empty.cursor == last.cursor


def test_label_pdf_has_scannable_code128_of_each_posting() -> None:
    numbers = ["57195475-0050-1", "0123456789-0001-12"]
    pdf = render_labels([LabelData(n, order_number=n.rsplit("-", 1)[0]) for n in numbers])
    assert pdf.startswith(b"%PDF")
    reader = pypdf.PdfReader(io.BytesIO(pdf))
    assert all(n in p.extract_text() for p, n in zip(reader.pages, numbers, strict=True))
    pdfium = pytest.importorskip("pypdfium2")
    zxingcpp = pytest.importorskip("zxingcpp")
    doc = pdfium.PdfDocument(pdf)
    decoded = [
        [(r.text, r.format.name) for r in zxingcpp.read_barcodes(doc[i].render(scale=3).to_pil())]
        for i in range(len(doc))
    ]
    assert decoded == [[(n, "Code128")] for n in numbers]



def test_label_prints_russian_names_as_written() -> None:
    """Warehouses and delivery methods have Russian names: the label's font has Cyrillic
    (a character it lacks still shows as ``?``, never as a crash)."""
    pdf = render_labels([LabelData("1-0001-1", warehouse="Шушары",
                                   delivery_method="Ozon Логистика, Шушары ☃")])
    text = pypdf.PdfReader(io.BytesIO(pdf)).pages[0].extract_text()
    assert "Warehouse: Шушары" in text and "Delivery: Ozon Логистика, Шушары ?" in text

AVAILABLE_ACTIONS = set(
    [
        "arbitration",
        "awaiting_delivery",
        "can_create_chat",
        "cancel",
        "click_track_number",
        "customer_phone_available",
        "has_weight_products",
        "has_barcode_for_printing",
        "hide_region_and_city",
        "invoice_get",
        "invoice_send",
        "invoice_update",
        "label_download_big",
        "label_download_small",
        "label_download",
        "non_int_delivered",
        "non_int_delivering",
        "non_int_last_mile",
        "product_cancel",
        "set_cutoff",
        "set_timeslot",
        "set_track_number",
        "ship_async_in_process",
        "ship_async_retry",
        "ship_async",
        "ship_with_additional_info",
        "ship",
        "update_cis",
    ]
)


@pytest.mark.parametrize("status", list(PostingStatus))
def test_available_actions_follow_the_lifecycle(status: PostingStatus) -> None:
    actions = available_actions(status)
    assert set(actions) <= AVAILABLE_ACTIONS  # strict enum on the wire
    assert ("cancel" in actions) == can_transition(status, PostingStatus.CANCELLED)
    assert ("arbitration" in actions) == can_transition(status, PostingStatus.ARBITRATION)
    assert ("ship" in actions) == (status is PostingStatus.AWAITING_PACKAGING)
    assert not actions if is_final(status) else "set_track_number" in actions


def test_a_dispute_is_offered_only_after_hand_over() -> None:
    """§2.4: arbitration for a posting handed over (``awaiting_deliver``), never before
    assembly; awaiting-delivery only for a disputed posting."""
    def offering(action: str) -> set[PostingStatus]:
        return {s for s in PostingStatus if action in available_actions(s)}

    assert offering("arbitration") == {PostingStatus.AWAITING_DELIVER}
    assert offering("awaiting_delivery") == {PostingStatus.ARBITRATION}
