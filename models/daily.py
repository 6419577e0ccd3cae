"""The per-lamp, per-day aggregate behind the prediction features (table ``lamp_daily``).

One set-based statement per batch of local days reads that batch's readings and events
once and writes one row per lamp and day: averages, extremes and spreads of the measures,
increases of the cumulative counters, reports received, day burning, event counts, and
each lamp's difference to the median of its circuit that day. Works the same on plain
PostgreSQL and TimescaleDB (no extension function is used).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import psycopg

from core.settings import get_settings

# Event types counted in their own column; any other type goes to ev_other.
EVENT_COLUMNS = {
    "lamp_failure": "ev_lamp_failure",
    "day_burning": "ev_day_burning",
    "cycling": "ev_cycling",
    "driver_fault": "ev_driver_fault",
    "supply_loss": "ev_supply_loss",
    "comm_loss": "ev_comm_loss",
    "repaired": "ev_repaired",
}

# Readings outside this supply range count as out of tolerance (EN 50160: 230 V +- 10 %;
# the 210-250 V rule of cabinet-level monitoring tools).
VOLTAGE_LOW_V = 210.0
VOLTAGE_HIGH_V = 250.0
# A lit reading counts as day burning when the sun is this high (the astronomical clock
# switches off 10 minutes before sunrise, when the sun is still below the horizon).
DAY_SUN_ELEVATION_DEG = 3.0
# Without coordinates, daylight is judged from the lamp's own light sensor.
DAY_LUX = 200.0
# Circuit medians need at least this many lamps with a value that day.
MIN_CIRCUIT_LAMPS = 3
# Local hours [from, to) whose ambient_lux readings give the day's midday light level.
MIDDAY_HOURS = (11, 15)
# Light readings below this are taken as this (log10 of the light level needs a floor).
MIN_LUX = 0.1
# A day's mean gap between readings is an estimate of the report interval from this many readings.
MIN_READINGS_FOR_INTERVAL = 4

_EVENT_COUNTS = ",\n           ".join(
    f"count(*) FILTER (WHERE e.type = '{event_type}') AS {column}" for event_type, column in EVENT_COLUMNS.items()
)
_KNOWN_EVENT_TYPES = ", ".join(f"'{event_type}'" for event_type in EVENT_COLUMNS)
_EVENT_COLUMN_LIST = ", ".join(EVENT_COLUMNS.values())
_EVENT_VALUES = ", ".join(f"coalesce(ev.{column}, 0)" for column in EVENT_COLUMNS.values())

# The sun's elevation at lit reading r of lamp l, degrees, from the day's solar declination
# and hour-angle offset (parameters computed once per day by `sun_day_terms`): the Earth
# turns 1 degree every 240 s.
_DAY_NO = "width_bucket(r.ts, %(midnights)s::timestamptz[])"  # 1 for the batch's first day
_DECLINATION = f"(%(declination_rad)s::float8[])[{_DAY_NO}]"
_HOUR_ANGLE_DEG = f"date_part('epoch', r.ts) / 240.0 + (%(hour_angle_offset_deg)s::float8[])[{_DAY_NO}] + l.lon"
_SUN_ELEVATION_DEG = (
    f"degrees(asin(greatest(-1.0, least(1.0, sin(radians(l.lat)) * sin({_DECLINATION})"
    f" + cos(radians(l.lat)) * cos({_DECLINATION}) * cos(radians({_HOUR_ANGLE_DEG}))))))"
)

# Local days are told apart by comparing each reading's time with the batch's midnights
# (width_bucket over a sorted array): cheaper than converting every reading to local time.
# The sun's elevation is computed for lit readings only.
_REFRESH = f"""
WITH per_reading AS (
    SELECT r.lamp_id, r.ts, r.power_factor, r.voltage_v, r.driver_temp_c, r.ambient_lux,
           r.burning_hours, r.switch_cycles,
           {_DAY_NO} AS day_no,
           r.dim_level > 0 AS lit,
           r.power_w / nullif(l.rated_power_w * r.dim_level / 100.0, 0) AS power_ratio,
           CASE WHEN r.dim_level > 0 THEN
               CASE WHEN l.lat IS NOT NULL AND l.lon IS NOT NULL THEN {_SUN_ELEVATION_DEG} > {DAY_SUN_ELEVATION_DEG}
               ELSE r.ambient_lux >= {DAY_LUX} END
           END AS daylight_lit
    FROM readings r
    JOIN lamps l USING (lamp_id)
    WHERE r.ts >= %(start)s AND r.ts < %(end)s
),
per_day AS (
    SELECT lamp_id, day_no,
           count(*) AS readings,
           CASE WHEN count(*) >= {MIN_READINGS_FOR_INTERVAL}
                THEN extract(epoch FROM max(ts) - min(ts))::float8 / (count(*) - 1) END AS gap_mean_s,
           count(*) FILTER (WHERE lit) AS lit_readings,
           count(*) FILTER (WHERE daylight_lit) AS day_burning_readings,
           avg(power_ratio) FILTER (WHERE lit) AS power_ratio_avg,
           min(power_ratio) FILTER (WHERE lit) AS power_ratio_min,
           max(power_ratio) FILTER (WHERE lit) AS power_ratio_max,
           stddev_samp(power_ratio) FILTER (WHERE lit) AS power_ratio_sd,
           avg(power_factor) FILTER (WHERE lit) AS power_factor_avg,
           min(power_factor) FILTER (WHERE lit) AS power_factor_min,
           stddev_samp(power_factor) FILTER (WHERE lit) AS power_factor_sd,
           avg(voltage_v) FILTER (WHERE voltage_v > 0) AS voltage_avg_v,
           min(voltage_v) FILTER (WHERE voltage_v > 0) AS voltage_min_v,
           max(voltage_v) FILTER (WHERE voltage_v > 0) AS voltage_max_v,
           stddev_samp(voltage_v) FILTER (WHERE voltage_v > 0) AS voltage_sd_v,
           count(*) FILTER (WHERE voltage_v > 0
                            AND (voltage_v < {VOLTAGE_LOW_V} OR voltage_v > {VOLTAGE_HIGH_V})) AS voltage_out_readings,
           count(*) FILTER (WHERE voltage_v = 0) AS supply_lost_readings,
           avg(driver_temp_c) FILTER (WHERE lit) AS driver_temp_lit_c,
           avg(driver_temp_c) FILTER (WHERE NOT lit) AS driver_temp_dark_c,
           max(driver_temp_c) AS driver_temp_max_c,
           avg(log(greatest(ambient_lux::float8, {MIN_LUX})))
               FILTER (WHERE ts >= (%(midday_from)s::timestamptz[])[day_no]
                         AND ts < (%(midday_to)s::timestamptz[])[day_no]) AS lux_log_midday,
           -- the counters only grow, so the day's highest value is its last (an ordered
           -- aggregate would cost a sort); on the day a controller is replaced the old
           -- counter's value stands, and the next day's increase is left unknown
           min(burning_hours) AS burning_hours_first,
           max(burning_hours) AS burning_hours_last,
           min(switch_cycles) AS switch_cycles_first,
           max(switch_cycles) AS switch_cycles_last
    FROM per_reading
    GROUP BY lamp_id, day_no
),
previous AS (
    -- each lamp's counters at its last reading before the batch
    SELECT l.lamp_id, p.burning_hours, p.switch_cycles
    FROM lamps l
    CROSS JOIN LATERAL (
        SELECT r.burning_hours, r.switch_cycles
        FROM readings r
        WHERE r.lamp_id = l.lamp_id AND r.ts < %(start)s AND r.ts >= %(lookback)s
        ORDER BY r.ts DESC
        LIMIT 1
    ) p
),
with_steps AS (
    -- counters' increase since the lamp's previous day (or its last reading before the
    -- batch), so that the step across midnight is counted
    SELECT d.*, l.circuit,
           d.lit_readings::float8 / d.readings AS lit_share,
           d.burning_hours_last - coalesce(lag(d.burning_hours_last) OVER w, p.burning_hours, d.burning_hours_first)
               AS burning_step_h,
           d.switch_cycles_last - coalesce(lag(d.switch_cycles_last) OVER w, p.switch_cycles, d.switch_cycles_first)
               AS cycles_step
    FROM per_day d
    JOIN lamps l USING (lamp_id)
    LEFT JOIN previous p USING (lamp_id)
    WINDOW w AS (PARTITION BY d.lamp_id ORDER BY d.day_no)
),
circuit_day AS (
    SELECT circuit, day_no,
           CASE WHEN count(power_ratio_avg) >= {MIN_CIRCUIT_LAMPS}
                THEN percentile_cont(0.5) WITHIN GROUP (ORDER BY power_ratio_avg) END AS power_ratio,
           CASE WHEN count(power_factor_avg) >= {MIN_CIRCUIT_LAMPS}
                THEN percentile_cont(0.5) WITHIN GROUP (ORDER BY power_factor_avg) END AS power_factor,
           CASE WHEN count(driver_temp_lit_c) >= {MIN_CIRCUIT_LAMPS}
                THEN percentile_cont(0.5) WITHIN GROUP (ORDER BY driver_temp_lit_c) END AS driver_temp_c,
           CASE WHEN count(lit_share) >= {MIN_CIRCUIT_LAMPS}
                THEN percentile_cont(0.5) WITHIN GROUP (ORDER BY lit_share) END AS lit_share,
           CASE WHEN count(lux_log_midday) >= {MIN_CIRCUIT_LAMPS}
                THEN percentile_cont(0.5) WITHIN GROUP (ORDER BY lux_log_midday) END AS lux_log_midday
    FROM with_steps
    WHERE circuit <> ''
    GROUP BY circuit, day_no
),
ev AS (
    SELECT e.lamp_id, width_bucket(e.ts, %(midnights)s::timestamptz[]) AS day_no,
           {_EVENT_COUNTS},
           count(*) FILTER (WHERE e.type NOT IN ({_KNOWN_EVENT_TYPES})) AS ev_other
    FROM events e
    JOIN lamps l USING (lamp_id)
    WHERE e.ts >= %(start)s AND e.ts < %(end)s
    GROUP BY 1, 2
)
INSERT INTO lamp_daily (
    lamp_id, day, readings, gap_mean_s, lit_readings, day_burning_readings,
    power_ratio_avg, power_ratio_min, power_ratio_max, power_ratio_sd,
    power_factor_avg, power_factor_min, power_factor_sd,
    voltage_avg_v, voltage_min_v, voltage_max_v, voltage_sd_v, voltage_out_readings, supply_lost_readings,
    driver_temp_lit_c, driver_temp_dark_c, driver_temp_max_c, lux_log_midday,
    burning_h, switch_cycles, burning_hours_last, switch_cycles_last,
    power_ratio_vs_circuit, power_factor_vs_circuit, driver_temp_vs_circuit_c, lit_share_vs_circuit, lux_log_vs_circuit,
    {_EVENT_COLUMN_LIST}, ev_other
)
SELECT coalesce(m.lamp_id, ev.lamp_id), %(first_day)s::date + coalesce(m.day_no, ev.day_no) - 1,
       coalesce(m.readings, 0), m.gap_mean_s, coalesce(m.lit_readings, 0), coalesce(m.day_burning_readings, 0),
       m.power_ratio_avg, m.power_ratio_min, m.power_ratio_max, m.power_ratio_sd,
       m.power_factor_avg, m.power_factor_min, m.power_factor_sd,
       m.voltage_avg_v, m.voltage_min_v, m.voltage_max_v, m.voltage_sd_v,
       coalesce(m.voltage_out_readings, 0), coalesce(m.supply_lost_readings, 0),
       m.driver_temp_lit_c, m.driver_temp_dark_c, m.driver_temp_max_c, m.lux_log_midday,
       -- a counter that went backwards (a new controller) gives no increase
       CASE WHEN m.burning_step_h >= 0 THEN m.burning_step_h END,
       CASE WHEN m.cycles_step >= 0 THEN m.cycles_step END,
       m.burning_hours_last, m.switch_cycles_last,
       m.power_ratio_avg - c.power_ratio,
       m.power_factor_avg - c.power_factor,
       m.driver_temp_lit_c - c.driver_temp_c,
       m.lit_share - c.lit_share,
       m.lux_log_midday - c.lux_log_midday,
       {_EVENT_VALUES}, coalesce(ev.ev_other, 0)
