"""Work orders: visits to lamps, from a prediction, a fault or by hand."""
