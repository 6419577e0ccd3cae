from __future__ import annotations

import csv
import itertools
import json
import math
import re
from collections import Counter, defaultdict
from datetime import date

import pytest

from core.inventory import load_inventory_file
from simulators.town import (
    CSV_COLUMNS,
    LampSpec,
    generate_town,
    lamps_from_inventory_file,
    town_to_csv,
    town_to_csv_bytes,
    town_to_geojson,
)

MAIN_ROAD_TYPES = ("Avenue", "Boulevard", "Cours", "Route")
STREET_TYPES = MAIN_ROAD_TYPES + ("Rue", "Chemin", "Allée", "Impasse", "Passage", "Place")


@pytest.fixture(scope="module")
def town() -> list[LampSpec]:
    return generate_town(1500, seed=1)


def _distance_m(a: LampSpec, b: LampSpec) -> float:
    dy = (a.lat - b.lat) * 111_320.0
    dx = (a.lon - b.lon) * 111_320.0 * math.cos(math.radians(a.lat))
    return math.hypot(dx, dy)


def test_same_seed_same_town_and_other_seed_other_town(town):
    assert generate_town(1500, seed=1) == town
    assert generate_town(1500, seed=2) != town


@pytest.mark.parametrize("n_lamps", [1, 2, 37, 1500])
def test_exact_count_and_sequential_ids(n_lamps):
    lamps = generate_town(n_lamps, seed=3)
    assert len(lamps) == n_lamps
    assert [lamp.lamp_id for lamp in lamps] == [f"L{i:05d}" for i in range(1, n_lamps + 1)]


def test_rejects_an_empty_town():
    with pytest.raises(ValueError):
        generate_town(0)


def test_lamps_stand_around_the_centre(town):
    lats = [lamp.lat for lamp in town]
    lons = [lamp.lon for lamp in town]
    assert abs(sum(lats) / len(lats) - 45.76) < 0.02
    assert abs(sum(lons) / len(lons) - 4.84) < 0.03
    moved = generate_town(10, seed=1, center_lat=48.85, center_lon=2.35)
    assert all(abs(lamp.lat - 48.85) < 0.05 and abs(lamp.lon - 2.35) < 0.05 for lamp in moved)


def test_french_street_names_and_addresses(town):
    for lamp in town:
        assert lamp.street.split(" ", 1)[0] in STREET_TYPES, lamp.street
        assert re.fullmatch(r"\d+ " + re.escape(lamp.street), lamp.address), lamp.address
        assert lamp.street in lamp.name
    assert len({lamp.street for lamp in town}) > 50


