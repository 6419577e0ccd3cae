"""Lamp events: failures, repairs and the like, from controllers, the service and technicians."""
