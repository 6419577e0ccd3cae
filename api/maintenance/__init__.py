"""Maintenance: lamp events, commissioning of lamps seen on the wire, work orders and the daily round."""
