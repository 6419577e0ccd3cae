-- Initial schema: inventory, readings, events, dead letters, commissioning, plan pushes.
-- Runs on plain PostgreSQL 15+; TimescaleDB is set up afterwards by core.db when present.

CREATE TABLE lamps (
    lamp_id        text PRIMARY KEY CHECK (lamp_id ~ '^[A-Za-z0-9_.-]{1,64}$'),
    name           text NOT NULL DEFAULT '',
    lat            double precision CHECK (lat BETWEEN -90 AND 90),
    lon            double precision CHECK (lon BETWEEN -180 AND 180),
    street         text NOT NULL DEFAULT '',
    address        text NOT NULL DEFAULT '',
    circuit        text NOT NULL DEFAULT '',
    group_name     text NOT NULL DEFAULT '',
    lighting_class text NOT NULL DEFAULT '',
    model          text NOT NULL DEFAULT '',
    technology     text NOT NULL DEFAULT 'LED' CHECK (technology IN ('LED', 'HPS', 'LPS', 'MH', 'CFL', 'OTHER')),
    rated_power_w  real CHECK (rated_power_w > 0 AND rated_power_w <= 10000),
    install_date   date,
    state          text NOT NULL DEFAULT 'in_service'
                   CHECK (state IN ('planned', 'in_service', 'faulty', 'under_repair', 'retired')),
    properties     jsonb NOT NULL DEFAULT '{}'::jsonb,
    created_at     timestamptz NOT NULL DEFAULT now(),
    updated_at     timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX lamps_circuit_idx ON lamps (circuit);
CREATE INDEX lamps_group_idx ON lamps (group_name);
CREATE INDEX lamps_street_idx ON lamps (street);

-- One row per reading. No foreign key to lamps: readings of unknown lamps never get
-- here (they are dead-lettered), and a key check per row would slow bulk ingest.
CREATE TABLE readings (
    lamp_id        text NOT NULL,
    ts             timestamptz NOT NULL,
    seq            bigint,
    voltage_v      real,
    current_a      real,
    power_w        real,
    power_factor   real,
    energy_wh      double precision,
    dim_level      real,
    driver_temp_c  real,
    ambient_lux    real,
    burning_hours  double precision,
    switch_cycles  bigint,
    rssi_dbm       real,
    extra          jsonb,
    received_at    timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (lamp_id, ts)
);
CREATE INDEX readings_ts_idx ON readings (ts DESC);

CREATE TABLE events (
    lamp_id     text NOT NULL,
    ts          timestamptz NOT NULL,
    type        text NOT NULL,
    detail      jsonb,
    source      text NOT NULL DEFAULT 'controller' CHECK (source IN ('controller', 'service', 'technician')),
    received_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (lamp_id, ts, type)
);
CREATE INDEX events_ts_idx ON events (ts DESC);
CREATE INDEX events_type_ts_idx ON events (type, ts DESC);

-- Latest online/offline state per controller (the retained status topic).
CREATE TABLE lamp_status (
    lamp_id     text PRIMARY KEY,
    online      boolean NOT NULL,
    changed_at  timestamptz NOT NULL DEFAULT now()
);

-- Every message the ingester could not store, with the bytes as received.
CREATE TABLE dead_letters (
    id           bigserial PRIMARY KEY,
    received_at  timestamptz NOT NULL DEFAULT now(),
    topic        text NOT NULL,
    lamp_id      text,
    reason       text NOT NULL,
    detail       text NOT NULL DEFAULT '',
    payload      bytea NOT NULL
);
CREATE INDEX dead_letters_received_idx ON dead_letters (received_at DESC);
CREATE INDEX dead_letters_reason_idx ON dead_letters (reason);

-- Lamp ids seen on the wire but not in the inventory, waiting to be commissioned.
CREATE TABLE unknown_lamps (
    lamp_id        text PRIMARY KEY,
    first_seen_at  timestamptz NOT NULL DEFAULT now(),
    last_seen_at   timestamptz NOT NULL DEFAULT now(),
    message_count  bigint NOT NULL DEFAULT 0,
    last_topic     text NOT NULL DEFAULT '',
    status         text NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'commissioned', 'dismissed'))
);

-- Plans pushed to controllers and what they answered (filled by the dimming scheduler).
CREATE TABLE plan_pushes (
    lamp_id       text NOT NULL,
    version       bigint NOT NULL,
    plan          jsonb NOT NULL,
    created_at    timestamptz NOT NULL DEFAULT now(),
    pushed_at     timestamptz,
    attempts      integer NOT NULL DEFAULT 0,
    ack_status    text CHECK (ack_status IN ('applied', 'rejected')),
    ack_reason    text,
    acked_at      timestamptz,
    PRIMARY KEY (lamp_id, version)
);

-- Answers as received; a redelivered answer is stored once.
CREATE TABLE plan_acks (
    lamp_id      text NOT NULL,
    version      bigint NOT NULL,
    status       text NOT NULL CHECK (status IN ('applied', 'rejected')),
    reason       text,
    received_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (lamp_id, version, status)
);
