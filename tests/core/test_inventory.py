"""Lamp inventory import: pure parsing tests, then the upsert on every storage backend."""

from __future__ import annotations

import json
import re
from datetime import date, datetime
from pathlib import Path
from typing import Any

import psycopg
import pytest

from core import db
from core.inventory import (
    ImportReport,
    InventoryFormatError,
    InventoryRejected,
    LampRecord,
    ParsedInventory,
    RowError,
    import_inventory,
    load_inventory_file,
    parse_inventory,
)

HEADER = "lamp_id,name,lat,lon,street,circuit,group,technology,rated_power_w,install_date"


def csv_bytes(*lines: str, newline: str = "\n") -> bytes:
    return (newline.join(lines) + newline).encode("utf-8")


def feature(lamp_id: str | None, lon: float, lat: float, **properties: Any) -> dict[str, Any]:
    if lamp_id is not None:
        properties["lamp_id"] = lamp_id
    return {"type": "Feature", "geometry": {"type": "Point", "coordinates": [lon, lat]}, "properties": properties}


def geojson_bytes(*features: Any) -> bytes:
    return json.dumps({"type": "FeatureCollection", "features": list(features)}).encode()


def reasons(parsed: ParsedInventory) -> list[tuple[int, str | None, str]]:
    return [(error.line, error.lamp_id, error.reason) for error in parsed.errors]


# ---------------------------------------------------------------------------
# CSV parsing


def test_csv_row_becomes_a_record_with_every_field() -> None:
    parsed = parse_inventory(
        csv_bytes(
            "Lamp_ID,Name,Latitude,LONGITUDE,street,address,circuit,Group,lighting_class,model,"
            "technology,rated_power_w,install_date,state,pole_height_m,owner",
            "L00001,Quai 1,45.7601,4.8357,Quai Saint-Vincent,12 Quai Saint-Vincent,C7,quays,M4,Philips X,"
            "hps,150,2019-06-30,Faulty,8,",
        ),
        "lamps.csv",
    )

    assert parsed.errors == []
    assert parsed.format == "csv"
    assert parsed.records == [
        LampRecord(
            lamp_id="L00001",
            name="Quai 1",
            lat=45.7601,
            lon=4.8357,
            street="Quai Saint-Vincent",
            address="12 Quai Saint-Vincent",
            circuit="C7",
            group_name="quays",
            lighting_class="M4",
            model="Philips X",
            technology="HPS",
            rated_power_w=150.0,
            install_date=date(2019, 6, 30),
            state="faulty",
            properties={"pole_height_m": "8"},  # the empty owner cell is not given
        )
    ]
    assert "properties" in parsed.columns and "group_name" in parsed.columns


def test_csv_empty_cells_are_not_given_and_technology_defaults_to_led() -> None:
    parsed = parse_inventory(csv_bytes(HEADER, "L1,,,,,,,,,"), "lamps.csv")

    assert parsed.errors == []
    assert parsed.records == [LampRecord(lamp_id="L1")]
    assert parsed.records[0].technology == "LED"
    assert parsed.records[0].state is None
    assert "properties" not in parsed.columns


def test_csv_semicolon_decimal_comma_and_bom() -> None:
    data = csv_bytes(
        "\ufefflamp_id;name;lat;lon;rated_power_w",
        "L1;Place Bellecour;45,7578;4,8320;52,5",
        "L2;x;45.1;4.2;70",
        newline="\r\n",
    )
    assert data.startswith(b"\xef\xbb\xbf")

    parsed = parse_inventory(data, "export.csv")

    assert parsed.errors == []
    assert [(r.lamp_id, r.name, r.lat, r.lon, r.rated_power_w) for r in parsed.records] == [
        ("L1", "Place Bellecour", 45.7578, 4.8320, 52.5),
        ("L2", "x", 45.1, 4.2, 70.0),
    ]


