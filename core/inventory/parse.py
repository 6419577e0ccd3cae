"""Reading an inventory file, CSV or GeoJSON: bytes in, lamp records and row errors out. Pure.

Row problems are collected, one error per problem with its line (or feature) number,
so that the administrator sees them all before anything is written; problems with
the whole file raise InventoryFormatError.
"""

from __future__ import annotations

import codecs
import csv
import io
import json
from pathlib import Path
from typing import Any

from core.inventory.fields import collect_row, is_blank, is_json_number
from core.inventory.records import (
    COLUMN_ALIASES,
    FIELD_NAMES,
    IGNORED_COLUMNS,
    InventoryFormatError,
    LampRecord,
    ParsedInventory,
    RowError,
)

FORMATS = ("csv", "geojson")
_EXTENSION_FORMATS = {".csv": "csv", ".geojson": "geojson", ".json": "geojson"}


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
            values, extras, reasons = _row_values(header, cells, fields_at, extras_at)
            collect_row(records, errors, first_line_of, line, "line", values, extras, reasons, decimal_comma)
    except csv.Error as exc:
        raise InventoryFormatError(f"line {reader.line_num}: the file is not valid CSV ({exc})") from None

    columns = set(fields_at.values()) | ({"properties"} if extras_at else set())
    return ParsedInventory(records, errors, frozenset(columns), "csv")


def _row_values(
    header: list[str], cells: list[str], fields_at: dict[int, str], extras_at: dict[int, str]
) -> tuple[dict[str, Any], dict[str, Any], list[str]]:
    """Lamp fields, unknown columns and structural problems of one CSV row."""
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
    return values, extras, reasons


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
    except RecursionError:  # Python's parser recurses once per level of nesting
        raise InventoryFormatError("the file is not valid GeoJSON: it is nested too deeply") from None
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
        collect_row(records, errors, first_line_of, number, "feature", values, extras, reasons, False)
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
    if is_blank(values.get("lamp_id")) and "id" in feature:
        values["lamp_id"] = feature["id"]
    reasons.extend(_read_point(feature.get("geometry"), values))
    return values, extras, reasons


def _read_point(geometry: Any, values: dict[str, Any]) -> list[str]:
    """Set lon and lat in `values` from a Point geometry; the problems with it otherwise."""
    if geometry is None:
        return ["has no geometry: a Point with coordinates [lon, lat] is needed"]
    if not isinstance(geometry, dict) or geometry.get("type") != "Point":
        kind = geometry.get("type") if isinstance(geometry, dict) else type(geometry).__name__
        return [f"geometry is {kind!r}, not a Point"]
    coordinates = geometry.get("coordinates")
    if (
        not isinstance(coordinates, list)
        or len(coordinates) not in (2, 3)
        or not all(is_json_number(c) for c in coordinates)
    ):
        return [f"Point coordinates must be [lon, lat] numbers, not {json.dumps(coordinates)}"]
    values["lon"], values["lat"] = coordinates[0], coordinates[1]
    return []
