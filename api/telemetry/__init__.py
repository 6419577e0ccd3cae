"""Readings over a time range, of one lamp or of the lamps of a group or circuit."""
