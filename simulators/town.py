"""A plausible French town's lamp inventory, generated from a seed; its CSV and GeoJSON writers and a reader.

Pure: `generate_town` only computes. The town's layout (districts, streets,
circuits, lighting classes, luminaires) is described in docs/simulator.md.
"""

from __future__ import annotations

import csv
import io
import json
import math
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from datetime import date, timedelta
from pathlib import Path

import numpy as np

from core.inventory import load_inventory_file
from core.vocabulary import Technology
from simulators import street_names

METRES_PER_DEG_LAT = 111_320.0
DISTRICT_SIDE_M = 600.0
CIRCUIT_SIZE_RANGE = (20, 60)
# Install dates are spread over this many years before `reference_date`.
INSTALL_SPAN_YEARS = 15.0
# A street whose lamps are older than this may still carry HPS luminaires.
HPS_MIN_AGE_YEARS = 8.0
HPS_SHARE_OF_OLD_STREETS = 0.25
# Share of lamps replaced one by one (after a knock or a failure) since their street was lit.
SINGLE_REPLACEMENT_SHARE = 0.07

CSV_COLUMNS = (
    "lamp_id",
    "name",
    "lat",
    "lon",
    "street",
    "address",
    "circuit",
    "group",
    "lighting_class",
    "model",
    "technology",
    "rated_power_w",
    "install_date",
)


@dataclass(frozen=True)
class LampSpec:
    """One lamp of the inventory, as the service imports it."""

    lamp_id: str
    name: str
    lat: float
    lon: float
    street: str
    address: str
    circuit: str
    group: str
    lighting_class: str
    model: str
    technology: str
    rated_power_w: float
    install_date: date


# EN 13201 class by street type (main roads: M classes; residential: P classes).
_MAIN_CLASSES = {"Boulevard": ("M3",), "Avenue": ("M3", "M4"), "Cours": ("M4",), "Route": ("M4", "M5")}
_RESIDENTIAL_CLASSES = {
    "Rue": ("P3", "P4"),
    "Place": ("P3",),
    "Passage": ("P4",),
    "Allée": ("P4", "P5"),
    "Chemin": ("P5",),
    "Impasse": ("P5",),
}
# Luminaire catalogue: model -> (technology, rated input power in W).
MODELS: dict[str, tuple[Technology, float]] = {
    "LED-R30": ("LED", 30.0),
    "LED-R40": ("LED", 40.0),
    "LED-R55": ("LED", 55.0),
    "LED-U75": ("LED", 75.0),
    "LED-U100": ("LED", 100.0),
    "LED-V120": ("LED", 120.0),
    "LED-V150": ("LED", 150.0),
    "SHP-70": ("HPS", 70.0),
    "SHP-100": ("HPS", 100.0),
    "SHP-150": ("HPS", 150.0),
}
_LED_BY_CLASS = {
    "M3": ("LED-V120", "LED-V150", "LED-U100"),
    "M4": ("LED-U75", "LED-U100", "LED-V120"),
    "M5": ("LED-R55", "LED-U75"),
    "P3": ("LED-R40", "LED-R55"),
    "P4": ("LED-R30", "LED-R40"),
    "P5": ("LED-R30",),
}
_HPS_BY_CLASS = {
    "M3": ("SHP-150",),
    "M4": ("SHP-100", "SHP-150"),
    "M5": ("SHP-100",),
    "P3": ("SHP-70", "SHP-100"),
    "P4": ("SHP-70",),
    "P5": ("SHP-70",),
}


@dataclass(frozen=True)
class _Street:
    name: str
    kind: str
    district: int
    x_m: np.ndarray  # lamp positions, metres east of the town centre
    y_m: np.ndarray  # metres north
    along_m: np.ndarray  # distance from the start of the street
    lighting_class: str
    model: str
    install_date: date


def _spiral_cells() -> Iterator[tuple[int, int]]:
    """Grid cells (i, j) in a square spiral from (0, 0): the order districts are built in."""
    yield 0, 0
    ring = 1
    while True:
        i, j = ring, -ring + 1
        for dj in range(2 * ring - 1):
            yield i, j + dj
        j = ring
        for di in range(2 * ring + 1):
            yield i - di, j
        i = -ring
        for dj in range(1, 2 * ring + 1):
            yield i, j - dj
        j = -ring
        for di in range(1, 2 * ring + 1):
            yield i + di, j
        ring += 1


