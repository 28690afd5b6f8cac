"""Model quality per time window once labels arrive: metrics, baseline deltas, KPI gates."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import accuracy_score, mean_absolute_error, recall_score, roc_auc_score

from loopml.exceptions import DataError
from loopml.monitor import Gate, quality_over_time
from loopml.monitor.quality import lower_is_better


def logged(n_days: int = 3, per_day: int = 100, seed: int = 0) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Binary predictions that get worse day by day (day d: accuracy ~ 0.9 - 0.2 d)."""
    rng = np.random.default_rng(seed)
    rows, labels = [], []
    for day in range(n_days):
        for i in range(per_day):
            rid = day * per_day + i
            y = int(rng.random() < 0.4)
            wrong = rng.random() < 0.1 + 0.2 * day
            pred = 1 - y if wrong else y
            p1 = 0.8 if pred == 1 else 0.2
            at = pd.Timestamp("2024-03-01", tz="UTC") + pd.Timedelta(days=day, minutes=i)
            rows.append({"id": rid, "at": at, "prediction": pred, "proba_0": 1 - p1, "proba_1": p1})
            labels.append({"id": rid, "label": y})
    return pd.DataFrame(rows), pd.DataFrame(labels)


def test_metrics_per_window_match_sklearn() -> None:
    preds, labels = logged()
    q = quality_over_time(preds, labels, "binary", classes=[0, 1])
    assert [w.start[:10] for w in q.windows] == ["2024-03-01", "2024-03-02", "2024-03-03"]
    for day, w in enumerate(q.windows):
        p = preds.iloc[day * 100 : (day + 1) * 100]
        y = labels.iloc[day * 100 : (day + 1) * 100]["label"]
        assert w.n_predictions == w.n_labelled == 100
        assert w.metrics["accuracy"] == pytest.approx(accuracy_score(y, p["prediction"]))
        assert w.metrics["recall"] == pytest.approx(recall_score(y, p["prediction"]))
        assert w.metrics["roc_auc"] == pytest.approx(roc_auc_score(y, p["proba_1"]))
    assert q.overall["accuracy"] == pytest.approx(
        accuracy_score(labels["label"], preds["prediction"])
    )


def test_gates_and_baseline() -> None:
    preds, labels = logged()
    q = quality_over_time(
        preds,
        labels,
        "binary",
        baseline_metrics={"accuracy": 0.9, "roc_auc": None},
        gates=["accuracy >= 0.8"],
        classes=[0, 1],
    )
    accs = [w.metrics["accuracy"] for w in q.windows]
    assert [w.deltas["accuracy"] for w in q.windows] == pytest.approx([a - 0.9 for a in accs])
    assert "roc_auc" not in q.baseline  # no number to compare with
    breached = [bool(w.breaches) for w in q.windows]
    assert breached == [a < 0.8 for a in accs] and breached[-1]
    assert (
        q.breaches[-1].startswith("2024-03-03: accuracy")
        and "gate accuracy >= 0.8" in q.breaches[-1]
    )
    figures = q.figures()
    assert figures["accuracy"] == accs[-1] and figures["quality_breaches"] == 1.0
    assert figures["accuracy_delta"] == pytest.approx(accs[-1] - 0.9)


def test_tolerance_gates_every_baseline_metric_in_its_direction() -> None:
    preds, labels = logged()
    q = quality_over_time(
        preds, labels, "binary", baseline_metrics={"accuracy": 0.9, "log_loss": 0.3}, tolerance=0.05
    )
    assert [str(g) for g in q.gates] == ["accuracy >= 0.85", "log_loss <= 0.35"]
    assert lower_is_better("log_loss") and lower_is_better("mean_squared_error")
    assert not lower_is_better("recall")


def test_small_windows_are_scored_but_not_gated() -> None:
    preds, labels = logged(per_day=10)
    q = quality_over_time(preds, labels, "binary", gates=["accuracy >= 0.99"])
    assert all(not w.gated and not w.breaches for w in q.windows)
    assert any("No window has 30 labelled rows" in n for n in q.notes)
    assert q.latest is q.windows[-1]


def test_labels_join_by_id_with_partial_arrival_and_mixed_types() -> None:
    preds, labels = logged(n_days=2, per_day=50)
    preds["prediction"] = preds["prediction"].map({0: "no", 1: "yes"})
    preds = preds.rename(columns={"proba_0": "proba_no", "proba_1": "proba_yes"})
    labels = labels.iloc[::2].copy()  # half the outcomes are known so far
    labels["outcome"] = labels.pop("label").map({0: "no", 1: "yes"})
    labels["id"] = labels["id"].astype(str)  # ids read from a CSV as text
    extra = pd.DataFrame({"id": ["999"], "outcome": ["yes"]})
    labels = pd.concat([labels, extra], ignore_index=True)
    q = quality_over_time(
        preds, labels, "binary", label_column="outcome", classes=["no", "yes"], min_samples=1
    )
    assert [w.n_labelled for w in q.windows] == [25, 25]
    assert q.n_labels_unmatched == 1 and any("match no logged prediction" in n for n in q.notes)
    assert q.windows[0].metrics["roc_auc"] is not None


def test_regression_quality() -> None:
    at = pd.date_range("2024-01-01", periods=48, freq="h", tz="UTC")
    preds = pd.DataFrame({"id": range(48), "at": at, "prediction": np.arange(48.0)})
    labels = pd.DataFrame(
        {"id": range(48), "label": np.arange(48.0) + np.r_[np.zeros(24), np.ones(24) * 3]}
    )
    q = quality_over_time(
        preds, labels, "regression", gates=[Gate.parse("mae <= 1")], min_samples=10
    )
    assert [w.metrics["mae"] for w in q.windows] == pytest.approx([0.0, 3.0])
    assert q.windows[1].metrics["mae"] == pytest.approx(
        mean_absolute_error(labels["label"][24:], preds["prediction"][24:])
    )
    assert [bool(w.breaches) for w in q.windows] == [False, True]


def test_bad_input_is_explained() -> None:
    preds, labels = logged(n_days=1, per_day=5)
    with pytest.raises(DataError, match="labels have no column 'outcome'"):
        quality_over_time(preds, labels, "binary", label_column="outcome")
    with pytest.raises(DataError, match="supervised task"):
        quality_over_time(preds, labels, "clustering")
    with pytest.raises(DataError, match=r"must look like 'recall >= 0\.80'"):
        Gate.parse("recall is high")
    rule = Gate.parse("recall >= 0.8").to_rule()
    assert (rule.metric, rule.op, rule.threshold) == ("recall", "<", 0.8)


def test_labels_read_as_floats_because_of_gaps_still_match_integer_classes() -> None:
    preds, labels = logged(n_days=1, per_day=40)
    labels["label"] = labels["label"].astype("float64")
    labels.loc[:9, "label"] = np.nan  # outcomes not known yet
    q = quality_over_time(preds, labels, "binary", classes=[0, 1], min_samples=1)
    assert q.n_labelled == 30 and not q.notes
    expected = accuracy_score(labels["label"][10:].astype(int), preds["prediction"][10:])
    assert q.windows[0].metrics["accuracy"] == pytest.approx(expected)
