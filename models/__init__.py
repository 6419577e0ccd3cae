"""Failure prediction: features from the service's own telemetry, models, scoring.

What the other packages may use is named here: the nightly job's schedule. The
training and scoring modules load pandas and scikit-learn, so `models.cli` imports
them only when a command runs.
"""

from models.jobs import NightlyOutcome, run_nightly
from models.jobs import schedule as schedule_nightly

__all__ = ["NightlyOutcome", "run_nightly", "schedule_nightly"]
