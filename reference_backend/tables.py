"""The whole backend schema as SQLAlchemy 2 models (``Mapped[]``), designed up front.

One metadata with an explicit naming convention, so Alembic names constraints the same on
SQLite and PostgreSQL. Conventions used throughout:

* Ozon int64 ids (``order_id``, ``product_id``, ``sku``, ``warehouse_id``, delivery method
  ``id``) are :data:`BigId` columns; autoincrement ids use a variant that is
  ``INTEGER PRIMARY KEY`` on SQLite (the only type SQLite autoincrements).
* Money is a decimal string (Ozon sends and expects strings: ``"1390.000000"``).
* Datetimes are :class:`UtcDateTime`: stored as UTC, always returned timezone-aware UTC.
* Every seller-owned row carries ``seller_id`` (the tenant) so every query can filter on it.
* Statuses are the wire strings of :class:`simulator.lifecycle.PostingStatus`.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    CheckConstraint,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Text,
    TypeDecorator,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

#: int64 autoincrement primary key: BIGINT on PostgreSQL, INTEGER (rowid alias) on SQLite.
BigId = BigInteger().with_variant(Integer(), "sqlite")


def utcnow() -> datetime:
    """Now, timezone-aware UTC."""
    return datetime.now(UTC)


class UtcDateTime(TypeDecorator[datetime]):
    """A datetime stored as UTC and always read back timezone-aware (UTC)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            value = value.replace(tzinfo=UTC)
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map = {datetime: UtcDateTime(), dict[str, Any]: JSON, list[Any]: JSON}


def _created() -> Mapped[datetime]:
    return mapped_column(UtcDateTime(), default=utcnow, nullable=False)


# =========================================================================== tenants and access


class Seller(Base):
    """A tenant: one Ozon seller cabinet, with the policies its backend runs."""

    __tablename__ = "sellers"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    client_id: Mapped[str] = mapped_column(String(20), unique=True)  # numeric string
    name: Mapped[str] = mapped_column(String(200), unique=True)
    scenario_name: Mapped[str | None] = mapped_column(String(200))
    currency_code: Mapped[str] = mapped_column(String(3), default="RUB")
    #: Ozon SKU of scenario SKU index i is ``sku_base + i`` (seeded sellers).
    sku_base: Mapped[int] = mapped_column(BigInteger)
    allocation_policy: Mapped[str] = mapped_column(String(100))
    allocation_params: Mapped[dict[str, Any]] = mapped_column(default=dict)
    replenishment_policy: Mapped[str] = mapped_column(String(100))
    replenishment_params: Mapped[dict[str, Any]] = mapped_column(default=dict)
    #: Supplier lead time the replenishment suggestion assumes (days, mean and sd).
    supplier_lead_time_days: Mapped[float] = mapped_column(Float, default=3.0)
    supplier_lead_time_sd_days: Mapped[float] = mapped_column(Float, default=1.0)
    require_2fa: Mapped[bool] = mapped_column(Boolean, default=False)
    #: Ozon subscription: ``NONE``, ``PREMIUM``, ``PREMIUM_PLUS`` or ``PREMIUM_PRO`` (buyer
    #: chats beyond their list need Premium Plus or Pro, §12).
    subscription: Mapped[str] = mapped_column(String(20), default="PREMIUM_PLUS",
                                              server_default="PREMIUM_PLUS")
    created_at: Mapped[datetime] = _created()
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime(), default=utcnow, onupdate=utcnow)