def test_decimal_comma_is_refused_in_comma_separated_files() -> None:
    parsed = parse_inventory(csv_bytes("lamp_id,lat,lon", 'L1,"45,7",4.8'), "lamps.csv")

    assert reasons(parsed) == [(2, "L1", "lat '45,7' is not a number")]


@pytest.mark.parametrize(
    ("row", "lamp_id", "reason"),
    [
        ("L1,,91.2,4.8,,,,,,", "L1", "lat 91.2 is outside -90..90"),
        ("L1,,45,-180.5,,,,,,", "L1", "lon -180.5 is outside -180..180"),
        ("L1,,45,,,,,,,", "L1", "lat is given but lon is missing (give both or neither)"),
        ("L1,,abc,4,,,,,,", "L1", "lat 'abc' is not a number"),
        ('"a b",,,,,,,,,', "a b", "lamp_id 'a b' must match [A-Za-z0-9_.-]{1,64}"),
        ("L" + "x" * 64 + ",,,,,,,,,", "L" + "x" * 64, f"lamp_id 'L{'x' * 64}' must match [A-Za-z0-9_.-]{{1,64}}"),
        (",Rue,,,,,,,,", None, "missing lamp_id"),
        ("L1,,,,,,,,0,", "L1", "rated_power_w must be a number > 0 (got 0)"),
        ("L1,,,,,,,,lots,", "L1", "rated_power_w must be a number > 0 (got 'lots')"),
        ("L1,,,,,,,,20000,", "L1", "rated_power_w 20000 is above the 10000 W limit"),
        ("L1,,,,,,,,,2020-13-01", "L1", "install_date '2020-13-01' is not a date (YYYY-MM-DD)"),
        ("L1,,,,,,,,,31/01/2020", "L1", "install_date '31/01/2020' is not a date (YYYY-MM-DD)"),
        ("L1,,,,,,,XYZ,,", "L1", "technology 'XYZ' is not one of LED, HPS, LPS, MH, CFL, OTHER"),
        ("L1,,,,,,,,,,surplus", "L1", "the row has 11 cells but the header has 10"),
    ],
)
def test_bad_csv_rows_are_named_with_line_and_reason(row: str, lamp_id: str | None, reason: str) -> None:
    parsed = parse_inventory(csv_bytes(HEADER, "L0,,,,,,,,,", row), "lamps.csv")

    assert [r.lamp_id for r in parsed.records] == ["L0"]
    assert reasons(parsed) == [(3, lamp_id, reason)]


@pytest.mark.parametrize(
    ("row", "lamp_id", "reason"),
    [
        ("L1,Rue\x00,,,", "L1", "name contains a NUL character"),
        ("L\x001,,,,", "L\\u00001", "lamp_id contains a NUL character"),
        ("L1,,LED\x00,,", "L1", "technology 'LED\\x00' is not one of LED, HPS, LPS, MH, CFL, OTHER"),
        ("L1,,,,P\x00-1", "L1", "pole contains a NUL character"),
        ("L1,,,1e-300,", "L1", "rated_power_w 1e-300 is too small to store (a real column holds from 1.4e-45)"),
        ("L1,,,5e-324,", "L1", "rated_power_w 5e-324 is too small to store (a real column holds from 1.4e-45)"),
    ],
)
def test_what_its_column_cannot_hold_is_a_line_error_naming_the_field(row: str, lamp_id: str, reason: str) -> None:
    parsed = parse_inventory(csv_bytes("lamp_id,name,technology,rated_power_w,pole", "L0,,,1.4e-45,", row), "lamps.csv")

    assert [(r.lamp_id, r.rated_power_w) for r in parsed.records] == [("L0", 1.4e-45)]
    assert reasons(parsed) == [(3, lamp_id, reason)]


def test_nul_in_a_column_name_is_a_line_error_of_each_row_using_it() -> None:
    parsed = parse_inventory(csv_bytes("lamp_id,po\x00le", "L1,", "L2,P-2"), "lamps.csv")

    assert [r.lamp_id for r in parsed.records] == ["L1"]
    assert reasons(parsed) == [(3, "L2", "po\\u0000le has a NUL character in its name")]


