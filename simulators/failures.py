"""Failure modes of the simulated fleet: rates, hazards and precursor signatures.

Pure functions and configuration only; the engine draws the random events and
applies the signatures to its readings. Annual rates are real-world figures,
all multiplied by `rate_scale`; `progress` is the share of a precursor elapsed
(0 at its onset, 1 at the failure). docs/simulator.md describes each mode.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, fields, replace
from datetime import datetime
from enum import StrEnum

import numpy as np

SECONDS_PER_YEAR = 365.25 * 86_400.0
SECONDS_PER_DAY = 86_400.0
SECONDS_PER_HOUR = 3_600.0


class FailureMode(StrEnum):
    CAPACITOR_AGEING = "capacitor_ageing"  # LED driver electrolytic capacitor wear-out
    LED_STRING = "led_string"  # LEDs of the module failing one by one, then the string opens
    PHOTOCELL = "photocell"  # light sensor drifts, then the lamp burns by day
    SUPPLY_LOSS = "supply_loss"  # cable or cabinet fault: part of a circuit goes dark
    WATER_INGRESS = "water_ingress"  # trips and flicker after rain, then failure
    CYCLING = "cycling"  # end-of-life on/off cycling (mostly HPS)
    SUDDEN = "sudden"  # surge, vehicle impact...: no warning


# Integer codes the engine keeps in its arrays (0 = none).
MODE_CODES: dict[FailureMode, int] = {mode: code for code, mode in enumerate(FailureMode, start=1)}
MODES_BY_CODE: dict[int, FailureMode] = {code: mode for mode, code in MODE_CODES.items()}
# Modes of a single lamp that start with a precursor (supply loss is per circuit).
LAMP_PRECURSOR_MODES = (
    FailureMode.CAPACITOR_AGEING,
    FailureMode.LED_STRING,
    FailureMode.PHOTOCELL,
    FailureMode.WATER_INGRESS,
    FailureMode.CYCLING,
)


@dataclass(frozen=True)
class FailureConfig:
    """Failure rates, precursor durations, repairs and communication losses.

    Annual rates are per lamp (per circuit for supply loss) and are the *real*
    rates; every failure hazard is multiplied by `rate_scale`. Durations are
    (low, high) ranges drawn uniformly.
    """

    rate_scale: float = 3.0

    # Driver electrolytic-capacitor wear-out (LED only): the rate at the reference
    # driver temperature and age; it doubles per +10 °C (Arrhenius 10-degree rule)
    # and grows linearly with the driver's age.
    capacitor_rate_per_year: float = 0.010
    capacitor_reference_temp_c: float = 30.0
    capacitor_reference_age_years: float = 5.0
    capacitor_precursor_days: tuple[float, float] = (7.0, 28.0)

    led_string_rate_per_year: float = 0.002
    led_string_precursor_days: tuple[float, float] = (14.0, 42.0)
    led_string_down_share: float = 0.7  # power drifts down when LEDs short, up otherwise

    photocell_rate_per_year: float = 0.003
    photocell_precursor_days: tuple[float, float] = (3.0, 14.0)

    water_ingress_rate_per_year: float = 0.003
    water_ingress_precursor_days: tuple[float, float] = (7.0, 35.0)

    # End-of-life cycling: HPS lamps follow a Weibull law in burning hours whose
    # median is the rated life (24,000 h); LED luminaires rarely cycle (thermal
    # protection of a failing driver).
    hps_rated_life_h: float = 24_000.0
    hps_weibull_shape: float = 3.0
    hps_relamp_interval_years: float = 4.0  # group relamping: lamp ages at the start are spread over this
    led_cycling_rate_per_year: float = 0.0005
    cycling_precursor_days: tuple[float, float] = (7.0, 30.0)

    supply_loss_rate_per_circuit_year: float = 0.015
    supply_precursor_days: tuple[float, float] = (2.0, 10.0)
    supply_min_lamps_lost: int = 3

    # Sudden failures (no precursor) strike every lamp alike; their fleet-wide rate is
    # set at each step so that they are `sudden_share` of the failures expected then.
    sudden_share: float = 0.25

    # Automatic repairs by the maintenance crew (None: only `FleetSimulator.repair`).
    auto_repair: bool = True
    repair_delay_days: tuple[float, float] = (2.0, 14.0)  # from detection
    supply_repair_delay_days: tuple[float, float] = (0.25, 2.0)

    # Controller communication losses (not scaled by rate_scale).
    comm_loss_rate_per_year: float = 2.0
    flaky_controller_share: float = 0.03
    flaky_comm_loss_rate_per_year: float = 50.0
    comm_loss_median_min: float = 40.0
    comm_loss_sigma: float = 1.0  # of the log-normal duration
    comm_loss_bounds_min: tuple[float, float] = (5.0, 12 * 60.0)
    comm_loss_events: bool = True  # a `comm_loss` event on reconnection, with the outage's length

    def __post_init__(self) -> None:
        if self.rate_scale < 0:
            raise ValueError("rate_scale must be >= 0")
        if not 0.0 <= self.sudden_share < 1.0:
            raise ValueError("sudden_share must be in [0, 1)")
        for f in fields(self):
            value = getattr(self, f.name)
            if isinstance(value, tuple) and not (0 <= value[0] <= value[1]):
                raise ValueError(f"{f.name} must be a (low, high) range with 0 <= low <= high")
            if f.name.endswith("_per_year") and value < 0:
                raise ValueError(f"{f.name} must be >= 0")

    def nominal_sudden_rate_per_year(self) -> float:
        """Real annual rate of sudden failures of an LED lamp at reference conditions:
        share / (1 - share) times the sum of the precursor modes' reference rates."""
        others = (
            self.capacitor_rate_per_year
            + self.led_string_rate_per_year
            + self.photocell_rate_per_year
            + self.water_ingress_rate_per_year
            + self.led_cycling_rate_per_year
        )
        return self.sudden_share / (1.0 - self.sudden_share) * others

    def precursor_days(self, mode: FailureMode) -> tuple[float, float]:
        return {
            FailureMode.CAPACITOR_AGEING: self.capacitor_precursor_days,
            FailureMode.LED_STRING: self.led_string_precursor_days,
            FailureMode.PHOTOCELL: self.photocell_precursor_days,
            FailureMode.WATER_INGRESS: self.water_ingress_precursor_days,
            FailureMode.CYCLING: self.cycling_precursor_days,
            FailureMode.SUPPLY_LOSS: self.supply_precursor_days,
        }[mode]


