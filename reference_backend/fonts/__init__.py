"""Fonts for the PDFs the backend prints (labels, acts, waybills): DejaVu Sans, subset to
Latin and Cyrillic (Ozon's documents are in Russian; reportlab's built-in Helvetica has no
Cyrillic). License: ``LICENSE`` beside this file (Bitstream Vera; DejaVu changes public domain)."""

from __future__ import annotations

from functools import cache
from pathlib import Path

from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.ttfonts import TTFont

HERE = Path(__file__).parent
REGULAR, BOLD = "DejaVuSans", "DejaVuSans-Bold"


@cache
def registered() -> tuple[str, str]:
    """Register both faces with reportlab (once a process); their names, regular and bold."""
    for name in (REGULAR, BOLD):
        pdfmetrics.registerFont(TTFont(name, str(HERE / f"{name}.ttf")))
    return REGULAR, BOLD


@cache
def _covered() -> frozenset[int]:
    registered()
    font = pdfmetrics.getFont(REGULAR)
    return frozenset(font.face.charToGlyph)  # type: ignore[attr-defined]


def printable(text: str) -> str:
    """``text`` with any character the fonts lack shown as ``?``."""
    covered = _covered()
    return "".join(c if ord(c) in covered else "?" for c in text)
