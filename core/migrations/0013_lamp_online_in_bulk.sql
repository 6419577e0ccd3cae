-- Creating many lamps in one statement (a town's first inventory import) took time growing
-- with the square of their number: the triggers of 0012 ran, once per new lamp, statements
-- whose plan was cached while a table looked empty or small, each then scanning the whole
-- table as it grew.

-- A new lamp's status placeholder (online unknown) no longer fires the copy to the lamp,
-- which does not exist yet. Every lamp already has a status row (0012), so a status row
-- inserted later never belongs to a lamp whose copy could differ.
DROP TRIGGER IF EXISTS lamp_status_to_lamp ON lamp_status;
CREATE TRIGGER lamp_status_to_lamp AFTER UPDATE OF online ON lamp_status
    FOR EACH ROW EXECUTE FUNCTION lamp_status_to_lamp();

DROP TRIGGER IF EXISTS lamp_status_known_to_lamp ON lamp_status;
CREATE TRIGGER lamp_status_known_to_lamp AFTER INSERT ON lamp_status
    FOR EACH ROW WHEN (NEW.online IS NOT NULL) EXECUTE FUNCTION lamp_status_to_lamp();

-- A lamp created: as in 0012, but a placeholder it has just made is its own uncommitted
-- row, which a report waits for anyway, so it is not read back. A status a controller
-- wrote first is read and locked by a statement planned for each lamp, with the table's
-- size at that moment.
CREATE OR REPLACE FUNCTION lamp_online_from_status() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    placeholders_made integer;
BEGIN
    INSERT INTO lamp_status (lamp_id, online) VALUES (NEW.lamp_id, NULL) ON CONFLICT (lamp_id) DO NOTHING;
    GET DIAGNOSTICS placeholders_made = ROW_COUNT;
    IF placeholders_made = 1 THEN
        NEW.online := NULL;
    ELSE
        EXECUTE 'SELECT online FROM lamp_status WHERE lamp_id = $1 FOR SHARE' INTO NEW.online USING NEW.lamp_id;
    END IF;
    RETURN NEW;
END;
$$;
