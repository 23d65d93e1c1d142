"""The hand-over documents as files: the act (shipping list) and the waybill as A4 PDFs, the
container labels as 75 x 120 mm PDF pages (reportlab, as the package labels), and the
hand-over barcode as a PNG (python-barcode's Code128 through Pillow).

Pure functions of :class:`ActSheet`; deterministic bytes for the same input.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from barcode import Code128 as PngCode128
from barcode.writer import ImageWriter
from reportlab.lib.pagesizes import A4
from reportlab.lib.units import mm
from reportlab.pdfgen.canvas import Canvas

from reference_backend.fonts import printable
from reference_backend.postings.labels.pdf import PAGE as LABEL_PAGE
from reference_backend.postings.labels.pdf import SANS, SANS_BOLD, code128_fitting

MARGIN = 15 * mm
ROW = 6 * mm


@dataclass(frozen=True)
class SheetLine:
    """One posting on an act: its number, cargo places and units."""

    posting_number: str
    boxes: int
    products: Sequence[tuple[str, int]]  # (offer_id, quantity)
    weight_g: int = 0


@dataclass(frozen=True)
class ActSheet:
    """What the documents of one act show."""

    act_id: int
    barcode: str
    seller: str
    warehouse: str
    delivery_method: str
    departure: datetime
    created_at: datetime
    containers: int
    lines: Sequence[SheetLine]
    #: postings on the act the carrier did not take at the hand-over (the mismatch)
    missing: Sequence[str] = ()


def _day(at: datetime) -> str:
    return at.astimezone(UTC).strftime("%Y-%m-%d")


def _a4(title: str, sheet: ActSheet) -> tuple[Canvas, io.BytesIO]:
    buffer = io.BytesIO()
    canvas = Canvas(buffer, pagesize=A4, invariant=1)
    canvas.setTitle(f"{title} {sheet.act_id}")
    canvas.setAuthor("Peakline")
    return canvas, buffer


def _header(
    canvas: Canvas, title: str, sheet: ActSheet, fields: Sequence[tuple[str, str]]
) -> float:
    """Title, the act's barcode and its key fields; returns the y below them."""
    width, height = A4
    y = height - MARGIN - 6 * mm
    canvas.setFont(SANS_BOLD, 15)
    canvas.drawString(MARGIN, y, printable(f"{title} No. {sheet.act_id}"))
    bar = code128_fitting(sheet.barcode, 70 * mm, bar_height=14 * mm)
    bar.drawOn(canvas, width - MARGIN - bar.width, y - 10 * mm)
    canvas.setFont(SANS, 8)
    canvas.drawRightString(width - MARGIN, y - 14 * mm, sheet.barcode)
    canvas.setFont(SANS, 9)
    for name, value in fields:
        y -= 5.5 * mm
        canvas.drawString(MARGIN, y, printable(f"{name}: {value}")[:80])
    return y - 8 * mm


def _table(canvas: Canvas, y: float, columns: Sequence[tuple[str, float]],
           rows: Sequence[Sequence[str]]) -> float:
    """A ruled table from ``y`` down (a new page when one fills); returns the y below it."""
    width, height = A4

    def head(at: float) -> float:
        canvas.setFont(SANS_BOLD, 9)
        x = MARGIN
        for name, col in columns:
            canvas.drawString(x, at, name)
            x += col
        canvas.line(MARGIN, at - 2 * mm, width - MARGIN, at - 2 * mm)
        canvas.setFont(SANS, 9)
        return at - ROW

    y = head(y)
    for row in rows:
        if y < MARGIN + 30 * mm:
            canvas.showPage()
            y = head(height - MARGIN - 6 * mm)
        x = MARGIN
        for (_, col), cell in zip(columns, row, strict=True):
            canvas.drawString(x, y, printable(cell)[: int(col / (1.9 * mm))])
            x += col
        y -= ROW
    canvas.line(MARGIN, y + ROW - 2 * mm, width - MARGIN, y + ROW - 2 * mm)
    return y - 4 * mm


def _signatures(canvas: Canvas, y: float) -> None:
    canvas.setFont(SANS, 9)
    for who in ("Handed over (seller)", "Accepted (carrier)"):
        y -= 12 * mm
        canvas.drawString(MARGIN, y, f"{who}: ______________________  signature, date")


def _units(line: SheetLine) -> int:
    return sum(q for _, q in line.products)


