"""Multi-label metrics against scikit-learn."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from sklearn import metrics as skm

from loopml.evaluate.labels import accuracy, f1, precision, recall
from loopml.evaluate.multilabel import evaluate_multilabel, hamming_loss, subset_accuracy
from loopml.exceptions import DataError


def _data(seed: int, n: int = 300, k: int = 5) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    Y = (rng.random((n, k)) < 0.35).astype(int)
    Y[:, -1] = 0  # a label no sample has
    P = np.clip(Y * 0.4 + rng.random((n, k)) * 0.6, 0, 1)
    return Y, (P >= 0.5).astype(int), P


@pytest.mark.parametrize("seed", range(5))
def test_metrics_match_sklearn(seed: int) -> None:
    Y, Yp, P = _data(seed)
    r = evaluate_multilabel(Y, Yp, P)
    m = r.metrics
    assert m["hamming_loss"] == pytest.approx(skm.hamming_loss(Y, Yp))
    assert m["subset_accuracy"] == pytest.approx(skm.accuracy_score(Y, Yp))
    assert m["jaccard_samples"] == pytest.approx(
        skm.jaccard_score(Y, Yp, average="samples", zero_division=0)
    )
    for avg in ("micro", "macro", "weighted", "samples"):
        for name, fn in [
            ("precision", skm.precision_score),
            ("recall", skm.recall_score),
            ("f1", skm.f1_score),
        ]:
            expected = fn(Y, Yp, average=avg, zero_division=0)
            assert m[f"{name}_{avg}"] == pytest.approx(expected), (name, avg)
    for avg, ours in [("micro", precision), ("macro", recall), ("samples", f1)]:
        assert ours(Y, Yp, average=avg) == pytest.approx(  # type: ignore[arg-type]
            {precision: skm.precision_score, recall: skm.recall_score, f1: skm.f1_score}[ours](
                Y, Yp, average=avg, zero_division=0
            )
        )
    np.testing.assert_allclose(
        r.per_label["f1"], skm.f1_score(Y, Yp, average=None, zero_division=0)
    )
    defined = Y.sum(axis=0) > 0
    assert m["roc_auc_macro"] == pytest.approx(
        skm.roc_auc_score(Y[:, defined], P[:, defined], average="macro")
    )
    assert m["roc_auc_micro"] == pytest.approx(skm.roc_auc_score(Y, P, average="micro"))
    assert m["average_precision_micro"] == pytest.approx(
        skm.average_precision_score(Y, P, average="micro")
    )
    assert m["average_precision_macro"] == pytest.approx(
        skm.average_precision_score(Y[:, defined], P[:, defined], average="macro")
    )
    assert np.isnan(r.per_label["roc_auc"].iloc[-1])
    assert any("undefined for label(s) 4" in n for n in r.notes)
    assert hamming_loss(Y, Yp) == m["hamming_loss"]
    assert subset_accuracy(Y, Yp) == accuracy(Y, Yp) == m["subset_accuracy"]
    json.dumps(r.to_dict(), allow_nan=False)


def test_label_sets_and_frames() -> None:
    truth = [["news", "sport"], [], ["tech"]]
    pred = [["news"], ["tech"], ["tech"]]
    r = evaluate_multilabel(truth, pred)
    assert r.labels == ["news", "sport", "tech"]
    assert r.metrics["hamming_loss"] == pytest.approx(2 / 9)
    assert r.per_label.loc["sport", "precision"] == 0.0
    assert any("never predicted" in n and "sport" in n for n in r.notes)
    frame = pd.DataFrame({"a": [1, 0], "b": [0, 1]})
    r2 = evaluate_multilabel(frame, None, frame.to_numpy() * 0.8 + 0.1)
    assert r2.labels == ["a", "b"] and r2.metrics["subset_accuracy"] == 1.0
    assert r2.threshold == 0.5


def test_nested_lists_are_indicators_and_sets_are_label_sets() -> None:
    r = evaluate_multilabel([[1, 0], [0, 1]], [[1, 0], [1, 1]])
    assert r.labels == [0, 1] and r.metrics["hamming_loss"] == 0.25
    r2 = evaluate_multilabel([{1, 2}, {3}], [{1}, {3}])
    assert r2.labels == [1, 2, 3] and r2.metrics["subset_accuracy"] == 0.5


def test_errors() -> None:
    with pytest.raises(DataError, match="Y_pred must hold only 0/1"):
        evaluate_multilabel([[1, 0]], [[0.7, 0.2]])
    with pytest.raises(DataError, match="Length mismatch"):
        hamming_loss([[1, 0], [0, 1]], [[1, 0]])
    with pytest.raises(DataError, match="labels has 2 names but Y_pred has 3 columns"):
        hamming_loss([[1, 0]], [[1, 0, 1]])
    with pytest.raises(DataError, match="Y_true is empty"):
        evaluate_multilabel(np.zeros((0, 3)), np.zeros((0, 3)))
    with pytest.raises(DataError, match="row 0 has label 'x'"):
        evaluate_multilabel([["a"]], [["x"]])
    with pytest.raises(DataError, match=r"Y_proba must have shape \(1, 2\)"):
        evaluate_multilabel([[1, 0]], [[1, 0]], [[0.3, 0.2, 0.1]])
    with pytest.raises(DataError, match="Pass Y_pred"):
        evaluate_multilabel([[1, 0]])
    with pytest.raises(DataError, match="average for multi-label input"):
        precision([[1, 0]], [[1, 0]], average="binary")
