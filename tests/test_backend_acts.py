"""Hand-over documents (§14) against a real uvicorn, through the public ``ozonapi`` client.

Two postings of one delivery method: one assembled, one not. The act takes the assembled one
and leaves the other for the next carriage; it is ``in_process`` (no documents, 409) until it
is formed, then ``ready``; its PDFs carry the posting number (pypdf), its
barcode PNG decodes (zxing-cpp) to the barcode text; a second act has nothing to take (409);
the act list and its postings follow the posting to ``received``. When the carrier takes only
some of an act's postings, the others make an act of mismatch. Bad requests answer the
Ozon error body and change nothing.
"""

from __future__ import annotations

import asyncio
import io
import time
from datetime import UTC, datetime, timedelta

import pypdf
import pytest

from tests.seller_steps import DATABASES, Steps, ozon_client, seeded_steps

pytest.importorskip("ozonapi")
zxingcpp = pytest.importorskip("zxingcpp")

from ozonapi.seller.schemas import fbs_delivery as fd  # noqa: E402
from PIL import Image  # noqa: E402


@pytest.fixture(scope="module", params=DATABASES)
def server(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory):
    with seeded_steps(request.param, tmp_path_factory.mktemp("acts"),
                      env={"PEAKLINE_ACT_FORMING_SECONDS": str(FORMING)}) as steps:
        yield steps


FORMING = 1.5  # seconds an act is being formed


def formed(server: Steps, act_id: int) -> dict:
    """Poll ``check-status`` as clients do until the act is ready; its result."""
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        result = server.seller("/v2/posting/fbs/act/check-status", {"id": act_id}).json()["result"]
        if result["status"] != "in_process":
            return result
        time.sleep(0.2)
    raise AssertionError(f"act {act_id} still in_process")


def pdf_text(pdf: bytes) -> str:
    assert pdf.startswith(b"%PDF")
    return "\n".join(page.extract_text() for page in pypdf.PdfReader(io.BytesIO(pdf)).pages)


def test_act_flow_through_ozonapi(server: Steps) -> None:
    sku = server.creds["sku_base"]
    ready, later = server.order([(sku, 2)])[0], server.order([(sku, 1)])[0]
    assert ready["warehouse_id"] == later["warehouse_id"]
    method = server.method_of(ready["warehouse_id"])

    # nothing assembled yet: no act, nothing written
    refused = server.seller("/v2/posting/fbs/act/create", {"delivery_method_id": method})
    assert refused.status_code == 409 and refused.json()["code"] == 6
    assert refused.json()["message"].startswith("no_postings")
    server.ship(ready)
    asyncio.run(_act_steps(server, method, ready["posting_number"], later["posting_number"]))


async def _act_steps(server: Steps, method: int, ready: str, later: str) -> None:
    async with ozon_client(server.base_url, server.creds) as api:
        created = await api.posting_fbs_act_create(fd.PostingFBSActCreateRequest(
            delivery_method_id=method, departure_date="0001-01-01T00:00:00Z",
            containers_count=0))
        act_id = created.result.id
        status = await api.posting_fbs_act_check_status(
            fd.PostingFBSActCheckStatusRequest(id=act_id))
        assert status.result.status == "in_process" and status.result.added_to_act == []
        early = server.seller("/v2/posting/fbs/act/get-pdf", {"id": act_id})
        assert early.status_code == 409 and early.json()["code"] == 6, early.text
        assert "being formed" in early.json()["message"]
        assert formed(server, act_id)["status"] == "ready"
        status = await api.posting_fbs_act_check_status(
            fd.PostingFBSActCheckStatusRequest(id=act_id))
        assert status.result.status == "ready"
        assert ready in status.result.added_to_act and later not in status.result.added_to_act
        assert later in status.result.removed_from_act
        assert status.result.has_postings_for_next_carriage is True

        act = await api.posting_fbs_act_get_pdf(fd.PostingFBSActGetPDFRequest(id=act_id))
        text = pdf_text(act.content)
        assert ready in text and later not in text and "Total: " in text
        labels = await api.posting_fbs_act_get_container_labels(
            fd.PostingFBSActGetContainerLabelsRequest(id=act_id))
        assert f"{act_id}-1" in pdf_text(labels.content)
        waybill = await api.posting_fbs_digital_act_get_pdf(
            fd.PostingFBSDigitalActGetPDFRequest(id=act_id, doc_type="waybill"))
        assert "Waybill" in pdf_text(waybill.content) and ready in pdf_text(waybill.content)
        digital = await api.posting_fbs_digital_act_check_status(
            fd.PostingFBSDigitalActCheckStatusRequest(id=act_id))
        assert (digital.id, digital.status) == (act_id, "FORMED")

        png = await api.posting_fbs_act_get_barcode(fd.PostingFBSActGetBarcodeRequest(id=act_id))
        code = await api.posting_fbs_act_get_barcode_text(
            fd.PostingFBSActGetBarcodeTextRequest(id=act_id))
        assert png.content.startswith(b"\x89PNG")
        decoded = zxingcpp.read_barcodes(Image.open(io.BytesIO(png.content)))
        assert [d.text for d in decoded] == [code.result] and code.result.startswith("%303%")

        covered = await api.posting_fbs_act_get_postings(
            fd.PostingFBSActGetPostingsRequest(id=act_id))
        assert [(p.posting_number, p.status) for p in covered.result] == [
            (ready, "awaiting_deliver")]
        product = covered.result[0].products[0]
        assert product.quantity == 2 and float(product.price) > 0 and product.sku

        today = datetime.now(UTC).date()
        window = fd.PostingFBSActListFilter(date_from=str(today - timedelta(days=1)),
                                            date_to=str(today))
        listed = await api.posting_fbs_act_list(fd.PostingFBSActListRequest(limit=50,
                                                                            filter=window))
        mine = [a for a in listed.result if a.id == act_id]
        assert len(mine) == 1 and mine[0].status == "formed"
        assert mine[0].delivery_method_id == method
        assert mine[0].related_docs.act_of_acceptance.document_status == "FORMED"

    # the posting already has its act: a second act has nothing to take
    again = server.seller("/v2/posting/fbs/act/create", {"delivery_method_id": str(method)})
    assert again.status_code == 409, again.text
    # the carrier takes the posting: the act is received
    server.event(ready, "sorting_accepted")
    listed = server.seller("/v2/posting/fbs/act/list", {
        "filter": {"date_from": "2020-01-01", "date_to": "2100-01-01", "status": ["received"]},
        "limit": 10}).json()["result"]
    assert act_id in [a["id"] for a in listed]
    mismatch = server.seller("/v2/posting/fbs/digital/act/get-pdf",
                             {"id": act_id, "doc_type": "act_of_mismatch"})
    assert mismatch.status_code == 404 and mismatch.json()["code"] == 5


