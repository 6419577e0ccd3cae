"""A city of 200,000 lamps through every path: see `benchmarks.city.cli`."""
