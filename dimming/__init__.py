"""Dimming: per-point profiles on an astronomical clock, calendars, overrides, plans pushed to controllers.

What the other packages may use is named here: the profile and calendar models and
their checks, the stored schedules (`dimming.store`'s functions and errors), what one
lamp follows tonight, the energy estimates and measured consumption (with the background
count that keeps it up to date), and the plan delivery's status and push request.
"""

from dimming.calendar import MONTH_DAY_PATTERN, CalendarException, ExceptionKind
from dimming.calendar import check as check_calendar_exception
from dimming.consumption import (
    ConsumptionReport,
    Coverage,
    GroupMonthConsumption,
    consumption_by_group_month,
    group_place,
    rated_lamps,
)
from dimming.energy import (
    NightEstimate,
    PeriodEstimate,
    add_up,
    estimate_month,
    month_bounds,
    months_between,
    night_curve,
    night_estimate,
    rounded_savings,
)
from dimming.energy_daily import refresh_energy_days
from dimming.energy_jobs import CountOutcome, run_energy_count
from dimming.energy_jobs import schedule as schedule_energy_count
from dimming.lamp_night import LampNight, load_lamp_night
from dimming.leader import ActiveScheduler, active_scheduler
from dimming.profiles import NAME_MAX_LENGTH, ProfileError, ProfileSpec, Step, Twilight, validate_profile
from dimming.push import PushState
from dimming.push_store import LampPushStatus, PushStatusPage, push_status
from dimming.resolve import Rule, Source, TargetKind
from dimming.scheduler import request_push
from dimming.store import (
    Conflict,
    InvalidTarget,
    NotFound,
    StoreError,
    assign,
    cancel_override,
    copy_profile,
    create_exception,
    create_override,
    create_profile,
    delete_assignment,
    delete_exception,
    get_profile,
    list_assignments,
    list_exceptions,
    list_overrides,
    list_profiles,
    profile_users,
    profile_versions,
    retire_profile,
    update_exception,
    update_profile,
)
from dimming.sun import NightTimes, twilight_times

__all__ = [
    "MONTH_DAY_PATTERN",
    "NAME_MAX_LENGTH",
    "ActiveScheduler",
    "CalendarException",
    "Conflict",
    "ConsumptionReport",
    "CountOutcome",
    "Coverage",
    "ExceptionKind",
    "GroupMonthConsumption",
    "InvalidTarget",
    "LampNight",
    "LampPushStatus",
    "NightEstimate",
    "NightTimes",
    "NotFound",
    "PeriodEstimate",
    "ProfileError",
    "ProfileSpec",
    "PushState",
    "PushStatusPage",
    "Rule",
    "Source",
    "Step",
    "StoreError",
    "TargetKind",
    "Twilight",
    "active_scheduler",
    "add_up",
    "assign",
    "cancel_override",
    "check_calendar_exception",
    "consumption_by_group_month",
    "copy_profile",
    "create_exception",
    "create_override",
    "create_profile",
    "delete_assignment",
    "delete_exception",
    "estimate_month",
    "get_profile",
    "group_place",
    "list_assignments",
    "list_exceptions",
    "list_overrides",
    "list_profiles",
    "load_lamp_night",
    "month_bounds",
    "months_between",
    "night_curve",
    "night_estimate",
    "profile_users",
    "profile_versions",
    "push_status",
    "rated_lamps",
    "refresh_energy_days",
    "request_push",
    "run_energy_count",
    "retire_profile",
    "rounded_savings",
    "schedule_energy_count",
    "twilight_times",
    "update_exception",
    "update_profile",
    "validate_profile",
]