def test_a_row_with_several_problems_reports_each_and_counts_once() -> None:
    parsed = parse_inventory(csv_bytes(HEADER, "L1,,91,4,,,,XYZ,-3,"), "lamps.csv")

    assert [error.reason for error in parsed.errors] == [
        "lat 91 is outside -90..90",
        "technology 'XYZ' is not one of LED, HPS, LPS, MH, CFL, OTHER",
        "rated_power_w must be a number > 0 (got -3)",
    ]
    assert parsed.bad_rows == 1
    assert str(parsed.errors[0]) == "line 2 (L1): lat 91 is outside -90..90"


def test_state_must_be_known() -> None:
    parsed = parse_inventory(csv_bytes("lamp_id,state", "L1,broken", "L2,Under_Repair"), "lamps.csv")

    assert reasons(parsed) == [
        (2, "L1", "state 'broken' is not one of planned, in_service, faulty, under_repair, retired")
    ]
    assert parsed.records[0].state == "under_repair"


def test_duplicate_lamp_id_names_the_first_line() -> None:
    parsed = parse_inventory(csv_bytes("lamp_id,name", "L00012,a", "L2,b", "", "L00012,c"), "lamps.csv")

    assert [r.name for r in parsed.records] == ["a", "b"]
    assert reasons(parsed) == [(5, "L00012", "duplicate lamp_id L00012 (first on line 2)")]


def test_line_numbers_count_blank_lines_and_multi_line_cells() -> None:
    data = csv_bytes("lamp_id,name,lat,lon", 'L1,"two', 'lines",45,4', "", ",,,", "L2,x,95,4")
    parsed = parse_inventory(data, "lamps.csv")

    assert parsed.records[0].name == "two\nlines"
    assert reasons(parsed) == [(6, "L2", "lat 95 is outside -90..90")]


def test_unknown_and_database_columns() -> None:
    parsed = parse_inventory(
        csv_bytes("lamp_id,Pole Type,created_at,updated_at", "L1,steel,2024-01-01,2024-01-02"), "lamps.csv"
    )

    assert parsed.errors == []
    assert parsed.records[0].properties == {"Pole Type": "steel"}


@pytest.mark.parametrize(
    ("header", "message"),
    [
        ("name,lat,lon", "no lamp_id column"),
        ("lamp_id,lat", "has a lat column but no lon column"),
        ("lamp_id,lat,latitude,lon", "columns 'lat' and 'latitude' are the same column (lat)"),
        ("lamp_id,group,Group_Name", "columns 'group' and 'Group_Name' are the same column (group_name)"),
    ],
)
def test_bad_header_rejects_the_file(header: str, message: str) -> None:
    with pytest.raises(InventoryFormatError, match=re.escape(message)):
        parse_inventory(csv_bytes(header, "L1,1,2"), "lamps.csv")


def test_empty_file_is_rejected() -> None:
    with pytest.raises(InventoryFormatError, match="empty"):
        parse_inventory(b"", "lamps.csv")


def test_broken_quoting_is_a_file_error() -> None:
    with pytest.raises(InventoryFormatError, match="line 2: the file is not valid CSV"):
        parse_inventory(csv_bytes("lamp_id,name", 'L1,"unclosed" x'), "lamps.csv")


def test_non_utf8_bytes_reject_the_file_with_the_offset() -> None:
    data = b"lamp_id;name\nL1;Pl" + "ace de l'Église\n".encode("cp1252")
    offset = data.index(b"\xc9")

    with pytest.raises(InventoryFormatError) as caught:
        parse_inventory(data, "lamps.csv")

    assert caught.value.byte_offset == offset
    assert f"byte 0xC9 at offset {offset} (line 2)" in str(caught.value)


def test_offset_counts_the_bom() -> None:
    data = b"\xef\xbb\xbflamp_id\n\xff\n"

    with pytest.raises(InventoryFormatError) as caught:
        parse_inventory(data, "lamps.csv")

    assert caught.value.byte_offset == 11


