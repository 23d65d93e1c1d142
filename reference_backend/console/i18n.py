"""Languages of the console: Babel catalogues compiled at start-up, the request's locale,
and locale-aware formatting of dates, numbers and money.

The catalogues are ``locale/<lang>/LC_MESSAGES/console.po`` (extracted with ``pybabel
extract -F reference_backend/console/babel.cfg``); they are compiled in memory when first
used, so there is no ``.mo`` file to forget to rebuild.
"""

from __future__ import annotations

import io
from datetime import datetime
from decimal import Decimal
from functools import cache
from pathlib import Path

from babel import Locale, UnknownLocaleError
from babel.dates import format_date, format_datetime
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.numbers import format_currency, format_decimal, get_currency_symbol
from babel.support import Translations
from starlette.requests import Request

LOCALE_DIR = Path(__file__).parent / "locale"
DOMAIN = "console"
#: The console's languages, the first is the default.
LANGUAGES = {"en": "English", "zh_Hans": "中文"}
LANG_COOKIE = "peakline_lang"
#: Symbols people know where the locale's own symbol is the bare ISO code (CLDR's English
#: and Chinese write "RUB1,234.00"; the rouble sign is what sellers read on Ozon).
NARROW_SYMBOLS = {"RUB": "₽", "KZT": "₸", "BYN": "Br", "UAH": "₴"}
#: Extraction keywords beyond Babel's defaults: ``_l("text")`` marks text translated where
#: it is shown, ``translate(request, "text")`` translates for a request.
KEYWORDS = {"_l": None, "translate": (2,)}


def catalogue_path(lang: str) -> Path:
    return LOCALE_DIR / lang / "LC_MESSAGES" / f"{DOMAIN}.po"


@cache
def translations(lang: str) -> Translations:
    """The compiled catalogue of ``lang`` (the .po read once per process)."""
    with catalogue_path(lang).open("rb") as po:
        catalog = read_po(po, locale=lang, domain=DOMAIN)
    buffer = io.BytesIO()
    write_mo(buffer, catalog)
    buffer.seek(0)
    return Translations(buffer, domain=DOMAIN)


def negotiate(accept_language: str) -> str:
    """The best of :data:`LANGUAGES` for an ``Accept-Language`` header (default English)."""
    wanted = []
    for part in accept_language.split(","):
        tag, _, params = part.strip().partition(";")
        quality = 1.0
        if params.strip().startswith("q="):
            try:
                quality = float(params.strip()[2:])
            except ValueError:
                quality = 0.0
        if tag:
            wanted.append((quality, tag.strip()))
    preferred = [tag for _, tag in sorted(wanted, key=lambda w: -w[0])]
    found = Locale.negotiate(preferred, ["en", "zh_Hans", "zh_CN", "zh"], sep="-")
    if found is None:
        return "en"
    return "zh_Hans" if found.language == "zh" else "en"


def request_language(request: Request) -> str:
    """The cookie's choice when valid, else the browser's (``Accept-Language``)."""
    chosen = request.cookies.get(LANG_COOKIE, "")
    if chosen in LANGUAGES:
        return chosen
    return negotiate(request.headers.get("accept-language", ""))


@cache
def babel_locale(lang: str) -> Locale:
    try:
        return Locale.parse(lang)
    except (UnknownLocaleError, ValueError):  # pragma: no cover - LANGUAGES are known
        return Locale.parse("en")


class Formats:
    """Jinja filters for one language."""

    def __init__(self, lang: str) -> None:
        self.locale = babel_locale(lang)

    def datetime(self, value: datetime | None, format: str = "medium") -> str:
        return "" if value is None else format_datetime(value, format, locale=self.locale)

    def date(self, value: datetime | str | None, format: str = "medium") -> str:
        """A date in the page's language; an ISO string as the API writes one is read first."""
        if isinstance(value, str):
            value = datetime.fromisoformat(value[:10]) if value else None
        return "" if value is None else format_date(value, format, locale=self.locale)

    def number(self, value: float | int | Decimal | str | None, places: int = 0) -> str:
        if value is None or value == "":
            return ""
        pattern = "#,##0" + ("." + "0" * places if places else "")
        return format_decimal(Decimal(str(value)), format=pattern, locale=self.locale)

    def money(self, value: float | Decimal | str | None, currency: str = "RUB") -> str:
        return money(value, currency, self.locale)

    def currency_symbol(self, currency: str) -> str:
        return currency_symbol(currency, self.locale)


def currency_symbol(currency: str, locale: Locale) -> str:
    """The sign :func:`money` writes for ``currency`` ("₽" for RUB)."""
    code = currency.upper()
    symbol = get_currency_symbol(code, locale=locale)
    return NARROW_SYMBOLS.get(code, symbol) if symbol == code else symbol


def money(value: float | Decimal | str | None, currency: str | None, locale: Locale | str
          ) -> str:
    """An amount as people of ``locale`` read it: "₽1,234.50" in English and Chinese,
    "$12.00", "¥8.00"; the locale's pattern and grouping with a recognisable symbol. Empty
    for no amount; an amount that is not a number is shown as it is."""
    if value is None or value == "":
        return ""
    try:
        amount = Decimal(str(value))
    except ArithmeticError:
        return str(value)
    if not amount.is_finite():
        return str(value)
    code = (currency or "RUB").upper()
    where = locale if isinstance(locale, Locale) else babel_locale(locale)
    text = format_currency(amount, code, locale=where)
    symbol = currency_symbol(code, where)
    return text.replace(code, symbol) if symbol != code else text
