"""The fleet at a glance: the summary and the map."""
