"""The lamp inventory: list, look up, create, change and retire lamps."""