FROM with_steps m
LEFT JOIN circuit_day c ON c.circuit = m.circuit AND c.day_no = m.day_no
FULL JOIN ev ON ev.lamp_id = m.lamp_id AND ev.day_no = m.day_no
"""

# How far back a lamp's previous reading is looked for before a batch.
PREVIOUS_READING_LOOKBACK = timedelta(days=2)

REFRESH_WORK_MEM = "256MB"

ProgressCallback = Callable[[int, int], None]


def sun_day_terms(at: datetime) -> tuple[float, float]:
    """The sun's declination (radians) and hour-angle offset (degrees) around instant `at`.

    NOAA's low-precision formulas (good to a few tenths of a degree). The hour angle at a
    longitude and a nearby instant t is t/240 s + offset + longitude: within a day the sun's
    right ascension and the sidereal time drift apart by a fraction of a degree only.
    """
    epoch_s = at.timestamp()
    days = epoch_s / 86_400.0 - 10_957.5  # since J2000.0
    mean_anomaly = math.radians(357.529 + 0.98560028 * days)
    longitude = math.radians(
        280.459 + 0.98564736 * days + 1.915 * math.sin(mean_anomaly) + 0.020 * math.sin(2 * mean_anomaly)
    )
    obliquity = math.radians(23.439 - 0.00000036 * days)
    declination = math.asin(math.sin(obliquity) * math.sin(longitude))
    right_ascension_deg = math.degrees(math.atan2(math.cos(obliquity) * math.sin(longitude), math.cos(longitude)))
    sidereal_deg = 280.46061837 + 360.98564736629 * days
    return declination, (sidereal_deg - right_ascension_deg - epoch_s / 240.0) % 360.0


def local_midnight(day: date, time_zone: ZoneInfo) -> datetime:
    """The instant a local day begins (the zone's rules, daylight saving included)."""
    return datetime.combine(day, time(0), tzinfo=time_zone)


def refresh_daily(
    conn: psycopg.Connection,
    start: date,
    end: date,
    *,
    time_zone: str | None = None,
    batch_days: int = 7,
    progress: ProgressCallback | None = None,
) -> int:
    """(Re)compute ``lamp_daily`` for the local days [start, end); returns the rows written.

    Each batch of `batch_days` days is one transaction: its rows are deleted and
    written again from readings and events, so running it twice gives the same table.
    `progress(days_done, days_total)` is called after each batch. Days are local days
    of `time_zone` (default: the town's, ``STREETLIGHT_TOWN_TIMEZONE``).
    """
    if end <= start:
        raise ValueError(f"refresh_daily needs start < end, got {start} to {end}")
    if batch_days < 1:
        raise ValueError(f"batch_days must be at least 1, got {batch_days}")
    zone = ZoneInfo(time_zone or get_settings().town_timezone)
    total_days = (end - start).days
    written = 0
    batch_start = start
    while batch_start < end:
        batch_end = min(end, batch_start + timedelta(days=batch_days))
        written += _refresh_batch(conn, batch_start, batch_end, zone)
        if progress is not None:
            progress((batch_end - start).days, total_days)
        batch_start = batch_end
    return written


def _refresh_batch(conn: psycopg.Connection, start: date, end: date, zone: ZoneInfo) -> int:
    days = [start + timedelta(days=k) for k in range((end - start).days)]
    midnights = [local_midnight(d, zone) for d in [*days, end]]
    sun = [sun_day_terms(datetime.combine(d, time(12), tzinfo=zone)) for d in days]
    with conn.transaction():
        # The sorts of a batch fit in memory; compiling the statement (JIT) costs more than it saves.
        conn.execute(f"SET LOCAL work_mem = '{REFRESH_WORK_MEM}'")
        conn.execute("SET LOCAL jit = off")
        conn.execute("DELETE FROM lamp_daily WHERE day >= %s AND day < %s", (start, end))
        cur = conn.execute(
            _REFRESH,
            {
                "start": midnights[0],
                "end": midnights[-1],
                "lookback": midnights[0] - PREVIOUS_READING_LOOKBACK,
                "first_day": start,
                "midnights": midnights,
                "midday_from": [datetime.combine(d, time(MIDDAY_HOURS[0]), tzinfo=zone) for d in days],
                "midday_to": [datetime.combine(d, time(MIDDAY_HOURS[1]), tzinfo=zone) for d in days],
                "declination_rad": [terms[0] for terms in sun],
                "hour_angle_offset_deg": [terms[1] for terms in sun],
            },
        )
        return cur.rowcount
