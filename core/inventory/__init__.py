"""Lamp inventory import: a CSV or GeoJSON file in, the `lamps` table brought up to date.

Two steps, so that the CLI can show every problem before touching the database:
`parse_inventory` (pure, `parse.py`) and `import_inventory` (the upsert, `store.py`).
"""

from core.inventory.parse import FORMATS, load_inventory_file, parse_inventory
from core.inventory.records import (
    COLUMN_ALIASES,
    FIELD_NAMES,
    IGNORED_COLUMNS,
    LAMP_COLUMNS,
    LAT_RANGE_DEG,
    LON_RANGE_DEG,
    MAX_RATED_POWER_W,
    TEXT_COLUMNS,
    InventoryError,
    InventoryFormatError,
    InventoryRejected,
    LampRecord,
    ParsedInventory,
    RowError,
)
from core.inventory.store import ImportReport, import_inventory

__all__ = [
    "COLUMN_ALIASES",
    "FIELD_NAMES",
    "FORMATS",
    "IGNORED_COLUMNS",
    "LAMP_COLUMNS",
    "LAT_RANGE_DEG",
    "LON_RANGE_DEG",
    "MAX_RATED_POWER_W",
    "TEXT_COLUMNS",
    "ImportReport",
    "InventoryError",
    "InventoryFormatError",
    "InventoryRejected",
    "LampRecord",
    "ParsedInventory",
    "RowError",
    "import_inventory",
    "load_inventory_file",
    "parse_inventory",
]
