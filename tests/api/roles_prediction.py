"""The prediction endpoints' rows of the role table (tests/api/test_roles.py): technicians and administrators
read predictions and run work orders and the round; energy managers are refused."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from tests.api.fleet_factories import make_lamp
from tests.api.prediction_factories import add_circuit_prediction, add_prediction, reason
from tests.api.role_kit import Call, field_staff, fixed, page, signed_in_page

SCORED_AT = datetime(2026, 11, 25, 1, 0, tzinfo=UTC)
# One lamp per caller, so that each allowed caller creates (and closes) a work order of its own.
CALLER_LAMPS = {
    "anonymous": "WO-anonymous",
    "technician": "WO-technician",
    "energy_manager": "WO-energy_manager",
    "admin": "WO-admin",
}


def _order(world, caller: str) -> int:
    return world.extra["work_orders"][caller]


# (method, route path) -> (request, expected status per caller); see test_roles.TABLE
TABLE: dict[tuple[str, str], tuple[Any, dict[str, int]]] = {
    ("GET", "/api/v1/predictions"): (fixed("/api/v1/predictions", min_probability=0.5), field_staff(200)),
    ("GET", "/api/v1/predictions/circuits"): (
        fixed("/api/v1/predictions/circuits", min_probability=0.3, street="Rue P"),
        field_staff(200),
    ),
    ("GET", "/api/v1/lamps/{lamp_id}/predictions"): (fixed("/api/v1/lamps/P1/predictions"), field_staff(200)),
    ("GET", "/api/v1/work-orders"): (fixed("/api/v1/work-orders", status="open"), field_staff(200)),
    ("POST", "/api/v1/work-orders"): (
        lambda world, caller: Call("/api/v1/work-orders", {"lamp_id": CALLER_LAMPS[caller], "source": "prediction"}),
        field_staff(201),
    ),
    ("GET", "/api/v1/work-orders/{work_order_id}"): (
        lambda world, caller: Call(f"/api/v1/work-orders/{_order(world, caller)}"),
        field_staff(200),
    ),
    ("PATCH", "/api/v1/work-orders/{work_order_id}"): (
        lambda world, caller: Call(f"/api/v1/work-orders/{_order(world, caller)}", {"notes": f"seen by {caller}"}),
        field_staff(200),
    ),
    ("POST", "/api/v1/work-orders/{work_order_id}/close"): (
        lambda world, caller: Call(f"/api/v1/work-orders/{_order(world, caller)}/close", {"outcome": "false_alarm"}),
        field_staff(200),
    ),
    ("POST", "/api/v1/work-orders/{work_order_id}/cancel"): (
        lambda world, caller: Call(
            f"/api/v1/work-orders/{world.extra['orders_to_cancel'][caller]}/cancel", {"reason": "duplicate"}
        ),
        field_staff(200),
    ),
    ("GET", "/api/v1/round"): (fixed("/api/v1/round", day="2026-11-26"), field_staff(200)),
    ("GET", "/api/v1/round.csv"): (fixed("/api/v1/round.csv", day="2026-11-26"), field_staff(200)),
    # the console's pages
    ("GET", "/predictions"): (page("/predictions"), signed_in_page(field_staff(200))),
    ("GET", "/work-orders"): (page("/work-orders"), signed_in_page(field_staff(200))),
    ("GET", "/round"): (page("/round"), signed_in_page(field_staff(200))),
}


def prepare(conn, world) -> None:
    """A scored lamp P1 on a circuit at risk of a supply loss; per caller, a scored lamp to create a work order
    for, and an open work order (on another lamp) to read, change and close."""
    why = [reason("power_factor", "power factor fell from 0.96 to 0.88 over 10 days")]
    make_lamp(conn, "P1", street="Rue P", circuit="C-P")
    add_prediction(conn, "P1", SCORED_AT, 0.8, why)
    add_circuit_prediction(conn, "C-P", SCORED_AT, 0.5, [reason("voltage_v", "voltage sagged by 9 V")], lamps=1)
    orders, to_cancel = {}, {}
    for caller, lamp_id in CALLER_LAMPS.items():
        make_lamp(conn, lamp_id, street="Rue P")
        add_prediction(conn, lamp_id, SCORED_AT, 0.6, why)
        make_lamp(conn, f"{lamp_id}-2", street="Rue P")
        orders[caller] = conn.execute(
            """INSERT INTO work_orders (lamp_id, source, notes, created_by)
               VALUES (%s, 'manual', 'for the role table', 'admin') RETURNING id""",
            (f"{lamp_id}-2",),
        ).fetchone()[0]
        make_lamp(conn, f"{lamp_id}-3", street="Rue P")
        to_cancel[caller] = conn.execute(
            """INSERT INTO work_orders (lamp_id, source, notes, created_by)
               VALUES (%s, 'manual', 'to call off', 'admin') RETURNING id""",
            (f"{lamp_id}-3",),
        ).fetchone()[0]
    world.extra["work_orders"] = orders
    world.extra["orders_to_cancel"] = to_cancel