@pytest.mark.parametrize(("path", "body", "status"), [
    ("/v2/posting/fbs/act/create", {"delivery_method_id": 1}, 404),
    ("/v2/posting/fbs/act/create", {"delivery_method_id": "x"}, 400),
    ("/v2/posting/fbs/act/create", {}, 400),
    ("/v2/posting/fbs/act/check-status", {"id": 999999}, 404),
    ("/v2/posting/fbs/act/get-pdf", {"id": "999999"}, 404),
    ("/v2/posting/fbs/act/get-barcode", {"id": -1}, 400),
    ("/v2/posting/fbs/act/list", {"filter": {"date_from": "2020-01-01"}, "limit": 5}, 400),
    ("/v2/posting/fbs/act/list",
     {"filter": {"date_from": "2020-01-01", "date_to": "2020-02-01", "status": ["bogus"]},
      "limit": 5}, 400),
])
def test_bad_act_requests_get_ozon_errors(server: Steps, path: str, body: dict,
                                          status: int) -> None:
    response = server.seller(path, body)
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/json")
    assert set(response.json()) == {"code", "message", "details"}


def test_containers_need_trusted_acceptance_and_change_nothing(server: Steps) -> None:
    sku = server.creds["sku_base"]
    posting = server.order([(sku, 1)])[0]
    server.ship(posting)
    method = server.method_of(posting["warehouse_id"])
    refused = server.seller("/v2/posting/fbs/act/create",
                            {"delivery_method_id": method, "containers_count": 3})
    assert refused.status_code == 400 and "HasEntrustedAcceptance" in refused.json()["message"]
    made = server.seller("/v2/posting/fbs/act/create", {"delivery_method_id": method})
    assert made.status_code == 200, made.text
    status = formed(server, made.json()["result"]["id"])
    assert posting["posting_number"] in status["added_to_act"]


def test_postings_not_handed_over_make_an_act_of_mismatch(server: Steps) -> None:
    sku = server.creds["sku_base"]
    taken, left = server.order([(sku, 1)])[0], server.order([(sku, 1)])[0]
    for posting in (taken, left):
        server.ship(posting)
    made = server.seller("/v2/posting/fbs/act/create",
                         {"delivery_method_id": server.method_of(taken["warehouse_id"])})
    act_id = made.json()["result"]["id"]
    digital = server.seller("/v2/posting/fbs/digital/act/check-status", {"id": act_id})
    assert digital.json() == {"id": act_id, "status": "FORMING"}
    assert {taken["posting_number"], left["posting_number"]} <= set(
        formed(server, act_id)["added_to_act"])
    server.event(taken["posting_number"], "sorting_accepted")  # the carrier takes only one

    digital = server.seller("/v2/posting/fbs/digital/act/check-status", {"id": act_id})
    assert digital.json()["status"] == "CONFIRMED_WITH_MISMATCH"
    listed = server.seller("/v2/posting/fbs/act/list", {
        "filter": {"date_from": "2020-01-01", "date_to": "2100-01-01"}, "limit": 1000})
    docs = next(a for a in listed.json()["result"] if a["id"] == act_id)["related_docs"]
    assert docs["act_of_mismatch"]["document_status"] == "NEED_TO_SIGN"
    assert docs["act_of_acceptance"]["document_status"] == "CONFIRMED_WITH_MISMATCH"
    pdf = server.seller("/v2/posting/fbs/digital/act/get-pdf",
                        {"id": act_id, "doc_type": "act_of_mismatch"})
    assert pdf.status_code == 200 and pdf.headers["content-type"] == "application/pdf"
    text = pdf_text(pdf.content)
    assert left["posting_number"] in text and taken["posting_number"] not in text