def act_pdf(sheet: ActSheet) -> bytes:
    """The act of hand-over (shipping list): every posting, its boxes and units, and totals."""
    canvas, buffer = _a4("Act of hand-over", sheet)
    y = _header(canvas, "Act of hand-over (shipping list)", sheet, [
        ("Seller", sheet.seller), ("Warehouse", sheet.warehouse),
        ("Delivery method", sheet.delivery_method), ("Departure", _day(sheet.departure)),
        ("Formed", sheet.created_at.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")),
    ])
    rows = [
        [str(n), line.posting_number, str(line.boxes), str(_units(line)),
         ", ".join(f"{offer} x{q}" for offer, q in line.products)]
        for n, line in enumerate(sheet.lines, start=1)
    ]
    columns = [("#", 10 * mm), ("Posting", 45 * mm), ("Boxes", 16 * mm), ("Units", 16 * mm),
               ("Products", 93 * mm)]
    y = _table(canvas, y, columns, rows)
    canvas.setFont(SANS_BOLD, 10)
    boxes = sum(line.boxes for line in sheet.lines)
    units = sum(_units(line) for line in sheet.lines)
    canvas.drawString(MARGIN, y, f"Total: {len(sheet.lines)} postings, {boxes} boxes, "
                                 f"{units} units")
    _signatures(canvas, y)
    canvas.save()
    return buffer.getvalue()


def mismatch_pdf(sheet: ActSheet) -> bytes:
    """The act of mismatch: the act's postings the carrier did not take at the hand-over."""
    canvas, buffer = _a4("Act of mismatch", sheet)
    y = _header(canvas, "Act of mismatch", sheet, [
        ("Seller", sheet.seller), ("Warehouse", sheet.warehouse),
        ("Delivery method", sheet.delivery_method), ("Departure", _day(sheet.departure)),
        ("On the act, not handed over", str(len(sheet.missing))),
    ])
    by_number = {line.posting_number: line for line in sheet.lines}
    rows = [[str(n), number, str(by_number[number].boxes) if number in by_number else "",
             "not handed over"] for n, number in enumerate(sheet.missing, start=1)]
    y = _table(canvas, y, [("#", 10 * mm), ("Posting", 60 * mm), ("Boxes", 20 * mm),
                           ("Finding", 60 * mm)], rows)
    _signatures(canvas, y)
    canvas.save()
    return buffer.getvalue()


def waybill_pdf(sheet: ActSheet) -> bytes:
    """The waybill: sender, carrier, cargo places and weight of the carriage."""
    canvas, buffer = _a4("Waybill", sheet)
    boxes = sum(line.boxes for line in sheet.lines)
    weight = sum(line.weight_g for line in sheet.lines)
    y = _header(canvas, "Waybill", sheet, [
        ("Sender", f"{sheet.seller}, {sheet.warehouse}"),
        ("Carrier", sheet.delivery_method), ("Departure", _day(sheet.departure)),
        ("Cargo places", str(max(sheet.containers, boxes))),
        ("Gross weight", f"{weight / 1000:.3f} kg"),
    ])
    rows = [[str(n), line.posting_number, str(line.boxes), f"{line.weight_g / 1000:.3f}"]
            for n, line in enumerate(sheet.lines, start=1)]
    y = _table(canvas, y, [("#", 10 * mm), ("Posting", 60 * mm), ("Places", 25 * mm),
                           ("Weight, kg", 30 * mm)], rows)
    _signatures(canvas, y)
    canvas.save()
    return buffer.getvalue()


def container_barcode(act_id: int, number: int) -> str:
    """A cargo place's barcode value: ``<act id>-<number>``."""
    return f"{act_id}-{number}"


def container_labels_pdf(sheet: ActSheet) -> bytes:
    """One label per cargo place (at least one), each with its Code128 and the act's."""
    width, height = LABEL_PAGE
    margin = 4 * mm
    buffer = io.BytesIO()
    canvas = Canvas(buffer, pagesize=LABEL_PAGE, invariant=1)
    canvas.setTitle(f"Container labels {sheet.act_id}")
    canvas.setAuthor("Peakline")
    places = max(sheet.containers, 1)
    for number in range(1, places + 1):
        value = container_barcode(sheet.act_id, number)
        y = height - margin - 5 * mm
        canvas.setFont(SANS_BOLD, 9)
        canvas.drawString(margin, y, "Peakline cargo place")
        bar = code128_fitting(value, width - 2 * margin)
        y -= bar.height + 4 * mm
        bar.drawOn(canvas, (width - bar.width) / 2, y)
        y -= 7 * mm
        canvas.setFont(SANS_BOLD, 13)
        canvas.drawCentredString(width / 2, y, value)
        canvas.setFont(SANS, 8)
        for text in (f"Place {number} of {places}", f"Act: {sheet.act_id}",
                     f"Warehouse: {sheet.warehouse}", f"Departure: {_day(sheet.departure)}"):
            y -= 5 * mm
            canvas.drawString(margin, y, printable(text)[:50])
        canvas.showPage()
    canvas.save()
    return buffer.getvalue()


def barcode_png(value: str) -> bytes:
    """The hand-over barcode as a PNG (Code128, human-readable text under it)."""
    buffer = io.BytesIO()
    PngCode128(value, writer=ImageWriter()).write(
        buffer, options={"module_width": 0.3, "module_height": 12.0, "font_size": 8,
                         "text_distance": 4.0, "quiet_zone": 4.0})
    return buffer.getvalue()
