"""ROC/PR curves, ROC-AUC and average precision against scikit-learn (ties included)."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn import metrics as skm

from loopml.evaluate.ranking import (
    average_precision,
    binary_counts,
    downsample_curve,
    pr_curve,
    roc_auc,
    roc_curve,
)
from loopml.exceptions import DataError


def _data(seed: int, n: int = 300, decimals: int | None = 1) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 2, n)
    s = rng.normal(y * 0.8, 1.0)
    return y, (s.round(decimals) if decimals is not None else s)


@pytest.mark.parametrize("seed", range(6))
@pytest.mark.parametrize("decimals", [None, 1])
def test_curves_match_sklearn(seed: int, decimals: int | None) -> None:
    y, s = _data(seed, decimals=decimals)
    for drop in (True, False):
        ours = roc_curve(y, s, drop_intermediate=drop)
        theirs = skm.roc_curve(y, s, drop_intermediate=drop)
        for a, b in zip(ours, theirs, strict=True):
            np.testing.assert_allclose(a, b)
        ours = pr_curve(y, s, drop_intermediate=drop)
        theirs = skm.precision_recall_curve(y, s, drop_intermediate=drop)
        for a, b in zip(ours, theirs, strict=True):
            np.testing.assert_allclose(a, b)
    assert roc_auc(y, s) == pytest.approx(skm.roc_auc_score(y, s), rel=1e-12)
    assert average_precision(y, s) == pytest.approx(skm.average_precision_score(y, s), rel=1e-12)
    # pos_label flips the problem
    assert roc_auc(y, -s, pos_label=0) == pytest.approx(skm.roc_auc_score(y == 0, -s))
    assert average_precision(y, -s, pos_label=0) == pytest.approx(
        skm.average_precision_score(y == 0, -s)
    )


@pytest.mark.parametrize("seed", range(4))
@pytest.mark.parametrize("average", ["macro", "weighted"])
def test_multiclass_ovr_matches_sklearn(seed: int, average: str) -> None:
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 5, 400)
    logits = rng.normal(size=(400, 5)).round(1)
    logits[np.arange(400), y] += 0.7
    proba = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    assert roc_auc(y, proba, average=average) == pytest.approx(  # type: ignore[arg-type]
        skm.roc_auc_score(y, proba, multi_class="ovr", average=average)
    )
    assert average_precision(y, proba, average=average) == pytest.approx(  # type: ignore[arg-type]
        skm.average_precision_score(y, proba, average=average)
    )
    names = np.array(list("vwxyz"))[y]
    assert roc_auc(names, proba) == pytest.approx(roc_auc(y, proba))


def test_two_column_scores_and_string_labels() -> None:
    y, s = _data(7)
    p = 1 / (1 + np.exp(-s))
    proba = np.c_[1 - p, p]
    labels = np.where(y == 1, "spam", "ham")
    assert roc_auc(labels, proba) == pytest.approx(skm.roc_auc_score(y, p))
    assert roc_auc(labels, proba, pos_label="ham") == pytest.approx(
        skm.roc_auc_score(y == 0, 1 - p)
    )


def test_binary_counts_and_large_ties() -> None:
    y = np.array([1, 0, 1, 0, 1, 1], dtype=bool)
    s = np.array([0.5, 0.5, 0.5, 0.2, 0.9, 0.2])
    c = binary_counts(y, s)
    np.testing.assert_array_equal(c.thresholds, [0.9, 0.5, 0.2])
    np.testing.assert_array_equal(c.tps, [1, 3, 4])
    np.testing.assert_array_equal(c.fps, [0, 1, 2])
    assert c.auc() == pytest.approx(skm.roc_auc_score(y, s))


def test_downsample_keeps_ends() -> None:
    x = np.linspace(0, 1, 10_000)
    y = np.sqrt(x)
    t = np.arange(10_000.0)
    xs, _, ts = downsample_curve(x, y, t, max_points=100)
    assert xs.size <= 100 and xs[0] == 0 and xs[-1] == 1 and ts[-1] == 9999
    assert np.all(np.diff(ts) > 0)
    small = downsample_curve(x[:50], y[:50], max_points=100)
    assert small[0].size == 50


def test_errors() -> None:
    with pytest.raises(DataError, match="single class"):
        roc_auc([1, 1, 1], [0.2, 0.3, 0.4])
    with pytest.raises(DataError, match="single class"):
        roc_curve([0, 0], [0.1, 0.2])
    with pytest.raises(DataError, match="has no sample of the positive class 'x'"):
        roc_auc(["a", "b"], [0.1, 0.2], pos_label="x")
    with pytest.raises(DataError, match=r"has 3 classes .* y_score is 1-D"):
        roc_auc([0, 1, 2], [0.1, 0.2, 0.3])
    with pytest.raises(DataError, match="y_score has 3 columns but y_true has 2 classes"):
        roc_auc([0, 1, 1, 0], np.full((4, 3), 1 / 3))
    with pytest.raises(DataError, match="undefined for class"):
        roc_auc([0, 1, 1, 0], np.full((4, 3), 1 / 3), classes=[0, 1, 2])
    with pytest.raises(DataError, match="y_score contains 1 NaN"):
        average_precision([0, 1], [0.1, np.nan])
    with pytest.raises(DataError, match="Length mismatch"):
        roc_auc([0, 1, 1], [0.1, 0.2])
    with pytest.raises(DataError, match="is empty"):
        roc_auc([], [])
