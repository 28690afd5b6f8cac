"""Regression metrics and residual analysis against scikit-learn."""

from __future__ import annotations

import json

import numpy as np
import pytest
from sklearn import metrics as skm

from loopml.evaluate.regression import (
    evaluate_regression,
    mae,
    mape,
    median_ae,
    mse,
    r2,
    residual_summary,
    rmse,
)
from loopml.exceptions import DataError


@pytest.mark.parametrize("seed", range(5))
def test_metrics_match_sklearn(seed: int) -> None:
    rng = np.random.default_rng(seed)
    y = rng.normal(50, 10, 300)
    p = y + rng.normal(0, 3, 300)
    assert mae(y, p) == pytest.approx(skm.mean_absolute_error(y, p))
    assert mse(y, p) == pytest.approx(skm.mean_squared_error(y, p))
    assert rmse(y, p) == pytest.approx(skm.root_mean_squared_error(y, p))
    assert mape(y, p) == pytest.approx(skm.mean_absolute_percentage_error(y, p))
    assert r2(y, p) == pytest.approx(skm.r2_score(y, p))
    assert median_ae(y, p) == pytest.approx(skm.median_absolute_error(y, p))
    r = evaluate_regression(y, p)
    for name, fn in [
        ("mae", skm.mean_absolute_error),
        ("mse", skm.mean_squared_error),
        ("rmse", skm.root_mean_squared_error),
        ("mape", skm.mean_absolute_percentage_error),
        ("r2", skm.r2_score),
        ("median_ae", skm.median_absolute_error),
    ]:
        assert r.metrics[name] == pytest.approx(fn(y, p)), name
    res = y - p
    s = r.residuals
    assert s.mean == pytest.approx(res.mean()) and s.std == pytest.approx(res.std())
    assert s.quantiles["0.5"] == pytest.approx(np.median(res))
    assert s.share_beyond_2std == pytest.approx(np.mean(np.abs(res) > 2 * res.std()))
    assert s.corr_with_prediction == pytest.approx(np.corrcoef(res, p)[0, 1])
    assert s.corr_abs_with_prediction == pytest.approx(np.corrcoef(np.abs(res), p)[0, 1])
    json.dumps(r.to_dict(), allow_nan=False)


def test_heteroscedastic_and_biased_residuals_are_flagged() -> None:
    rng = np.random.default_rng(0)
    p = rng.uniform(1, 100, 2000)
    y = p + rng.normal(0, 1, 2000) * p * 0.2 + 5
    s = residual_summary(y, p)
    assert s.corr_abs_with_prediction is not None and s.corr_abs_with_prediction > 0.3
    assert any("heteroscedastic" in h for h in s.hints)
    assert any("under-predicts" in h for h in s.hints)


def test_zero_targets_and_mape() -> None:
    y = [0.0, 1.0, 2.0]
    p = [0.5, 1.0, 2.5]
    r = evaluate_regression(y, p)
    assert r.metrics["mape"] is None
    assert any("MAPE is undefined: 1 of 3 true values are 0" in n for n in r.notes)
    with pytest.raises(DataError, match="MAPE is undefined: 3 of 3 true values are 0"):
        mape([0, 0, 0], [1, 2, 3])


def test_degenerate_r2() -> None:
    r = evaluate_regression([3.0], [2.0])
    assert r.metrics["r2"] is None and r.metrics["mae"] == 1.0
    with pytest.raises(DataError, match="R² needs at least 2 samples"):
        r2([3.0], [2.0])
    rc = evaluate_regression([2.0, 2.0], [2.0, 2.5])
    assert rc.metrics["r2"] == skm.r2_score([2.0, 2.0], [2.0, 2.5])
    assert any("constant" in n for n in rc.notes)
    assert rc.residuals.corr_with_prediction is None


def test_errors() -> None:
    with pytest.raises(DataError, match="y_true is empty"):
        mae([], [])
    with pytest.raises(
        DataError, match=r"y_pred contains 1 NaN or infinite value\(s\), first at index 1"
    ):
        evaluate_regression([1.0, 2.0], [1.0, np.nan])
    with pytest.raises(DataError, match="Length mismatch: y_true has 2, y_pred has 3"):
        rmse([1, 2], [1, 2, 3])
    with pytest.raises(DataError, match="y_true must be numeric"):
        mae(["a", "b"], [1, 2])
