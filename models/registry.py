"""Trained models, versioned in the `model_versions` table with what is needed to trust them.

A version keeps its window, horizon, metrics, ordered features, library versions and the
fitted pipeline. It is loaded only when the running libraries can read it and the service
computes the same features; a failed training is recorded as 'failed' and scoring keeps
the newest 'ready' one (docs/prediction.md, "Registry").
"""

from __future__ import annotations

import io
import platform
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any

import joblib
import numpy as np
import pandas as pd
import sklearn
from psycopg.types.json import Jsonb
from threadpoolctl import threadpool_limits

# Versions that must match between the library that wrote a model and the one reading it:
# scikit-learn does not promise to read pickles across minor versions; numpy and pandas
# across major versions; Python pickles across minor versions are not guaranteed either.
COMPATIBILITY_PARTS = {"scikit-learn": 2, "numpy": 1, "pandas": 1, "python": 2}
# OpenMP threads for fitting and predicting: the service shares its processors with the
# ingester and the database, and spinning OpenMP threads that compete with them slow a fit
# down (docs/performance.md).
MODEL_THREADS = 1


class ModelError(Exception):
    """No usable model: none trained yet, or the stored one cannot be used here."""


class IncompatibleModelError(ModelError):
    pass


@dataclass(slots=True)
class ModelBundle:
    """What is pickled: the calibrated pipeline and what scoring needs around it."""

    pipeline: Any  # fitted, with predict_proba over `features` in this order
    features: tuple[str, ...]
    horizon_days: int
    # Per feature, the fleet's median and a robust spread over the training days: the
    # reference that reasons compare a lamp with.
    reference: pd.DataFrame = field(default_factory=pd.DataFrame)
    # Supply warnings per circuit (models.circuits.CircuitModel), or None when the training
    # days held too few supply losses to learn them. Bundles stored before circuits had none.
    circuit: Any = None

    @property
    def circuit_model(self) -> Any:
        return getattr(self, "circuit", None)

    def predict(self, frame: pd.DataFrame) -> np.ndarray:
        with threadpool_limits(MODEL_THREADS, user_api="openmp"):
            return self.pipeline.predict_proba(frame.loc[:, list(self.features)])[:, 1]


@dataclass(frozen=True, slots=True)
class ModelVersion:
    version: str
    created_at: datetime
    status: str
    trained_from: date | None
    trained_to: date | None
    horizon_days: int
    features: tuple[str, ...]
    metrics: dict
    library_versions: dict
    error: str | None


@dataclass(frozen=True, slots=True)
class LoadedModel:
    info: ModelVersion
    bundle: ModelBundle

    @property
    def version(self) -> str:
        return self.info.version


def library_versions() -> dict[str, str]:
    return {
        "scikit-learn": sklearn.__version__,
        "numpy": np.__version__,
        "pandas": pd.__version__,
        "joblib": joblib.__version__,
        "python": platform.python_version(),
    }


def incompatibilities(stored: dict[str, str], running: dict[str, str]) -> list[str]:
    """What differs between the libraries that wrote a model and those running now."""
    problems = []
    for name, parts in COMPATIBILITY_PARTS.items():
        made_with = stored.get(name)
        if made_with is None:
            problems.append(f"{name} version not recorded")
            continue
        if made_with.split(".")[:parts] != running[name].split(".")[:parts]:
            problems.append(f"{name} {made_with} (running {running[name]})")
    return problems


def new_version_name(conn, now: datetime | None = None) -> str:
    base = (now or datetime.now(UTC)).astimezone(UTC).strftime("%Y%m%dT%H%M%SZ")
    taken = {row[0] for row in conn.execute("SELECT version FROM model_versions WHERE version LIKE %s", (base + "%",))}
    if base not in taken:
        return base
    n = 2
    while f"{base}-{n}" in taken:
        n += 1
    return f"{base}-{n}"


def _dump(bundle: ModelBundle) -> bytes:
    buffer = io.BytesIO()
    joblib.dump(bundle, buffer, compress=3)
    return buffer.getvalue()


