"""Data access for the API: plain functions taking a connection (dict rows), one per query.

The SQL text of each function is fixed; what a request asks for only ever travels
as a bound parameter. Optional filters are written as ``(%(x)s IS NULL OR col = %(x)s)``,
except on the lamp list, where each filter has a fixed condition and a query joins those
of the filters given (see ``lamps.LampFilter.where``), so that each combination is
planned with its indexes.
"""

from __future__ import annotations


def contains_pattern(text: str) -> str:
    r"""An ILIKE pattern matching `text` anywhere, with % _ \ taken literally."""
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"
