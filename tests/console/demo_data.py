"""A demo town for the console's tests: inventory, a day of readings, events, controllers, accounts.

The readings come from the fleet simulator, written straight into the tables in
bulk (the ingester has tests of its own); a few lamps are then made faulty, under
repair, offline or never heard of, so that every list and colour has something in it.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import psycopg

import accounts
from core import inventory
from core.vocabulary import Role
from simulators.engine import READING_FIELDS, FleetSimulator
from simulators.town import generate_town, town_to_csv_bytes

PASSWORD = "console-test-password"  # long enough for the password policy
ACCOUNTS = {  # username -> (role, locale)
    "tech": (Role.TECHNICIAN, "en"),
    "energy": (Role.ENERGY_MANAGER, "en"),
    "admin": (Role.ADMIN, "en"),
    "technicien": (Role.TECHNICIAN, "fr"),
}
REPORT_INTERVAL_S = 600.0


@dataclass
class DemoTown:
    lamp_ids: list[str]
    faulty: list[str] = field(default_factory=list)
    under_repair: list[str] = field(default_factory=list)
    offline: list[str] = field(default_factory=list)
    unknown: list[str] = field(default_factory=list)
    readings: int = 0

    @property
    def out(self) -> list[str]:
        """Lamps out as the fleet summary counts them: faulty, or with a failure not yet repaired."""
        return self.faulty + self.under_repair[:1]

    @property
    def size(self) -> int:
        return len(self.lamp_ids)


def load_demo_town(database_url: str, *, lamps: int = 300, hours: float = 26.0, seed: int = 11) -> DemoTown:
    town = generate_town(lamps, seed=seed)
    with psycopg.connect(database_url) as conn:
        inventory.import_inventory(conn, inventory.parse_inventory(town_to_csv_bytes(town), "town.csv"))
        conn.commit()

        end = datetime.now(UTC).replace(second=0, microsecond=0)
        start = end - timedelta(hours=hours)
        simulator = FleetSimulator(town, seed=seed, start=start, report_interval_s=REPORT_INTERVAL_S)
        demo = DemoTown(lamp_ids=[lamp.lamp_id for lamp in town])
        steps = int(hours * 3600 // REPORT_INTERVAL_S)
        events: list[tuple] = []
        with conn.cursor().copy("COPY readings (lamp_id, ts, " + ", ".join(READING_FIELDS) + ") FROM STDIN") as copy:
            for k in range(1, steps + 1):
                step = simulator.step_arrays(start + timedelta(seconds=k * REPORT_INTERVAL_S))
                columns = [step.columns[name].tolist() for name in READING_FIELDS]
                for i, lamp_id in enumerate(step.lamp_ids):
                    if step.offline[i]:
                        continue
                    copy.write_row((lamp_id, step.ts, *(column[i] for column in columns)))
                    demo.readings += 1
                for lamp_id, event in step.events:
                    # Which lamps are out is set below, so that the tests know it.
                    if event["type"] not in ("lamp_failure", "repaired"):
                        events.append((lamp_id, event["ts"], event["type"], json.dumps(event.get("detail"))))
        conn.cursor().executemany(
            "INSERT INTO events (lamp_id, ts, type, detail) VALUES (%s, %s, %s, %s) ON CONFLICT DO NOTHING", events
        )

        # Some lamps out, under repair, silent, and lamp ids nobody commissioned.
        demo.faulty = demo.lamp_ids[5:8]
        demo.under_repair = demo.lamp_ids[20:22]
        demo.offline = demo.lamp_ids[40:44]
        now = datetime.now(UTC)
        # A failure reported, then the lamp put under repair: out until it is repaired.
        for n, lamp_id in enumerate(demo.faulty + demo.under_repair[:1]):
            conn.execute("UPDATE lamps SET state = 'faulty' WHERE lamp_id = %s", (lamp_id,))
            conn.execute(
                "INSERT INTO events (lamp_id, ts, type, detail) VALUES (%s, %s, 'lamp_failure', %s)"
                " ON CONFLICT DO NOTHING",
                (lamp_id, now - timedelta(hours=3 + n), json.dumps({"commanded_level": 100.0, "power_w": 0.4})),
            )
        conn.execute("UPDATE lamps SET state = 'under_repair' WHERE lamp_id = ANY(%s)", (demo.under_repair,))
        conn.execute(
            "INSERT INTO lamp_status (lamp_id, online, changed_at) SELECT lamp_id, true, %s FROM lamps"
            " ON CONFLICT (lamp_id) DO UPDATE SET online = excluded.online, changed_at = excluded.changed_at",
            (start,),
        )
        conn.execute(
            "UPDATE lamp_status SET online = false, changed_at = %s WHERE lamp_id = ANY(%s)",
            (now - timedelta(hours=2), demo.offline),
        )
        demo.unknown = ["X-9001", "X-9002"]
        for n, lamp_id in enumerate(demo.unknown):
            conn.execute(
                """INSERT INTO unknown_lamps (lamp_id, first_seen_at, last_seen_at, message_count, last_topic)
                   VALUES (%s, %s, %s, %s, %s)""",
                (
                    lamp_id,
                    now - timedelta(days=2 + n),
                    now - timedelta(minutes=10 * (n + 1)),
                    40 + n,
                    f"streetlight/v1/lamps/{lamp_id}/telemetry",
                ),
            )

        for username, (role, locale) in ACCOUNTS.items():
            accounts.create_user(conn, username, role, password=PASSWORD, locale=locale)
        conn.commit()
    return demo