# ---------------------------------------------------------------------------
# Format choice


@pytest.mark.parametrize(
    ("filename", "fmt", "expected"),
    [
        ("lamps.csv", None, "csv"),
        ("LAMPS.CSV", None, "csv"),
        ("lamps.geojson", None, "geojson"),
        ("lamps.json", None, "geojson"),
        ("lamps.txt", "csv", "csv"),
        ("lamps.csv", "GeoJSON", "geojson"),
    ],
)
def test_format_from_option_or_extension(filename: str, fmt: str | None, expected: str) -> None:
    data = csv_bytes("lamp_id", "L1") if expected == "csv" else geojson_bytes(feature("L1", 4.8, 45.7))

    assert parse_inventory(data, filename, fmt).format == expected


def test_unknown_extension_or_format_is_an_error() -> None:
    with pytest.raises(InventoryFormatError, match="cannot tell the format of 'lamps.txt'"):
        parse_inventory(b"lamp_id\nL1\n", "lamps.txt")
    with pytest.raises(InventoryFormatError, match="unknown inventory format 'xlsx'"):
        parse_inventory(b"lamp_id\nL1\n", "lamps.csv", "xlsx")


def test_load_inventory_file_reads_the_path(tmp_path: Path) -> None:
    path = tmp_path / "lamps.geojson"
    path.write_bytes(geojson_bytes(feature("L1", 4.8, 45.7)))

    assert [r.lamp_id for r in load_inventory_file(path).records] == ["L1"]


# ---------------------------------------------------------------------------
# GeoJSON parsing


def test_geojson_features_become_records() -> None:
    with_id = {
        "type": "Feature",
        "id": "L2",
        "geometry": {"type": "Point", "coordinates": [4.85, 45.76, 170.0]},
        "properties": {"Group": "park", "rated_power_w": 35, "circuit": 12, "install_date": "2021-03-04"},
    }
    parsed = parse_inventory(
        geojson_bytes(
            feature("L1", 4.8357, 45.7601, name="Quai", technology="MH", state="planned", pole={"h_m": 8}),
            with_id,
        ),
        "lamps.geojson",
    )

    assert parsed.errors == []
    assert parsed.records == [
        LampRecord(
            lamp_id="L1",
            name="Quai",
            lat=45.7601,
            lon=4.8357,
            technology="MH",
            state="planned",
            properties={"pole": {"h_m": 8}},
        ),
        LampRecord(
            lamp_id="L2",
            lat=45.76,
            lon=4.85,
            circuit="12",
            group_name="park",
            rated_power_w=35.0,
            install_date=date(2021, 3, 4),
        ),
    ]
    assert {"lamp_id", "lat", "lon", "name", "group_name", "properties"} <= parsed.columns
    assert "street" not in parsed.columns


def test_bad_geojson_features_are_named_by_number() -> None:
    line_string = feature("L3", 4.8, 45.7)
    line_string["geometry"] = {"type": "LineString", "coordinates": [[4.8, 45.7], [4.9, 45.8]]}
    no_geometry = feature("L4", 4.8, 45.7)
    no_geometry["geometry"] = None
    parsed = parse_inventory(
        geojson_bytes(
            feature("L1", 4.8, 45.7),
            feature("L2", 4.8, 91.2),
            line_string,
            no_geometry,
            "not a feature",
            feature(None, 4.8, 45.7),
            feature("L1", 4.9, 45.8),
            feature("L8", 4.8, 45.7, rated_power_w=-1),
        ),
        "lamps.geojson",
    )

    assert [r.lamp_id for r in parsed.records] == ["L1"]
    assert reasons(parsed) == [
        (2, "L2", "lat 91.2 is outside -90..90"),
        (3, "L3", "geometry is 'LineString', not a Point"),
        (4, "L4", "has no geometry: a Point with coordinates [lon, lat] is needed"),
        (5, None, "is not a GeoJSON Feature"),
        (5, None, "missing lamp_id"),
        (6, None, "missing lamp_id"),
        (7, "L1", "duplicate lamp_id L1 (first in feature 1)"),
        (8, "L8", "rated_power_w must be a number > 0 (got -1)"),
    ]
    assert str(parsed.errors[0]) == "feature 2 (L2): lat 91.2 is outside -90..90"


