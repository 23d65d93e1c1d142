"""The services' messages in the page's language.

A refusal (a :class:`~reference_backend.domain_errors.DomainError`, or the sign-in guard's
:class:`~reference_backend.errors.ApiError`), a per-item error of an import or a check's
reason (the password policy's, the webhook URL check's) carries an English message written
where it is made, often with values in it (ids, dates, statuses). Each such message the
services can make is listed in :data:`TEMPLATES` (its values as ``{name}`` placeholders),
marked for extraction into the console's catalogue: :func:`in_language` finds the template a
message was made from and gives its translation with the same values; a message not listed
is shown as it is. :func:`field_error` does the same for a form row's validation error.
``tests/test_console_pages.py`` checks that every message the services make is listed.
"""

from __future__ import annotations

import re
from functools import cache

from pydantic_core import ErrorDetails
from starlette.requests import Request

from reference_backend.console.web import _l, translate
from reference_backend.domain_errors import DomainError
from reference_backend.errors import ApiError

TEMPLATES: tuple[str, ...] = (
    # the sign-in guard's 429s (reference_backend.accounts.guard)
    _l("too many sign-ins from this address; retry in {wait} s"),
    _l("the server is busy with other sign-ins; retry in 1 s"),
    # the checks' reasons (reference_backend.security, notifications.delivery)
    _l("password must have at least {min_length} characters"),
    _l("password must use at least 4 different characters"),
    _l("not a valid URL: {problem}"),
    _l("webhook URL must be an absolute http:// or https:// URL"),
    _l("webhook URL must not carry credentials"),
    _l("webhook URL is longer than 2000 characters"),
    _l("host {host} does not resolve"),
    _l("host {host} is not a public address"),
    # per-item errors of product, price and stock imports (catalog/, stock/)
    _l("attribute {attribute_id} ({attribute}) takes at most {max} value(s)"),
    _l("attribute {attribute_id} ({attribute}): dictionary_value_id {value_id} is not in its "
       "dictionary (see /v1/description-category/attribute/values)"),
    _l("attribute {attribute_id} ({attribute}): value is empty"),
    _l("attribute {attribute_id} ({attribute}): {value} is not an integer"),
    _l("attribute {attribute_id} ({attribute}): {value} is not a number"),
    _l("attribute {attribute_id} does not belong to type {type_id}"),
    _l("give offer_id or product_id"),
    _l("name must not be empty"),
    _l("old_price must be greater than price"),
    _l("old_price must exceed price (or be 0)"),
    _l("price must be a positive decimal string"),
    _l("price must be positive"),
    _l("product is archived"),
    _l("product not found"),
    _l("product not found (give offer_id or product_id)"),
    _l("products cannot be created in type {type_id} ({type})"),
    _l("required attribute {attribute_id} ({attribute}) is missing"),
    _l("the daily limit of products to create or update is reached"),
    _l("this product's price was set too often (10 an hour)"),
    _l("this product's stock at this warehouse was set too recently"),
    _l("type {type_id} is not a product type of description category {category_id} (see "
       "/v1/description-category/tree)"),
    _l("vat must be one of {rates}"),
    # the import columns' own checks (reference_backend.schemas, catalog/schemas.py)
    _l("expected a decimal number as a string, e.g. \"279.00\""),
    _l("expected an integer or a numeric string"),
    _l("expected at most {max_length} characters"),
    _l("must be a finite non-negative amount below 1e12"),
    # a plan-stock CSV's unreadable line (console/stock.py)
    _l("line {number}"),
    # the services' refusals
    _l("DELIVERY_METHOD_NOT_FOUND: no delivery method or warehouse {method_or_warehouse}"),
    _l("SKU {sku} is not in posting {posting_number}"),
    _l("SKU {sku} not found for this seller"),
    _l("a chat can be started until 72 hours after delivery"),
    _l("a seller has at most {max_webhooks} webhooks"),
    _l("a sub-account cannot be an owner"),
    _l("account {account_id} not found"),
    _l("act {act_id} is still being formed (check-status: in_process); its documents exist "
       "once it is ready"),
    _l("act {act_id} not found"),
    _l("action {action_id} not found"),
    _l("an account has at most {max_keys_per_account} active keys"),
    _l("another account of this seller uses this email"),
    _l("api key {key_id} not found"),
    _l("bad policy choice: {exc}"),
    _l("base64_content is not valid base64"),
    _l("cancel_reason_id {reason_id} cannot be used by the seller (use one of {usable})"),
    _l("cancel_reason_message is required with cancel_reason_id {reason_id}"),
    _l("chat {chat_id} not found"),
    _l("chats with buyers (history, send, read, start) need a Premium Plus or Premium Pro "
       "subscription; this seller has {value}"),
    _l("compensation_amount must be above 0 and below the price {price}"),
    _l("date.from and date.to are required (at most one month apart) unless posting_number "
       "is given"),
    _l("date.to is before date.from"),
    _l("date_end must be after date_start"),
    _l("date_from must not be after date_to"),
    _l("discount request {task_id} expired at {end_at}"),
    _l("discount request {task_id} is {status}: only an approved request can be bought with, once"),
    _l("discount request {task_id} not found"),
    _l("event {event_id} not found"),
    _l("event {value} does not apply to posting {posting_number} in status {status}"),
    _l("every unit of posting {posting_number} has already been returned"),
    _l("expires_at is in the past"),
    _l("file not found"),
    _l("filter value for metric {key} must be a number"),
    _l("filter/sort key {key} is neither a requested dimension nor a metric"),
    _l("freeze_date must lie between date_start and date_end"),
    _l("give current_password to change the sign-in password or email"),
    _l("label file not found"),
    _l("label task {task_id} not found"),
    _l("last_id must be the last product id of the previous page"),
    _l("more units requested than the posting holds"),
    _l("name must be a file name with an extension, e.g. photo.jpg"),
    _l("no posting with barcode {text}"),
    _l("no seller with Client-Id {client_id}"),
    _l("no stock of SKU {sku} at warehouse {warehouse_id}"),
    _l("no stock row for that SKU at that warehouse"),
    _l("no_postings: no assembled (awaiting_deliver) postings of delivery method "
       "{delivery_method_id} are waiting for an act"),
    _l("not an email address"),
    _l("only {left} unit(s) of SKU {sku} can still be returned"),
    _l("only {max} unit(s) of SKU {sku} can still be returned"),
    _l("order {order_number} can no longer be cancelled: posting(s) already shipped"),
    _l("order {order_number} not found"),
    _l("outside the messaging window: 72 hours after delivery, then replies within 48 "
       "hours of the buyer's last message"),
    _l("packages must hold exactly the posting's products (use "
       "/v4/posting/fbs/ship/package for a partial assembly)"),
    _l("posting {number} not found"),
    _l("posting {posting_number} has no chat"),
    _l("posting {posting_number} has no {quantity} unit(s) of SKU {sku} to cancel"),
    _l("posting {posting_number} in status {status}: items can no longer be cancelled"),
    _l("posting {posting_number} is conditionally delivered and cannot be cancelled"),
    _l("posting {posting_number} is {status}: last mile needs status delivering"),
    _l("posting {posting_number} is {status}: only a posting awaiting packaging can be partly "
       "assembled"),
    _l("posting {posting_number} is {status}: only delivered postings can be returned"),
    _l("posting {posting_number} is {status}: only disputed postings (arbitration) move to "
       "awaiting_deliver"),
    _l("posting {posting_number} is {status}: tracking number can no longer be set"),
    _l("posting {posting_number} not found"),
    _l("posting {posting_number} was shipped from an FBS warehouse: return requests are "
       "for rFBS postings (§13); its return goes through Ozon"),
    _l("posting {posting_number}: cannot change status {value} -> {target}"),
    _l("posting {posting} has no product {key}"),
    _l("present {present} would be below reserved {reserved}"),
    _l("product {product_id} not found"),
    _l("quantity must be {approved_quantity_min}..{approved_quantity_max} (the approved "
       "quantities)"),
    _l("quantity_max must not be below quantity_min"),
    _l("reason_id must be one of {sorted}"),
    _l("rejection reason {id} ({name}) needs a comment"),
    _l("rejection_reason_id must be one of {sorted}"),
    _l("requested_price must be above 0 and below the price {price}"),
    _l("return quantities must be positive"),
    _l("return request {return_id} is {state}: action {action} is not available "
       "(available: {names})"),
    _l("return request {return_id} not found"),
    _l("return {id} was already processed ({status})"),
    _l("return {return_id} not found"),
    _l("return_method_id must be one of {sorted}"),
    _l("seller name must not be empty"),
    _l("seller not found"),
    _l("seller {name} already exists (client_id {existing})"),
    _l("start enrolment first"),
    _l("stock must be >= 0"),
    _l("stock reservation missing on release"),
    _l("stock reservation missing on shipment"),
    _l("task {task_id} not found"),
    _l("the account is disabled"),
    _l("the chat is closed"),
    _l("the code is wrong or expired"),
    _l("the current password is wrong"),
    _l("the file is empty"),
    _l("the file is larger than {max_file_bytes} bytes"),
    _l("the owner account cannot be changed here"),
    _l("the period must be at most {max_days} days"),
    _l("the period {since} .. {until} is longer than one month; request at most one month "
       "at a time"),
    _l("the realization report for {year}-{month} does not exist yet"),
    _l("the request covers the whole posting: use /v4/posting/fbs/ship"),
    _l("the seller's replenishment policy is unusable: {exc}"),
    _l("this is the owner's last active key: issue another before revoking it (or "
       "`peakline seller owner-key`)"),
    _l("this password-reset link expired at {expires_at} UTC: ask for a new one"),
    _l("this password-reset link is not valid: ask for a new one"),
    _l("this password-reset link was already used: ask for a new one"),
    _l("two-factor authentication is already enabled"),
    _l("unknown message types: {value}"),
    _l("unknown role {role}"),
    _l("warehouse {warehouse_id} not found"),
    _l("warning_level must be >= 0"),
    _l("webhook {webhook_id} not found"),
    _l("{not_ready}: {value} (labels need status awaiting_deliver)"),
    _l("Trying set ContainersCount to not HasEntrustedAcceptance company"),
)

