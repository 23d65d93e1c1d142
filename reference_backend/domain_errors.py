"""Domain errors raised by services (no HTTP here; ``reference_backend.errors`` maps them).

Each error has a machine-readable ``code`` (e.g. ``OUT_OF_STOCK``), a human ``message`` and
``details`` (a list of JSON-able dicts). The ``kind`` says what sort of failure it is; the
HTTP layer turns kinds into statuses (invalid 400, unauthenticated 401, forbidden 403,
not_found 404, conflict 409, gone 410, mismatch 422, unavailable 503).
"""

from __future__ import annotations

from typing import Any, ClassVar


class DomainError(Exception):
    """Base of every expected failure of a service call; nothing has been written."""

    kind: ClassVar[str] = "invalid"
    default_code: ClassVar[str] = "INVALID_ARGUMENT"

    def __init__(
        self, message: str, *, code: str | None = None, details: list[dict[str, Any]] | None = None
    ) -> None:
        super().__init__(message)
        self.message = message
        self.code = code or self.default_code
        self.details = details or []


class InvalidInput(DomainError):
    kind = "invalid"
    default_code = "INVALID_ARGUMENT"


class Unauthenticated(DomainError):
    kind = "unauthenticated"
    default_code = "UNAUTHENTICATED"


class Forbidden(DomainError):
    kind = "forbidden"
    default_code = "PERMISSION_DENIED"


class NotFound(DomainError):
    kind = "not_found"
    default_code = "NOT_FOUND"


class Gone(DomainError):
    """Something that existed and no longer works (a used or expired link)."""

    kind = "gone"
    default_code = "GONE"


class Conflict(DomainError):
    kind = "conflict"
    default_code = "CONFLICT"


class OutOfStock(Conflict):
    default_code = "OUT_OF_STOCK"


class IllegalStatusChange(Conflict):
    """A posting status change the lifecycle refuses (wraps ``IllegalTransition``)."""

    default_code = "ILLEGAL_TRANSITION"


class AlreadyExists(Conflict):
    default_code = "ALREADY_EXISTS"


class IdempotencyMismatch(DomainError):
    """The same Idempotency-Key was used with a different request body."""

    kind = "mismatch"
    default_code = "IDEMPOTENCY_KEY_REUSED"


class Unavailable(DomainError):
    kind = "unavailable"
    default_code = "UNAVAILABLE"