def test_geojson_values_their_columns_cannot_hold_are_feature_errors() -> None:
    data = geojson_bytes(
        feature("L1", 4.8, 45.7, owner="Ville\x00"),
        feature("L2", 4.8, 45.7, rated_power_w=5e-324),
        feature("L3", 4.8, 45.7, vendor={"fl\x00ags": [1]}),
        feature("L4", 4.8, 45.7, vendor={"flags": [1, "infinite"]}),
        feature("L5", 4.8, 45.7, rated_power_w=54),
    ).replace(b'"infinite"', b"1e400")

    parsed = parse_inventory(data, "lamps.geojson")

    assert [r.lamp_id for r in parsed.records] == ["L5"]
    assert reasons(parsed) == [
        (1, "L1", "owner contains a NUL character"),
        (2, "L2", "rated_power_w 5e-324 is too small to store (a real column holds from 1.4e-45)"),
        (3, "L3", "vendor.fl\\u0000ags has a NUL character in its name"),
        (4, "L4", "vendor.flags.1 is not a finite number"),
    ]


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b'{"type": "FeatureCollection", "features": ' + b"[" * 100_000 + b"]" * 100_000 + b"}", "nested too deeply"),
        (b"{not json", "not valid JSON"),
        (b'{"type": "FeatureCollection", "features": [NaN]}', "not valid JSON"),
        (b'{"type": "Feature", "geometry": null}', "not a GeoJSON FeatureCollection"),
        (b"[1, 2]", "not a GeoJSON FeatureCollection"),
        (b'{"type": "FeatureCollection"}', "no 'features' list"),
    ],
)
def test_geojson_file_errors(data: bytes, message: str) -> None:
    with pytest.raises(InventoryFormatError, match=message):
        parse_inventory(data, "lamps.geojson")


# ---------------------------------------------------------------------------
# Import into the database (every storage backend)


@pytest.fixture
def conn(database_url: str):
    with db.connect(database_url) as connection:
        yield connection


def lamps(conn: psycopg.Connection) -> dict[str, tuple[Any, ...]]:
    rows = conn.execute(
        "SELECT lamp_id, name, lat, lon, street, circuit, group_name, technology, rated_power_w,"
        " install_date, state, properties FROM lamps ORDER BY lamp_id"
    ).fetchall()
    conn.commit()
    return {row[0]: row[1:] for row in rows}


def counts(report: ImportReport) -> tuple[int, int, int, int]:
    return report.inserted, report.updated, report.unchanged, report.skipped


THREE_LAMPS = csv_bytes(
    HEADER + ",pole",
    "L1,Quai 1,45.7601,4.8357,Quai Saint-Vincent,C1,quays,LED,52.5,2019-06-30,P-1",
    "L2,Quai 2,45.7605,4.8360,Quai Saint-Vincent,C1,quays,HPS,150,,",
    "L3,,,,,C2,,,,,",
)


def test_import_inserts_then_reimport_changes_nothing(conn: psycopg.Connection) -> None:
    parsed = parse_inventory(THREE_LAMPS, "lamps.csv")

    assert counts(import_inventory(conn, parsed)) == (3, 0, 0, 0)
    stored = lamps(conn)
    assert stored["L1"] == (
        "Quai 1",
        45.7601,
        4.8357,
        "Quai Saint-Vincent",
        "C1",
        "quays",
        "LED",
        52.5,
        date(2019, 6, 30),
        "in_service",
        {"pole": "P-1"},
    )
    assert stored["L3"] == ("", None, None, "", "C2", "", "LED", None, None, "in_service", {})
    stamps = conn.execute("SELECT lamp_id, updated_at FROM lamps ORDER BY lamp_id").fetchall()
    conn.commit()

    again = import_inventory(conn, parse_inventory(THREE_LAMPS, "lamps.csv"))

    assert counts(again) == (0, 0, 3, 0)
    assert lamps(conn) == stored
    assert conn.execute("SELECT lamp_id, updated_at FROM lamps ORDER BY lamp_id").fetchall() == stamps


