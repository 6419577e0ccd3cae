"""Failure prediction: features from the service's own telemetry, models, scoring."""
