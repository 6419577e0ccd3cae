-- The lamp list's bounding-box filter (the console's map, a technician's "lamps around
-- me") as an R-tree search on the lamps' positions; without it the filter and its count
-- read the whole inventory on every page (10,000 lamps for a box holding 400).
CREATE INDEX IF NOT EXISTS lamps_position_idx ON lamps USING gist (point(lon, lat));
