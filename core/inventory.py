"""Lamp inventory import: a CSV or GeoJSON file in, the `lamps` table brought up to date.

Two steps, so that the CLI can show every problem before touching the database:

* `parse_inventory` is pure (bytes in, records and row errors out). It checks each
  row against the same rules as the `lamps` table's constraints, so that a row it
  accepts never fails in the database.
* `import_inventory` writes the accepted records in one transaction: COPY into a
  temporary table, then one upsert that only touches lamps whose values changed.

What a file means for a lamp it lists:

* Each lamp column the file has (in its header, or in any feature's properties)
  is set from the file; an empty cell means "not given" and sets the column's
  default (text to '', numbers, dates and coordinates to NULL, technology to LED).
  Columns the file does not have at all are left as they are on existing lamps.
* `state` is operational (maintenance sets faulty, under_repair): an empty state
  leaves an existing lamp's state alone; a new lamp starts in_service.
* Unknown columns go to `properties`, which the file replaces as a whole when it
  has any unknown column.
* Lamps missing from the file are not touched: the import never deletes.
"""

from __future__ import annotations

import codecs
import csv
import io
import json
import math
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

import psycopg
from psycopg import sql

from core.contract import LAMP_ID_PATTERN, LAMP_ID_RE

# Mirrors of the CHECK constraints on `lamps` (core/migrations/0001_initial.sql).
TECHNOLOGIES = ("LED", "HPS", "LPS", "MH", "CFL", "OTHER")
LAMP_STATES = ("planned", "in_service", "faulty", "under_repair", "retired")
DEFAULT_TECHNOLOGY = "LED"
DEFAULT_STATE = "in_service"
MAX_RATED_POWER_W = 10_000
LAT_RANGE_DEG = (-90.0, 90.0)
LON_RANGE_DEG = (-180.0, 180.0)

TEXT_COLUMNS = ("name", "street", "address", "circuit", "group_name", "lighting_class", "model")
# Every column of `lamps` an inventory file can set, in table order.
LAMP_COLUMNS = (
    "lamp_id",
    "name",
    "lat",
    "lon",
    "street",
    "address",
    "circuit",
    "group_name",
    "lighting_class",
    "model",
    "technology",
    "rated_power_w",
    "install_date",
    "state",
    "properties",
)
FIELD_NAMES = frozenset(LAMP_COLUMNS) - {"properties"}
COLUMN_ALIASES = {"group": "group_name", "latitude": "lat", "longitude": "lon"}
# Written by the database itself; present in files exported from it, never imported.
IGNORED_COLUMNS = frozenset({"created_at", "updated_at"})

FORMATS = ("csv", "geojson")
_EXTENSION_FORMATS = {".csv": "csv", ".geojson": "geojson", ".json": "geojson"}
_LAMP_ID_SHAPE = LAMP_ID_PATTERN.removeprefix("^").removesuffix("$")
_DECIMAL = re.compile(r"[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?")
_DECIMAL_COMMA = re.compile(r"[+-]?\d+,\d+")
_ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")


class InventoryError(Exception):
    """Base of the errors an inventory import reports to the administrator."""


class InventoryFormatError(InventoryError):
    """The whole file is unusable: wrong encoding, not CSV/GeoJSON, no lamp_id column..."""

    def __init__(self, message: str, *, byte_offset: int | None = None) -> None:
        super().__init__(message)
        self.byte_offset = byte_offset


class InventoryRejected(InventoryError):
    """Some rows are bad and skipping them was not asked for: nothing was imported."""

    def __init__(self, errors: list[RowError]) -> None:
        self.errors = list(errors)
        rows = len({error.line for error in self.errors})
        unit = self.errors[0].unit if self.errors else "line"
        noun = "row" if unit == "line" else "feature"
        super().__init__(
            f"{rows} {noun}{'s' if rows != 1 else ''} of the inventory have errors; nothing was imported"
            " (fix the file, or skip the bad rows)"
        )


@dataclass(frozen=True, slots=True)
class LampRecord:
    """One lamp as the file gives it, already checked against the table's rules.

    `state` None means "not given": new lamps start in_service, existing ones keep theirs.
    """

    lamp_id: str
    name: str = ""
    lat: float | None = None
    lon: float | None = None
    street: str = ""
    address: str = ""
    circuit: str = ""
    group_name: str = ""
    lighting_class: str = ""
    model: str = ""
    technology: str = DEFAULT_TECHNOLOGY
    rated_power_w: float | None = None
    install_date: date | None = None
    state: str | None = None
    properties: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class RowError:
    """A problem with one row: `line` is the CSV line (header = 1) or the GeoJSON feature number."""

    line: int
    lamp_id: str | None
    reason: str
    unit: str = "line"  # "line" (CSV) or "feature" (GeoJSON)

    @property
    def location(self) -> str:
        return f"{self.unit} {self.line}"

    def __str__(self) -> str:
        lamp = f" ({self.lamp_id})" if self.lamp_id else ""
        return f"{self.location}{lamp}: {self.reason}"


