-- The background count of energy_daily (dimming.energy_jobs) goes on from where it stopped:
-- per lamp, the last reading whose interval is counted. A later reading adds the interval
-- from this one; a reading written since, older than it (a late report), has its lamp's
-- days counted again.
CREATE TABLE energy_marks (
    lamp_id   text PRIMARY KEY REFERENCES lamps (lamp_id) ON DELETE CASCADE,
    ts        timestamptz NOT NULL,
    energy_wh double precision NOT NULL
);

-- When the background count last ran (the database's time): readings received since then
-- are the new ones.
CREATE TABLE energy_count_state (
    singleton  boolean PRIMARY KEY DEFAULT true CHECK (singleton),
    counted_at timestamptz NOT NULL
);

-- Finds the readings written since a time. Readings are appended in the order they are
-- received, so a block range index stays small and cheap to keep up at ingest.
CREATE INDEX IF NOT EXISTS readings_received_brin ON readings USING brin (received_at);
