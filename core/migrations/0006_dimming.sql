-- Dimming: profiles (named, every edit kept as a version), who gets which profile
-- (assignments, calendar exceptions) and temporary overrides. The plans resolved from
-- them go to plan_pushes (0001).

-- A profile; what it does is in its versions. `version` is the one in force.
CREATE TABLE dimming_profiles (
    profile_id   bigserial PRIMARY KEY,
    name         text NOT NULL UNIQUE CHECK (length(name) BETWEEN 1 AND 100),
    version      integer NOT NULL DEFAULT 1 CHECK (version >= 1),
    retired_at   timestamptz,
    created_at   timestamptz NOT NULL DEFAULT now(),
    updated_at   timestamptz NOT NULL DEFAULT now(),
    updated_by   text NOT NULL DEFAULT ''
);

-- Every version of every profile, never changed once written.
-- steps: [{"anchor": "dusk"|"dawn"|"clock", "offset_min": int, "time": "HH:MM", "level": 0-100}, ...]
CREATE TABLE dimming_profile_versions (
    profile_id   bigint NOT NULL REFERENCES dimming_profiles (profile_id),
    version      integer NOT NULL CHECK (version >= 1),
    name         text NOT NULL,
    description  text NOT NULL DEFAULT '',
    twilight     text NOT NULL CHECK (twilight IN ('sunset', 'civil')),
    steps        jsonb NOT NULL CHECK (jsonb_typeof(steps) = 'array'),
    created_at   timestamptz NOT NULL DEFAULT now(),
    created_by   text NOT NULL DEFAULT '',
    PRIMARY KEY (profile_id, version)
);

-- Which profile a part of the town follows; the most specific target wins
-- (lamp > group > street > circuit > lighting_class > town).
CREATE TABLE dimming_assignments (
    assignment_id bigserial PRIMARY KEY,
    target_kind   text NOT NULL
                  CHECK (target_kind IN ('town', 'lighting_class', 'circuit', 'street', 'group', 'lamp')),
    target        text NOT NULL DEFAULT '',
    profile_id    bigint NOT NULL REFERENCES dimming_profiles (profile_id),
    created_at    timestamptz NOT NULL DEFAULT now(),
    created_by    text NOT NULL DEFAULT '',
    CHECK ((target_kind = 'town') = (target = '')),
    UNIQUE (target_kind, target)
);
CREATE INDEX dimming_assignments_profile_idx ON dimming_assignments (profile_id);

-- Nights that follow another profile: a date range, weekdays, or yearly days
-- (MM-DD, the range may wrap the year end). Beats every assignment.
CREATE TABLE dimming_calendar (
    exception_id  bigserial PRIMARY KEY,
    name          text NOT NULL CHECK (length(name) BETWEEN 1 AND 100),
    profile_id    bigint NOT NULL REFERENCES dimming_profiles (profile_id),
    kind          text NOT NULL CHECK (kind IN ('dates', 'weekdays', 'yearly')),
    start_date    date,
    end_date      date,
    weekdays      smallint[],
    start_day     text CHECK (start_day ~ '^(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])$'),
    end_day       text CHECK (end_day ~ '^(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])$'),
    target_kind   text NOT NULL DEFAULT 'town'
                  CHECK (target_kind IN ('town', 'lighting_class', 'circuit', 'street', 'group', 'lamp')),
    target        text NOT NULL DEFAULT '',
    priority      integer NOT NULL DEFAULT 0,
    created_at    timestamptz NOT NULL DEFAULT now(),
    updated_at    timestamptz NOT NULL DEFAULT now(),
    created_by    text NOT NULL DEFAULT '',
    CHECK ((target_kind = 'town') = (target = '')),
    CHECK (kind <> 'dates' OR (start_date IS NOT NULL AND end_date IS NOT NULL AND start_date <= end_date)),
    CHECK (kind <> 'weekdays' OR (weekdays IS NOT NULL AND cardinality(weekdays) > 0
                                  AND weekdays <@ ARRAY[1, 2, 3, 4, 5, 6, 7]::smallint[])),
    CHECK (kind <> 'yearly' OR (start_day IS NOT NULL AND end_day IS NOT NULL))
);
CREATE INDEX dimming_calendar_profile_idx ON dimming_calendar (profile_id);

-- A fixed level for a while (an incident, an event, maintenance); beats everything
-- until it expires or is cancelled.
CREATE TABLE dimming_overrides (
    override_id   bigserial PRIMARY KEY,
    target_kind   text NOT NULL
                  CHECK (target_kind IN ('town', 'lighting_class', 'circuit', 'street', 'group', 'lamp')),
    target        text NOT NULL DEFAULT '',
    level         smallint NOT NULL CHECK (level BETWEEN 0 AND 100),
    starts_at     timestamptz NOT NULL,
    expires_at    timestamptz NOT NULL,
    reason        text NOT NULL DEFAULT '',
    created_by    text NOT NULL DEFAULT '',
    created_at    timestamptz NOT NULL DEFAULT now(),
    cancelled_at  timestamptz,
    cancelled_by  text,
    CHECK ((target_kind = 'town') = (target = '')),
    CHECK (expires_at > starts_at)
);
CREATE INDEX dimming_overrides_active_idx ON dimming_overrides (expires_at) WHERE cancelled_at IS NULL;