def _lamp_positions(
    rng: np.random.Generator, start_u: float, v: float, length_m: float, spacing_m: float, wavy: bool
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Lamps along a street running in +u at offset v, in district-local metres."""
    count = max(1, int(length_m // spacing_m) + 1)
    along = np.arange(count) * spacing_m + rng.uniform(-2.0, 2.0, count)
    along[0] = 0.0
    u = start_u + along
    v_line = np.full(count, v)
    if wavy:  # chemins follow the land
        amplitude = rng.uniform(10.0, 35.0)
        wavelength = rng.uniform(200.0, 500.0)
        v_line = v_line + amplitude * np.sin(2 * np.pi * along / wavelength + rng.uniform(0, 2 * np.pi))
    return u, v_line, along


def _pick_install_date(rng: np.random.Generator, reference: date, ring: int) -> date:
    # The centre was lit (and re-lit) earlier than the outskirts.
    low_years = 3.0 if ring <= 1 else 0.0
    age_years = rng.uniform(low_years, INSTALL_SPAN_YEARS)
    return reference - timedelta(days=int(age_years * 365.25))


def _district_streets(
    rng: np.random.Generator, namer: street_names.StreetNamer, index: int, cell: tuple[int, int], reference: date
) -> list[_Street]:
    ring = max(abs(cell[0]), abs(cell[1]))
    district_name = street_names.district_name(index)
    centre_x, centre_y = cell[0] * DISTRICT_SIDE_M, cell[1] * DISTRICT_SIDE_M
    angle = rng.uniform(-0.3, 0.3)  # districts are not all aligned north-south
    cos_a, sin_a = math.cos(angle), math.sin(angle)
    half = DISTRICT_SIDE_M / 2

    plans: list[
        tuple[str, str, float, float, float, bool, float]
    ] = []  # kind, class, start_u, v, length, wavy, spacing
    if index == 0 or rng.random() < 0.85:
        kind = "Boulevard" if ring <= 1 and rng.random() < 0.5 else ("Avenue" if ring <= 3 else "Route")
        if ring <= 1 and rng.random() < 0.2:
            kind = "Cours"
        klass = _MAIN_CLASSES[kind][int(rng.integers(len(_MAIN_CLASSES[kind])))]
        plans.append(
            (kind, klass, -half, rng.uniform(-half / 2, half / 2), DISTRICT_SIDE_M, False, rng.uniform(32, 40))
        )
    outer = ring >= 3
    kinds = ("Rue", "Chemin", "Allée", "Impasse") if outer else ("Rue", "Rue", "Allée", "Place", "Passage", "Impasse")
    for _ in range(int(rng.integers(5, 9))):
        kind = kinds[int(rng.integers(len(kinds)))]
        if kind in ("Impasse", "Place", "Passage"):
            length = rng.uniform(60.0, 160.0)
        else:
            length = rng.uniform(0.4, 1.0) * DISTRICT_SIDE_M
        start_u = rng.uniform(-half, half - length)
        klass = _RESIDENTIAL_CLASSES[kind][int(rng.integers(len(_RESIDENTIAL_CLASSES[kind])))]
        plans.append((kind, klass, start_u, rng.uniform(-half, half), length, kind == "Chemin", rng.uniform(25, 35)))

    streets = []
    for number, (kind, klass, start_u, v, length, wavy, spacing) in enumerate(plans):
        u, v_line, along = _lamp_positions(rng, start_u, v, length, spacing, wavy)
        if number % 2 == 1:  # every other street runs across
            u, v_line = v_line, u
        x = centre_x + cos_a * u - sin_a * v_line
        y = centre_y + sin_a * u + cos_a * v_line
        installed = _pick_install_date(rng, reference, ring)
        age_years = (reference - installed).days / 365.25
        if age_years > HPS_MIN_AGE_YEARS and rng.random() < HPS_SHARE_OF_OLD_STREETS:
            choices = _HPS_BY_CLASS[klass]
        else:
            choices = _LED_BY_CLASS[klass]
        model = choices[int(rng.integers(len(choices)))]
        streets.append(_Street(namer.name(kind, district_name), kind, index, x, y, along, klass, model, installed))
    return streets


def generate_town(
    n_lamps: int = 1500,
    seed: int = 1,
    center_lat: float = 45.76,
    center_lon: float = 4.84,
    name: str = "Demo",
    reference_date: date = date(2026, 1, 1),
) -> list[LampSpec]:
    """Generate `n_lamps` lamps of a town around (center_lat, center_lon); same seed, same town.

    `reference_date` is the latest install date; installs spread over the 15 years before it.
    `name` labels the town (it prefixes nothing in the inventory, so ids stay `L00001`...).
    """
    if n_lamps < 1:
        raise ValueError("n_lamps must be at least 1")
    if not -85.0 <= center_lat <= 85.0:
        raise ValueError("center_lat must be within ±85°")
    rng = np.random.default_rng([seed, 0x70E7])
    namer = street_names.StreetNamer(rng)
    streets: list[_Street] = []
    total = 0
    for index, cell in enumerate(_spiral_cells()):
        district = _district_streets(rng, namer, index, cell, reference_date)
        streets.extend(district)
        total += sum(len(s.x_m) for s in district)
        if total >= n_lamps:
            break

    # Flatten to per-lamp columns, in street order (which is also circuit order).
    street_of = np.repeat(np.arange(len(streets)), [len(s.x_m) for s in streets])[:n_lamps]
    x_m = np.concatenate([s.x_m for s in streets])[:n_lamps]
    y_m = np.concatenate([s.y_m for s in streets])[:n_lamps]
    along_m = np.concatenate([s.along_m for s in streets])[:n_lamps]
    lat = center_lat + y_m / METRES_PER_DEG_LAT
    lon = center_lon + x_m / (METRES_PER_DEG_LAT * math.cos(math.radians(center_lat)))
    circuits = _assign_circuits(rng, np.array([s.district for s in streets])[street_of])

    # Some lamps were replaced one by one since their street was lit: always by an LED luminaire.
    replaced = rng.random(n_lamps) < SINGLE_REPLACEMENT_SHARE
    replaced_fraction = rng.random(n_lamps)
    led_pick = rng.integers(0, 3, n_lamps)

    lamps = []
    position_in_street = 0
    previous_street = -1
    for i in range(n_lamps):
        street = streets[street_of[i]]
        position_in_street = position_in_street + 1 if street_of[i] == previous_street else 1
        previous_street = street_of[i]
        model = street.model
        installed = street.install_date
        if replaced[i]:
            choices = _LED_BY_CLASS[street.lighting_class]
            model = choices[int(led_pick[i]) % len(choices)]
            installed = installed + timedelta(days=int((reference_date - installed).days * replaced_fraction[i]))
        technology, rated_power_w = MODELS[model]
        # French numbering: odd numbers on one side, even on the other; lamps stand on one side.
        house_number = 2 * int(along_m[i] // 14.0) + (
            1 if street.kind in ("Avenue", "Boulevard", "Cours", "Route") else 2
        )
        lamps.append(
            LampSpec(
                lamp_id=f"L{i + 1:05d}",
                name=f"{street.name} n°{position_in_street}",
                lat=round(float(lat[i]), 7),
                lon=round(float(lon[i]), 7),
                street=street.name,
                address=f"{house_number} {street.name}",
                circuit=f"C{circuits[i] + 1:04d}",
                group=street_names.district_name(street.district),
                lighting_class=street.lighting_class,
                model=model,
                technology=technology,
                rated_power_w=rated_power_w,
                install_date=installed,
            )
        )
    return lamps


def _assign_circuits(rng: np.random.Generator, district_of_lamp: np.ndarray) -> np.ndarray:
    """Circuit index per lamp: runs of 20-60 consecutive lamps within one district.

    A district's leftover of fewer than 20 lamps joins its previous circuit.
    """
    n = len(district_of_lamp)
    circuit = np.empty(n, dtype=np.int64)
    low, high = CIRCUIT_SIZE_RANGE
    next_circuit = 0
    start = 0
    while start < n:
        district = district_of_lamp[start]
        end = start
        while end < n and district_of_lamp[end] == district:
            end += 1
        position = start
        previous_start = -1  # first lamp of the district's previous circuit
        while position < end:
            size = int(rng.integers(low, high + 1))
            stop = min(position + size, end)
            if stop - position < low and previous_start >= 0:
                # Too short a leftover: merge it with the previous circuit, or split the two evenly.
                if stop - previous_start <= high:
                    circuit[position:stop] = next_circuit - 1
                else:
                    middle = (previous_start + stop) // 2
                    circuit[middle:stop] = next_circuit
                    next_circuit += 1
            else:
                circuit[position:stop] = next_circuit
                previous_start = position
                next_circuit += 1
            position = stop
        start = end
    return circuit


# --- Writers -----------------------------------------------------------------


def _row(lamp: LampSpec) -> dict[str, object]:
    row = asdict(lamp)
    row["install_date"] = lamp.install_date.isoformat()
    return row


def _write_csv(lamps: list[LampSpec], handle: io.TextIOBase) -> None:
    writer = csv.DictWriter(handle, fieldnames=CSV_COLUMNS)
    writer.writeheader()
    for lamp in lamps:
        writer.writerow(_row(lamp))


def town_to_csv(lamps: list[LampSpec], path: str | Path) -> None:
    """Write the inventory CSV (UTF-8, comma-separated, header `lamp_id,name,lat,...`)."""
    with open(path, "w", newline="", encoding="utf-8") as handle:
        _write_csv(lamps, handle)


def town_to_csv_bytes(lamps: list[LampSpec]) -> bytes:
    """The inventory CSV of `town_to_csv`, in memory."""
    buffer = io.StringIO(newline="")
    _write_csv(lamps, buffer)
    return buffer.getvalue().encode("utf-8")


def town_to_geojson(lamps: list[LampSpec], path: str | Path) -> None:
    """Write the inventory as a GeoJSON FeatureCollection of Points ([lon, lat]) with every field as a property."""
    features = [
        {
            "type": "Feature",
            "id": lamp.lamp_id,
            "geometry": {"type": "Point", "coordinates": [lamp.lon, lamp.lat]},
            "properties": _row(lamp),
        }
        for lamp in lamps
    ]
    with open(path, "w", encoding="utf-8") as handle:
        json.dump({"type": "FeatureCollection", "features": features}, handle, ensure_ascii=False)


# --- Reader ------------------------------------------------------------------


def lamps_from_inventory_file(
    path: str | Path,
    default_rated_power_w: float = 60.0,
    default_install_date: date = date(2018, 1, 1),
) -> list[LampSpec]:
    """Lamps of an inventory file (CSV or GeoJSON, as the service imports it), to simulate a real town.

    Every lamp needs a position (the sun sets on it). A missing wattage or install
    date takes the default; a lamp without a circuit is on a circuit of its own.
    """
    parsed = load_inventory_file(Path(path))
    if parsed.errors:
        raise ValueError(f"{path}: {parsed.bad_rows} bad rows, the first: {parsed.errors[0]}")
    lamps = []
    unplaced = []
    for record in parsed.records:
        if record.lat is None or record.lon is None:
            unplaced.append(record.lamp_id)
            continue
        lamps.append(
            LampSpec(
                lamp_id=record.lamp_id,
                name=record.name,
                lat=float(record.lat),
                lon=float(record.lon),
                street=record.street,
                address=record.address,
                circuit=record.circuit or f"own-{record.lamp_id}",
                group=record.group_name,
                lighting_class=record.lighting_class,
                model=record.model,
                technology=record.technology,
                rated_power_w=record.rated_power_w or default_rated_power_w,
                install_date=record.install_date or default_install_date,
            )
        )
    if unplaced:
        raise ValueError(f"{path}: {len(unplaced)} lamps have no position, e.g. {', '.join(unplaced[:5])}")
    if not lamps:
        raise ValueError(f"{path}: no lamps")
    return lamps
