"""Package labels (§5.8): the PDF method and the asynchronous label tasks (create v1/v2/v3,
get v1/v2), plus the download URL their ``file_url`` points at."""

from __future__ import annotations

import base64
from typing import Annotated

from fastapi import APIRouter, Path, Request
from fastapi.responses import JSONResponse, Response
from werkzeug.datastructures import MIMEAccept
from werkzeug.http import parse_accept_header

from reference_backend.db import Database
from reference_backend.deps import DbDep, PostingsRead
from reference_backend.postings.labels import schemas as L
from reference_backend.postings.labels import service
from reference_backend.postings.labels.config import ozon_settings
from reference_backend.postings.labels.pdf import label_file_name
from reference_backend.tables import LabelTask

router = APIRouter(tags=["Ozon: FBS labels"])
PDF, JSON = "application/pdf", "application/json"

PDF_RESPONSE = {
    200: {
        "content": {
            PDF: {"schema": {"type": "string", "format": "binary"}},
            JSON: {"schema": L.PackageLabelFile.model_json_schema()},
        },
        "description": "The labels as a PDF (the JSON wrapper when Accept asks for JSON)",
    }
}


def wants_json(request: Request) -> bool:
    """Whether this caller gets the JSON wrapper instead of the raw PDF: when its ``Accept``
    header prefers ``application/json`` (a named type beats a wildcard; a tie, ``*/*`` or no
    header gives the documented PDF), unless ``PEAKLINE_OZON_LABEL_FORMAT`` fixes the form."""
    settings = ozon_settings()
    if settings.label_format != "auto":
        return settings.label_format == "json"
    accept = parse_accept_header(request.headers.get("accept"), MIMEAccept)
    return accept.best_match([PDF, JSON], default=PDF) == JSON


@router.post("/v2/posting/fbs/package-label", response_class=Response, responses=PDF_RESPONSE)
def package_label(
    body: L.PackageLabelRequest, seller: PostingsRead, db: DbDep, request: Request
) -> Response:
    """Labels of up to 20 postings in ``awaiting_deliver`` as one PDF (Code128 of each number),
    or as the JSON wrapper ``{file_content, file_name, content_type}`` when ``Accept`` asks
    for JSON (clients generated from Ozon's OpenAPI do).

    The raw PDF is what the docs describe; the wrapper is for clients that parse only JSON
    (§5.8, §10.7).
    """
    with db.read_session() as session:
        pdf = service.label_pdf(
            session, seller_id=seller.seller_id, numbers=body.posting_number
        )
    name = label_file_name()
    if wants_json(request):
        wrapper = L.PackageLabelFile(
            file_name=name, file_content=base64.b64encode(pdf).decode("ascii")
        )
        return JSONResponse(wrapper.model_dump())
    return Response(
        pdf,
        media_type=PDF,
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )


def _create(db: Database, seller_id: int, numbers: list[str], types: list[str]) -> list[LabelTask]:
    with db.session() as session:
        return service.create_label_tasks(
            session, seller_id=seller_id, numbers=numbers, types=types
        )


def _task_refs(tasks: list[LabelTask]) -> list[L.LabelTask]:
    return [L.LabelTask(task_id=t.task_id, task_type=t.task_type) for t in tasks]


@router.post("/v1/posting/fbs/package-label/create", response_model=L.LabelCreateV1Response)
def label_create_v1(
    body: L.LabelCreateV1V2Request, seller: PostingsRead, db: DbDep
) -> L.LabelCreateV1Response:
    """One label task (the file is ready at once; read it with ``.../package-label/get``)."""
    task = _create(db, seller.seller_id, body.posting_number, ["big_label"])[0]
    return L.LabelCreateV1Response(result=L.TaskIdResult(task_id=task.task_id))


