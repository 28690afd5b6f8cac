"""Label metrics and evaluate_classification, cross-checked against scikit-learn."""

from __future__ import annotations

import json

import numpy as np
import pytest
from sklearn import metrics as skm

from loopml.evaluate.classification import check_proba, evaluate_classification, log_loss
from loopml.evaluate.labels import (
    accuracy,
    balanced_accuracy,
    confusion_matrix,
    f1,
    mcc,
    precision,
    recall,
    specificity,
)
from loopml.exceptions import DataError

SEEDS = [0, 1, 2, 3, 4]


def _binary(seed: int, n: int = 400) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 2, n)
    p = np.clip(rng.normal(0.35 + 0.3 * y, 0.25), 0, 1).round(2)  # rounding makes ties
    return y, (p >= 0.5).astype(int), p


def _multiclass(seed: int, n: int = 500, k: int = 4) -> tuple[np.ndarray, ...]:
    rng = np.random.default_rng(seed)
    y = rng.integers(0, k, n)
    logits = rng.normal(size=(n, k))
    logits[np.arange(n), y] += 1.0
    proba = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    return y, proba.argmax(axis=1), proba


def _specificity_ref(y: np.ndarray, p: np.ndarray, labels: list) -> np.ndarray:
    mcm = skm.multilabel_confusion_matrix(y, p, labels=labels)
    tn, fp = mcm[:, 0, 0], mcm[:, 0, 1]
    return tn / (tn + fp)


@pytest.mark.parametrize("seed", SEEDS)
def test_binary_label_metrics_match_sklearn(seed: int) -> None:
    y, p, _ = _binary(seed)
    assert accuracy(y, p) == pytest.approx(skm.accuracy_score(y, p))
    assert precision(y, p) == pytest.approx(skm.precision_score(y, p))
    assert recall(y, p) == pytest.approx(skm.recall_score(y, p))
    assert f1(y, p) == pytest.approx(skm.f1_score(y, p))
    assert specificity(y, p) == pytest.approx(skm.recall_score(y, p, pos_label=0))
    assert balanced_accuracy(y, p) == pytest.approx(skm.balanced_accuracy_score(y, p))
    assert mcc(y, p) == pytest.approx(skm.matthews_corrcoef(y, p))
    for avg in ("macro", "micro", "weighted"):
        assert f1(y, p, average=avg) == pytest.approx(skm.f1_score(y, p, average=avg))
        assert precision(y, p, average=avg) == pytest.approx(skm.precision_score(y, p, average=avg))
    assert precision(y, p, pos_label=0) == pytest.approx(skm.precision_score(y, p, pos_label=0))
    np.testing.assert_array_equal(confusion_matrix(y, p), skm.confusion_matrix(y, p))


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("normalize", [None, "true", "pred", "all"])
def test_multiclass_label_metrics_match_sklearn(seed: int, normalize: str | None) -> None:
    y, p, _ = _multiclass(seed)
    names = np.array(["ant", "bee", "cat", "dog"])
    ys, ps = names[y], names[p]
    np.testing.assert_allclose(
        confusion_matrix(ys, ps, normalize=normalize),  # type: ignore[arg-type]
        skm.confusion_matrix(ys, ps, normalize=normalize),  # type: ignore[arg-type]
    )
    for avg in ("macro", "micro", "weighted"):
        for ours, theirs in [
            (precision, skm.precision_score),
            (recall, skm.recall_score),
            (f1, skm.f1_score),
        ]:
            assert ours(ys, ps, average=avg) == pytest.approx(theirs(ys, ps, average=avg))
    spec = _specificity_ref(ys, ps, list(names))
    assert specificity(ys, ps) == pytest.approx(spec.mean())
    assert specificity(ys, ps, average="weighted") == pytest.approx(
        np.average(spec, weights=np.bincount(y))
    )
    assert precision(ys, ps) == pytest.approx(skm.precision_score(ys, ps, average="macro"))
    assert mcc(ys, ps) == pytest.approx(skm.matthews_corrcoef(ys, ps))
    assert balanced_accuracy(ys, ps) == pytest.approx(skm.balanced_accuracy_score(ys, ps))
    # pos_label on a multiclass task scores that class against the rest
    assert recall(ys, ps, pos_label="cat") == pytest.approx(
        skm.recall_score(ys, ps, labels=["cat"], average="macro")
    )


