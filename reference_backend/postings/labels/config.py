"""Settings of the Ozon-compatible surface (environment ``PEAKLINE_OZON_*``)."""

from __future__ import annotations

from functools import lru_cache
from typing import Literal

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class OzonSettings(BaseSettings):
    """How ``/v2/posting/fbs/package-label`` answers.

    ``label_format``: ``pdf`` always sends the raw PDF (the documented body), ``json`` always
    the ``{file_content (base64), file_name, content_type}`` wrapper, ``auto`` (default) the
    wrapper only for callers whose ``User-Agent`` contains one of ``json_label_agents`` (clients
    known to parse that method's answer as JSON) and the PDF for everyone else.
    """

    model_config = SettingsConfigDict(env_prefix="PEAKLINE_OZON_", extra="ignore", frozen=True)

    label_format: Literal["auto", "pdf", "json"] = "auto"
    json_label_agents: tuple[str, ...] = Field(default=("aiohttp",))


@lru_cache(maxsize=1)
def ozon_settings() -> OzonSettings:
    return OzonSettings()
