-- Failure prediction: one row per lamp per local day, aggregated from readings and events
-- by models.daily.refresh_daily. The model's features are windows over these rows, so a
-- fleet's raw readings are read once, in SQL, and never pulled into memory.

CREATE TABLE lamp_daily (
    lamp_id                 text NOT NULL REFERENCES lamps (lamp_id) ON DELETE CASCADE,
    day                     date NOT NULL,                -- the town's local day
    readings                integer NOT NULL DEFAULT 0,   -- readings received for the day
    gap_mean_s              real,                         -- (last - first reading) / (readings - 1), from 4 readings
    lit_readings            integer NOT NULL DEFAULT 0,   -- readings with dim_level > 0
    day_burning_readings    integer NOT NULL DEFAULT 0,   -- lit readings while the sun is up
    -- power_w / (rated_power_w x dim_level / 100), over lit readings
    power_ratio_avg         real,
    power_ratio_min         real,
    power_ratio_max         real,
    power_ratio_sd          real,
    -- over lit readings (a dark controller's standby power factor says nothing of the driver)
    power_factor_avg        real,
    power_factor_min        real,
    power_factor_sd         real,
    -- over readings with a supply (voltage_v > 0)
    voltage_avg_v           real,
    voltage_min_v           real,
    voltage_max_v           real,
    voltage_sd_v            real,
    voltage_out_readings    integer NOT NULL DEFAULT 0,   -- supplied but outside 210-250 V
    supply_lost_readings    integer NOT NULL DEFAULT 0,   -- voltage_v = 0
    driver_temp_lit_c       real,                         -- average while lit
    driver_temp_dark_c      real,                         -- average while dark: close to the air temperature
    driver_temp_max_c       real,
    lux_log_midday          real,                         -- mean log10 ambient_lux from 11:00 to 15:00 local time
    burning_h               real,                         -- increase of burning_hours since the day before
    switch_cycles           integer,                      -- increase of switch_cycles, likewise
    burning_hours_last      double precision,             -- the counters' values at the end of the day
    switch_cycles_last      bigint,
    -- differences to the median of the lamps on the same circuit that day (3 lamps or more)
    power_ratio_vs_circuit  real,
    power_factor_vs_circuit real,
    driver_temp_vs_circuit_c real,
    lit_share_vs_circuit    real,                         -- lit_readings / readings
    lux_log_vs_circuit      real,
    -- events of the day, by type
    ev_lamp_failure         integer NOT NULL DEFAULT 0,
    ev_day_burning          integer NOT NULL DEFAULT 0,
    ev_cycling              integer NOT NULL DEFAULT 0,
    ev_driver_fault         integer NOT NULL DEFAULT 0,
    ev_supply_loss          integer NOT NULL DEFAULT 0,
    ev_comm_loss            integer NOT NULL DEFAULT 0,
    ev_repaired             integer NOT NULL DEFAULT 0,
    ev_other                integer NOT NULL DEFAULT 0,
    refreshed_at            timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (lamp_id, day)
);
CREATE INDEX lamp_daily_day_idx ON lamp_daily (day);
