"""Regression metrics and residual analysis.

Residuals are ``y_true - y_pred`` (positive: the model under-predicts). Values
match scikit-learn's ``mean_absolute_error``, ``mean_absolute_percentage_error``,
``root_mean_squared_error``, ``mean_squared_error``, ``r2_score`` and
``median_absolute_error``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

from loopml.evaluate._checks import as_float_1d, check_lengths, jsonable
from loopml.exceptions import DataError

__all__ = [
    "RegressionReport",
    "ResidualSummary",
    "evaluate_regression",
    "mae",
    "mape",
    "median_ae",
    "mse",
    "r2",
    "residual_summary",
    "rmse",
]

QUANTILES = (0.0, 0.05, 0.25, 0.5, 0.75, 0.95, 1.0)
# |corr(|residual|, prediction)| above this is flagged as heteroscedastic.
_HETERO_CORR = 0.3


def _pair(y_true: ArrayLike, y_pred: ArrayLike) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    yt = as_float_1d(y_true, "y_true")
    yp = as_float_1d(y_pred, "y_pred")
    check_lengths(y_true=yt, y_pred=yp)
    return yt, yp


def mae(y_true: ArrayLike, y_pred: ArrayLike) -> float:
    """Mean absolute error, in the target's units.

    Examples
    --------
    >>> mae([1.0, 2.0, 3.0], [1.5, 2.0, 2.0])
    0.5
    """
    yt, yp = _pair(y_true, y_pred)
    return float(np.mean(np.abs(yt - yp)))


def mse(y_true: ArrayLike, y_pred: ArrayLike) -> float:
    """Mean squared error.

    Examples
    --------
    >>> mse([1.0, 2.0], [2.0, 4.0])
    2.5
    """
    yt, yp = _pair(y_true, y_pred)
    return float(np.mean((yt - yp) ** 2))


def rmse(y_true: ArrayLike, y_pred: ArrayLike) -> float:
    """Root mean squared error, in the target's units.

    Examples
    --------
    >>> rmse([0.0, 0.0, 0.0, 0.0], [2.0, 2.0, 2.0, 2.0])
    2.0
    """
    return float(np.sqrt(mse(y_true, y_pred)))


def median_ae(y_true: ArrayLike, y_pred: ArrayLike) -> float:
    """Median absolute error (robust to outliers).

    Examples
    --------
    >>> median_ae([1.0, 2.0, 3.0], [1.0, 2.5, 10.0])
    0.5
    """
    yt, yp = _pair(y_true, y_pred)
    return float(np.median(np.abs(yt - yp)))


def _mape(yt: NDArray[np.float64], yp: NDArray[np.float64]) -> float:
    return float(np.mean(np.abs(yt - yp) / np.abs(yt)))


def _zero_target_message(n_zero: int, n: int) -> str:
    return (
        f"MAPE is undefined: {n_zero} of {n} true values are 0, and the percentage error "
        "divides by the true value. Use mae/rmse, or drop the zero targets if they are "
        "not meaningful."
    )


def mape(y_true: ArrayLike, y_pred: ArrayLike) -> float:
    """Mean absolute percentage error, as a fraction (0.1 = 10 %).

    Raises
    ------
    DataError
        When a true value is 0: the percentage error would divide by zero
        (scikit-learn returns a huge number instead).

    Examples
    --------
    >>> mape([100.0, 200.0], [110.0, 180.0])
    0.1
    """
    yt, yp = _pair(y_true, y_pred)
    n_zero = int(np.count_nonzero(yt == 0))
    if n_zero:
        raise DataError(_zero_target_message(n_zero, yt.size))
    return _mape(yt, yp)


def r2(y_true: ArrayLike, y_pred: ArrayLike) -> float:
    """Coefficient of determination R² (1 is perfect; 0 is predicting the mean).

    For constant targets it follows scikit-learn: 1.0 if the predictions are
    exact, else 0.0.

    Raises
    ------
    DataError
        With fewer than two samples (R² is undefined).

    Examples
    --------
    >>> r2([1.0, 2.0, 3.0], [1.0, 2.0, 3.0])
    1.0
    """
    yt, yp = _pair(y_true, y_pred)
    if yt.size < 2:
        raise DataError("R² needs at least 2 samples; got 1. Evaluate on more samples.")
    return _r2(yt, yp)


def _r2(yt: NDArray[np.float64], yp: NDArray[np.float64]) -> float:
    ss_res = float(np.sum((yt - yp) ** 2))
    ss_tot = float(np.sum((yt - yt.mean()) ** 2))
    if ss_tot == 0:
        return 1.0 if ss_res == 0 else 0.0
    return 1.0 - ss_res / ss_tot


def _corr(a: NDArray[np.float64], b: NDArray[np.float64]) -> float | None:
    if a.size < 3 or np.ptp(a) == 0 or np.ptp(b) == 0:
        return None
    a0 = a - a.mean()
    b0 = b - b.mean()
    den = np.sqrt((a0 @ a0) * (b0 @ b0))
    return float(a0 @ b0 / den) if den > 0 else None


@dataclass(frozen=True)
class ResidualSummary:
    """Distribution of the residuals ``y_true - y_pred``.

    Attributes
    ----------
    mean, std : float
        Mean (bias: > 0 means under-prediction) and standard deviation (ddof=0).
    quantiles : dict
        ``{"0.0": min, "0.05": ..., "0.5": median, ..., "1.0": max}``.
    share_beyond_2std : float
        Share of samples with ``|residual| > 2 * std`` (about 5 % for normal errors
        with no bias; more means heavy tails or outliers).
    corr_with_prediction : float or None
        Pearson correlation of residual with prediction: a trend means the model
        is systematically off in part of the range (under-fit, missing non-linearity).
    corr_abs_with_prediction : float or None
        Correlation of |residual| with prediction: the heteroscedasticity hint
        (errors grow with the predicted value). None when undefined.
    hints : list of str
        Plain-language reading of the numbers above.
    """

    mean: float
    std: float
    quantiles: dict[str, float]
    share_beyond_2std: float
    corr_with_prediction: float | None
    corr_abs_with_prediction: float | None
    hints: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = jsonable(self.__dict__)
        return out


def residual_summary(y_true: ArrayLike, y_pred: ArrayLike) -> ResidualSummary:
    """Summarise the residuals: bias, spread, tails and trends against the prediction.

    Examples
    --------
    >>> s = residual_summary([1.0, 2.0, 3.0, 4.0], [1.1, 1.9, 3.2, 3.8])
    >>> round(s.mean, 3)
    0.0
    """
    yt, yp = _pair(y_true, y_pred)
    return _residuals(yt, yp)


def _residuals(yt: NDArray[np.float64], yp: NDArray[np.float64]) -> ResidualSummary:
    res = yt - yp
    mean = float(res.mean())
    std = float(res.std())
    q = np.quantile(res, QUANTILES)
    share = float(np.mean(np.abs(res) > 2 * std)) if std > 0 else 0.0
    corr = _corr(res, yp)
    corr_abs = _corr(np.abs(res), yp)
    hints: list[str] = []
    scale = float(np.mean(np.abs(res)))
    if scale > 0 and abs(mean) > 0.25 * scale:
        side = "under" if mean > 0 else "over"
        hints.append(
            f"Residuals are biased: the model {side}-predicts on average by {abs(mean):.4g}."
        )
    if corr_abs is not None and corr_abs > _HETERO_CORR:
        hints.append(
            f"Errors grow with the prediction (corr(|residual|, prediction) = {corr_abs:.2f}): "
            "heteroscedastic; consider modelling log(target) or a relative-error metric."
        )
    if corr is not None and abs(corr) > _HETERO_CORR:
        hints.append(
            f"Residuals trend with the prediction (corr = {corr:.2f}): the model misses part "
            "of the signal (try a more flexible model or more features)."
        )
    if share > 0.1:
        hints.append(
            f"{share:.1%} of residuals lie beyond 2 std (about 5 % for normal errors): "
            "heavy tails or outliers; check them, or prefer MAE/median AE."
        )
    return ResidualSummary(
        mean=mean,
        std=std,
        quantiles={str(k): float(v) for k, v in zip(QUANTILES, q, strict=True)},
        share_beyond_2std=share,
        corr_with_prediction=corr,
        corr_abs_with_prediction=corr_abs,
        hints=hints,
    )


@dataclass
class RegressionReport:
    """Everything :func:`evaluate_regression` measured.

    ``metrics``: mae, mape (None when a target is 0), rmse, mse, r2 (None with
    fewer than 2 samples), median_ae. ``notes`` say why a value is None.
    """

    n_samples: int
    metrics: dict[str, float | None]
    residuals: ResidualSummary
    notes: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe dict."""
        out: dict[str, Any] = jsonable(
            {
                "task": "regression",
                "n_samples": self.n_samples,
                "metrics": self.metrics,
                "residuals": self.residuals.to_dict(),
                "notes": self.notes,
            }
        )
        return out


