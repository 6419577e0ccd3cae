"""The daily round: the lamps and circuits to visit on a day, grouped by street."""