# Each row's (xmin, xmax): a new version of the row, or a lock taken on it, changes them.
ROW_VERSIONS = {
    "lamps": "SELECT lamp_id, xmin::text, xmax::text FROM lamps",
    "lamp_status": "SELECT lamp_id, xmin::text, xmax::text FROM lamp_status",
}


def row_versions(conn: psycopg.Connection) -> dict[str, dict[str, tuple[str, str]]]:
    versions = {
        table: {row[0]: (row[1], row[2]) for row in conn.execute(query)} for table, query in ROW_VERSIONS.items()
    }
    conn.commit()
    return versions


def test_an_unchanged_reimport_writes_and_locks_nothing(conn: psycopg.Connection) -> None:
    import_inventory(conn, parse_inventory(THREE_LAMPS, "lamps.csv"))
    before = row_versions(conn)

    report = import_inventory(conn, parse_inventory(THREE_LAMPS, "lamps.csv"))

    assert counts(report) == (0, 0, 3, 0)
    assert row_versions(conn) == before


def test_a_changed_lamp_is_the_only_row_written(conn: psycopg.Connection) -> None:
    import_inventory(conn, parse_inventory(THREE_LAMPS, "lamps.csv"))
    before = row_versions(conn)
    changed = THREE_LAMPS.replace(b"4.8360,Quai Saint-Vincent", b"4.8360,Quai Rolland")

    report = import_inventory(conn, parse_inventory(changed, "lamps.csv"))

    assert counts(report) == (0, 1, 2, 0)
    after = row_versions(conn)
    touched = {lamp_id for lamp_id, version in after["lamps"].items() if version != before["lamps"][lamp_id]}
    assert touched == {"L2"}
    assert after["lamps"]["L2"][0] != before["lamps"]["L2"][0]  # a new version, not only a lock
    assert after["lamp_status"] == before["lamp_status"]


def test_lamps_take_the_states_their_controllers_reported_before_the_import(conn: psycopg.Connection) -> None:
    # Controllers often report before the inventory lists them; the statistics then say the
    # status table is small, as autovacuum leaves them after the first reports.
    conn.execute("INSERT INTO lamp_status (lamp_id, online) VALUES ('L1', true), ('L3', false), ('U9', true)")
    conn.execute("ANALYZE lamp_status")
    conn.commit()

    report = import_inventory(conn, parse_inventory(THREE_LAMPS, "lamps.csv"))

    assert counts(report) == (3, 0, 0, 0)
    states = conn.execute(
        "SELECT s.lamp_id, l.online, s.online FROM lamp_status s LEFT JOIN lamps l USING (lamp_id) ORDER BY 1"
    ).fetchall()
    assert states == [("L1", True, True), ("L2", None, None), ("L3", False, False), ("U9", None, True)]


def test_changed_field_updates_only_that_lamp(conn: psycopg.Connection) -> None:
    import_inventory(conn, parse_inventory(THREE_LAMPS, "lamps.csv"))
    before: dict[str, datetime] = dict(conn.execute("SELECT lamp_id, updated_at FROM lamps").fetchall())
    conn.commit()
    changed = THREE_LAMPS.replace(b"4.8360,Quai Saint-Vincent", b"4.8360,Quai Rolland")

    report = import_inventory(conn, parse_inventory(changed + b"L4,new,,,,,,,,,\n", "lamps.csv"))

    assert counts(report) == (1, 1, 2, 0)
    assert lamps(conn)["L2"][3] == "Quai Rolland"
    after: dict[str, datetime] = dict(conn.execute("SELECT lamp_id, updated_at FROM lamps").fetchall())
    assert after["L2"] > before["L2"]
    assert after["L1"] == before["L1"] and after["L3"] == before["L3"]


