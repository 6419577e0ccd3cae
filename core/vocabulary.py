"""The service's closed vocabularies, each defined once.

The database's CHECK constraints repeat them; `tests/core/test_vocabulary.py`
compares the two so that neither drifts.
"""

from __future__ import annotations

from enum import StrEnum

# A lamp's life cycle in the inventory (TALQ's operational states, simplified).
LAMP_STATES = ("planned", "in_service", "faulty", "under_repair", "retired")
DEFAULT_LAMP_STATE = "in_service"

# Light source technologies (LED, high- and low-pressure sodium, metal halide, compact fluorescent).
TECHNOLOGIES = ("LED", "HPS", "LPS", "MH", "CFL", "OTHER")
DEFAULT_TECHNOLOGY = "LED"

# Who recorded a lamp event.
EVENT_SOURCES = ("controller", "service", "technician")

# Event types a crew must put right: the failures the model learns and the metrics count.
FAILURE_EVENT_TYPES = ("lamp_failure", "supply_loss", "day_burning")

# Why a work order was opened, where it stands, and what the crew found.
WORK_ORDER_SOURCES = ("prediction", "fault", "manual")
WORK_ORDER_STATUSES = ("open", "scheduled", "done", "cancelled")
WORK_ORDER_OUTCOMES = ("repaired", "replaced", "false_alarm", "no_fault_found")


class Role(StrEnum):
    TECHNICIAN = "technician"
    ENERGY_MANAGER = "energy_manager"
    ADMIN = "admin"


ROLES = tuple(role.value for role in Role)
