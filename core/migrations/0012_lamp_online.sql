-- Each lamp carries its controller's connection state, kept equal to `lamp_status` by
-- triggers, so that the lamp list's connectivity filter and count need not join the two.
-- Every inventory lamp gets a `lamp_status` row (online null until the first report): a lamp
-- created while its controller first reports then collides on that key, so the copy is exact.

ALTER TABLE lamp_status ALTER COLUMN online DROP NOT NULL;
ALTER TABLE lamps ADD COLUMN IF NOT EXISTS online boolean;

-- A status written (by the ingester, or anyone): the lamp's copy follows.
CREATE OR REPLACE FUNCTION lamp_status_to_lamp() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE lamps SET online = NEW.online WHERE lamp_id = NEW.lamp_id AND online IS DISTINCT FROM NEW.online;
    RETURN NULL;
END;
$$;

DROP TRIGGER IF EXISTS lamp_status_to_lamp ON lamp_status;
CREATE TRIGGER lamp_status_to_lamp AFTER INSERT OR UPDATE OF online ON lamp_status
    FOR EACH ROW EXECUTE FUNCTION lamp_status_to_lamp();

-- A lamp created: its status row is made if the controller never reported (waiting for a
-- first report being written at that moment), then locked, so that a report being
-- written is waited for and a later one waits for the lamp; the lamp starts with the
-- state the row holds.
CREATE OR REPLACE FUNCTION lamp_online_from_status() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO lamp_status (lamp_id, online) VALUES (NEW.lamp_id, NULL) ON CONFLICT (lamp_id) DO NOTHING;
    NEW.online := (SELECT online FROM lamp_status WHERE lamp_id = NEW.lamp_id FOR SHARE);
    RETURN NEW;
END;
$$;

DROP TRIGGER IF EXISTS lamp_online_from_status ON lamps;
CREATE TRIGGER lamp_online_from_status BEFORE INSERT ON lamps
    FOR EACH ROW EXECUTE FUNCTION lamp_online_from_status();

-- The lamps already there.
INSERT INTO lamp_status (lamp_id, online) SELECT lamp_id, NULL FROM lamps ON CONFLICT (lamp_id) DO NOTHING;
UPDATE lamps l SET online = s.online FROM lamp_status s WHERE s.lamp_id = l.lamp_id AND l.online IS DISTINCT FROM s.online;

CREATE INDEX IF NOT EXISTS lamps_online_idx ON lamps (online);

-- The planner's statistics for the new column, before the first list asks for it.
ANALYZE lamps;
