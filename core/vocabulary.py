"""The service's closed vocabularies, each defined once.

Each is a `Literal` type, for typed code and API schemas, and the tuple of its
values. The database's CHECK constraints repeat them; `tests/core/test_vocabulary.py`
compares the two so that neither drifts.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Literal, get_args

# A lamp's life cycle in the inventory (TALQ's operational states, simplified).
LampState = Literal["planned", "in_service", "faulty", "under_repair", "retired"]
LAMP_STATES: tuple[LampState, ...] = get_args(LampState)
DEFAULT_LAMP_STATE: LampState = "in_service"

# Light source technologies (LED, high- and low-pressure sodium, metal halide, compact fluorescent).
Technology = Literal["LED", "HPS", "LPS", "MH", "CFL", "OTHER"]
TECHNOLOGIES: tuple[Technology, ...] = get_args(Technology)
DEFAULT_TECHNOLOGY: Technology = "LED"

# Who recorded a lamp event.
EventSource = Literal["controller", "service", "technician"]
EVENT_SOURCES: tuple[EventSource, ...] = get_args(EventSource)

# Event types a crew must put right: the failures the model learns and the metrics count.
FailureEventType = Literal["lamp_failure", "supply_loss", "day_burning"]
FAILURE_EVENT_TYPES: tuple[FailureEventType, ...] = get_args(FailureEventType)

# Why a work order was opened, where it stands, and what the crew found.
WorkOrderSource = Literal["prediction", "fault", "manual"]
WORK_ORDER_SOURCES: tuple[WorkOrderSource, ...] = get_args(WorkOrderSource)
WorkOrderStatus = Literal["open", "scheduled", "done", "cancelled"]
WORK_ORDER_STATUSES: tuple[WorkOrderStatus, ...] = get_args(WorkOrderStatus)
WorkOrderOutcome = Literal["repaired", "replaced", "false_alarm", "no_fault_found"]
WORK_ORDER_OUTCOMES: tuple[WorkOrderOutcome, ...] = get_args(WorkOrderOutcome)

# A controller's answer to a dimming plan.
PlanAckStatus = Literal["applied", "rejected"]
PLAN_ACK_STATUSES: tuple[PlanAckStatus, ...] = get_args(PlanAckStatus)

# A lamp id heard on the wire but missing from the inventory: waiting, added, or set aside.
CommissioningStatus = Literal["pending", "commissioned", "dismissed"]
COMMISSIONING_STATUSES: tuple[CommissioningStatus, ...] = get_args(CommissioningStatus)

# Languages of the console and of the texts the service writes for a user.
Locale = Literal["en", "fr"]
LOCALES: tuple[Locale, ...] = get_args(Locale)

# Dimming: the twilight a profile's dusk and dawn follow, what a setting applies to,
# and how a calendar exception recurs.
Twilight = Literal["sunset", "civil"]
TWILIGHTS: tuple[Twilight, ...] = get_args(Twilight)
DimmingTargetKind = Literal["town", "lighting_class", "circuit", "street", "group", "lamp"]
DIMMING_TARGET_KINDS: tuple[DimmingTargetKind, ...] = get_args(DimmingTargetKind)
CalendarExceptionKind = Literal["dates", "weekdays", "yearly"]
CALENDAR_EXCEPTION_KINDS: tuple[CalendarExceptionKind, ...] = get_args(CalendarExceptionKind)


class Role(StrEnum):
    TECHNICIAN = "technician"
    ENERGY_MANAGER = "energy_manager"
    ADMIN = "admin"


ROLES = tuple(role.value for role in Role)