def with_mode_weights(config: FailureConfig, weights: dict[str, float]) -> FailureConfig:
    """The same configuration with each named mode's hazard multiplied by its weight.

    Gives a fleet another mix of failure modes (to check that a model does not only
    work on the mix it was tuned on). HPS cycling follows a Weibull law of shape k in
    burning hours, so its median life is scaled by weight^(-1/k); sudden failures are
    a share of the others, so their share is moved to keep the weighted proportion.
    """
    unknown = sorted(set(weights) - {mode.value for mode in FailureMode})
    if unknown:
        known = ", ".join(mode.value for mode in FailureMode)
        raise ValueError(f"unknown failure mode(s) {', '.join(unknown)}; the modes are {known}")
    for mode, weight in weights.items():
        if not (weight >= 0 and math.isfinite(weight)):
            raise ValueError(f"the weight of {mode} must be a number >= 0, not {weight}")
    w = {mode: float(weights.get(mode.value, 1.0)) for mode in FailureMode}
    cycling = w[FailureMode.CYCLING]
    odds = config.sudden_share / (1.0 - config.sudden_share) * w[FailureMode.SUDDEN]
    return replace(
        config,
        capacitor_rate_per_year=config.capacitor_rate_per_year * w[FailureMode.CAPACITOR_AGEING],
        led_string_rate_per_year=config.led_string_rate_per_year * w[FailureMode.LED_STRING],
        photocell_rate_per_year=config.photocell_rate_per_year * w[FailureMode.PHOTOCELL],
        water_ingress_rate_per_year=config.water_ingress_rate_per_year * w[FailureMode.WATER_INGRESS],
        led_cycling_rate_per_year=config.led_cycling_rate_per_year * w[FailureMode.CYCLING],
        supply_loss_rate_per_circuit_year=config.supply_loss_rate_per_circuit_year * w[FailureMode.SUPPLY_LOSS],
        hps_rated_life_h=(
            config.hps_rated_life_h * cycling ** (-1.0 / config.hps_weibull_shape) if cycling > 0 else math.inf
        ),
        sudden_share=min(odds / (1.0 + odds), 0.95),
    )