@dataclass(frozen=True, slots=True)
class ParsedInventory:
    """Good records and row errors of one file.

    `columns` names the lamp columns the file provides; the import leaves the
    others alone on existing lamps.
    """

    records: list[LampRecord]
    errors: list[RowError]
    columns: frozenset[str] = frozenset(LAMP_COLUMNS)
    format: str = ""

    @property
    def bad_rows(self) -> int:
        return len({error.line for error in self.errors})


@dataclass(frozen=True, slots=True)
class ImportReport:
    inserted: int
    updated: int
    unchanged: int
    skipped: int
    errors: list[RowError]
    commissioned: int = 0  # unknown lamps (status pending) now in the inventory


# ---------------------------------------------------------------------------
# Parsing (pure)


def parse_inventory(data: bytes, filename: str, fmt: str | None = None) -> ParsedInventory:
    """Parse an inventory file. Row problems are collected; whole-file problems raise InventoryFormatError."""
    chosen = _choose_format(filename, fmt)
    text = _decode_utf8(data)
    if chosen == "csv":
        return _parse_csv(text)
    return _parse_geojson(text)


def load_inventory_file(path: Path, fmt: str | None = None) -> ParsedInventory:
    """Read and parse the file at `path` (the CLI's entry point)."""
    return parse_inventory(Path(path).read_bytes(), Path(path).name, fmt)


def _choose_format(filename: str, fmt: str | None) -> str:
    if fmt:
        chosen = fmt.strip().lower()
        if chosen == "json":
            chosen = "geojson"
        if chosen not in FORMATS:
            raise InventoryFormatError(f"unknown inventory format {fmt!r}: use csv or geojson")
        return chosen
    suffix = Path(filename).suffix.lower()
    if suffix in _EXTENSION_FORMATS:
        return _EXTENSION_FORMATS[suffix]
    raise InventoryFormatError(
        f"cannot tell the format of {filename!r} from its extension (.csv, .geojson or .json):"
        " give the format, csv or geojson"
    )


def _decode_utf8(data: bytes) -> str:
    body = data.removeprefix(codecs.BOM_UTF8)
    bom_bytes = len(data) - len(body)
    try:
        return body.decode("utf-8")
    except UnicodeDecodeError as exc:
        offset = bom_bytes + exc.start
        line = data.count(b"\n", 0, offset) + 1
        raise InventoryFormatError(
            f"the file is not UTF-8: byte 0x{data[offset]:02X} at offset {offset} (line {line}) is invalid;"
            " save the file as UTF-8 (in a spreadsheet: 'CSV UTF-8')",
            byte_offset=offset,
        ) from None


def _canonical_name(name: str) -> str:
    key = name.strip().lower()
    return COLUMN_ALIASES.get(key, key)


# --- CSV


def _parse_csv(text: str) -> ParsedInventory:
    header_line = text.split("\n", 1)[0]
    # French spreadsheet exports use ';' between cells and ',' as decimal mark.
    delimiter = ";" if header_line.count(";") > header_line.count(",") else ","
    decimal_comma = delimiter == ";"
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter, strict=True)
    try:
        header = next(reader, None)
        if not header or not any(cell.strip() for cell in header):
            raise InventoryFormatError("the file is empty: line 1 must be the header (lamp_id, lat, lon, ...)")
        fields_at, extras_at = _read_header(header)

        records: list[LampRecord] = []
        errors: list[RowError] = []
        first_line_of: dict[str, int] = {}
        last_line = reader.line_num
        for cells in reader:
            line = last_line + 1  # a quoted cell may span lines: report where the row starts
            last_line = reader.line_num
            if not any(cell.strip() for cell in cells):
                continue  # blank lines and rows of empty cells from spreadsheets
            values: dict[str, Any] = {}
            extras: dict[str, Any] = {}
            reasons: list[str] = []
            for index, cell in enumerate(cells):
                text = cell.strip()
                if index >= len(header):
                    if text:
                        reasons.append(f"the row has {len(cells)} cells but the header has {len(header)}")
                        break
                elif index in fields_at:
                    values[fields_at[index]] = cell
                elif not text:
                    continue
                elif index in extras_at:
                    extras[extras_at[index]] = text
                elif not header[index].strip():
                    reasons.append(f"cell {index + 1} ({text!r}) is in a column without a header name")
                # else: a column the database writes itself (created_at, updated_at)
            _collect(records, errors, first_line_of, line, "line", values, extras, reasons, decimal_comma)
    except csv.Error as exc:
        raise InventoryFormatError(f"line {reader.line_num}: the file is not valid CSV ({exc})") from None

    columns = set(fields_at.values()) | ({"properties"} if extras_at else set())
    return ParsedInventory(records, errors, frozenset(columns), "csv")


