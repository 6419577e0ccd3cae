"""Typed settings, read from the environment (prefix ``STREETLIGHT_``) or a ``.env`` file."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from urllib.parse import urlsplit

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from core.contract import DEFAULT_TOPIC_PREFIX, Topics


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="STREETLIGHT_", env_file=".env", extra="ignore")

    # Where to find the database and the broker. Empty means: use the embedded
    # default (only `streetlight demo` does that; `serve` refuses).
    database_url: str = Field("", description="PostgreSQL URL, e.g. postgresql://user@host:5432/streetlight")
    mqtt_url: str = Field("", description="mqtt://host:1883 or mqtts://host:8883")
    mqtt_username: str | None = None
    mqtt_password: SecretStr | None = None
    mqtt_ca_file: Path | None = Field(None, description="CA bundle for mqtts:// (system store if unset)")
    mqtt_client_cert: Path | None = None
    mqtt_client_key: Path | None = None
    mqtt_allow_anonymous: bool = Field(
        False, description="Allow serve to use a non-loopback broker without credentials (not for production)"
    )
    topic_prefix: str = DEFAULT_TOPIC_PREFIX

    data_dir: Path = Field(Path(".data"), description="Where the demo keeps its database and files")
    town_timezone: str = "Europe/Paris"

    # Web console
    map_tile_url: str | None = Field(
        None,
        description=(
            "Map tile URL template for the console's map, e.g. https://tiles.example.org/{z}/{x}/{y}.png"
            " (a tile server the town may use). Unset: the lamps are drawn on a plain background,"
            " with no request leaving the service."
        ),
    )
    map_tile_attribution: str = Field("", description="Attribution text the tile provider requires, shown on the map")

    # Ingester
    ingest_client_id: str = "streetlight-ingest-1"
    ingest_share_group: str | None = Field(None, description="Shared-subscription group; set to run several ingesters")
    ingest_batch_size: int = Field(5000, ge=1, le=200_000)
    ingest_flush_interval_s: float = Field(0.2, gt=0, le=10)
    ingest_retry_max_s: float = Field(30.0, gt=0)

    # Storage
    retention_days: int = Field(400, ge=1, description="Raw readings older than this are dropped")
    chunk_interval_hours: int = Field(24, ge=1, description="TimescaleDB chunk interval for readings")
    db_pool_size: int = Field(8, ge=1)
    api_statement_timeout_s: float = Field(
        30.0,
        gt=0,
        le=3600,
        description="The API cancels any statement of a request that runs longer than this (503 to the caller)",
    )

    # Failure prediction (models/)
    prediction_horizon_days: int = Field(
        14, ge=1, le=90, description="A lamp counts as failing if it fails within this many days"
    )
    crew_visits_per_day: int = Field(20, ge=1, description="Lamps the crews can visit per day: the k of precision at k")
    circuit_round_min_probability: float = Field(
        0.3,
        ge=0,
        le=1,
        description="A circuit whose risk of a supply loss is at least this is a stop of the daily round (one visit)",
    )
    scoring_hour: int = Field(2, ge=0, le=23, description="Hour (town time) of the nightly scoring job")
    model_retrain_weekday: str = Field(
        "sun",
        pattern="^(mon|tue|wed|thu|fri|sat|sun|)$",
        description="Night (mon..sun) the nightly job retrains the model before scoring; empty: never",
    )
    model_training_days: int = Field(365, ge=60, description="Days of history the nightly retraining learns from")

    # Dimming (dimming/)
    dimming_min_level: int = Field(0, ge=0, le=100, description="Lowest level a profile step may set (0 allows off)")
    dimming_max_steps: int = Field(12, ge=1, le=96, description="Most steps a profile may have")
    plan_horizon_hours: int = Field(72, ge=48, le=24 * 14, description="How far ahead each pushed plan reaches")
    energy_price_eur_per_kwh: float = Field(0.20, ge=0, description="Electricity price used for savings")
    emission_g_co2_per_kwh: float = Field(52.0, ge=0, description="Grid emission factor used for savings")

    # Console sign-in
    session_hours: float = Field(12.0, gt=0, le=24 * 30, description="How long a console session lasts")
    session_cookie_secure: bool = Field(
        False,
        description="Mark the session cookie Secure even on plain-HTTP requests (behind a TLS proxy that does"
        " not say so); it is always Secure on HTTPS requests",
    )
    auth_cache_s: float = Field(
        5.0,
        ge=0,
        le=60,
        description="How long each server process keeps a signed-in principal in memory (0: not at all); a"
        " revocation, deactivation or role change made elsewhere takes effect within this delay",
    )
    # The sign-in limit (accounts.throttle): wrong passwords slow down the address they come from.
    login_failures_per_address_user: int = Field(
        5,
        ge=1,
        le=1000,
        description="Wrong passwords for one username from one address before each further attempt from there"
        " for that username waits",
    )
    login_failures_per_address: int = Field(
        20,
        ge=1,
        le=100_000,
        description="Wrong passwords from one address, whatever the usernames, before each further attempt from"
        " there waits (raise it for a town whose staff share one address)",
    )
    login_first_delay_s: float = Field(
        15.0, ge=1, le=3600, description="The first wait once a limit is reached; each further failure doubles it"
    )
    login_max_delay_s: float = Field(900.0, gt=0, le=24 * 3600, description="The longest wait")
    login_failure_window_hours: float = Field(
        24.0,
        gt=0,
        le=24 * 30,
        description="How long a wrong password counts (unless its account then signs in from the same address)",
    )

    @field_validator("topic_prefix")
    @classmethod
    def _valid_prefix(cls, value: str) -> str:
        Topics(value)  # raises with a clear message
        return value

    @field_validator("mqtt_url")
    @classmethod
    def _valid_mqtt_url(cls, value: str) -> str:
        if value and urlsplit(value).scheme not in ("mqtt", "mqtts", "tcp", "ssl"):
            raise ValueError("STREETLIGHT_MQTT_URL must start with mqtt:// or mqtts://")
        return value

    @field_validator("map_tile_url")
    @classmethod
    def _valid_tile_url(cls, value: str | None) -> str | None:
        if value is None or not value.strip():
            return None
        if urlsplit(value).scheme not in ("http", "https") or not all(p in value for p in ("{z}", "{x}", "{y}")):
            raise ValueError("STREETLIGHT_MAP_TILE_URL must be an http(s) URL template with {z}, {x} and {y}")
        return value.strip()

    @property
    def topics(self) -> Topics:
        return Topics(self.topic_prefix)


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings()
