"""Typed dependencies of the Ozon routers: the calling seller per route group and action."""

from __future__ import annotations

from typing import Annotated

from reference_backend.auth import DbDep, SellerIdentity, require
from reference_backend.permissions import Action, RouteGroup

G, A = RouteGroup, Action

WarehousesRead = Annotated[SellerIdentity, require(G.WAREHOUSES, A.READ)]
ProductsRead = Annotated[SellerIdentity, require(G.PRODUCTS, A.READ)]
ProductsWrite = Annotated[SellerIdentity, require(G.PRODUCTS, A.WRITE)]
StocksRead = Annotated[SellerIdentity, require(G.STOCKS, A.READ)]
StocksWrite = Annotated[SellerIdentity, require(G.STOCKS, A.WRITE)]
PostingsRead = Annotated[SellerIdentity, require(G.POSTINGS, A.READ)]
PostingsWrite = Annotated[SellerIdentity, require(G.POSTINGS, A.WRITE)]
ReturnsRead = Annotated[SellerIdentity, require(G.RETURNS, A.READ)]
ReturnsWrite = Annotated[SellerIdentity, require(G.RETURNS, A.WRITE)]
FinanceRead = Annotated[SellerIdentity, require(G.FINANCE, A.READ)]
AnalyticsRead = Annotated[SellerIdentity, require(G.ANALYTICS, A.READ)]
RolesRead = Annotated[SellerIdentity, require(G.ROLES, A.READ)]
PromotionsRead = Annotated[SellerIdentity, require(G.PROMOTIONS, A.READ)]
PromotionsWrite = Annotated[SellerIdentity, require(G.PROMOTIONS, A.WRITE)]
ChatsRead = Annotated[SellerIdentity, require(G.CHATS, A.READ)]
ChatsWrite = Annotated[SellerIdentity, require(G.CHATS, A.WRITE)]

__all__ = [
    "AnalyticsRead",
    "ChatsRead",
    "ChatsWrite",
    "DbDep",
    "FinanceRead",
    "PostingsRead",
    "PostingsWrite",
    "ProductsRead",
    "ProductsWrite",
    "PromotionsRead",
    "PromotionsWrite",
    "ReturnsRead",
    "ReturnsWrite",
    "RolesRead",
    "StocksRead",
    "StocksWrite",
    "WarehousesRead",
]
