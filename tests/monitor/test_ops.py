"""Operational figures from the prediction log, and reading the log into frames."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np
import pytest

from loopml.exceptions import DataError
from loopml.monitor import inputs_frame, ops_from_store, ops_summary, predictions_frame
from loopml.monitor.logs import parse_since
from loopml.store import Store

START = datetime(2024, 6, 1, 10, 0, tzinfo=UTC)


@pytest.fixture
def store() -> Store:
    s = Store.in_memory()
    yield s  # type: ignore[misc]
    s.close()


def fill(store: Store) -> list[float]:
    latencies = [float(v) for v in np.linspace(5, 104, 100)]
    for i, ms in enumerate(latencies):
        store.log_predictions(
            "churn",
            1,
            inputs=[{"id": 2 * i, "x": i}, {"id": 2 * i + 1, "x": -i}],
            outputs=[{"prediction": "yes", "proba": {"no": 0.3, "yes": 0.7}}, "no"],
            latency_ms=ms,
            request_id=f"r{i}",
            at=START + timedelta(seconds=36 * i),  # 100 requests over the first hour
        )
    for j in range(4):
        store.log_predictions(
            "churn",
            1,
            inputs=[{"id": 1000 + j, "x": "bad"}],
            outputs={"error": "x must be a number"},
            latency_ms=1.0,
            at=START + timedelta(hours=1, minutes=j),
        )
    return latencies


def test_latency_percentiles_throughput_and_error_rate(store: Store) -> None:
    latencies = fill(store)
    ops = ops_from_store(store, "churn", window="1h")
    first, second = ops.windows
    assert first.requests == 100 and first.rows == 200 and first.errors == 0
    assert first.latency_p50_ms == pytest.approx(np.percentile(latencies, 50))
    assert first.latency_p95_ms == pytest.approx(np.percentile(latencies, 95))
    assert first.latency_p99_ms == pytest.approx(np.percentile(latencies, 99))
    assert first.rows_per_s == pytest.approx(200 / 3600)
    assert second.requests == 4 and second.error_rate == 1.0
    assert ops.errors_logged and ops.error_rate == pytest.approx(4 / 104)
    figures = ops.figures()
    assert figures["error_rate"] == 1.0 and figures["latency_p95_ms"] == pytest.approx(1.0)
    assert ops.to_dict()["windows"][0]["requests"] == 100


def test_without_logged_errors_the_report_says_so(store: Store) -> None:
    store.log_predictions("m", 1, inputs=[{"x": 1}], outputs=[1], at=START)
    ops = ops_summary(store.list_predictions("m"), window="1D")
    assert ops.error_rate == 0.0 and not ops.errors_logged
    assert any("does not log failures" in n for n in ops.notes)
    assert any("No request in the log has a latency" in n for n in ops.notes)
    empty = ops_summary([], window="1h")
    assert empty.windows == [] and empty.figures() == {}


def test_log_frames(store: Store) -> None:
    fill(store)
    records = store.list_predictions("churn")
    inputs = inputs_frame(records)
    assert len(inputs) == 204 and list(inputs["id"][:3]) == [0, 1, 2]
    assert {"_at", "_request_id", "_version"} <= set(inputs.columns)
    preds = predictions_frame(records)
    assert len(preds) == 200  # failed requests have no predictions
    assert list(preds["prediction"][:2]) == ["yes", "no"]
    assert preds["proba_yes"].iloc[0] == 0.7 and np.isnan(preds["proba_yes"].iloc[1])
    by_request = predictions_frame(records, id_column="missing")
    assert list(by_request["id"][:2]) == ["r0:0", "r0:1"]


def test_parse_since() -> None:
    now = datetime(2024, 1, 10, tzinfo=UTC)
    assert parse_since("7d", now=now) == now - timedelta(days=7)
    assert parse_since("90m", now=now) == now - timedelta(minutes=90)
    assert parse_since("2024-01-01") == datetime(2024, 1, 1, tzinfo=UTC)
    assert parse_since(None) is None
    with pytest.raises(DataError, match="duration like 7d"):
        parse_since("last week")
