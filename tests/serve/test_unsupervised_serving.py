"""Serving anomaly detectors and segmenters: /predict answers as `loopml predict` does."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from loopml.serve.batch import predict_frame
from loopml.store import Store
from tests.serve.serving_fixtures import client_for
from tests.serve.test_app import rows_of


def _frame(n: int = 300) -> pd.DataFrame:
    rng = np.random.default_rng(3)
    df = pd.DataFrame({"a": rng.normal(size=n), "b": rng.normal(size=n)})
    df.loc[:4, ["a", "b"]] = 8.0  # a few obvious outliers
    df["plan"] = rng.choice(["basic", "pro"], n)
    return df


def test_anomaly_endpoint_returns_scores_flags_and_threshold() -> None:
    from loopml.learn.tasks import find_anomalies

    store = Store()
    df = _frame()
    result = find_anomalies(df, name="fraud", store=store, n_estimators=50)
    X = df.iloc[:12]
    with client_for(result.ref, store=store, log_predictions=True) as (client, state):
        r = client.post("/predict", json={"rows": rows_of(X)})
        assert r.status_code == 200, r.text
        body = r.json()
        meta = client.get("/metadata").json()
        assert state.logger is not None and state.logger.flush(30)
    expected = predict_frame(result.model, X)
    assert body["predictions"] == expected["is_anomaly"].tolist()
    assert body["scores"] == pytest.approx(expected["anomaly_score"].tolist())
    assert body["score_threshold"] == pytest.approx(result.threshold)
    assert meta["score_threshold"] == pytest.approx(result.threshold)
    assert body["predictions"][:5] == [1] * 5
    (log,) = store.list_predictions("fraud")
    assert [o["score"] for o in log.outputs] == pytest.approx(body["scores"])
    assert [o["prediction"] for o in log.outputs] == body["predictions"]


def test_segmenter_endpoint_returns_segments_without_scores() -> None:
    from loopml.learn.tasks import cluster

    store = Store()
    df = _frame()
    result = cluster(df, k=3, name="segments", store=store)
    X = df.iloc[:20]
    with client_for(result.ref, store=store) as (client, _):
        body = client.post("/predict", json={"rows": rows_of(X)}).json()
    assert body["predictions"] == result.model.predict(X).tolist()
    assert "scores" not in body and body["probabilities"] is None
