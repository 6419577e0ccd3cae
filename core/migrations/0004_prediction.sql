-- Failure prediction: trained models (versioned, with their metadata) and the scores
-- the nightly job gives every lamp, kept as history.

CREATE TABLE model_versions (
    version          text PRIMARY KEY,                 -- e.g. 20261125T021700Z
    created_at       timestamptz NOT NULL DEFAULT now(),
    status           text NOT NULL DEFAULT 'ready' CHECK (status IN ('ready', 'failed', 'retired')),
    trained_from     date,
    trained_to       date,
    horizon_days     integer NOT NULL,
    features         jsonb NOT NULL,                   -- ordered feature names
    metrics          jsonb NOT NULL DEFAULT '{}'::jsonb,
    library_versions jsonb NOT NULL DEFAULT '{}'::jsonb,
    artifact         bytea,                            -- the fitted pipeline
    error            text
);

CREATE TABLE lamp_predictions (
    lamp_id       text NOT NULL REFERENCES lamps (lamp_id),
    scored_at     timestamptz NOT NULL,
    feature_day   date NOT NULL,                       -- the day whose features were scored
    probability   real NOT NULL CHECK (probability BETWEEN 0 AND 1),
    horizon_days  integer NOT NULL,
    model_version text NOT NULL REFERENCES model_versions (version),
    -- [{"feature": "...", "text": "power factor fell from 0.96 to 0.88 over 10 days",
    --   "text_fr": "le facteur de puissance a baissé de 0,96 à 0,88 en 10 jours",
    --   "signal": "power_factor", "weight": 0.31}, ...], strongest first
    reasons       jsonb NOT NULL DEFAULT '[]'::jsonb,
    PRIMARY KEY (lamp_id, scored_at)
);
CREATE INDEX lamp_predictions_scored_idx ON lamp_predictions (scored_at DESC, probability DESC);