_PLACEHOLDER = re.compile(r"\{(\w+)\}")


@cache
def _patterns() -> tuple[tuple[re.Pattern[str], str], ...]:
    """Each template as a pattern matching the messages made from it."""
    compiled = []
    for template in TEMPLATES:
        parts = _PLACEHOLDER.split(template)  # text, name, text, name, ..., text
        pattern = "".join(re.escape(part) if i % 2 == 0 else f"(?P<{part}>.+?)"
                          for i, part in enumerate(parts))
        compiled.append((re.compile(pattern, re.DOTALL), template))
    return tuple(compiled)


def template_of(message: str) -> tuple[str, dict[str, str]] | None:
    """The template ``message`` was made from and its values, or None if none matches."""
    for pattern, template in _patterns():
        found = pattern.fullmatch(message)
        if found:
            return template, found.groupdict()
    return None


def in_language(request: Request, message: str) -> str:
    """``message``, as a service made it, in the request's language."""
    found = template_of(message)
    if found is None:
        return message
    template, values = found
    return translate(request, template).format(**values)


def refusal(request: Request, exc: DomainError | ApiError) -> str:
    """``exc``'s message in the request's language."""
    return in_language(request, exc.message)


#: A form row's validation errors by their pydantic type (their values from its ``ctx``).
FIELD_ERRORS = {
    "missing": _l("required"),
    "string_too_long": _l("at most {max_length} characters"),
    "greater_than_equal": _l("must be at least {ge}"),
    "less_than_equal": _l("must be at most {le}"),
}


def field_error(request: Request, error: ErrorDetails) -> str:
    """A pydantic validation error in the request's language: its field, then why."""
    field = ".".join(str(p) for p in error["loc"])
    ctx = error.get("ctx") or {}
    if error["type"] == "value_error":
        why = in_language(request, str(ctx["error"]))
    elif error["type"] in FIELD_ERRORS:
        why = translate(request, FIELD_ERRORS[error["type"]]).format(**ctx)
    else:
        why = error["msg"]
    return f"{field}: {why}"