def evaluate_regression(y_true: ArrayLike, y_pred: ArrayLike) -> RegressionReport:
    """Every regression metric and a residual analysis in one call.

    Examples
    --------
    >>> r = evaluate_regression([1.0, 2.0, 3.0], [1.0, 2.0, 4.0])
    >>> r.metrics["mae"], r.metrics["median_ae"]
    (0.3333333333333333, 0.0)
    """
    yt, yp = _pair(y_true, y_pred)
    notes: list[str] = []
    err = yt - yp
    mse_v = float(np.mean(err**2))
    metrics: dict[str, float | None] = {
        "mae": float(np.mean(np.abs(err))),
        "mape": None,
        "rmse": float(np.sqrt(mse_v)),
        "mse": mse_v,
        "r2": None,
        "median_ae": float(np.median(np.abs(err))),
    }
    n_zero = int(np.count_nonzero(yt == 0))
    if n_zero:
        notes.append(_zero_target_message(n_zero, yt.size) + " Reported as None.")
    else:
        metrics["mape"] = _mape(yt, yp)
    if yt.size < 2:
        notes.append("R² is undefined for a single sample; reported as None.")
    else:
        metrics["r2"] = _r2(yt, yp)
        if np.ptp(yt) == 0:
            notes.append(
                "y_true is constant, so R² is degenerate (1.0 if exact, else 0.0, as in "
                "scikit-learn)."
            )
    return RegressionReport(
        n_samples=int(yt.size), metrics=metrics, residuals=_residuals(yt, yp), notes=notes
    )
