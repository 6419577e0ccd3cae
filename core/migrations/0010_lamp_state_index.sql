-- The lamp list's state filter (a technician's "lamps out", "in service") counts the
-- matching lamps on every page. Without an index the count reads the whole inventory
-- table; with this one it reads the index alone (an index-only scan, once vacuumed).
CREATE INDEX IF NOT EXISTS lamps_state_idx ON lamps (state);
