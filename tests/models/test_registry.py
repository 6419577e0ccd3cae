"""The model registry: round trip, refusals with a clear message, failed trainings."""

from __future__ import annotations

from datetime import date

import numpy as np
import pandas as pd
import psycopg
import pytest
from psycopg.types.json import Jsonb
from sklearn.dummy import DummyClassifier

from models import registry
from models.features import FEATURES


def bundle(positive_share: float = 0.25) -> registry.ModelBundle:
    frame = pd.DataFrame(np.zeros((8, len(FEATURES))), columns=list(FEATURES))
    labels = np.r_[np.ones(round(8 * positive_share)), np.zeros(8 - round(8 * positive_share))]
    model = DummyClassifier(strategy="prior").fit(frame, labels)
    return registry.ModelBundle(model, FEATURES, 14, pd.DataFrame({"median": 0.0, "spread": 1.0}, index=list(FEATURES)))


def save(conn, share: float = 0.25) -> str:
    return registry.save_model(
        conn,
        bundle(share),
        trained_from=date(2026, 1, 1),
        trained_to=date(2026, 6, 30),
        metrics={"model": {"pr_auc": 0.5}},
    )


def test_a_stored_model_loads_back_and_predicts_the_same(timescale_url):
    with psycopg.connect(timescale_url) as conn:
        version = save(conn)
        loaded = registry.load_model(conn, FEATURES)
    assert loaded.version == version
    assert loaded.info.status == "ready"
    assert loaded.info.trained_from == date(2026, 1, 1) and loaded.info.horizon_days == 14
    assert loaded.info.features == FEATURES
    assert loaded.info.metrics == {"model": {"pr_auc": 0.5}}
    assert set(loaded.info.library_versions) >= {"scikit-learn", "numpy", "pandas", "python"}
    rows = pd.DataFrame(np.zeros((3, len(FEATURES))), columns=list(FEATURES))
    assert loaded.bundle.predict(rows).tolist() == [0.25, 0.25, 0.25]


def test_the_newest_ready_model_is_used_and_a_failed_training_does_not_replace_it(timescale_url):
    with psycopg.connect(timescale_url) as conn:
        save(conn, 0.25)
        newest = save(conn, 0.5)
        failed = registry.record_failure(
            conn,
            error="TrainingError: too few failures",
            horizon_days=14,
            features=FEATURES,
            trained_from=date(2026, 1, 1),
            trained_to=date(2026, 7, 1),
        )
        assert registry.load_model(conn, FEATURES).version == newest
        listed = registry.list_models(conn)
        with pytest.raises(registry.ModelError, match=f"model version {failed} is failed"):
            registry.load_model(conn, FEATURES, failed)
    assert [m.status for m in listed] == ["failed", "ready", "ready"]
    assert listed[0].error == "TrainingError: too few failures"
    assert len({m.version for m in listed}) == 3


def test_a_model_made_with_other_library_versions_is_refused(timescale_url):
    with psycopg.connect(timescale_url) as conn:
        version = save(conn)
        stored = registry.library_versions() | {"scikit-learn": "1.2.2"}
        conn.execute("UPDATE model_versions SET library_versions = %s WHERE version = %s", (Jsonb(stored), version))
        conn.commit()
        with pytest.raises(registry.IncompatibleModelError) as refused:
            registry.load_model(conn, FEATURES)
    message = str(refused.value)
    assert f"model {version} was made with other library versions" in message
    assert f"scikit-learn 1.2.2 (running {registry.library_versions()['scikit-learn']})" in message
    assert "streetlight model train" in message


def test_a_model_trained_on_other_features_is_refused(timescale_url):
    with psycopg.connect(timescale_url) as conn:
        save(conn)
        with pytest.raises(registry.IncompatibleModelError, match="it lacks wind_speed"):
            registry.load_model(conn, (*FEATURES, "wind_speed"))
        with pytest.raises(registry.IncompatibleModelError, match="another order"):
            registry.load_model(conn, tuple(reversed(FEATURES)))


def test_without_a_model_the_message_says_how_to_make_one(timescale_url):
    with psycopg.connect(timescale_url) as conn:
        with pytest.raises(registry.ModelError, match="no trained model yet: run `streetlight model train`"):
            registry.load_model(conn, FEATURES)


def test_compatibility_compares_the_parts_that_matter():
    running = {"scikit-learn": "1.9.1", "numpy": "2.4.6", "pandas": "3.1.1", "python": "3.11.7"}
    assert (
        registry.incompatibilities(running | {"scikit-learn": "1.9.0", "numpy": "2.0.0", "python": "3.11.2"}, running)
        == []
    )
    assert registry.incompatibilities(running | {"numpy": "1.26.4"}, running) == ["numpy 1.26.4 (running 2.4.6)"]
    assert registry.incompatibilities({}, running)[0] == "scikit-learn version not recorded"
