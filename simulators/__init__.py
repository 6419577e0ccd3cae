"""The lamp-fleet simulator: a town, its physics and failures, and controllers on MQTT.

What the other packages may use is named here; `simulators.cli` holds its commands.
"""

from simulators.controllers import SimulationOptions, SimulationSummary, run_simulation
from simulators.engine import FleetSimulator, StepResult
from simulators.town import LampSpec, generate_town, town_to_csv, town_to_csv_bytes, town_to_geojson

__all__ = [
    "FleetSimulator",
    "LampSpec",
    "SimulationOptions",
    "SimulationSummary",
    "StepResult",
    "generate_town",
    "run_simulation",
    "town_to_csv",
    "town_to_csv_bytes",
    "town_to_geojson",
]