def _read_header(header: list[str]) -> tuple[dict[int, str], dict[int, str]]:
    """Column index -> lamp field, and column index -> properties key."""
    fields_at: dict[int, str] = {}
    extras_at: dict[int, str] = {}
    seen: dict[str, str] = {}  # canonical (lower-case) name -> name as written
    for index, raw in enumerate(header):
        name = raw.strip()
        if not name:
            continue
        canonical = _canonical_name(name)
        if canonical in seen:
            raise InventoryFormatError(
                f"line 1: columns {seen[canonical]!r} and {name!r} are the same column ({canonical})"
            )
        seen[canonical] = name
        if canonical in FIELD_NAMES:
            fields_at[index] = canonical
        elif canonical not in IGNORED_COLUMNS:
            extras_at[index] = name
    given = set(fields_at.values())
    if "lamp_id" not in given:
        found = ", ".join(repr(cell.strip()) for cell in header if cell.strip())
        raise InventoryFormatError(f"line 1: the header has no lamp_id column (found {found})")
    if ("lat" in given) != ("lon" in given):
        has, lacks = ("lat", "lon") if "lat" in given else ("lon", "lat")
        raise InventoryFormatError(f"line 1: the header has a {has} column but no {lacks} column")
    return fields_at, extras_at


# --- GeoJSON


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON number")


def _parse_geojson(text: str) -> ParsedInventory:
    try:
        document = json.loads(text, parse_constant=_reject_constant)
    except json.JSONDecodeError as exc:
        raise InventoryFormatError(
            f"the file is not valid JSON: {exc.msg} at line {exc.lineno}, column {exc.colno}"
        ) from None
    except ValueError as exc:
        raise InventoryFormatError(f"the file is not valid JSON: {exc}") from None
    if not isinstance(document, dict) or document.get("type") != "FeatureCollection":
        found = document.get("type") if isinstance(document, dict) else type(document).__name__
        raise InventoryFormatError(f"the file is not a GeoJSON FeatureCollection (its type is {found!r})")
    features = document.get("features")
    if not isinstance(features, list):
        raise InventoryFormatError("the FeatureCollection has no 'features' list")

    records: list[LampRecord] = []
    errors: list[RowError] = []
    first_line_of: dict[str, int] = {}
    columns = {"lamp_id", "lat", "lon"}
    for number, feature in enumerate(features, start=1):
        values, extras, reasons = _feature_values(feature)
        columns |= values.keys()
        if extras:
            columns.add("properties")
        _collect(records, errors, first_line_of, number, "feature", values, extras, reasons, False)
    return ParsedInventory(records, errors, frozenset(columns), "geojson")


def _feature_values(feature: Any) -> tuple[dict[str, Any], dict[str, Any], list[str]]:
    """Lamp fields, unknown properties and structural problems of one feature."""
    if not isinstance(feature, dict) or feature.get("type") != "Feature":
        return {}, {}, ["is not a GeoJSON Feature"]
    properties = feature.get("properties")
    if properties is None:
        properties = {}
    values: dict[str, Any] = {}
    extras: dict[str, Any] = {}
    reasons: list[str] = []
    if not isinstance(properties, dict):
        reasons.append("properties must be an object")
        properties = {}
    written_as: dict[str, str] = {}
    for key, value in properties.items():
        canonical = _canonical_name(key)
        if canonical in ("lat", "lon"):
            continue  # the geometry is the position
        if canonical in written_as:
            reasons.append(f"properties {written_as[canonical]!r} and {key!r} are the same field ({canonical})")
            continue
        written_as[canonical] = key
        if canonical in FIELD_NAMES:
            values[canonical] = value
        elif canonical not in IGNORED_COLUMNS and value is not None and value != "":
            extras[key.strip()] = value
    if _is_blank(values.get("lamp_id")) and "id" in feature:
        values["lamp_id"] = feature["id"]

    geometry = feature.get("geometry")
    if geometry is None:
        reasons.append("has no geometry: a Point with coordinates [lon, lat] is needed")
    elif not isinstance(geometry, dict) or geometry.get("type") != "Point":
        kind = geometry.get("type") if isinstance(geometry, dict) else type(geometry).__name__
        reasons.append(f"geometry is {kind!r}, not a Point")
    else:
        coordinates = geometry.get("coordinates")
        if (
            not isinstance(coordinates, list)
            or len(coordinates) not in (2, 3)
            or not all(_is_json_number(c) for c in coordinates)
        ):
            reasons.append(f"Point coordinates must be [lon, lat] numbers, not {json.dumps(coordinates)}")
        else:
            values["lon"], values["lat"] = coordinates[0], coordinates[1]
    return values, extras, reasons


