-- Work orders: a visit to a lamp, made from a prediction, a fault or by hand, and how it ended.
-- Closing one as repaired or replaced writes the maintenance events (the API's work-order routes);
-- a false alarm is kept here only, as feedback for the next training.

CREATE TABLE work_orders (
    id                   bigserial PRIMARY KEY,
    lamp_id              text NOT NULL REFERENCES lamps (lamp_id),
    source               text NOT NULL CHECK (source IN ('prediction', 'fault', 'manual')),
    prediction_scored_at timestamptz NULL,            -- with lamp_id: the lamp_predictions row it came from
    fault_event_ts       timestamptz NULL,            -- with lamp_id and fault_event_type: the events row
    fault_event_type     text NULL,
    status               text NOT NULL DEFAULT 'open' CHECK (status IN ('open', 'scheduled', 'done', 'cancelled')),
    scheduled_for        date NULL,                   -- the day of the visit, in the town's calendar
    outcome              text NULL CHECK (outcome IN ('repaired', 'replaced', 'false_alarm', 'no_fault_found')),
    failure_found        boolean NOT NULL DEFAULT false,
    notes                text NOT NULL DEFAULT '',
    created_by           text NOT NULL,
    created_at           timestamptz NOT NULL DEFAULT now(),
    updated_at           timestamptz NOT NULL DEFAULT now(),
    closed_at            timestamptz NULL,
    closed_by            text NULL,
    CHECK (source <> 'prediction' OR prediction_scored_at IS NOT NULL),
    CHECK (source <> 'fault' OR (fault_event_ts IS NOT NULL AND fault_event_type IS NOT NULL)),
    CHECK (status <> 'scheduled' OR scheduled_for IS NOT NULL),
    CHECK (status <> 'done' OR (outcome IS NOT NULL AND closed_at IS NOT NULL)),
    CHECK (outcome IS NULL OR status = 'done')
);

-- One open work order per lamp: a second visit is planned on the first one.
CREATE UNIQUE INDEX work_orders_one_open_per_lamp ON work_orders (lamp_id) WHERE status IN ('open', 'scheduled');
CREATE INDEX work_orders_lamp_idx ON work_orders (lamp_id, created_at DESC);
CREATE INDEX work_orders_status_idx ON work_orders (status, scheduled_for);
