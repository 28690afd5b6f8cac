from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np
import pytest

from loopml.exceptions import DataError
from loopml.store import AlertNotFoundError, Store


def test_prediction_logs(store: Store) -> None:
    start = datetime(2024, 1, 1, tzinfo=UTC)
    for i in range(3):
        store.log_predictions(
            "churn",
            1 + i // 2,
            inputs=[{"age": np.int64(30 + i), "income": np.nan}],
            outputs=np.array([0.25 * i]),
            latency_ms=np.float64(2.5),
            request_id=f"r{i}",
            at=start + timedelta(minutes=i),
        )
    store.log_predictions("other", 1, inputs=[{}, {}], outputs=[1, 0], at=start)

    logs = store.list_predictions("churn")
    assert [log.request_id for log in logs] == ["r2", "r1", "r0"]  # newest first
    newest = logs[0]
    assert newest.inputs == [{"age": 32, "income": None}]
    assert newest.outputs == [0.5]
    assert newest.n_rows == 1 and newest.latency_ms == 2.5 and newest.version == 2
    assert newest.at == start + timedelta(minutes=2) and newest.at.tzinfo is UTC

    assert [log.request_id for log in store.list_predictions("churn", limit=2)] == ["r2", "r1"]
    since = start + timedelta(minutes=1)
    assert [log.request_id for log in store.list_predictions("churn", since=since)] == ["r2", "r1"]
    assert [log.request_id for log in store.list_predictions("churn", version=1)] == ["r1", "r0"]
    assert store.list_predictions("other")[0].n_rows == 2
    assert store.list_predictions("none") == []


def test_naive_timestamps_are_taken_as_utc(store: Store) -> None:
    store.log_predictions("m", 1, inputs=[], outputs=[], at=datetime(2024, 5, 1, 12, 0))
    assert store.list_predictions("m")[0].at == datetime(2024, 5, 1, 12, 0, tzinfo=UTC)


def test_alerts(store: Store) -> None:
    first = store.record_alert(
        "drift",
        severity="warning",
        message="age drifted",
        evidence={"psi": np.float64(0.3), "columns": ("age",)},
        name="churn",
    )
    second = store.record_alert("latency", severity="critical", message="p95 over 200 ms")
    assert first.evidence == {"psi": 0.3, "columns": ["age"]}
    assert first.resolved_at is None and first.at.tzinfo is UTC

    assert [a.id for a in store.list_alerts()] == [second.id, first.id]
    assert [a.id for a in store.list_alerts(name="churn")] == [first.id]
    assert [a.id for a in store.list_alerts(rule="latency")] == [second.id]

    resolved = store.resolve_alert(first.id)
    assert resolved.resolved_at is not None and resolved.resolved_at.tzinfo is UTC
    assert store.resolve_alert(first.id).resolved_at == resolved.resolved_at
    assert [a.id for a in store.list_alerts(unresolved=True)] == [second.id]
    assert store.list_alerts(limit=1)[0].id == second.id


def test_alert_errors(store: Store) -> None:
    with pytest.raises(DataError, match="severity must be one of info, warning, error, critical"):
        store.record_alert("drift", severity="bad", message="x")
    with pytest.raises(AlertNotFoundError, match="No alert with id 42"):
        store.resolve_alert(42)
    assert store.list_alerts() == []