def test_bad_rows_import_nothing_unless_skip_bad(conn: psycopg.Connection) -> None:
    data = THREE_LAMPS + b"L4,,91.2,4.8,,,,,,,\nL1,dup,,,,,,,,,\n"
    parsed = parse_inventory(data, "lamps.csv")

    with pytest.raises(InventoryRejected) as caught:
        import_inventory(conn, parsed)

    assert [str(error) for error in caught.value.errors] == [
        "line 5 (L4): lat 91.2 is outside -90..90",
        "line 6 (L1): duplicate lamp_id L1 (first on line 2)",
    ]
    assert "2 rows of the inventory have errors; nothing was imported" in str(caught.value)
    assert lamps(conn) == {}

    report = import_inventory(conn, parsed, skip_bad=True)

    assert counts(report) == (3, 0, 0, 2)
    assert report.errors == parsed.errors
    assert sorted(lamps(conn)) == ["L1", "L2", "L3"]
    assert lamps(conn)["L1"][0] == "Quai 1"  # the first listing of a duplicate is the one kept


def test_rows_their_columns_cannot_hold_never_reach_the_database(conn: psycopg.Connection) -> None:
    import_inventory(conn, parse_inventory(THREE_LAMPS, "lamps.csv"))
    before = lamps(conn)
    data = csv_bytes(
        HEADER + ",pole",
        "L1,Quai 1 bis,45.7601,4.8357,Quai Saint-Vincent,C1,quays,LED,1e-300,2019-06-30,P-1",
        "L2,Quai\x00 2,45.7605,4.8360,Quai Saint-Vincent,C1,quays,HPS,150,,",
        "L3,,,,,C2,,,,,P\x00",
        "L4,Quai 4,,,,C2,,,54,,",
    )
    parsed = parse_inventory(data, "lamps.csv")

    with pytest.raises(InventoryRejected) as caught:
        import_inventory(conn, parsed)

    assert [str(error) for error in caught.value.errors] == [
        "line 2 (L1): rated_power_w 1e-300 is too small to store (a real column holds from 1.4e-45)",
        "line 3 (L2): name contains a NUL character",
        "line 4 (L3): pole contains a NUL character",
    ]
    assert lamps(conn) == before

    assert counts(import_inventory(conn, parsed, skip_bad=True)) == (1, 0, 0, 3)
    assert lamps(conn) == before | {"L4": lamps(conn)["L4"]}


def test_a_database_failure_imports_nothing(conn: psycopg.Connection) -> None:
    # Built by hand to get past parse_inventory's checks: the table's CHECK refuses lat 100.
    parsed = ParsedInventory(records=[LampRecord("L1"), LampRecord("L2", lat=100.0, lon=4.0)], errors=[])

    with pytest.raises(psycopg.errors.CheckViolation):
        import_inventory(conn, parsed)
    conn.rollback()

    assert lamps(conn) == {}


def test_pending_unknown_lamps_in_the_inventory_are_commissioned(conn: psycopg.Connection) -> None:
    conn.execute(
        "INSERT INTO unknown_lamps (lamp_id, status) VALUES ('L1', 'pending'), ('L2', 'dismissed'), ('L9', 'pending')"
    )
    conn.commit()

    report = import_inventory(conn, parse_inventory(THREE_LAMPS, "lamps.csv"))

    assert report.commissioned == 1
    status: dict[str, str] = dict(conn.execute("SELECT lamp_id, status FROM unknown_lamps").fetchall())
    assert status == {"L1": "commissioned", "L2": "dismissed", "L9": "pending"}