def _is_json_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


# --- Rows, whatever the format


class _BadValue(Exception):
    pass


def _collect(
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
    record, lamp_id, row_reasons = _build_record(values, extras, decimal_comma)
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


def _build_record(
    values: Mapping[str, Any], extras: dict[str, Any], decimal_comma: bool
) -> tuple[LampRecord | None, str | None, list[str]]:
    reasons: list[str] = []

    def check(convert: Any, *args: Any) -> Any:
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
    lat_given, lon_given = not _is_blank(values.get("lat")), not _is_blank(values.get("lon"))
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


def _is_blank(value: Any) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


def _shown(value: Any) -> str:
    """A value as the administrator wrote it, for messages."""
    return value.strip() if isinstance(value, str) else json.dumps(value)


def _lamp_id_text(value: Any) -> str | None:
    if isinstance(value, str):
        return value.strip() or None
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)  # GeoJSON allows numeric feature ids
    return None


def _check_lamp_id(value: Any, lamp_id: str | None) -> None:
    if _is_blank(value):
        raise _BadValue("missing lamp_id")
    if lamp_id is None:
        raise _BadValue(f"lamp_id {_shown(value)} must be text matching {_LAMP_ID_SHAPE}")
    if not LAMP_ID_RE.fullmatch(lamp_id):
        raise _BadValue(f"lamp_id {lamp_id!r} must match {_LAMP_ID_SHAPE}")


def _text(name: str, value: Any) -> str:
    if _is_blank(value):
        return ""
    if isinstance(value, str):
        text = value.strip()
    elif _is_json_number(value):
        text = str(value)  # e.g. "circuit": 12 in GeoJSON
    else:
        raise _BadValue(f"{name} must be text, not {_shown(value)}")
    if "\x00" in text:
        raise _BadValue(f"{name} contains a NUL character")
    return text


def _number(name: str, value: Any, decimal_comma: bool) -> float | None:
    if _is_blank(value):
        return None
    if _is_json_number(value):
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
    return power_w


def _install_date(value: Any) -> date | None:
    if _is_blank(value):
        return None
    if isinstance(value, str) and _ISO_DATE.fullmatch(value.strip()):
        try:
            return date.fromisoformat(value.strip())
        except ValueError:
            pass
    shown = repr(value.strip()) if isinstance(value, str) else _shown(value)
    raise _BadValue(f"install_date {shown} is not a date (YYYY-MM-DD)")


def _technology(value: Any) -> str:
    if _is_blank(value):
        return DEFAULT_TECHNOLOGY
    if isinstance(value, str) and value.strip().upper() in TECHNOLOGIES:
        return value.strip().upper()
    shown = repr(value.strip()) if isinstance(value, str) else _shown(value)
    raise _BadValue(f"technology {shown} is not one of {', '.join(TECHNOLOGIES)}")


def _state(value: Any) -> str | None:
    if _is_blank(value):
        return None
    if isinstance(value, str) and value.strip().lower() in LAMP_STATES:
        return value.strip().lower()
    shown = repr(value.strip()) if isinstance(value, str) else _shown(value)
    raise _BadValue(f"state {shown} is not one of {', '.join(LAMP_STATES)}")


def _check_properties(extras: Mapping[str, Any]) -> None:
    # PostgreSQL's jsonb refuses the NUL character anywhere.
    if extras and "\x00" in json.dumps(extras, ensure_ascii=False):
        raise _BadValue("an extra column contains a NUL character")


# ---------------------------------------------------------------------------
# Writing

# Columns the upsert may change on an existing lamp (lamp_id is the key; state is separate).
_UPDATABLE_COLUMNS = tuple(c for c in LAMP_COLUMNS if c not in ("lamp_id", "state"))