@pytest.mark.parametrize("seed", SEEDS)
def test_evaluate_binary_matches_sklearn(seed: int) -> None:
    y, p, score = _binary(seed)
    proba = np.c_[1 - score, score]
    r = evaluate_classification(y, p, proba)
    m = r.metrics
    assert r.task == "binary" and r.pos_label == 1 and r.classes == [0, 1]
    expected = {
        "accuracy": skm.accuracy_score(y, p),
        "balanced_accuracy": skm.balanced_accuracy_score(y, p),
        "precision": skm.precision_score(y, p),
        "recall": skm.recall_score(y, p),
        "specificity": skm.recall_score(y, p, pos_label=0),
        "f1": skm.f1_score(y, p),
        "f1_macro": skm.f1_score(y, p, average="macro"),
        "f1_micro": skm.f1_score(y, p, average="micro"),
        "f1_weighted": skm.f1_score(y, p, average="weighted"),
        "mcc": skm.matthews_corrcoef(y, p),
        "roc_auc": skm.roc_auc_score(y, score),
        "average_precision": skm.average_precision_score(y, score),
        "log_loss": skm.log_loss(y, proba),
    }
    for name, value in expected.items():
        assert m[name] == pytest.approx(value, rel=1e-10, abs=1e-12), name
    # 1-D probabilities give the same numbers
    r1 = evaluate_classification(y, p, score)
    for name, value in expected.items():
        assert r1.metrics[name] == pytest.approx(value, rel=1e-10, abs=1e-12), name
    per = r.per_class
    assert per.loc[0, "average_precision"] == pytest.approx(
        skm.average_precision_score(1 - y, 1 - score)
    )
    assert per.loc[0, "roc_auc"] == pytest.approx(skm.roc_auc_score(y, score))
    assert per.loc[1, "support"] == (y == 1).sum()


@pytest.mark.parametrize("seed", SEEDS)
def test_evaluate_multiclass_matches_sklearn(seed: int) -> None:
    y, p, proba = _multiclass(seed)
    r = evaluate_classification(y, p, proba)
    m = r.metrics
    assert r.task == "multiclass" and r.pos_label is None
    assert m["precision"] == pytest.approx(skm.precision_score(y, p, average="macro"))
    assert m["recall"] == pytest.approx(skm.recall_score(y, p, average="macro"))
    assert m["f1"] == pytest.approx(skm.f1_score(y, p, average="macro"))
    assert m["f1_weighted"] == pytest.approx(skm.f1_score(y, p, average="weighted"))
    assert m["f1_micro"] == pytest.approx(skm.f1_score(y, p, average="micro"))
    assert m["specificity"] == pytest.approx(_specificity_ref(y, p, [0, 1, 2, 3]).mean())
    assert m["mcc"] == pytest.approx(skm.matthews_corrcoef(y, p))
    assert m["roc_auc"] == pytest.approx(skm.roc_auc_score(y, proba, multi_class="ovr"))
    assert m["average_precision"] == pytest.approx(skm.average_precision_score(y, proba))
    assert m["log_loss"] == pytest.approx(skm.log_loss(y, proba))
    np.testing.assert_allclose(r.per_class["f1"].to_numpy(), skm.f1_score(y, p, average=None))
    np.testing.assert_array_equal(r.confusion.counts, skm.confusion_matrix(y, p))
    np.testing.assert_allclose(r.confusion.normalized, skm.confusion_matrix(y, p, normalize="true"))
    # labels derived from probabilities when y_pred is None: argmax
    r2 = evaluate_classification(y, None, proba)
    assert r2.metrics["accuracy"] == pytest.approx(m["accuracy"])


def test_curves_are_downsampled_and_json_safe() -> None:
    rng = np.random.default_rng(0)
    y = rng.integers(0, 2, 5000)
    score = rng.random(5000) * 0.5 + 0.3 * y
    r = evaluate_classification(y, score >= 0.5, score)
    roc = r.curves["roc"]["1"]
    pr = r.curves["pr"]["1"]
    assert len(roc["fpr"]) <= 500 and len(pr["precision"]) <= 500
    assert roc["fpr"][0] == 0 and roc["tpr"][-1] == 1
    assert pr["recall"][-1] == 0 and pr["precision"][-1] == 1
    assert np.trapezoid(roc["tpr"], roc["fpr"]) == pytest.approx(r.metrics["roc_auc"], abs=1e-3)
    d = json.loads(json.dumps(r.to_dict(), allow_nan=False))
    assert d["metrics"]["roc_auc"] == pytest.approx(r.metrics["roc_auc"])
    assert d["curves"]["roc"]["1"]["thresholds"][0] is None  # inf -> None
    assert d["per_class"][1]["class"] == 1