def test_state_is_kept_unless_the_file_gives_one(conn: psycopg.Connection) -> None:
    import_inventory(conn, parse_inventory(THREE_LAMPS, "lamps.csv"))
    conn.execute("UPDATE lamps SET state = 'faulty' WHERE lamp_id = 'L2'")
    conn.commit()

    assert counts(import_inventory(conn, parse_inventory(THREE_LAMPS, "lamps.csv"))) == (0, 0, 3, 0)
    with_state = csv_bytes("lamp_id,state", "L1,", "L2,", "L3,retired")
    assert counts(import_inventory(conn, parse_inventory(with_state, "lamps.csv"))) == (0, 1, 2, 0)

    assert {lamp_id: row[9] for lamp_id, row in lamps(conn).items()} == {
        "L1": "in_service",
        "L2": "faulty",
        "L3": "retired",
    }


def test_columns_missing_from_the_file_are_left_alone(conn: psycopg.Connection) -> None:
    import_inventory(conn, parse_inventory(THREE_LAMPS, "lamps.csv"))
    before = lamps(conn)

    report = import_inventory(conn, parse_inventory(csv_bytes("lamp_id,circuit", "L1,C9", "L2,C1"), "lamps.csv"))

    assert counts(report) == (0, 1, 1, 0)
    after = lamps(conn)
    assert after["L1"] == before["L1"][:4] + ("C9",) + before["L1"][5:]
    assert after["L2"] == before["L2"]


def test_empty_cells_clear_a_column_the_file_has(conn: psycopg.Connection) -> None:
    import_inventory(conn, parse_inventory(THREE_LAMPS, "lamps.csv"))

    report = import_inventory(conn, parse_inventory(csv_bytes("lamp_id,name,lat,lon,pole", "L1,,,,"), "lamps.csv"))

    assert counts(report) == (0, 1, 0, 0)
    name, lat, lon, *_, properties = lamps(conn)["L1"]
    assert (name, lat, lon, properties) == ("", None, None, {})


def test_geojson_import(conn: psycopg.Connection) -> None:
    data = geojson_bytes(
        feature("L1", 4.8357, 45.7601, name="Quai", rated_power_w=52.5, pole={"h_m": 8}),
        feature("L2", 4.8360, 45.7605, technology="CFL"),
        feature("L3", 4.8360, -95.0),
    )
    parsed = parse_inventory(data, "lamps.geojson")

    report = import_inventory(conn, parsed, skip_bad=True)

    assert counts(report) == (2, 0, 0, 1)
    assert report.errors == [RowError(3, "L3", "lat -95.0 is outside -90..90", "feature")]
    stored = lamps(conn)
    assert stored["L1"][:3] == ("Quai", 45.7601, 4.8357)
    assert stored["L1"][-1] == {"pole": {"h_m": 8}}
    assert stored["L2"][6] == "CFL"
    assert counts(import_inventory(conn, parsed, skip_bad=True)) == (0, 0, 2, 1)


def test_twenty_thousand_lamps(conn: psycopg.Connection) -> None:
    lamp_count = 20_000
    lines = ["lamp_id;name;lat;lon;circuit;rated_power_w;install_date"]
    for i in range(lamp_count):
        lat = f"{45.70 + (i % 1000) * 0.0001:.6f}".replace(".", ",")
        lines.append(f"L{i:06d};Lamp {i};{lat};4,83;C{i % 40};{40 + i % 7 * 10};2020-01-{1 + i % 28:02d}")
    data = csv_bytes(*lines)

    parsed = parse_inventory(data, "big.csv")
    assert parsed.errors == [] and len(parsed.records) == lamp_count

    assert counts(import_inventory(conn, parsed)) == (lamp_count, 0, 0, 0)
    assert conn.execute("SELECT count(*), count(DISTINCT circuit) FROM lamps").fetchone() == (lamp_count, 40)
    conn.commit()
    assert counts(import_inventory(conn, parsed)) == (0, 0, lamp_count, 0)

    changed = parse_inventory(data.replace(b";Lamp 7;", b";Lamp seven;"), "big.csv")
    assert counts(import_inventory(conn, changed)) == (0, 1, lamp_count - 1, 0)
