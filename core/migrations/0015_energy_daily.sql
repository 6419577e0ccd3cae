-- Energy per lamp and local day, compared like with like: what the counters measured, and
-- for the same hours full power and the lamp's schedule. Filled by dimming.energy_daily
-- from readings, one set-based statement per batch of days; the energy page adds these
-- rows up per group and month instead of reading every reading again.

CREATE TABLE energy_daily (
    lamp_id     text NOT NULL REFERENCES lamps (lamp_id) ON DELETE CASCADE,
    day         date NOT NULL,                      -- the town's local day
    measured_s  double precision NOT NULL,          -- time covered by counter differences
    measured_wh double precision NOT NULL,          -- what the counter says was drawn then
    full_wh     double precision NOT NULL,          -- rated power through the night hours of that time
    planned_wh  double precision NOT NULL,          -- rated power at the schedule's levels, that time
    PRIMARY KEY (day, lamp_id)
);

-- Which days have been aggregated, and when: a day aggregated before it was over (and a
-- margin for late reports) is aggregated again when it is asked for.
CREATE TABLE energy_days (
    day          date PRIMARY KEY,
    refreshed_at timestamptz NOT NULL
);
