"""Threshold analysis: vectorised metrics per threshold, choices under KPI constraints."""

from __future__ import annotations

import json

import numpy as np
import pytest
from sklearn import metrics as skm

from loopml.evaluate.threshold import ThresholdChoice, choose_threshold, threshold_curve
from loopml.exceptions import DataError


def _data(seed: int, n: int = 400) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 2, n)
    return y, np.clip(rng.normal(0.4 + 0.25 * y, 0.2), 0, 1).round(2)


@pytest.mark.parametrize("seed", range(4))
def test_curve_matches_sklearn_at_every_threshold(seed: int) -> None:
    y, s = _data(seed)
    df = threshold_curve(y, s)
    assert np.all(np.diff(df["threshold"]) < 0)
    assert len(df) == np.unique(s).size
    for _, row in df.sample(15, random_state=seed).iterrows():
        pred = (s >= row["threshold"]).astype(int)
        assert row["precision"] == pytest.approx(skm.precision_score(y, pred, zero_division=0))
        assert row["recall"] == pytest.approx(skm.recall_score(y, pred))
        assert row["specificity"] == pytest.approx(skm.recall_score(y, pred, pos_label=0))
        assert row["f1"] == pytest.approx(skm.f1_score(y, pred))
        assert row["accuracy"] == pytest.approx(skm.accuracy_score(y, pred))
        assert row["balanced_accuracy"] == pytest.approx(skm.balanced_accuracy_score(y, pred))
        assert row["mcc"] == pytest.approx(skm.matthews_corrcoef(y, pred))
        assert row["predicted_positive_rate"] == pytest.approx(pred.mean())


@pytest.mark.parametrize("seed", range(4))
def test_best_threshold_is_the_brute_force_optimum(seed: int) -> None:
    y, s = _data(seed)
    choice = choose_threshold(y, s, maximize="f1")
    best = max(skm.f1_score(y, (s >= t).astype(int)) for t in np.unique(s))
    assert choice.value == pytest.approx(best)
    assert choice.metrics["f1"] == pytest.approx(
        skm.f1_score(y, (s >= choice.threshold).astype(int))
    )
    assert choice.objective == "f1" and choice.constraint is None


@pytest.mark.parametrize("seed", range(4))
def test_constraint_recall(seed: int) -> None:
    y, s = _data(seed)
    c = choose_threshold(y, s, constraint="recall >= 0.9")
    assert c.objective == "precision"
    assert c.metrics["recall"] >= 0.9
    feasible = [t for t in np.unique(s) if skm.recall_score(y, (s >= t).astype(int)) >= 0.9]
    best_prec = max(skm.precision_score(y, (s >= t).astype(int)) for t in feasible)
    assert c.metrics["precision"] == pytest.approx(best_prec)
    # ties go to the highest threshold
    ties = [
        t
        for t in feasible
        if skm.precision_score(y, (s >= t).astype(int)) == pytest.approx(best_prec)
    ]
    assert c.threshold == max(ties)


def test_aliases_and_other_constraints() -> None:
    y, s = _data(9)
    c = choose_threshold(y, s, constraint="tnr >= 0.8", maximize="sensitivity")
    assert c.objective == "recall" and c.metrics["specificity"] >= 0.8
    c2 = choose_threshold(y, s, constraint="fpr < 0.1")
    assert c2.metrics["fpr"] < 0.1 and c2.objective == "recall"


def test_choice_predicts_and_round_trips() -> None:
    y = np.array(["ham", "spam", "spam", "ham"])
    s = np.array([0.1, 0.9, 0.6, 0.4])
    c = choose_threshold(y, s)
    assert c.pos_label == "spam" and c.neg_label == "ham"
    assert c.threshold == 0.6 and c.value == 1.0
    np.testing.assert_array_equal(c.predict([0.7, 0.2]), ["spam", "ham"])
    restored = ThresholdChoice.from_dict(json.loads(json.dumps(c.to_dict())))
    assert restored == c
    proba = np.c_[1 - s, s]
    assert choose_threshold(y, proba).threshold == 0.6
    assert choose_threshold(y, proba, pos_label="ham").pos_label == "ham"


def test_errors() -> None:
    y, s = _data(1)
    with pytest.raises(
        DataError, match=r"No threshold meets 'precision >= 1.5'.*best reachable precision is 0.9"
    ):
        choose_threshold(y, s, constraint="precision >= 1.5")
    with pytest.raises(DataError, match=r"Cannot read the constraint 'recall at least 0\.9'"):
        choose_threshold(y, s, constraint="recall at least 0.9")
    with pytest.raises(DataError, match="Unknown threshold metric 'lift'"):
        choose_threshold(y, s, maximize="lift")
    with pytest.raises(DataError, match="needs both classes"):
        choose_threshold([1, 1], [0.2, 0.4])
    with pytest.raises(DataError, match="binary tasks; y_true has 3"):
        threshold_curve([0, 1, 2], [0.1, 0.2, 0.3])
    with pytest.raises(DataError, match="y_score contains 1 NaN"):
        threshold_curve([0, 1], [0.1, np.nan])
    with pytest.raises(DataError, match="Length mismatch"):
        threshold_curve([0, 1, 1], [0.1, 0.2])
    with pytest.raises(DataError, match="positive-class column"):
        choose_threshold(y, s).predict(np.c_[1 - s, s])
