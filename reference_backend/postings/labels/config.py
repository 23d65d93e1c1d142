"""Settings of the Ozon-compatible surface (environment ``PEAKLINE_OZON_*``)."""

from __future__ import annotations

from functools import lru_cache
from typing import Literal

from pydantic_settings import BaseSettings, SettingsConfigDict


class OzonSettings(BaseSettings):
    """How ``/v2/posting/fbs/package-label`` answers.

    ``label_format``: ``auto`` (default) follows the request's ``Accept`` header: the
    ``{file_content (base64), file_name, content_type}`` JSON wrapper when it prefers
    ``application/json`` to ``application/pdf``, else the raw PDF (the documented body);
    ``pdf`` or ``json`` always answer that form.
    """

    model_config = SettingsConfigDict(env_prefix="PEAKLINE_OZON_", extra="ignore", frozen=True)

    label_format: Literal["auto", "pdf", "json"] = "auto"


@lru_cache(maxsize=1)
def ozon_settings() -> OzonSettings:
    return OzonSettings()