@dataclass(slots=True)
class FailureRecord:
    """Ground truth for one lamp failure (times are UTC).

    `failed_at` is when the lamp physically failed; `detected_at` when the
    controller first reported it (a lamp failing by day is only noticed at
    dusk). For `outcome` "averted" the lamp was repaired during its precursor
    and `failed_at` is when it would have failed; "pending" means the precursor
    was still running when the file was written.
    """

    lamp_id: str
    failed_at: datetime
    mode: str
    had_precursor: bool
    precursor_started_at: datetime | None
    repaired_at: datetime | None = None
    detected_at: datetime | None = None
    outcome: str = "failed"


TRUTH_COLUMNS = (
    "lamp_id",
    "mode",
    "failed_at",
    "detected_at",
    "had_precursor",
    "precursor_started_at",
    "repaired_at",
    "outcome",
)


# --- Hazards (per second) -------------------------------------------------------


def per_second(rate_per_year: float | np.ndarray) -> np.ndarray | float:
    return rate_per_year / SECONDS_PER_YEAR


def capacitor_hazard_per_s(
    driver_temp_c: np.ndarray, driver_age_years: np.ndarray, config: FailureConfig
) -> np.ndarray:
    """Onset hazard of capacitor wear-out: halves the life per +10 °C, grows with age.

    Age factor: 0.25 for a new driver, 1 at the reference age (5 years), 2.5 at 15 years.
    """
    temperature_factor = np.exp2((np.asarray(driver_temp_c) - config.capacitor_reference_temp_c) / 10.0)
    age_factor = 0.25 + 0.75 * np.maximum(np.asarray(driver_age_years), 0.0) / config.capacitor_reference_age_years
    return config.rate_scale * per_second(config.capacitor_rate_per_year) * temperature_factor * age_factor


def weibull_hazard_per_h(age_h: np.ndarray, median_life_h: float, shape: float) -> np.ndarray:
    """Weibull hazard per operating hour at an age, for a given median life (B50) and shape."""
    scale_h = median_life_h / math.log(2.0) ** (1.0 / shape)
    return (shape / scale_h) * (np.maximum(np.asarray(age_h, dtype=float), 0.0) / scale_h) ** (shape - 1.0)


def hps_cycling_hazard_per_s(lamp_age_h: np.ndarray, burning: np.ndarray, config: FailureConfig) -> np.ndarray:
    """Onset hazard of HPS end-of-life cycling: Weibull in burning hours, only accrues while lit."""
    per_h = weibull_hazard_per_h(lamp_age_h, config.hps_rated_life_h, config.hps_weibull_shape)
    return config.rate_scale * np.where(burning, per_h / SECONDS_PER_HOUR, 0.0)


def draw_precursor_s(rng: np.random.Generator, days: tuple[float, float], n: int) -> np.ndarray:
    return rng.uniform(days[0], days[1], n) * SECONDS_PER_DAY


# --- Precursor signatures ---------------------------------------------------------


def capacitor_power_factor_drop(progress: np.ndarray) -> np.ndarray:
    """Fall of the power factor as capacitance fades and ESR grows: up to 0.18 at failure."""
    return 0.18 * np.clip(progress, 0.0, 1.0) ** 1.5


