"""The marketplace's tariffs, from the environment (``PEAKLINE_FINANCE_<FIELD>``).

One set for the whole backend, in roubles per posting and percent of the sale price; the
defaults are the figures of Ozon's own price-info example (§16.5). Finance accrues them and
``/v5/product/info/prices`` shows them.
"""

from __future__ import annotations

from decimal import Decimal
from functools import lru_cache

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class Tariffs(BaseSettings):
    """Commission and logistics tariffs of FBS and rFBS sales."""

    model_config = SettingsConfigDict(env_prefix="PEAKLINE_FINANCE_", extra="ignore", frozen=True)

    sales_percent_fbs: Decimal = Field(default=Decimal("12"), ge=0, le=100,
                                       description="sales commission of an FBS sale, %")
    sales_percent_rfbs: Decimal = Field(default=Decimal("12"), ge=0, le=100,
                                        description="sales commission of an rFBS sale, %")
    direct_flow_logistics: Decimal = Field(default=Decimal("41"), ge=0,
                                           description="warehouse to buyer's city, per posting")
    last_mile: Decimal = Field(default=Decimal("60"), ge=0,
                               description="delivery to the buyer, per posting")
    return_flow_logistics: Decimal = Field(default=Decimal("40"), ge=0,
                                           description="back to the seller, per posting")

    def commission_rate(self, rfbs: bool) -> Decimal:
        """The commission as a fraction of the sale price."""
        return (self.sales_percent_rfbs if rfbs else self.sales_percent_fbs) / 100


@lru_cache(maxsize=1)
def tariffs() -> Tariffs:
    """The process's tariffs (read once from the environment)."""
    return Tariffs()
