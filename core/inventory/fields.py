"""One row's values checked against the `lamps` table's rules, whatever the file format.

A row these checks accept never fails the table's constraints nor its column types
(`core.columns`: no NUL in text, `rated_power_w` within `real`, finite numbers in the
properties); each problem found becomes one reason naming its field, worded for the
administrator.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable, Mapping
from datetime import date
from typing import Any

from core.columns import dotted, fits_real, json_problems, shown, text_problem
from core.contract import LAMP_ID_PATTERN, LAMP_ID_RE
from core.inventory.records import (
    LAT_RANGE_DEG,
    LON_RANGE_DEG,
    MAX_RATED_POWER_W,
    TEXT_COLUMNS,
    LampRecord,
    RowError,
)
from core.vocabulary import DEFAULT_TECHNOLOGY, LAMP_STATES, TECHNOLOGIES

_LAMP_ID_SHAPE = LAMP_ID_PATTERN.removeprefix("^").removesuffix("$")
_DECIMAL = re.compile(r"[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?")
_DECIMAL_COMMA = re.compile(r"[+-]?\d+,\d+")
_ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")


class _BadValue(Exception):
    pass


def collect_row(
    records: list[LampRecord],
    errors: list[RowError],
    first_line_of: dict[str, int],
    line: int,
    unit: str,
    values: Mapping[str, Any],
    extras: dict[str, Any],
    reasons: list[str],
    decimal_comma: bool,
) -> None:
    """Check one row; append its record, or its errors (one per problem)."""
    record, lamp_id, row_reasons = build_record(values, extras, decimal_comma)
    reasons = reasons + row_reasons
    if lamp_id is not None and LAMP_ID_RE.fullmatch(lamp_id):
        if lamp_id in first_line_of:
            where = "on line" if unit == "line" else "in feature"
            reasons.append(f"duplicate lamp_id {lamp_id} (first {where} {first_line_of[lamp_id]})")
        else:
            first_line_of[lamp_id] = line
    if reasons:
        errors.extend(RowError(line, lamp_id, reason, unit) for reason in reasons)
    elif record is not None:
        records.append(record)


def build_record(
    values: Mapping[str, Any], extras: dict[str, Any], decimal_comma: bool
) -> tuple[LampRecord | None, str | None, list[str]]:
    """(the record or None, the lamp id as far as it reads, the reasons the row is refused)."""
    reasons: list[str] = []

    def check(convert: Callable[..., Any], *args: Any) -> Any:
        try:
            return convert(*args)
        except _BadValue as exc:
            reasons.append(str(exc))
            return None

    lamp_id = _lamp_id_text(values.get("lamp_id"))
    check(_check_lamp_id, values.get("lamp_id"), lamp_id)
    texts = {name: check(_text, name, values.get(name)) for name in TEXT_COLUMNS}
    lat = check(_coordinate, "lat", values.get("lat"), LAT_RANGE_DEG, decimal_comma)
    lon = check(_coordinate, "lon", values.get("lon"), LON_RANGE_DEG, decimal_comma)
    lat_given, lon_given = not is_blank(values.get("lat")), not is_blank(values.get("lon"))
    if lat_given != lon_given:
        has, lacks = ("lat", "lon") if lat_given else ("lon", "lat")
        reasons.append(f"{has} is given but {lacks} is missing (give both or neither)")
    technology = check(_technology, values.get("technology"))
    rated_power_w = check(_rated_power_w, values.get("rated_power_w"), decimal_comma)
    install_date = check(_install_date, values.get("install_date"))
    state = check(_state, values.get("state"))
    check(_check_properties, extras)

    if reasons:
        return None, lamp_id, reasons
    assert lamp_id is not None  # _check_lamp_id refuses a row without one
    record = LampRecord(
        lamp_id=lamp_id,
        lat=lat,
        lon=lon,
        technology=technology,
        rated_power_w=rated_power_w,
        install_date=install_date,
        state=state,
        properties=dict(extras),
        **texts,
    )
    return record, lamp_id, reasons


def is_blank(value: Any) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


def is_json_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _shown(value: Any) -> str:
    """A value as the administrator wrote it, for messages."""
    return value.strip() if isinstance(value, str) else json.dumps(value)


def _lamp_id_text(value: Any) -> str | None:
    """The lamp id as the errors name it (a NUL shown as its escape)."""
    if isinstance(value, str):
        return shown(value.strip()) or None
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)  # GeoJSON allows numeric feature ids
    return None


def _check_lamp_id(value: Any, lamp_id: str | None) -> None:
    if is_blank(value):
        raise _BadValue("missing lamp_id")
    problem = text_problem(value) if isinstance(value, str) else None
    if problem is not None:
        raise _BadValue(f"lamp_id {problem}")
    if lamp_id is None:
        raise _BadValue(f"lamp_id {_shown(value)} must be text matching {_LAMP_ID_SHAPE}")
    if not LAMP_ID_RE.fullmatch(lamp_id):
        raise _BadValue(f"lamp_id {lamp_id!r} must match {_LAMP_ID_SHAPE}")


def _text(name: str, value: Any) -> str:
    if is_blank(value):
        return ""
    if isinstance(value, str):
        text = value.strip()
    elif is_json_number(value):
        text = str(value)  # e.g. "circuit": 12 in GeoJSON
    else:
        raise _BadValue(f"{name} must be text, not {_shown(value)}")
    problem = text_problem(text)
    if problem is not None:
        raise _BadValue(f"{name} {problem}")
    return text


def _number(name: str, value: Any, decimal_comma: bool) -> float | None:
    if is_blank(value):
        return None
    if is_json_number(value):
        number = float(value)
    elif isinstance(value, str):
        text = value.strip()
        if decimal_comma and _DECIMAL_COMMA.fullmatch(text):
            text = text.replace(",", ".")
        if not _DECIMAL.fullmatch(text):
            raise _BadValue(f"{name} {_shown(value)!r} is not a number")
        number = float(text)
    else:
        raise _BadValue(f"{name} {_shown(value)} is not a number")
    if not math.isfinite(number):
        raise _BadValue(f"{name} {_shown(value)} is not a finite number")
    return number


def _coordinate(name: str, value: Any, range_deg: tuple[float, float], decimal_comma: bool) -> float | None:
    number = _number(name, value, decimal_comma)
    low, high = range_deg
    if number is not None and not low <= number <= high:
        raise _BadValue(f"{name} {_shown(value)} is outside {low:g}..{high:g}")
    return number


def _rated_power_w(value: Any, decimal_comma: bool) -> float | None:
    try:
        power_w = _number("rated_power_w", value, decimal_comma)
    except _BadValue:
        raise _BadValue(f"rated_power_w must be a number > 0 (got {_shown(value)!r})") from None
    if power_w is None:
        return None
    if power_w <= 0:
        raise _BadValue(f"rated_power_w must be a number > 0 (got {_shown(value)})")
    if power_w > MAX_RATED_POWER_W:
        raise _BadValue(f"rated_power_w {_shown(value)} is above the {MAX_RATED_POWER_W} W limit")
    if not fits_real(power_w):
        raise _BadValue(f"rated_power_w {_shown(value)} is too small to store (a real column holds from 1.4e-45)")
    return power_w


def _install_date(value: Any) -> date | None:
    if is_blank(value):
        return None
    if isinstance(value, str) and _ISO_DATE.fullmatch(value.strip()):
        try:
            return date.fromisoformat(value.strip())
        except ValueError:
            pass
    shown = repr(value.strip()) if isinstance(value, str) else _shown(value)
    raise _BadValue(f"install_date {shown} is not a date (YYYY-MM-DD)")


def _technology(value: Any) -> str:
    if is_blank(value):
        return DEFAULT_TECHNOLOGY
    if isinstance(value, str) and value.strip().upper() in TECHNOLOGIES:
        return value.strip().upper()
    shown = repr(value.strip()) if isinstance(value, str) else _shown(value)
    raise _BadValue(f"technology {shown} is not one of {', '.join(TECHNOLOGIES)}")


def _state(value: Any) -> str | None:
    if is_blank(value):
        return None
    if isinstance(value, str) and value.strip().lower() in LAMP_STATES:
        return value.strip().lower()
    shown = repr(value.strip()) if isinstance(value, str) else _shown(value)
    raise _BadValue(f"state {shown} is not one of {', '.join(LAMP_STATES)}")


def _check_properties(extras: Mapping[str, Any]) -> None:
    # Kept as jsonb, which refuses the NUL character and numbers that are not finite.
    for path, problem in json_problems(dict(extras)):
        raise _BadValue(f"{dotted(path)} {problem}")