def test_threshold_and_pos_label() -> None:
    y = np.array(["no", "yes", "yes", "no", "yes"])
    score = np.array([0.1, 0.8, 0.4, 0.3, 0.6])
    r = evaluate_classification(y, None, score, threshold=0.35)
    assert r.pos_label == "yes" and r.threshold == 0.35
    assert r.metrics["recall"] == 1.0 and r.metrics["precision"] == pytest.approx(1.0)
    r2 = evaluate_classification(y, None, score, threshold=0.5)
    assert r2.metrics["recall"] == pytest.approx(2 / 3)
    r3 = evaluate_classification(y, np.where(score >= 0.5, "yes", "no"), score, pos_label="no")
    assert r3.pos_label == "no"
    assert r3.metrics["recall"] == pytest.approx(
        skm.recall_score(y, r2_pred(score), pos_label="no")
    )
    assert r3.metrics["roc_auc"] == pytest.approx(skm.roc_auc_score(y == "no", 1 - score))
    assert r3.metrics["log_loss"] == pytest.approx(skm.log_loss(y, np.c_[1 - score, score]))
    assert r3.metrics["average_precision"] == pytest.approx(
        skm.average_precision_score(y == "no", 1 - score)
    )


def r2_pred(score: np.ndarray) -> np.ndarray:
    return np.where(score >= 0.5, "yes", "no")


def test_class_never_predicted_is_reported() -> None:
    y = [0, 1, 2, 2, 1, 0]
    p = [0, 1, 1, 1, 1, 0]
    r = evaluate_classification(y, p)
    assert r.per_class.loc[2, "precision"] == 0.0
    assert r.metrics["precision"] == pytest.approx(
        skm.precision_score(y, p, average="macro", zero_division=0)
    )
    assert any("never predicted" in n and "2" in n for n in r.notes)
    assert r.metrics["roc_auc"] is None and any("No y_proba" in n for n in r.notes)


def test_single_class_gives_none_auc_not_crash() -> None:
    y = [1, 1, 1, 1]
    r = evaluate_classification(y, [1, 0, 1, 1], [0.9, 0.4, 0.8, 0.7])
    assert r.classes == [0, 1]
    assert r.metrics["roc_auc"] is None
    assert r.metrics["average_precision"] == 1.0
    assert r.metrics["recall"] == 0.75
    assert any("single class" in n for n in r.notes)
    assert r.curves["roc"] == {}
    # all-negative sample: the positive class 1 is implied, recall is 0/0 -> 0
    r0 = evaluate_classification([0, 0, 0], [0, 0, 1], [0.1, 0.2, 0.7])
    assert r0.pos_label == 1 and r0.metrics["recall"] == 0.0
    assert r0.metrics["roc_auc"] is None and r0.metrics["average_precision"] is None
    # string labels: a single class is scored as it is, with a note
    rs = evaluate_classification(["a", "a"], ["a", "a"])
    assert rs.metrics["accuracy"] == 1.0 and rs.classes == ["a"]


def test_class_absent_from_y_true_with_classes() -> None:
    y, p, proba = _multiclass(0, n=200, k=3)
    mask = y != 2
    r = evaluate_classification(y[mask], p[mask], proba[mask], classes=[0, 1, 2])
    assert np.isnan(r.per_class.loc[2, "roc_auc"])
    assert r.metrics["roc_auc"] == pytest.approx(
        np.mean([skm.roc_auc_score(y[mask] == c, proba[mask][:, c]) for c in (0, 1)])
    )
    assert any("do not occur in y_true" in n for n in r.notes)
    yt, pt = y[mask], p[mask]
    recalls = [np.mean(pt[yt == c] == c) for c in (0, 1)]  # class 2 has no true samples
    assert r.metrics["balanced_accuracy"] == pytest.approx(np.mean(recalls))


def test_log_loss_function() -> None:
    y, _, proba = _multiclass(3)
    assert log_loss(y, proba) == pytest.approx(skm.log_loss(y, proba))
    yb, _, score = _binary(3)
    assert log_loss(yb, score) == pytest.approx(skm.log_loss(yb, score))
    assert log_loss(["b", "a"], [[0.3, 0.7], [0.6, 0.4]]) == pytest.approx(
        skm.log_loss(["b", "a"], [[0.3, 0.7], [0.6, 0.4]])
    )
    # extreme probabilities are clipped as in scikit-learn, not infinite
    assert log_loss([0, 1], [[0.0, 1.0], [1.0, 0.0]]) == pytest.approx(
        skm.log_loss([0, 1], [[0.0, 1.0], [1.0, 0.0]])
    )