def capacitor_ripple_fraction(progress: np.ndarray) -> np.ndarray:
    """Relative standard deviation of the measured power (ripple): 0.3 % healthy, 6 % at failure."""
    return 0.003 + 0.06 * np.clip(progress, 0.0, 1.0) ** 2


def capacitor_temp_rise_c(progress: np.ndarray) -> np.ndarray:
    """Extra driver heating from ESR losses: up to 10 K at failure."""
    return 10.0 * np.clip(progress, 0.0, 1.0) ** 1.5


def capacitor_power_increase_fraction(progress: np.ndarray) -> np.ndarray:
    """Extra input power from the driver's falling efficiency: up to 4 %."""
    return 0.04 * np.clip(progress, 0.0, 1.0)


def led_string_power_factor(progress: np.ndarray, direction: np.ndarray) -> np.ndarray:
    """Multiplier of the LED module's power as LEDs fail one by one (steps of 4 %, up to 5 steps).

    direction -1: LEDs fail short, the string voltage and so the power fall;
    +1: a driver compensating a damaged string pushes power up.
    """
    steps = np.floor(np.clip(progress, 0.0, 1.0) * 5.0)
    return 1.0 + np.asarray(direction) * 0.04 * steps


PHOTOCELL_DARK_LUX = 1.0  # below this the controller believes it is dark and lights the lamp


def photocell_sensitivity(progress: np.ndarray) -> np.ndarray:
    """Ratio of measured to true illuminance of a degrading photocell: 1 → 10⁻⁵ over the precursor.

    The lamp stays lit ever longer after dawn and lights ever earlier before
    dusk (it reads dark while the sky is still bright), until it burns all day.
    """
    return 10.0 ** (-5.0 * np.clip(progress, 0.0, 1.0))


def water_trip_rate_per_h(progress: np.ndarray, wetness: float) -> np.ndarray:
    """Trips per burning hour of a luminaire taking in water: only when damp, more as it gets worse."""
    return 3.0 * np.clip(progress, 0.0, 1.0) * wetness


WATER_TRIP_DARK_SHARE = 0.6  # share of trips still dark when the reading is taken


def cycling_rate_per_h(progress: np.ndarray) -> np.ndarray:
    """On/off cycles per burning hour at end of life: 0.5 at the onset to 6 at failure."""
    return 0.5 + 5.5 * np.clip(progress, 0.0, 1.0)


CYCLE_DARK_MIN = 2.0  # an HPS lamp that went out needs about a minute or two to cool and restrike
CYCLING_EVENT_MIN_CYCLES = 3  # the controller reports cycling from this many cycles in one night


def cycling_dark_probability(cycles: np.ndarray, dt_s: float) -> np.ndarray:
    """Chance that a reading finds a cycling lamp dark, given its cycles since the last reading.

    Each cycle leaves the lamp dark for about CYCLE_DARK_MIN minutes (capped at 80 %).
    """
    if dt_s <= 0.0:
        return np.zeros(np.shape(cycles))
    return np.minimum(0.8, np.asarray(cycles, dtype=float) * CYCLE_DARK_MIN * 60.0 / dt_s)


def hps_power_rise_fraction(progress: np.ndarray) -> np.ndarray:
    """Extra HPS lamp power as the arc voltage rises towards end of life: up to 8 %."""
    return 0.08 * np.clip(progress, 0.0, 1.0)


def supply_sag_rate_per_day(progress: np.ndarray) -> np.ndarray:
    """Readings with a voltage sag per day on a circuit whose supply is failing: 1 → 21."""
    return 1.0 + 20.0 * np.clip(progress, 0.0, 1.0) ** 2


BASE_SAG_RATE_PER_DAY = 1.0 / 14.0  # healthy circuit: one reading in a sag every two weeks
BASE_SWELL_RATE_PER_DAY = 1.0 / 30.0
