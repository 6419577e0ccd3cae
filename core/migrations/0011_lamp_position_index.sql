-- The lamp list's bounding-box filter (the console's map, a technician's "lamps around
-- me") as an R-tree search, so that the filter and its count need not read the whole inventory.
CREATE INDEX IF NOT EXISTS lamps_position_idx ON lamps USING gist (point(lon, lat));
