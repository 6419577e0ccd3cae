"""What the ingester could not store, and the commissioning of lamps seen on the wire."""