def save_model(
    conn,
    bundle: ModelBundle,
    *,
    trained_from: date,
    trained_to: date,
    metrics: dict,
) -> str:
    """Store a trained model as a new 'ready' version; returns its version name."""
    version = new_version_name(conn)
    conn.execute(
        """INSERT INTO model_versions (version, status, trained_from, trained_to, horizon_days, features,
                                       metrics, library_versions, artifact)
           VALUES (%s, 'ready', %s, %s, %s, %s, %s, %s, %s)""",
        (
            version,
            trained_from,
            trained_to,
            bundle.horizon_days,
            Jsonb(list(bundle.features)),
            Jsonb(metrics),
            Jsonb(library_versions()),
            _dump(bundle),
        ),
    )
    conn.commit()
    return version


def record_failure(
    conn, *, error: str, horizon_days: int, features: Sequence[str], trained_from: date | None, trained_to: date | None
) -> str:
    """Record a training that failed, so that `model list` and the logs say so."""
    conn.rollback()
    version = new_version_name(conn)
    conn.execute(
        """INSERT INTO model_versions (version, status, trained_from, trained_to, horizon_days, features,
                                       library_versions, error)
           VALUES (%s, 'failed', %s, %s, %s, %s, %s, %s)""",
        (version, trained_from, trained_to, horizon_days, Jsonb(list(features)), Jsonb(library_versions()), error),
    )
    conn.commit()
    return version


_COLUMNS = (
    "version, created_at, status, trained_from, trained_to, horizon_days, features, metrics, library_versions, error"
)


def _info(row) -> ModelVersion:
    return ModelVersion(
        version=row[0],
        created_at=row[1],
        status=row[2],
        trained_from=row[3],
        trained_to=row[4],
        horizon_days=row[5],
        features=tuple(row[6]),
        metrics=row[7] or {},
        library_versions=row[8] or {},
        error=row[9],
    )


def list_models(conn) -> list[ModelVersion]:
    rows = conn.execute(f"SELECT {_COLUMNS} FROM model_versions ORDER BY created_at DESC, version DESC").fetchall()
    return [_info(row) for row in rows]


def load_model(conn, features: Sequence[str], version: str | None = None) -> LoadedModel:
    """The given version, or the newest ready one; refuses one this service cannot use.

    `features` is the list the service computes now (models.features.FEATURES).
    """
    if version is None:
        row = conn.execute(
            f"SELECT {_COLUMNS}, artifact FROM model_versions WHERE status = 'ready'"
            " ORDER BY created_at DESC, version DESC LIMIT 1"
        ).fetchone()
        if row is None:
            raise ModelError("no trained model yet: run `streetlight model train`")
    else:
        row = conn.execute(f"SELECT {_COLUMNS}, artifact FROM model_versions WHERE version = %s", (version,)).fetchone()
        if row is None:
            raise ModelError(f"no model version {version} (see `streetlight model list`)")
        if row[2] != "ready":
            raise ModelError(f"model version {version} is {row[2]}, not ready")
    info = _info(row)
    problems = incompatibilities(info.library_versions, library_versions())
    if problems:
        raise IncompatibleModelError(
            f"model {info.version} was made with other library versions: {', '.join(problems)};"
            " retrain it with `streetlight model train`"
        )
    if tuple(features) != info.features:
        missing = [f for f in features if f not in info.features]
        extra = [f for f in info.features if f not in features]
        what = []
        if missing:
            what.append(f"it lacks {', '.join(missing)}")
        if extra:
            what.append(f"it expects {', '.join(extra)}, which the service no longer computes")
        if not what:
            what.append("its features are in another order")
        raise IncompatibleModelError(
            f"model {info.version} was trained on other features ({'; '.join(what)});"
            " retrain it with `streetlight model train`"
        )
    bundle = joblib.load(io.BytesIO(bytes(row[10])))
    return LoadedModel(info, bundle)
