"""The closed vocabularies as the API's schemas spell them: Literal types, which the type checker reads.

Each one lists the values of its `core.vocabulary` tuple (or of `accounts.LOCALES`),
which `tests/api/test_vocabulary.py` checks, so that neither drifts.
"""

from __future__ import annotations

from typing import Literal

LampState = Literal["planned", "in_service", "faulty", "under_repair", "retired"]
Technology = Literal["LED", "HPS", "LPS", "MH", "CFL", "OTHER"]
EventSource = Literal["controller", "service", "technician"]
WorkOrderSource = Literal["prediction", "fault", "manual"]
WorkOrderStatus = Literal["open", "scheduled", "done", "cancelled"]
Outcome = Literal["repaired", "replaced", "false_alarm", "no_fault_found"]
Locale = Literal["en", "fr"]
