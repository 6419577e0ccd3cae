"""Dimming: per-point profiles on an astronomical clock, calendars, overrides, plans pushed to controllers."""
