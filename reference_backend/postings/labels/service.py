"""Package labels: the label PDF of postings ready to ship, and the asynchronous label tasks
with their download token. Keyword-only functions over a SQLAlchemy session; no HTTP here."""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Sequence

from sqlalchemy.orm import Session

from reference_backend.domain_errors import InvalidInput, NotFound
from reference_backend.postings.labels.pdf import LabelData, render_labels
from reference_backend.postings.service import PostingBundle, bundles_for
from reference_backend.tables import LabelTask, utcnow
from simulator.lifecycle import PostingStatus

ST = PostingStatus
LABEL_READY = {ST.AWAITING_DELIVER.value, ST.DELIVERING.value}
NOT_READY = "The next postings aren't ready"


def _label(b: PostingBundle) -> LabelData:
    return LabelData(
        posting_number=b.posting.posting_number,
        order_number=b.posting.order_number,
        warehouse=b.warehouse.name if b.warehouse else "",
        delivery_method=b.method.name if b.method else "",
        shipment_date=b.posting.shipment_date,
        products=[(i.offer_id, i.quantity) for i in b.shipped],
    )


def label_pdf(session: Session, *, seller_id: int, numbers: Sequence[str]) -> bytes:
    """One PDF for all ``numbers``; any posting not ready fails the whole request."""
    bundles = bundles_for(session, seller_id, list(dict.fromkeys(numbers)))
    not_ready = [b.posting.posting_number for b in bundles if b.posting.status not in LABEL_READY]
    if not_ready:
        raise InvalidInput(
            f"{NOT_READY}: {', '.join(not_ready)} (labels need status awaiting_deliver)",
            code="POSTINGS_NOT_READY",
            details=[{"posting_number": n} for n in not_ready],
        )
    return render_labels([_label(b) for b in bundles])


def create_label_tasks(
    session: Session, *, seller_id: int, numbers: Sequence[str], types: Sequence[str]
) -> list[LabelTask]:
    """One task per label type; the PDF is made at once (tasks are born ``completed``)."""
    numbers = list(dict.fromkeys(numbers))
    bundles = bundles_for(session, seller_id, numbers)  # unknown number -> 404
    ready = [b for b in bundles if b.posting.status in LABEL_READY]
    unprinted = [
        {"posting_number": b.posting.posting_number, "message": f"{NOT_READY}: {b.posting.status}"}
        for b in bundles
        if b.posting.status not in LABEL_READY
    ]
    pdf = render_labels([_label(b) for b in ready]) if ready else None
    now = utcnow()
    tasks = []
    for task_type in types:
        task = LabelTask(
            seller_id=seller_id,
            task_type=task_type,
            status="completed" if pdf else "error",
            posting_numbers=numbers,
            unprinted=unprinted,
            file_content=pdf,
            error="" if pdf else NOT_READY,
            created_at=now,
            completed_at=now,
        )
        session.add(task)
        tasks.append(task)
    session.flush()
    return tasks


def get_label_task(session: Session, *, seller_id: int, task_id: int) -> LabelTask:
    task = session.get(LabelTask, task_id)
    if task is None or task.seller_id != seller_id:
        raise NotFound(f"label task {task_id} not found", code="TASK_NOT_FOUND")
    return task


def file_token(task: LabelTask, secret: str) -> str:
    """Signature that makes a task's download URL unguessable (no headers needed to fetch)."""
    digest = hashlib.sha256(task.file_content or b"").hexdigest()
    message = f"{task.task_id}:{task.created_at.isoformat()}:{digest}".encode()
    return hmac.new(secret.encode() or b"peakline", message, hashlib.sha256).hexdigest()[:40]


def task_file(session: Session, *, task_id: int, token: str, secret: str) -> bytes:
    task = session.get(LabelTask, task_id)
    if (
        task is None
        or task.file_content is None
        or not hmac.compare_digest(file_token(task, secret).encode(), token.encode())
    ):
        raise NotFound("label file not found", code="FILE_NOT_FOUND")
    return task.file_content
