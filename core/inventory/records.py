"""What an inventory file holds once read: lamp records, row errors, and the errors that stop an import."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from typing import Any

from core.vocabulary import DEFAULT_TECHNOLOGY

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
