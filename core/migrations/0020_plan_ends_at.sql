-- Where each pushed plan ends (the instant of its last point), kept beside the plan: the push
-- status compares it with the time for every lamp, and reading it out of each lamp's plan
-- JSON cost most of that answer in a city. NULL for a plan without points.
ALTER TABLE plan_pushes ADD COLUMN IF NOT EXISTS plan_ends_at timestamptz;

UPDATE plan_pushes SET plan_ends_at = (plan -> 'points' -> -1 ->> 'at')::timestamptz
WHERE plan_ends_at IS DISTINCT FROM (plan -> 'points' -> -1 ->> 'at')::timestamptz;

-- Filled by the database whenever a plan is stored, whoever writes it (the scheduler's COPY,
-- a restore, a hand-written row), so that it never disagrees with the plan.
CREATE OR REPLACE FUNCTION plan_pushes_ends_at() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    NEW.plan_ends_at := (NEW.plan -> 'points' -> -1 ->> 'at')::timestamptz;
    RETURN NEW;
END;
$$;

DROP TRIGGER IF EXISTS plan_pushes_ends_at ON plan_pushes;
CREATE TRIGGER plan_pushes_ends_at BEFORE INSERT OR UPDATE OF plan, plan_ends_at ON plan_pushes
    FOR EACH ROW EXECUTE FUNCTION plan_pushes_ends_at();
