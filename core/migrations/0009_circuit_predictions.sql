-- Supply warnings per circuit: the nightly job's score for each lighting circuit, kept as history.
--
-- A failing cable, joint or cabinet sags the voltage of a whole circuit for days, then cuts
-- every lamp beyond the fault at once. A crew checks the circuit once (the cabinet, the
-- feeder), not each of its lamps: the circuit model (models/circuits.py) scores circuits,
-- beside the lamp scores of lamp_predictions, with the same model version.

CREATE TABLE circuit_predictions (
    circuit       text NOT NULL,                       -- lamps.circuit
    scored_at     timestamptz NOT NULL,                -- shared with the run's lamp_predictions rows
    feature_day   date NOT NULL,
    probability   real NOT NULL CHECK (probability BETWEEN 0 AND 1),  -- of a supply loss within the horizon
    horizon_days  integer NOT NULL,
    model_version text NOT NULL REFERENCES model_versions (version),
    lamps         integer NOT NULL,                    -- the circuit's lamps that reported that day
    -- as lamp_predictions.reasons: [{"feature", "text", "text_fr", "signal", "weight"}], strongest first
    reasons       jsonb NOT NULL DEFAULT '[]'::jsonb,
    PRIMARY KEY (circuit, scored_at)
);
CREATE INDEX circuit_predictions_scored_idx ON circuit_predictions (scored_at DESC, probability DESC);
