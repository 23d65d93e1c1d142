"""Settings of outgoing mail (``PEAKLINE_SMTP_<FIELD>``) and of reset links
(``PEAKLINE_PASSWORD_RESET_<FIELD>``)."""

from __future__ import annotations

from functools import lru_cache
from urllib.parse import urlsplit

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

SCHEMES = ("smtp", "smtps", "smtp+starttls")


class MailSettings(BaseSettings):
    """Where mail goes: ``url`` ``smtp://[user:password@]host[:port]`` (plain, port 25),
    ``smtps://`` (TLS, port 465) or ``smtp+starttls://`` (upgraded, port 587); empty: no
    mail is sent (reset requests are then only logged)."""

    model_config = SettingsConfigDict(env_prefix="PEAKLINE_SMTP_", extra="ignore", frozen=True,
                                      hide_input_in_errors=True)  # (a URL may carry a password)

    url: str = ""
    sender: str = "Peakline <no-reply@peakline.invalid>"
    timeout_s: float = Field(default=10.0, gt=0)

    @field_validator("url")
    @classmethod
    def _smtp_url(cls, value: str) -> str:
        if value:
            parts = urlsplit(value)
            if parts.scheme not in SCHEMES or not parts.hostname:
                forms = " | ".join(f"{s}://[user:password@]host[:port]" for s in SCHEMES)
                raise ValueError(f"not an SMTP URL: use {forms}")
            parts.port  # noqa: B018 - raises ValueError for a port that is not a number
        return value


class ResetSettings(BaseSettings):
    """How long a reset link works, and how many one account may be sent an hour."""

    model_config = SettingsConfigDict(env_prefix="PEAKLINE_PASSWORD_RESET_", extra="ignore",
                                      frozen=True)

    ttl_minutes: float = Field(default=30, gt=0, le=24 * 60)
    per_hour: int = Field(default=3, ge=1, le=100)


@lru_cache(maxsize=1)
def mail_settings() -> MailSettings:
    return MailSettings()


@lru_cache(maxsize=1)
def reset_settings() -> ResetSettings:
    return ResetSettings()
