"""Warehouses and delivery methods, v1 (offset) and v2 (cursor) (§3)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

from pydantic import Field

from reference_backend.schemas import (
    Bool,
    Count,
    Id64,
    OptOutDatetime,
    OutDatetime,
    OzonRequest,
    OzonResponse,
    ci_enum,
)

# --- requests ----------------------------------------------------------------------------


class WarehouseListV1With(OzonRequest):
    able_to_set_price: Bool = False


class WarehouseListV1Request(OzonRequest):
    limit: Annotated[Count, Field(ge=1, le=1000)] | None = None
    offset: Count = 0
    with_: WarehouseListV1With | None = Field(default=None, alias="with")


class WarehouseListV2Request(OzonRequest):
    limit: Annotated[Count, Field(ge=1, le=1000)] | None = None
    cursor: str = ""
    warehouse_ids: list[Id64] = Field(default_factory=list, max_length=1000)


DeliveryStatus = ci_enum("NEW", "EDITED", "ACTIVE", "DISABLED", "WAITING", "BROKEN")


class DeliveryMethodV1Filter(OzonRequest):
    provider_id: Id64 | None = None
    status: DeliveryStatus | None = None
    warehouse_id: Id64 | None = None


class DeliveryMethodListV1Request(OzonRequest):
    limit: Annotated[Count, Field(ge=1, le=50)] = 50
    offset: Count = 0
    filter: DeliveryMethodV1Filter = Field(default_factory=DeliveryMethodV1Filter)


class DeliveryMethodV2Filter(OzonRequest):
    delivery_method_ids: list[Id64] = Field(default_factory=list, max_length=1000)
    provider_ids: list[Id64] = Field(default_factory=list, max_length=1000)
    warehouse_ids: list[Id64] = Field(default_factory=list, max_length=1000)
    status: list[DeliveryStatus] = Field(default_factory=list, max_length=10)


class DeliveryMethodListV2Request(OzonRequest):
    limit: Annotated[Count, Field(ge=1, le=1000)] | None = None
    cursor: str = ""
    sort_dir: ci_enum("ASC", "DESC") = "ASC"  # type: ignore[valid-type]
    filter: DeliveryMethodV2Filter = Field(default_factory=DeliveryMethodV2Filter)


# --- responses: v1 ----------------------------------------------------------------------


class FirstMileTypeV1(OzonResponse):
    dropoff_point_id: str = ""
    dropoff_timeslot_id: int = 0
    first_mile_is_changing: bool = False
    first_mile_type: str = "DropOff"  # DropOff | Pickup


class WarehouseV1(OzonResponse):
    warehouse_id: int
    name: str
    is_rfbs: bool = False
    has_entrusted_acceptance: bool = False
    can_print_act_in_advance: bool = False
    first_mile_type: FirstMileTypeV1 = Field(default_factory=FirstMileTypeV1)
    has_postings_limit: bool = False
    is_karantin: bool = False
    is_kgt: bool = False
    is_economy: bool = False
    is_able_to_set_price: bool = False
    is_presorted: bool = False
    is_timetable_editable: bool = False
    min_postings_limit: int = 0
    postings_limit: int = -1
    min_working_days: int = 5
    status: str = "created"
    working_days: list[str] = Field(default_factory=lambda: ["1", "2", "3", "4", "5", "6", "7"])


class WarehouseListV1Response(OzonResponse):
    result: list[WarehouseV1] = Field(default_factory=list)
    has_next: bool = False


# --- responses: v2 ----------------------------------------------------------------------

WEEK = ["MONDAY", "TUESDAY", "WEDNESDAY", "THURSDAY", "FRIDAY", "SATURDAY", "SUNDAY"]


class AddressInfo(OzonResponse):
    address: str = ""
    latitude: float = 0.0
    longitude: float = 0.0
    utc: str = "+03:00"


class FirstMileV2(OzonResponse):
    dropoff_point_id: str = ""
    first_mile_is_changing: bool = False
    timeslot_from: str = ""
    timeslot_id: int = 0
    timeslot_to: str = ""
    type: str = "DROP_OFF"  # UNSPECIFIED | PICK_UP | DROP_OFF


class WorkingHours(OzonResponse):
    """Opening hours as datetimes (only the time of day matters; the date is a fixed day)."""

    time_from: OutDatetime = Field(default_factory=lambda: datetime(2000, 1, 1, 9, tzinfo=UTC))
    time_to: OutDatetime = Field(default_factory=lambda: datetime(2000, 1, 1, 21, tzinfo=UTC))


class Timetable(OzonResponse):
    timetable_from: OptOutDatetime = None
    timetable_to: OptOutDatetime = None
    working_hours: list[WorkingHours] = Field(default_factory=lambda: [WorkingHours()])


class WarehouseV2(OzonResponse):
    warehouse_id: int
    name: str
    status: str = "created"
    warehouse_type: str = "FBS"
    address_info: AddressInfo = Field(default_factory=AddressInfo)
    first_mile: FirstMileV2 = Field(default_factory=FirstMileV2)
    timetable: Timetable = Field(default_factory=Timetable)
    working_days: list[str] = Field(default_factory=lambda: list(WEEK))
    carriage_label_type: str = "BIG"
    courier_comment: str = ""
    courier_phones: list[str] = Field(default_factory=list)
    phone: str = ""
    created_at: OptOutDatetime = None
    updated_at: OptOutDatetime = None
    pause_at: OptOutDatetime = None
    cut_in_time: int = 0
    sla_cut_in: int = 1440
    has_entrusted_acceptance: bool = False
    has_postings_limit: bool = False
    min_postings_limit: int = 0
    postings_limit: int = -1
    is_auto_assembly: bool = False
    is_comfort: bool = False
    is_express: bool = False
    is_kgt: bool = False
    is_rfbs: bool = False
    is_waybill_enabled: bool = False
    with_item_list: bool = False


class WarehouseListV2Response(OzonResponse):
    warehouses: list[WarehouseV2] = Field(default_factory=list)
    cursor: str = ""
    has_next: bool = False


# --- delivery methods ------------------------------------------------------------------


class DeliveryMethodV1(OzonResponse):
    id: int
    company_id: int = 0
    name: str
    status: str = "ACTIVE"
    cutoff: str = "13:00"
    sla_cut_in: int = 1440
    provider_id: int = 24
    template_id: int = 0
    warehouse_id: int
    created_at: OptOutDatetime = None
    updated_at: OptOutDatetime = None


class DeliveryMethodListV1Response(OzonResponse):
    result: list[DeliveryMethodV1] = Field(default_factory=list)
    has_next: bool = False


class Coordinates(OzonResponse):
    latitude: float = 0.0
    longitude: float = 0.0


class DropoffPoint(OzonResponse):
    address: str = ""
    address_coordinates: Coordinates = Field(default_factory=Coordinates)
    code: str = ""
    name: str = ""


class DeliveryMethodV2(OzonResponse):
    id: int
    name: str
    status: str = "ACTIVE"
    warehouse_id: int
    provider_id: int = 24
    template_id: int = 0
    cutoff: str = "13:00"
    sla_cut_in: int = 1440
    is_express: bool = False
    tpl_integration_type: str = "non_integrated"
    tpl_dropoff_point: DropoffPoint = Field(default_factory=DropoffPoint)
    created_at: OptOutDatetime = None
    updated_at: OptOutDatetime = None


class DeliveryMethodListV2Response(OzonResponse):
    delivery_methods: list[DeliveryMethodV2] = Field(default_factory=list)
    cursor: str = ""
    has_next: bool = False
