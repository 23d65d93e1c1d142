"""The console as an app of its own, mounted by the backend at ``/console``.

A mounted sub-app keeps the console's HTML routes out of the API's route table (its
OpenAPI document, ``/v1/roles`` and the permission-matrix test read that table) and gives
it its own error pages: sign-in redirects, 403 and 404 pages instead of Ozon JSON.
"""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI
from fastapi.exceptions import RequestValidationError
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.staticfiles import StaticFiles

from reference_backend.console import (
    account_pages,
    accounts,
    acts,
    analytics,
    buyers,
    discounts,
    finance,
    home,
    postings,
    products,
    returns,
    stock,
    webhooks,
)
from reference_backend.console.refusals import refusal
from reference_backend.console.session import CsrfRefused
from reference_backend.console.web import (
    PREFIX,
    Denied,
    EnrolmentNeeded,
    SignInNeeded,
    render,
)
from reference_backend.domain_errors import DomainError, NotFound
from reference_backend.errors import KIND_STATUS

STATIC = Path(__file__).parent / "static"
PAGE_MODULES = (account_pages, home, postings, acts, products, stock, returns, buyers, discounts,
                analytics, finance, accounts, webhooks)


def create_console(parent: FastAPI) -> FastAPI:
    """The console app over ``parent``'s database, settings and sign-in guard."""
    console = FastAPI(openapi_url=None, docs_url=None, redoc_url=None)
    console.state.db = parent.state.db
    console.state.settings = parent.state.settings
    console.state.parent = parent
    console.mount("/static", StaticFiles(directory=STATIC), name="static")
    for module in PAGE_MODULES:
        console.include_router(module.pages)

    @console.exception_handler(SignInNeeded)
    async def sign_in_first(request: Request, _exc: Exception) -> Response:
        target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        from urllib.parse import quote

        return RedirectResponse(f"{PREFIX}/sign-in?next={quote(target)}", status_code=303)

    @console.exception_handler(EnrolmentNeeded)
    async def enrol_first(_request: Request, _exc: Exception) -> Response:
        return RedirectResponse(f"{PREFIX}/profile/two-factor", status_code=303)

    @console.exception_handler(Denied)
    async def denied(request: Request, _exc: Exception) -> Response:
        return render(request, "error.html", {"code": 403}, status=403)

    @console.exception_handler(CsrfRefused)
    async def csrf_refused(request: Request, _exc: Exception) -> Response:
        return render(request, "error.html", {"code": 403, "csrf": True}, status=403)

    @console.exception_handler(NotFound)
    async def not_found(request: Request, _exc: Exception) -> Response:
        return render(request, "error.html", {"code": 404}, status=404)

    @console.exception_handler(DomainError)  # any other refusal of a service: its message
    async def refused(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, DomainError)
        status = KIND_STATUS.get(exc.kind, 400)
        return render(request, "error.html", {"code": status, "message": refusal(request, exc)},
                      status=status)

    @console.exception_handler(RequestValidationError)
    async def bad_request(request: Request, _exc: Exception) -> Response:
        return render(request, "error.html", {"code": 400}, status=400)

    @console.exception_handler(404)
    @console.exception_handler(405)  # (e.g. the language switch back to a form's answer)
    async def no_page(request: Request, _exc: Exception) -> Response:
        return render(request, "error.html", {"code": 404}, status=404)

    return console


def mount_console(app: FastAPI) -> None:
    """Serve the console at ``/console`` of ``app``."""
    app.mount(PREFIX, create_console(app), name="console")