def test_lamps_are_spaced_25_to_40_m_along_a_street(town):
    gaps = [_distance_m(a, b) for a, b in itertools.pairwise(town) if a.street == b.street and a.group == b.group]
    assert len(gaps) > 1000
    gaps.sort()
    median = gaps[len(gaps) // 2]
    assert 25.0 <= median <= 40.0
    # Winding chemins bring lamps a little closer, jitter a little farther.
    assert gaps[len(gaps) // 50] > 15.0 and gaps[-len(gaps) // 50] < 45.0


def test_circuits_hold_20_to_60_consecutive_lamps_of_one_district(town):
    sizes = Counter(lamp.circuit for lamp in town)
    assert all(20 <= size <= 60 for size in sizes.values()), sizes
    runs = [town[0].circuit]
    for lamp in town[1:]:
        if lamp.circuit != runs[-1]:
            runs.append(lamp.circuit)
    assert len(runs) == len(sizes), "a circuit's lamps must be consecutive (fed one after another)"
    districts = defaultdict(set)
    for lamp in town:
        districts[lamp.circuit].add(lamp.group)
    assert all(len(groups) == 1 for groups in districts.values())


def test_en13201_classes_m_on_main_roads_p_on_residential_streets(town):
    for lamp in town:
        is_main = lamp.street.split(" ", 1)[0] in MAIN_ROAD_TYPES
        assert lamp.lighting_class in (("M3", "M4", "M5") if is_main else ("P3", "P4", "P5")), lamp
    classes = Counter(lamp.lighting_class for lamp in town)
    assert classes["M3"] + classes["M4"] > 0 and classes["P3"] + classes["P4"] + classes["P5"] > 0


def test_luminaire_mix_mostly_led_some_older_hps(town):
    tech = Counter(lamp.technology for lamp in town)
    assert set(tech) == {"LED", "HPS"}
    assert 0.03 < tech["HPS"] / len(town) < 0.25
    for lamp in town:
        if lamp.technology == "LED":
            assert 30 <= lamp.rated_power_w <= 150
        else:
            assert 70 <= lamp.rated_power_w <= 150
            assert (date(2026, 1, 1) - lamp.install_date).days > 8 * 365
    assert len({lamp.model for lamp in town}) >= 6


def test_install_dates_spread_over_about_15_years(town):
    dates = sorted(lamp.install_date for lamp in town)
    assert dates[-1] <= date(2026, 1, 1)
    assert (dates[-1] - dates[0]).days > 12 * 365
    assert (dates[-1] - dates[0]).days < 16 * 365


def test_generates_a_city_of_100000_distinct_lamps():
    lamps = generate_town(100_000, seed=5)
    assert len(lamps) == 100_000 and len({lamp.lamp_id for lamp in lamps}) == 100_000


def test_csv_is_the_inventory_format(town, tmp_path):
    path = tmp_path / "town.csv"
    town_to_csv(town[:200], path)
    with open(path, newline="", encoding="utf-8") as handle:
        rows = list(csv.reader(handle))
    assert rows[0] == list(CSV_COLUMNS)
    assert ",".join(rows[0]) == (
        "lamp_id,name,lat,lon,street,address,circuit,group,lighting_class,model,technology,rated_power_w,install_date"
    )
    assert len(rows) == 201
    assert rows[1][0] == "L00001" and rows[1][-1] == town[0].install_date.isoformat()

    parsed = load_inventory_file(path)
    assert parsed.errors == []
    assert [r.lamp_id for r in parsed.records] == [lamp.lamp_id for lamp in town[:200]]
    first = parsed.records[0]
    assert (first.lat, first.lon, first.circuit, first.group_name) == (
        town[0].lat,
        town[0].lon,
        town[0].circuit,
        town[0].group,
    )


def test_geojson_is_a_feature_collection_of_points(town, tmp_path):
    path = tmp_path / "town.geojson"
    town_to_geojson(town[:200], path)
    document = json.loads(path.read_text(encoding="utf-8"))
    assert document["type"] == "FeatureCollection"
    assert len(document["features"]) == 200
    feature = document["features"][0]
    assert feature["geometry"] == {"type": "Point", "coordinates": [town[0].lon, town[0].lat]}
    assert set(feature["properties"]) == set(CSV_COLUMNS)
    assert feature["properties"]["street"] == town[0].street

    parsed = load_inventory_file(path)
    assert parsed.errors == []
    assert parsed.records[5].lamp_id == town[5].lamp_id
    assert parsed.records[5].rated_power_w == town[5].rated_power_w


def test_csv_bytes_match_the_file(town, tmp_path):
    path = tmp_path / "town.csv"
    town_to_csv(town[:50], path)
    assert town_to_csv_bytes(town[:50]) == path.read_bytes()


@pytest.mark.parametrize("suffix", [".csv", ".geojson"])
def test_an_inventory_file_reads_back_as_the_same_lamps(town, tmp_path, suffix):
    path = tmp_path / f"town{suffix}"
    (town_to_csv if suffix == ".csv" else town_to_geojson)(town[:300], path)
    assert lamps_from_inventory_file(path) == town[:300]


def test_an_inventory_without_wattage_or_circuit_still_simulates(tmp_path):
    path = tmp_path / "sparse.csv"
    path.write_text("lamp_id,lat,lon,technology\nA-1,45.76,4.84,HPS\nA-2,45.761,4.841,\n", encoding="utf-8")
    lamps = lamps_from_inventory_file(path)
    assert [lamp.technology for lamp in lamps] == ["HPS", "LED"]
    assert all(lamp.rated_power_w > 0 and lamp.install_date for lamp in lamps)
    assert lamps[0].circuit != lamps[1].circuit
    path.write_text("lamp_id,lat,lon\nA-1,,\n", encoding="utf-8")
    with pytest.raises(ValueError, match="no position"):
        lamps_from_inventory_file(path)