@router.post("/v2/posting/fbs/package-label/create", response_model=L.LabelCreateV2Response)
def label_create_v2(
    body: L.LabelCreateV1V2Request, seller: PostingsRead, db: DbDep
) -> L.LabelCreateV2Response:
    """Two label tasks, ``big_label`` and ``small_label``."""
    tasks = _create(db, seller.seller_id, body.posting_number, ["big_label", "small_label"])
    return L.LabelCreateV2Response(result=L.LabelTasks(tasks=_task_refs(tasks)))


@router.post("/v3/posting/fbs/package-label/create", response_model=L.LabelCreateV3Response)
def label_create_v3(
    body: L.LabelCreateV3Request, seller: PostingsRead, db: DbDep
) -> L.LabelCreateV3Response:
    """Like v2, with ``posting_numbers`` and no ``result`` envelope."""
    tasks = _create(db, seller.seller_id, body.posting_numbers, ["big_label", "small_label"])
    return L.LabelCreateV3Response(tasks=_task_refs(tasks))


def _file_url(request: Request, task: LabelTask) -> str:
    if task.file_content is None:
        return ""
    base = str(request.base_url).rstrip("/")  # the address this client reached us at
    token = service.file_token(task, request.app.state.settings.secret_key)
    return f"{base}/peakline/v1/package-labels/{task.task_id}/{token}.pdf"


@router.post("/v1/posting/fbs/package-label/get", response_model=L.LabelGetV1Response)
def label_get_v1(
    body: L.LabelGetRequest, seller: PostingsRead, db: DbDep, request: Request
) -> L.LabelGetV1Response:
    """A label task's status and file URL."""
    with db.read_session() as session:
        task = service.get_label_task(
            session, seller_id=seller.seller_id, task_id=body.task_id
        )
        unprinted = [
            L.UnprintedV1(posting_number=u["posting_number"], msg=u.get("message", ""))
            for u in task.unprinted or []
        ]
        return L.LabelGetV1Response(
            result=L.LabelGetV1Result(
                status=task.status,
                file_url=_file_url(request, task),
                error=task.error,
                printed_postings_count=len(task.posting_numbers or []) - len(unprinted),
                unprinted_postings=unprinted,
                unprinted_postings_count=len(unprinted),
            )
        )


@router.post("/v2/posting/fbs/package-label/get", response_model=L.LabelGetV2Response)
def label_get_v2(
    body: L.LabelGetRequest, seller: PostingsRead, db: DbDep, request: Request
) -> L.LabelGetV2Response:
    """A label task's status (v2 shape) and file URL."""
    with db.read_session() as session:
        task = service.get_label_task(
            session, seller_id=seller.seller_id, task_id=body.task_id
        )
        unprinted = [
            L.UnprintedV2(posting_number=u["posting_number"], message=u.get("message", ""))
            for u in task.unprinted or []
        ]
        total = len(task.posting_numbers or [])
        return L.LabelGetV2Response(
            status=L.LabelStatusV2(
                code=task.status,
                postings_count=total,
                printed_postings_count=total - len(unprinted),
                unprinted_postings=unprinted,
            ),
            file_url=_file_url(request, task),
            error=L.LabelErrorV2(
                code="POSTINGS_NOT_READY" if task.error else "", message=task.error
            ),
        )


@router.get(
    "/peakline/v1/package-labels/{task_id}/{token}.pdf",
    response_class=Response,
    responses={200: {"content": {"application/pdf": {}}}},
    tags=["Peakline: labels"],
)
def label_file(
    task_id: Annotated[int, Path(ge=0, le=2**63 - 1)],
    token: Annotated[str, Path(max_length=100)],
    db: DbDep,
    request: Request,
) -> Response:
    """The PDF of a label task (the signed URL from ``file_url``; no headers needed)."""
    with db.read_session() as session:
        pdf = service.task_file(
            session, task_id=task_id, token=token, secret=request.app.state.settings.secret_key
        )
    return Response(pdf, media_type="application/pdf")
