"""Package labels as a real PDF: one 75 x 120 mm page per posting, with the posting number
as a scannable Code128 barcode (reportlab's barcode widget) and as text."""

from __future__ import annotations

import io
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime

from reportlab.graphics.barcode.code128 import Code128
from reportlab.lib.units import mm
from reportlab.pdfgen.canvas import Canvas

from reference_backend.fonts import printable, registered

PAGE = (75 * mm, 120 * mm)
MARGIN = 4 * mm
SANS, SANS_BOLD = registered()  # Latin and Cyrillic


@dataclass(frozen=True)
class LabelData:
    """What one label shows."""

    posting_number: str
    order_number: str = ""
    warehouse: str = ""
    delivery_method: str = ""
    shipment_date: datetime | None = None
    products: Sequence[tuple[str, int]] = field(default_factory=tuple)  # (offer_id, qty)


def code128_fitting(value: str, width: float, bar_height: float = 22 * mm) -> Code128:
    """A Code128 of ``value`` narrowed until it fits ``width`` (long numbers on small pages)."""
    bar = Code128(value, barHeight=bar_height, barWidth=0.45 * mm, humanReadable=False, quiet=True)
    while bar.width > width and bar.barWidth > 0.2 * mm:
        bar = Code128(
            value, barHeight=bar_height, barWidth=bar.barWidth * 0.9, humanReadable=False,
            quiet=True,
        )
    return bar


def _page(canvas: Canvas, label: LabelData) -> None:
    width, height = PAGE
    y = height - MARGIN - 5 * mm
    canvas.setFont(SANS_BOLD, 9)
    canvas.drawString(MARGIN, y, "Peakline FBS")
    canvas.setFont(SANS, 7)
    if label.shipment_date is not None:
        stamp = label.shipment_date.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")
        canvas.drawRightString(width - MARGIN, y, stamp)
    bar = code128_fitting(label.posting_number, width - 2 * MARGIN)
    y -= bar.height + 4 * mm
    bar.drawOn(canvas, (width - bar.width) / 2, y)
    y -= 7 * mm
    canvas.setFont(SANS_BOLD, 13)
    canvas.drawCentredString(width / 2, y, label.posting_number)
    canvas.setFont(SANS, 7)
    for text in (
        f"Order: {label.order_number}",
        f"Warehouse: {label.warehouse}",
        f"Delivery: {label.delivery_method}",
    ):
        y -= 4.5 * mm
        canvas.drawString(MARGIN, y, printable(text)[:60])
    y -= 2 * mm
    for offer_id, quantity in list(label.products)[:8]:
        y -= 4 * mm
        canvas.drawString(MARGIN, y, printable(f"{offer_id} x {quantity}")[:60])
    canvas.showPage()


def render_labels(labels: Sequence[LabelData]) -> bytes:
    """One PDF with a page per label (deterministic bytes for the same input)."""
    if not labels:
        raise ValueError("no labels to render")
    buffer = io.BytesIO()
    canvas = Canvas(buffer, pagesize=PAGE, invariant=1)
    canvas.setTitle("Package labels " + ", ".join(lab.posting_number for lab in labels[:5]))
    canvas.setAuthor("Peakline")
    for label in labels:
        _page(canvas, label)
    canvas.save()
    return buffer.getvalue()


def label_file_name(now: datetime | None = None) -> str:
    """Ozon's file name form: ``ticket-<n>-2023-07-13T13:17:06Z.pdf``."""
    now = (now or datetime.now(UTC)).astimezone(UTC)
    return f"ticket-{int(now.timestamp()) % 1000000}-{now.strftime('%Y-%m-%dT%H:%M:%SZ')}.pdf"
