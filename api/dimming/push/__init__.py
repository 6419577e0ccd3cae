"""Plan delivery: which lamps run the plan of their schedule, and a push on request."""
