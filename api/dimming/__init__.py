"""Dimming schedules (profiles, assignments, calendar, overrides), what a lamp follows, plan delivery."""