_CREATE_STAGING = """
    CREATE TEMPORARY TABLE inventory_import (
        lamp_id        text NOT NULL,
        name           text NOT NULL,
        lat            double precision,
        lon            double precision,
        street         text NOT NULL,
        address        text NOT NULL,
        circuit        text NOT NULL,
        group_name     text NOT NULL,
        lighting_class text NOT NULL,
        model          text NOT NULL,
        technology     text NOT NULL,
        rated_power_w  real,
        install_date   date,
        state          text,
        properties     jsonb NOT NULL
    )
"""

_COPY_STAGING = sql.SQL("COPY inventory_import ({}) FROM STDIN").format(
    sql.SQL(", ").join(map(sql.Identifier, LAMP_COLUMNS))
)

_COMMISSION_UNKNOWN = """
    UPDATE unknown_lamps AS u SET status = 'commissioned'
    WHERE u.status = 'pending' AND EXISTS (SELECT 1 FROM lamps AS l WHERE l.lamp_id = u.lamp_id)
"""


def _upsert_query(columns: Iterable[str]) -> sql.Composed:
    """The upsert from `inventory_import` into `lamps`; returns one row (inserted, updated).

    Only the given columns are compared and updated on existing lamps; state is
    always part of it, kept when the file leaves it empty (see module docstring).
    """
    given = set(columns)
    updated_columns = [c for c in _UPDATABLE_COLUMNS if c in given] + ["state"]
    copied_columns = [c for c in LAMP_COLUMNS if c != "state"]

    def join(parts: Iterable[sql.Composable]) -> sql.Composed:
        return sql.SQL(", ").join(parts)

    return sql.SQL(
        """
        WITH upserted AS (
            INSERT INTO lamps AS l ({copied_columns}, state)
            SELECT {staged_values}, COALESCE(s.state, existing.state, {default_state})
            FROM inventory_import AS s LEFT JOIN lamps AS existing ON existing.lamp_id = s.lamp_id
            ON CONFLICT (lamp_id) DO UPDATE SET {assignments}, updated_at = now()
            WHERE ROW({old_values}) IS DISTINCT FROM ROW({new_values})
            RETURNING (l.xmax = 0) AS inserted
        )
        SELECT count(*) FILTER (WHERE inserted), count(*) FILTER (WHERE NOT inserted) FROM upserted
        """
    ).format(
        copied_columns=join(sql.Identifier(c) for c in copied_columns),
        staged_values=join(sql.Identifier("s", c) for c in copied_columns),
        default_state=sql.Literal(DEFAULT_STATE),
        assignments=join(sql.SQL("{0} = excluded.{0}").format(sql.Identifier(c)) for c in updated_columns),
        old_values=join(sql.Identifier("l", c) for c in updated_columns),
        new_values=join(sql.Identifier("excluded", c) for c in updated_columns),
    )


def import_inventory(conn: psycopg.Connection, parsed: ParsedInventory, *, skip_bad: bool = False) -> ImportReport:
    """Upsert the parsed lamps in one transaction and commission pending unknown lamps.

    Raises InventoryRejected (importing nothing) when the file has bad rows and
    skip_bad is false. The transaction commits on return, unless the caller
    already had one open on `conn` (then it is a savepoint in the caller's).
    """
    if parsed.errors and not skip_bad:
        raise InventoryRejected(parsed.errors)
    lamp_ids = [record.lamp_id for record in parsed.records]
    if len(set(lamp_ids)) != len(lamp_ids):
        raise ValueError("parsed inventory lists a lamp_id twice; parse_inventory reports duplicates as errors")

    with conn.transaction(), conn.cursor() as cur:
        cur.execute(_CREATE_STAGING)
        with cur.copy(_COPY_STAGING) as copy:
            for record in parsed.records:
                copy.write_row(_staging_row(record))
        cur.execute("ANALYZE inventory_import")  # temporary tables are never auto-analysed
        cur.execute(_upsert_query(parsed.columns))
        inserted, updated = cur.fetchone()
        cur.execute(_COMMISSION_UNKNOWN)
        commissioned = cur.rowcount
        cur.execute("DROP TABLE inventory_import")

    return ImportReport(
        inserted=inserted,
        updated=updated,
        unchanged=len(parsed.records) - inserted - updated,
        skipped=parsed.bad_rows,
        errors=list(parsed.errors),
        commissioned=commissioned,
    )


def _staging_row(record: LampRecord) -> tuple[Any, ...]:
    return (
        record.lamp_id,
        record.name,
        record.lat,
        record.lon,
        record.street,
        record.address,
        record.circuit,
        record.group_name,
        record.lighting_class,
        record.model,
        record.technology,
        record.rated_power_w,
        record.install_date,
        record.state,
        json.dumps(record.properties, ensure_ascii=False, sort_keys=True),
    )
