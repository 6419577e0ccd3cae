"""Failure predictions of the lamps and supply warnings of the circuits, as the nightly job scored them."""
