"""Energy: the curve and saving of a profile, estimates per month, measured consumption."""