class Account(Base):
    """A person (owner or sub-account) of a seller; API keys belong to an account.

    An email is unique within a seller, not across sellers (one person may work for several;
    a seller must not learn which emails other sellers use)."""

    __tablename__ = "accounts"
    __table_args__ = (UniqueConstraint("seller_id", "email"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    seller_id: Mapped[int] = mapped_column(ForeignKey("sellers.id", ondelete="CASCADE"), index=True)
    email: Mapped[str | None] = mapped_column(String(320), index=True)
    name: Mapped[str] = mapped_column(String(200), default="")
    role: Mapped[str] = mapped_column(String(40))  # reference_backend.permissions.Role
    password_hash: Mapped[str | None] = mapped_column(String(255))
    disabled: Mapped[bool] = mapped_column(Boolean, default=False)
    totp_secret: Mapped[str | None] = mapped_column(String(64))
    totp_enabled: Mapped[bool] = mapped_column(Boolean, default=False)
    totp_last_step: Mapped[int | None] = mapped_column(BigInteger)
    failed_signins: Mapped[int] = mapped_column(Integer, default=0)
    locked_until: Mapped[datetime | None] = mapped_column(UtcDateTime())
    created_at: Mapped[datetime] = _created()
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime(), default=utcnow, onupdate=utcnow)


class ApiKey(Base):
    """A seller API key (``Api-Key`` header): only its SHA-256 hash is stored."""

    __tablename__ = "api_keys"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    seller_id: Mapped[int] = mapped_column(ForeignKey("sellers.id", ondelete="CASCADE"), index=True)
    account_id: Mapped[int] = mapped_column(
        ForeignKey("accounts.id", ondelete="CASCADE"), index=True
    )
    key_hash: Mapped[str] = mapped_column(String(64), unique=True)
    prefix: Mapped[str] = mapped_column(String(16))  # non-secret hint for listings
    name: Mapped[str] = mapped_column(String(200), default="")
    created_at: Mapped[datetime] = _created()
    expires_at: Mapped[datetime] = mapped_column(UtcDateTime())  # every key expires
    revoked_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    last_used_at: Mapped[datetime | None] = mapped_column(UtcDateTime())


class PlatformKey(Base):
    """A marketplace-platform key (``Authorization: Bearer``) for ``/marketplace/v1``."""

    __tablename__ = "platform_keys"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    key_hash: Mapped[str] = mapped_column(String(64), unique=True)
    prefix: Mapped[str] = mapped_column(String(16))
    name: Mapped[str] = mapped_column(String(200), default="")
    created_at: Mapped[datetime] = _created()
    revoked_at: Mapped[datetime | None] = mapped_column(UtcDateTime())


class AuthSession(Base):
    """A signed-in person's session (account endpoints); only the token hash is stored."""

    __tablename__ = "auth_sessions"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    account_id: Mapped[int] = mapped_column(
        ForeignKey("accounts.id", ondelete="CASCADE"), index=True
    )
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    second_factor_passed: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = _created()
    expires_at: Mapped[datetime] = mapped_column(UtcDateTime())
    revoked_at: Mapped[datetime | None] = mapped_column(UtcDateTime())


class LoginAttempt(Base):
    """One sign-in attempt (for throttling and lockout), known email or not."""

    __tablename__ = "login_attempts"
    __table_args__ = (Index("ix_login_attempts_email_at", "email", "at"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    email: Mapped[str] = mapped_column(String(320))
    ip: Mapped[str] = mapped_column(String(64), default="")
    succeeded: Mapped[bool] = mapped_column(Boolean)
    at: Mapped[datetime] = mapped_column(UtcDateTime(), default=utcnow)


# =========================================================================== network and catalogue


class Warehouse(Base):
    """A seller FBS/rFBS warehouse (Ozon ``warehouse_id``), optionally a scenario node."""

    __tablename__ = "warehouses"
    __table_args__ = (UniqueConstraint("seller_id", "code"),)

    warehouse_id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    seller_id: Mapped[int] = mapped_column(ForeignKey("sellers.id", ondelete="CASCADE"), index=True)
    code: Mapped[str] = mapped_column(String(100))  # scenario node id, e.g. WH-MSK
    name: Mapped[str] = mapped_column(String(200))
    city: Mapped[str] = mapped_column(String(200), default="")
    address: Mapped[str] = mapped_column(String(500), default="")
    lat: Mapped[float] = mapped_column(Float, default=0.0)
    lon: Mapped[float] = mapped_column(Float, default=0.0)
    utc_offset: Mapped[str] = mapped_column(String(10), default="+03:00")
    is_rfbs: Mapped[bool] = mapped_column(Boolean, default=False)
    is_kgt: Mapped[bool] = mapped_column(Boolean, default=False)
    is_economy: Mapped[bool] = mapped_column(Boolean, default=False)
    is_express: Mapped[bool] = mapped_column(Boolean, default=False)
    has_entrusted_acceptance: Mapped[bool] = mapped_column(Boolean, default=False)
    first_mile_type: Mapped[str] = mapped_column(String(20), default="DropOff")
    status: Mapped[str] = mapped_column(String(40), default="created")  # Ozon v1 status
    postings_limit: Mapped[int] = mapped_column(Integer, default=-1)
    min_postings_limit: Mapped[int] = mapped_column(Integer, default=0)
    working_days: Mapped[list[Any]] = mapped_column(default=lambda: [1, 2, 3, 4, 5, 6, 7])
    #: Pick capacity (units/hour, the largest shift) used for the allocation ``load`` view.
    capacity_per_hour: Mapped[float] = mapped_column(Float, default=0.0)
    paused_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    created_at: Mapped[datetime] = _created()
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime(), default=utcnow, onupdate=utcnow)


class Route(Base):
    """Route table row: expected transit and cost from a warehouse to a buyer region."""

    __tablename__ = "routes"
    __table_args__ = (UniqueConstraint("seller_id", "warehouse_id", "region"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    seller_id: Mapped[int] = mapped_column(ForeignKey("sellers.id", ondelete="CASCADE"), index=True)
    warehouse_id: Mapped[int] = mapped_column(
        ForeignKey("warehouses.warehouse_id", ondelete="CASCADE")
    )
    region: Mapped[str] = mapped_column(String(100))
    transit_hours: Mapped[float] = mapped_column(Float)
    cost_per_parcel: Mapped[float] = mapped_column(Float)


class BuyerRegion(Base):
    """Where a buyer region's orders go: the real city and region names a posting reports
    (``analytics_data.city``/``region``) for the region ``code`` orders are routed by."""

    __tablename__ = "buyer_regions"
    __table_args__ = (UniqueConstraint("seller_id", "code"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    seller_id: Mapped[int] = mapped_column(ForeignKey("sellers.id", ondelete="CASCADE"))
    code: Mapped[str] = mapped_column(String(100))
    city: Mapped[str] = mapped_column(String(100))
    region: Mapped[str] = mapped_column(String(100))


class DeliveryMethod(Base):
    """A delivery method of a warehouse (Ozon ``delivery_method.id``)."""

    __tablename__ = "delivery_methods"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    seller_id: Mapped[int] = mapped_column(ForeignKey("sellers.id", ondelete="CASCADE"), index=True)
    warehouse_id: Mapped[int] = mapped_column(
        ForeignKey("warehouses.warehouse_id", ondelete="CASCADE"), index=True
    )
    name: Mapped[str] = mapped_column(String(200))
    status: Mapped[str] = mapped_column(String(20), default="ACTIVE")
    provider_id: Mapped[int] = mapped_column(BigInteger, default=24)
    tpl_provider: Mapped[str] = mapped_column(String(200), default="Ozon Логистика")
    template_id: Mapped[int] = mapped_column(BigInteger, default=0)
    cutoff: Mapped[str] = mapped_column(String(10), default="18:00")
    sla_cut_in: Mapped[int] = mapped_column(Integer, default=1440)
    is_express: Mapped[bool] = mapped_column(Boolean, default=False)
    tpl_integration_type: Mapped[str] = mapped_column(String(40), default="ozon")
    created_at: Mapped[datetime] = _created()
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime(), default=utcnow, onupdate=utcnow)


class Product(Base):
    """A seller's product (Ozon ``product_id``, ``offer_id`` and ``sku``)."""

    __tablename__ = "products"
    __table_args__ = (UniqueConstraint("seller_id", "offer_id"),)

    product_id: Mapped[int] = mapped_column(BigId, primary_key=True)
    seller_id: Mapped[int] = mapped_column(ForeignKey("sellers.id", ondelete="CASCADE"), index=True)
    offer_id: Mapped[str] = mapped_column(String(100))
    sku: Mapped[int] = mapped_column(BigInteger, unique=True)
    name: Mapped[str] = mapped_column(String(500))
    scenario_sku: Mapped[int | None] = mapped_column(Integer)  # index in the scenario catalogue
    sku_group: Mapped[str] = mapped_column(String(100), default="")
    price: Mapped[str] = mapped_column(String(40), default="0")
    old_price: Mapped[str] = mapped_column(String(40), default="0")
    min_price: Mapped[str] = mapped_column(String(40), default="0")
    net_price: Mapped[str] = mapped_column(String(40), default="0")  # cost price
    currency_code: Mapped[str] = mapped_column(String(3), default="RUB")
    vat: Mapped[str] = mapped_column(String(10), default="0")
    barcode: Mapped[str] = mapped_column(String(100), default="")
    weight: Mapped[int] = mapped_column(Integer, default=0)
    weight_unit: Mapped[str] = mapped_column(String(4), default="g")
    depth: Mapped[int] = mapped_column(Integer, default=0)
    height: Mapped[int] = mapped_column(Integer, default=0)
    width: Mapped[int] = mapped_column(Integer, default=0)
    dimension_unit: Mapped[str] = mapped_column(String(4), default="mm")
    description_category_id: Mapped[int | None] = mapped_column(BigInteger)
    type_id: Mapped[int | None] = mapped_column(BigInteger)
    images: Mapped[list[Any]] = mapped_column(default=list)
    attributes: Mapped[dict[str, Any]] = mapped_column(default=dict)  # rest of the import item
    archived: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = _created()
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime(), default=utcnow, onupdate=utcnow)


class ProductImportTask(Base):
    """An asynchronous product import (``/v3/product/import`` -> ``task_id``)."""

    __tablename__ = "product_import_tasks"

    task_id: Mapped[int] = mapped_column(BigId, primary_key=True)
    seller_id: Mapped[int] = mapped_column(ForeignKey("sellers.id", ondelete="CASCADE"), index=True)
    status: Mapped[str] = mapped_column(String(20), default="imported")
    created_at: Mapped[datetime] = _created()


class ProductImportItem(Base):
    """Per-item result of an import task (``/v1/product/import/info``)."""

    __tablename__ = "product_import_items"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    task_id: Mapped[int] = mapped_column(
        ForeignKey("product_import_tasks.task_id", ondelete="CASCADE"), index=True
    )
    position: Mapped[int] = mapped_column(Integer, default=0)
    offer_id: Mapped[str] = mapped_column(String(100))
    product_id: Mapped[int] = mapped_column(BigInteger, default=0)
    status: Mapped[str] = mapped_column(String(20))  # pending|imported|failed|skipped
    errors: Mapped[list[Any]] = mapped_column(default=list)


class Stock(Base):
    """Stock of one SKU at one warehouse. Available = present - reserved; never negative."""

    __tablename__ = "stock"
    __table_args__ = (
        UniqueConstraint("sku", "warehouse_id"),
        CheckConstraint("present >= 0", name="present_nonnegative"),
        CheckConstraint("reserved >= 0", name="reserved_nonnegative"),
        CheckConstraint("reserved <= present", name="reserved_within_present"),
        CheckConstraint("warning_level >= 0", name="warning_level_nonnegative"),
        Index("ix_stock_seller_warehouse", "seller_id", "warehouse_id"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    seller_id: Mapped[int] = mapped_column(ForeignKey("sellers.id", ondelete="CASCADE"), index=True)
    product_id: Mapped[int] = mapped_column(
        ForeignKey("products.product_id", ondelete="CASCADE"), index=True
    )
    sku: Mapped[int] = mapped_column(BigInteger)
    warehouse_id: Mapped[int] = mapped_column(
        ForeignKey("warehouses.warehouse_id", ondelete="CASCADE")
    )
    present: Mapped[int] = mapped_column(Integer, default=0)
    reserved: Mapped[int] = mapped_column(Integer, default=0)
    warning_level: Mapped[int] = mapped_column(Integer, default=0)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime(), default=utcnow, onupdate=utcnow)


class SupplyOrder(Base):
    """A replenishment order to the supplier (on order until received)."""

    __tablename__ = "supply_orders"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    seller_id: Mapped[int] = mapped_column(ForeignKey("sellers.id", ondelete="CASCADE"), index=True)
    sku: Mapped[int] = mapped_column(BigInteger)
    warehouse_id: Mapped[int] = mapped_column(
        ForeignKey("warehouses.warehouse_id", ondelete="CASCADE")
    )
    quantity: Mapped[int] = mapped_column(Integer)
    status: Mapped[str] = mapped_column(String(20), default="ordered")  # ordered|received|cancelled
    created_at: Mapped[datetime] = _created()
    expected_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    received_at: Mapped[datetime | None] = mapped_column(UtcDateTime())


# =========================================================================== orders and postings


class Order(Base):
    """A buyer order; ``id`` is Ozon's ``order_id`` and ``order_number`` derives from it."""

    __tablename__ = "orders"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    seller_id: Mapped[int] = mapped_column(ForeignKey("sellers.id", ondelete="CASCADE"), index=True)
    region: Mapped[str] = mapped_column(String(100))
    replaces_return_id: Mapped[int | None] = mapped_column(BigInteger)  # exchange orders
    created_at: Mapped[datetime] = _created()


class Posting(Base):
    """An FBS posting: the part of an order served by one warehouse (Ozon's posting object)."""

    __tablename__ = "postings"
    __table_args__ = (
        # (shipment_date: the earliest and latest of a status are an index probe each)
        Index("ix_postings_seller_status", "seller_id", "status", "shipment_date"),
        Index("ix_postings_seller_in_process_at", "seller_id", "in_process_at"),
        # a seller's postings by id: SQLite walks a list page's nearest ones (migration 0009,
        # reference_backend/postings/queries.py)
        Index("ix_postings_seller_id_id", "seller_id", "id"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    posting_number: Mapped[str] = mapped_column(String(40), unique=True)
    seller_id: Mapped[int] = mapped_column(ForeignKey("sellers.id", ondelete="CASCADE"))
    order_id: Mapped[int] = mapped_column(ForeignKey("orders.id", ondelete="CASCADE"), index=True)
    order_number: Mapped[str] = mapped_column(String(30), index=True)
    parent_posting_number: Mapped[str] = mapped_column(String(40), default="")
    warehouse_id: Mapped[int] = mapped_column(ForeignKey("warehouses.warehouse_id"), index=True)
    delivery_method_id: Mapped[int | None] = mapped_column(ForeignKey("delivery_methods.id"))
    region: Mapped[str] = mapped_column(String(100), default="")  # routing: the region code
    buyer_city: Mapped[str] = mapped_column(String(100), default="")  # its real names
    buyer_region: Mapped[str] = mapped_column(String(100), default="")
    status: Mapped[str] = mapped_column(String(40))
    substatus: Mapped[str] = mapped_column(String(60), default="posting_created")
    previous_substatus: Mapped[str] = mapped_column(String(60), default="")
    tpl_integration_type: Mapped[str] = mapped_column(String(40), default="ozon")
    tracking_number: Mapped[str] = mapped_column(String(100), default="")
    is_express: Mapped[bool] = mapped_column(Boolean, default=False)
    is_multibox: Mapped[bool] = mapped_column(Boolean, default=False)
    multi_box_qty: Mapped[int] = mapped_column(Integer, default=0)
    cancel_reason_id: Mapped[int] = mapped_column(Integer, default=0)
    cancel_reason: Mapped[str] = mapped_column(String(500), default="")
    cancellation_type: Mapped[str] = mapped_column(String(20), default="")
    cancellation_initiator: Mapped[str] = mapped_column(String(100), default="")
    cancelled_after_ship: Mapped[bool] = mapped_column(Boolean, default=False)
    in_process_at: Mapped[datetime] = mapped_column(UtcDateTime(), default=utcnow)
    shipment_date: Mapped[datetime] = mapped_column(UtcDateTime())  # assemble-by deadline
    delivering_date: Mapped[datetime | None] = mapped_column(UtcDateTime())
    #: When the units left the warehouse (reservation consumed); None while still reserved.
    shipped_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    delivered_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    cancelled_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    status_changed_at: Mapped[datetime] = mapped_column(UtcDateTime(), default=utcnow)
    created_at: Mapped[datetime] = _created()
    #: Changed by the database (triggers, migration 0008) on every write to the posting, its
    #: lines, its warehouse's name or its delivery method: a list page is known by its
    #: postings' ids and versions (:mod:`reference_backend.postings.pages`). (The column's
    #: server default 0 is the migration's, for rows inserted without it.)
    version: Mapped[int] = mapped_column(Integer, default=0)


class PostingTally(Base):
    """How many postings a seller has in a status, warehouse and delivery method (-1: none),
    kept by the database (triggers on ``postings``, migration 0010): a list's ``count`` is a
    sum of tallies (:mod:`reference_backend.postings.queries`). On PostgreSQL each backend
    writes its own rows (``shard``: its pid), so concurrent transactions never share one;
    :mod:`reference_backend.postings.tallies` folds the rows of backends gone into shard 0."""

    __tablename__ = "posting_tallies"

    seller_id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    status: Mapped[str] = mapped_column(String(40), primary_key=True)
    warehouse_id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    delivery_method_id: Mapped[int] = mapped_column(BigInteger, primary_key=True,
                                                    autoincrement=False)
    shard: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    n: Mapped[int] = mapped_column(BigInteger)


class PostingItem(Base):
    """One product line of a posting, priced at order time."""

    __tablename__ = "posting_items"
    __table_args__ = (
        CheckConstraint("quantity >= 0", name="quantity_nonnegative"),
        CheckConstraint("cancelled_quantity >= 0", name="cancelled_nonnegative"),
        Index("ix_posting_items_sku", "sku"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    posting_id: Mapped[int] = mapped_column(
        ForeignKey("postings.id", ondelete="CASCADE"), index=True
    )
    product_id: Mapped[int] = mapped_column(ForeignKey("products.product_id"))
    sku: Mapped[int] = mapped_column(BigInteger)
    offer_id: Mapped[str] = mapped_column(String(100))
    name: Mapped[str] = mapped_column(String(500))
    quantity: Mapped[int] = mapped_column(Integer)  # units still in the posting
    cancelled_quantity: Mapped[int] = mapped_column(Integer, default=0)
    price: Mapped[str] = mapped_column(String(40))
    currency_code: Mapped[str] = mapped_column(String(3), default="RUB")
    #: The promotion whose action price the line sold at (None: the product's own price).
    action_id: Mapped[int | None] = mapped_column(BigInteger)


class Package(Base):
    """A shipped package of a posting, numbered ``<posting>-1`` (``position``: its place in
    the shipment that split the posting)."""

    __tablename__ = "packages"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    posting_id: Mapped[int] = mapped_column(
        ForeignKey("postings.id", ondelete="CASCADE"), index=True
    )
    package_number: Mapped[str] = mapped_column(String(50), unique=True)
    position: Mapped[int] = mapped_column(Integer)
    products: Mapped[list[Any]] = mapped_column(default=list)  # [{"sku", "quantity"}]
    created_at: Mapped[datetime] = _created()


class LabelTask(Base):
    """An asynchronous package-label task (``/v*/posting/fbs/package-label/create``)."""

    __tablename__ = "label_tasks"

    task_id: Mapped[int] = mapped_column(BigId, primary_key=True)
    seller_id: Mapped[int] = mapped_column(ForeignKey("sellers.id", ondelete="CASCADE"), index=True)
    task_type: Mapped[str] = mapped_column(String(20), default="big_label")
    status: Mapped[str] = mapped_column(String(20), default="completed")
    posting_numbers: Mapped[list[Any]] = mapped_column(default=list)
    unprinted: Mapped[list[Any]] = mapped_column(default=list)  # [{"posting_number","message"}]
    file_content: Mapped[bytes | None] = mapped_column(LargeBinary)
    error: Mapped[str] = mapped_column(String(500), default="")
    created_at: Mapped[datetime] = _created()
    completed_at: Mapped[datetime | None] = mapped_column(UtcDateTime())


class CancelReason(Base):
    """Ozon cancel reasons (seeded by the initial migration)."""

    __tablename__ = "cancel_reasons"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    title: Mapped[str] = mapped_column(String(300))
    type_id: Mapped[str] = mapped_column(String(10))  # buyer | seller
    is_available_for_cancellation: Mapped[bool] = mapped_column(Boolean)


class Return(Base):
    """A returned (or returning) SKU line of a posting, and how the seller processed it."""

    __tablename__ = "returns"
    __table_args__ = (Index("ix_returns_seller_created", "seller_id", "created_at"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    seller_id: Mapped[int] = mapped_column(ForeignKey("sellers.id", ondelete="CASCADE"))
    posting_id: Mapped[int] = mapped_column(ForeignKey("postings.id"), index=True)
    posting_number: Mapped[str] = mapped_column(String(40))
    order_id: Mapped[int] = mapped_column(BigInteger)
    order_number: Mapped[str] = mapped_column(String(30))
    product_id: Mapped[int] = mapped_column(BigInteger)
    sku: Mapped[int] = mapped_column(BigInteger)
    offer_id: Mapped[str] = mapped_column(String(100))
    name: Mapped[str] = mapped_column(String(500))
    quantity: Mapped[int] = mapped_column(Integer)
    price: Mapped[str] = mapped_column(String(40))
    currency_code: Mapped[str] = mapped_column(String(3), default="RUB")
    #: Ozon return type: ClientReturn (buyer), Cancellation (refused/cancelled after shipment).
    type: Mapped[str] = mapped_column(String(20), default="ClientReturn")
    schema: Mapped[str] = mapped_column(String(5), default="FBS")
    reason: Mapped[str] = mapped_column(String(500), default="")
    #: Ozon visual status sys_name: MovingToSeller -> ReceivedBySeller | Utilized.
    status: Mapped[str] = mapped_column(String(40), default="MovingToSeller")
    warehouse_id: Mapped[int] = mapped_column(ForeignKey("warehouses.warehouse_id"))
    disposition: Mapped[str | None] = mapped_column(String(20))  # restock | write_off
    refund_amount: Mapped[str | None] = mapped_column(String(40))
    exchange_posting_number: Mapped[str | None] = mapped_column(String(40))
    barcode: Mapped[str] = mapped_column(String(60), default="")
    created_at: Mapped[datetime] = _created()
    status_changed_at: Mapped[datetime] = mapped_column(UtcDateTime(), default=utcnow)
    processed_at: Mapped[datetime | None] = mapped_column(UtcDateTime())


class IdempotencyKey(Base):
    """A remembered answer to a request made with an ``Idempotency-Key`` header."""

    __tablename__ = "idempotency_keys"
    __table_args__ = (UniqueConstraint("scope", "key"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    scope: Mapped[str] = mapped_column(String(100))  # e.g. "orders:<platform key id>"
    key: Mapped[str] = mapped_column(String(255))
    body_hash: Mapped[str] = mapped_column(String(64))
    status_code: Mapped[int] = mapped_column(Integer, default=0)
    response: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    created_at: Mapped[datetime] = _created()


# =========================================================================== notifications


class Webhook(Base):
    """A seller's push-notification endpoint and its signing secret."""

    __tablename__ = "webhooks"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    seller_id: Mapped[int] = mapped_column(ForeignKey("sellers.id", ondelete="CASCADE"), index=True)
    url: Mapped[str] = mapped_column(String(2000))
    secret: Mapped[str] = mapped_column(String(200))
    types: Mapped[list[Any]] = mapped_column(default=list)  # empty = all posting types
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = _created()
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime(), default=utcnow, onupdate=utcnow)


class OutboxEvent(Base):
    """A notification written in the same transaction as the change it describes."""

    __tablename__ = "outbox_events"
    __table_args__ = (
        Index("ix_outbox_events_pending", "delivered_at", "next_attempt_at"),
        Index("ix_outbox_events_posting", "posting_number", "id"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    seller_id: Mapped[int] = mapped_column(ForeignKey("sellers.id", ondelete="CASCADE"), index=True)
    posting_number: Mapped[str | None] = mapped_column(String(40))
    event_type: Mapped[str] = mapped_column(String(60))  # Ozon message_type
    payload: Mapped[dict[str, Any]] = mapped_column(JSON)
    created_at: Mapped[datetime] = _created()
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(UtcDateTime(), default=utcnow)
    delivered_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    last_error: Mapped[str] = mapped_column(Text, default="")


class WebhookDelivery(Base):
    """One delivery attempt of an outbox event to one webhook (audit and per-target state)."""

    __tablename__ = "webhook_deliveries"
    __table_args__ = (UniqueConstraint("event_id", "webhook_id"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    event_id: Mapped[int] = mapped_column(ForeignKey("outbox_events.id", ondelete="CASCADE"))
    webhook_id: Mapped[int] = mapped_column(ForeignKey("webhooks.id", ondelete="CASCADE"))
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    last_status: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[str] = mapped_column(Text, default="")
    delivered_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime(), default=utcnow, onupdate=utcnow)


# =========================================================================== hand-over documents


class Act(Base):
    """A carriage: the hand-over act of a warehouse's assembled postings for one departure
    (``/v2/posting/fbs/act/create`` -> ``id``), with its waybill and container labels."""

    __tablename__ = "acts"
    __table_args__ = (Index("ix_acts_seller_created", "seller_id", "created_at"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    seller_id: Mapped[int] = mapped_column(ForeignKey("sellers.id", ondelete="CASCADE"))
    #: the method the act was made for (None: made for the whole warehouse)
    delivery_method_id: Mapped[int | None] = mapped_column(ForeignKey("delivery_methods.id"))
    warehouse_id: Mapped[int] = mapped_column(ForeignKey("warehouses.warehouse_id"))
    departure_date: Mapped[datetime] = mapped_column(UtcDateTime())
    containers_count: Mapped[int] = mapped_column(Integer, default=0)
    #: postings of the method not assembled yet when the act was made (the next carriage)
    next_carriage: Mapped[list[Any]] = mapped_column(default=list)
    #: when forming ends (``check-status``: ``in_process`` before, ``ready`` after; None: at once)
    ready_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    created_at: Mapped[datetime] = _created()


class ActPosting(Base):
    """A posting handed over with an act (a posting is in at most one act)."""

    __tablename__ = "act_postings"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    act_id: Mapped[int] = mapped_column(ForeignKey("acts.id", ondelete="CASCADE"), index=True)
    posting_id: Mapped[int] = mapped_column(ForeignKey("postings.id"), unique=True)


# =========================================================================== rFBS return requests


class ReturnRequest(Base):
    """A buyer's return request for a posting line that the seller decides (Ozon's rFBS
    returns, ``return_id``): its state, the decision and the money returned."""

    __tablename__ = "return_requests"
    __table_args__ = (Index("ix_return_requests_seller_id_id", "seller_id", "id"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    seller_id: Mapped[int] = mapped_column(ForeignKey("sellers.id", ondelete="CASCADE"))
    posting_id: Mapped[int] = mapped_column(ForeignKey("postings.id"), index=True)
    posting_number: Mapped[str] = mapped_column(String(40))
    order_number: Mapped[str] = mapped_column(String(30))
    warehouse_id: Mapped[int] = mapped_column(ForeignKey("warehouses.warehouse_id"))
    product_id: Mapped[int] = mapped_column(BigInteger)
    sku: Mapped[int] = mapped_column(BigInteger)
    offer_id: Mapped[str] = mapped_column(String(100))
    name: Mapped[str] = mapped_column(String(500))
    quantity: Mapped[int] = mapped_column(Integer)
    price: Mapped[str] = mapped_column(String(40))  # per unit, as the posting sold it
    currency_code: Mapped[str] = mapped_column(String(3), default="RUB")
    reason_id: Mapped[int] = mapped_column(Integer)  # returns.rfbs.service.RETURN_REASONS
    return_method_id: Mapped[int] = mapped_column(Integer, default=1)
    comment: Mapped[str] = mapped_column(String(1000), default="")
    #: NewRequest -> ItemOnTheWay -> ItemReceived -> MoneyReturned | Compensated | Rejected
    state: Mapped[str] = mapped_column(String(30), default="NewRequest")
    return_method_description: Mapped[str] = mapped_column(String(500), default="")
    rejection_reason_id: Mapped[int | None] = mapped_column(Integer)
    rejection_comment: Mapped[str] = mapped_column(String(1000), default="")
    disposition: Mapped[str | None] = mapped_column(String(20))  # restock | write_off
    refund_amount: Mapped[str | None] = mapped_column(String(40))  # money for the goods
    back_way_amount: Mapped[str | None] = mapped_column(String(40))  # the buyer's shipping
    decided_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    created_at: Mapped[datetime] = _created()
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime(), default=utcnow, onupdate=utcnow)


# =========================================================================== promotions


class Action(Base):
    """A platform promotion (Ozon action) with its dates and discount rule.

    ``seller_id`` None: open to every seller; else one seller's (e.g. seeded from its
    scenario's promotion calendar). ``sku_groups`` (empty: all) says which products are
    candidates; the action price may not exceed ``price * (1 - discount_value / 100)``.
    """

    __tablename__ = "actions"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    seller_id: Mapped[int | None] = mapped_column(
        ForeignKey("sellers.id", ondelete="CASCADE"), index=True
    )
    title: Mapped[str] = mapped_column(String(300))
    description: Mapped[str] = mapped_column(Text, default="")
    action_type: Mapped[str] = mapped_column(String(40), default="DISCOUNT")
    date_start: Mapped[datetime] = mapped_column(UtcDateTime())
    date_end: Mapped[datetime] = mapped_column(UtcDateTime())
    freeze_date: Mapped[datetime | None] = mapped_column(UtcDateTime())
    discount_type: Mapped[str] = mapped_column(String(40), default="PERCENT")
    discount_value: Mapped[float] = mapped_column(Float, default=0.0)
    order_amount: Mapped[float] = mapped_column(Float, default=0.0)
    is_voucher_action: Mapped[bool] = mapped_column(Boolean, default=False)
    with_targeting: Mapped[bool] = mapped_column(Boolean, default=False)
    sku_groups: Mapped[list[Any]] = mapped_column(default=list)
    #: The scenario's demand multiplier on the groups while the action runs (1: none).
    demand_multiplier: Mapped[float] = mapped_column(Float, default=1.0)
    created_at: Mapped[datetime] = _created()


class ActionProduct(Base):
    """A seller's product taking part in an action, at its action price."""

    __tablename__ = "action_products"
    __table_args__ = (
        UniqueConstraint("action_id", "product_id"),
        CheckConstraint("stock = 0 OR sold <= stock", name="sold_within_stock"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    action_id: Mapped[int] = mapped_column(ForeignKey("actions.id", ondelete="CASCADE"))
    seller_id: Mapped[int] = mapped_column(ForeignKey("sellers.id", ondelete="CASCADE"), index=True)
    product_id: Mapped[int] = mapped_column(
        ForeignKey("products.product_id", ondelete="CASCADE"), index=True
    )
    action_price: Mapped[str] = mapped_column(String(40))
    stock: Mapped[int] = mapped_column(Integer, default=0)  # 0: not set
    #: units sold at the action price (buyer orders while ``stock`` lasts)
    sold: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    add_mode: Mapped[str] = mapped_column(String(20), default="MANUAL")
    created_at: Mapped[datetime] = _created()
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime(), default=utcnow, onupdate=utcnow)


class DiscountTask(Base):
    """A buyer's request for a lower price on a product, decided by the seller."""

    __tablename__ = "discount_tasks"
    __table_args__ = (Index("ix_discount_tasks_seller_status", "seller_id", "status"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    seller_id: Mapped[int] = mapped_column(ForeignKey("sellers.id", ondelete="CASCADE"))
    product_id: Mapped[int] = mapped_column(
        ForeignKey("products.product_id", ondelete="CASCADE"), index=True
    )
    sku: Mapped[int] = mapped_column(BigInteger)
    offer_id: Mapped[str] = mapped_column(String(100))
    status: Mapped[str] = mapped_column(String(30), default="NEW")
    customer_name: Mapped[str] = mapped_column(String(200), default="")
    user_comment: Mapped[str] = mapped_column(String(1000), default="")
    seller_comment: Mapped[str] = mapped_column(String(1000), default="")
    original_price: Mapped[str] = mapped_column(String(40))
    requested_price: Mapped[str] = mapped_column(String(40))
    approved_price: Mapped[str | None] = mapped_column(String(40))
    requested_quantity_min: Mapped[int] = mapped_column(Integer, default=1)
    requested_quantity_max: Mapped[int] = mapped_column(Integer, default=1)
    approved_quantity_min: Mapped[int] = mapped_column(Integer, default=0)
    approved_quantity_max: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = _created()
    end_at: Mapped[datetime] = mapped_column(UtcDateTime())
    edited_till: Mapped[datetime] = mapped_column(UtcDateTime())
    moderated_at: Mapped[datetime | None] = mapped_column(UtcDateTime())


# =========================================================================== buyer chats


class Chat(Base):
    """The chat between a posting's buyer and its seller (one per posting)."""

    __tablename__ = "chats"
    __table_args__ = (Index("ix_chats_seller_id", "seller_id", "id"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    chat_id: Mapped[str] = mapped_column(String(36), unique=True)  # Ozon's chat id (a UUID)
    seller_id: Mapped[int] = mapped_column(ForeignKey("sellers.id", ondelete="CASCADE"))
    posting_id: Mapped[int] = mapped_column(
        ForeignKey("postings.id", ondelete="CASCADE"), unique=True
    )
    posting_number: Mapped[str] = mapped_column(String(40))
    order_number: Mapped[str] = mapped_column(String(30))
    sku: Mapped[int] = mapped_column(BigInteger, default=0)  # the posting's first product
    status: Mapped[str] = mapped_column(String(20), default="Opened")
    created_at: Mapped[datetime] = _created()


class ChatMessage(Base):
    """A message of a chat: text, or a stored file (``file_name`` set)."""

    __tablename__ = "chat_messages"
    __table_args__ = (Index("ix_chat_messages_chat_id", "chat_id", "id"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    chat_id: Mapped[int] = mapped_column(ForeignKey("chats.id", ondelete="CASCADE"))
    author: Mapped[str] = mapped_column(String(20))  # Customer | Seller
    author_id: Mapped[str] = mapped_column(String(40), default="")
    text: Mapped[str] = mapped_column(Text, default="")
    file_name: Mapped[str | None] = mapped_column(String(300))
    file_content: Mapped[bytes | None] = mapped_column(LargeBinary)
    is_image: Mapped[bool] = mapped_column(Boolean, default=False)
    #: Read by the other side (the seller for a buyer's message, and the other way round).
    is_read: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = _created()


# =========================================================================== password reset


class PasswordResetToken(Base):
    """A single-use, expiring password-reset link sent by email: only its SHA-256 is kept."""

    __tablename__ = "password_reset_tokens"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    account_id: Mapped[int] = mapped_column(
        ForeignKey("accounts.id", ondelete="CASCADE"), index=True
    )
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = _created()
    expires_at: Mapped[datetime] = mapped_column(UtcDateTime())
    used_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
