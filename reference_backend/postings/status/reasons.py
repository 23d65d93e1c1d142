"""Cancel-reason rules that are not data: the reasons themselves live in the
``cancel_reasons`` table (seeded by the initial migration)."""

from __future__ import annotations

#: Reasons whose ``cancel_reason_message`` is required (402 "other, seller's fault").
MESSAGE_REQUIRED: frozenset[int] = frozenset({402})