def test_bool_and_float_labels() -> None:
    y = np.array([True, False, True, True])
    p = np.array([True, False, False, True])
    r = evaluate_classification(y, p)
    assert r.pos_label is True and r.classes == [False, True]
    assert r.metrics["recall"] == pytest.approx(2 / 3)
    assert precision([0.0, 1.0, 1.0], [1.0, 1.0, 1.0]) == pytest.approx(2 / 3)


# --- edge cases: clear errors ---------------------------------------------------------


def test_empty_input() -> None:
    with pytest.raises(DataError, match="y_true is empty"):
        evaluate_classification([], [])
    with pytest.raises(DataError, match="y_true is empty"):
        accuracy([], [])


def test_length_mismatch() -> None:
    with pytest.raises(DataError, match="Length mismatch: y_true has 3, y_pred has 2"):
        f1([0, 1, 1], [0, 1])
    with pytest.raises(DataError, match="y_proba has 2 rows"):
        evaluate_classification([0, 1, 1], [0, 1, 1], [[0.5, 0.5], [0.5, 0.5]])


def test_nan_predictions() -> None:
    with pytest.raises(DataError, match=r"y_pred contains 1 missing value\(s\).*index 1"):
        accuracy([0.0, 1.0], [0.0, np.nan])
    with pytest.raises(DataError, match="y_true contains 1 missing"):
        precision(["a", None, "b"], ["a", "b", "b"])
    with pytest.raises(DataError, match="y_proba contains 1 NaN"):
        evaluate_classification([0, 1], [0, 1], [0.2, np.nan])


def test_probabilities_checked() -> None:
    with pytest.raises(DataError, match=r"must sum to 1; 1 row\(s\) do not \(first: row 1"):
        evaluate_classification([0, 1], [0, 1], [[0.8, 0.2], [0.5, 0.9]])
    with pytest.raises(DataError, match=r"probabilities in \[0, 1\]"):
        evaluate_classification([0, 1], [0, 1], [-1.5, 2.0])
    with pytest.raises(DataError, match=r"shape \(3, 3\)"):
        evaluate_classification([0, 1, 2], [0, 1, 2], np.full((3, 2), 0.5))
    with pytest.raises(DataError, match="1-D but there are 3 classes"):
        check_proba([0.1, 0.2, 0.3], 3, 3)
    with pytest.raises(DataError, match=r"got \(2, 3\).*classes=model.classes_"):
        evaluate_classification([0, 1], [0, 1], [[0.2, 0.3, 0.5], [0.1, 0.1, 0.8]])


def test_label_errors() -> None:
    with pytest.raises(DataError, match="y_true holds numbers but y_pred holds strings"):
        accuracy([0, 1], ["0", "1"])
    with pytest.raises(DataError, match=r"y_pred holds label\(s\) 'z' that are not in classes"):
        evaluate_classification(["a", "b"], ["a", "z"], classes=["a", "b"])
    with pytest.raises(DataError, match="pos_label='x' is not one of the classes"):
        evaluate_classification(["a", "b"], ["a", "b"], classes=["a", "b"], pos_label="x")
    with pytest.raises(DataError, match="needs two classes or a pos_label"):
        precision([0, 1, 2], [0, 1, 2], average="binary")
    with pytest.raises(DataError, match="average must be one of"):
        precision([0, 1, 2], [0, 1, 2], average="bogus")  # type: ignore[arg-type]
    with pytest.raises(DataError, match="must be 1-D"):
        accuracy(np.zeros((2, 2, 2)), np.zeros((2, 2, 2)))


def test_evaluator_argument_errors() -> None:
    with pytest.raises(DataError, match="Pass y_pred"):
        evaluate_classification([0, 1])
    with pytest.raises(DataError, match="threshold= needs y_proba"):
        evaluate_classification([0, 1], [0, 1], threshold=0.3)
    y, p, proba = _multiclass(0, n=30, k=3)
    with pytest.raises(DataError, match="threshold= applies to binary tasks only"):
        evaluate_classification(y, p, proba, threshold=0.3)
