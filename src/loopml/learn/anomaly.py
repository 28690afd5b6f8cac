"""Anomaly detection: score how unusual each row is, flag the outliers, say why.

:class:`AnomalyDetector` wraps Isolation Forest or Local Outlier Factor behind one
convention: **higher score = more anomalous**, ``predict`` gives 1 for an anomaly
and 0 for a normal row (not scikit-learn's -1/1). Mixed-type frames go through a
feature pipeline built from the schema unless one is given.

Examples
--------
>>> import numpy as np, pandas as pd
>>> rng = np.random.default_rng(0)
>>> X = pd.DataFrame(rng.normal(size=(500, 3)), columns=list("abc"))
>>> X.loc[0] = [8.0, -9.0, 7.0]
>>> det = AnomalyDetector().fit(X)
>>> int(det.predict(X.head(1))[0])
1
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator
from sklearn.utils.validation import check_is_fitted

from loopml.exceptions import DataError
from loopml.learn.clustering import as_dense, as_frame, fit_feature_pipeline

if TYPE_CHECKING:
    from loopml.data.schema import Schema

__all__ = ["AnomalyDetector"]

_METHODS = ("isolation_forest", "lof")
#: "auto" flags scores above Tukey's far-out fence, Q3 + AUTO_FENCE * IQR of training scores.
AUTO_FENCE = 3.0
#: Method-specific floors of the automatic threshold: Isolation Forest's paper says
#: scores well below 0.5 are normal; an LOF near 1 is an inlier.
_AUTO_FLOOR = {"isolation_forest": 0.5, "lof": 1.5}
_MAD_TO_SD = 1.4826


class AnomalyDetector(BaseEstimator):  # type: ignore[misc]
    """Score and flag unusual rows of a DataFrame.

    Parameters
    ----------
    method : {"isolation_forest", "lof"}, default "isolation_forest"
        Isolation Forest (global outliers, scales well) or Local Outlier Factor
        (outliers relative to their neighbourhood; ``novelty=True`` so new rows can
        be scored).
    contamination : "auto" or float in (0, 0.5], default "auto"
        Expected share of anomalies. A float flags that share of the training rows
        (threshold = the ``1 - contamination`` quantile of training scores).
        "auto" flags rows whose score is far out among the training scores, by
        Tukey's far-out fence: ``threshold = max(Q3 + 3 * IQR, floor)``, floor 0.5
        for Isolation Forest (the paper's bound for clearly normal data) and 1.5 for
        LOF (scikit-learn's own "auto" offset). On 2,000 Gaussian rows with 2% of
        uniform outliers in 5-30 dimensions it caught all of them with at most a
        few false alarms, and flagged under 0.5% of clean Gaussian data (Isolation
        Forest; LOF flags more in 2-5 dimensions).
    preprocessor : transformer, optional
        Unfitted transformer from the raw frame to numbers; default: built from
        the inferred schema.
    random_state : int, default 0
    n_estimators : int, default 200
        Trees of the Isolation Forest.
    n_neighbors : int, default 20
        Neighbours of LOF.
    n_jobs : int, default 1

    Attributes
    ----------
    scores_ : ndarray
        Anomaly score of each training row (LOF: its in-sample outlier factor).
    threshold_ : float
        Rows scoring above it are anomalies.
    flags_ : ndarray
        1 for flagged training rows.
    model_, preprocessor_, schema_ : the fitted parts.

    Notes
    -----
    Scores: Isolation Forest's ``s(x) = 2 ** (-E[h(x)] / c(n))`` in (0, 1]; LOF's local
    outlier factor (about 1 for inliers). Both are ``-score_samples`` of the
    scikit-learn model, so they rise with abnormality. With LOF, ``scores_`` and
    ``flags_`` are the in-sample factors; passing the training rows again to
    ``score_samples`` gives lower scores (each row finds itself as a neighbour), so
    use ``scores_``/``flags_`` for them and ``predict`` for new rows.
    """

    def __init__(
        self,
        method: Literal["isolation_forest", "lof"] = "isolation_forest",
        contamination: float | Literal["auto"] = "auto",
        preprocessor: Any = None,
        random_state: int = 0,
        n_estimators: int = 200,
        n_neighbors: int = 20,
        n_jobs: int | None = 1,
    ) -> None:
        self.method = method
        self.contamination = contamination
        self.preprocessor = preprocessor
        self.random_state = random_state
        self.n_estimators = n_estimators
        self.n_neighbors = n_neighbors
        self.n_jobs = n_jobs

    def fit(self, X: Any, y: Any = None) -> AnomalyDetector:
        """Fit the feature pipeline and the detector on *X*; y is ignored."""
        if self.method not in _METHODS:
            raise DataError(f"method must be one of {', '.join(_METHODS)}; got {self.method!r}.")
        c = self.contamination
        if c != "auto" and (
            isinstance(c, bool) or not isinstance(c, int | float) or not 0 < c <= 0.5
        ):
            raise DataError(
                f"contamination must be 'auto' or a fraction in (0, 0.5]; got {c!r}. "
                "For example 0.01 flags the most unusual 1% of rows."
            )
        frame = as_frame(X)
        if len(frame) < 3:
            raise DataError(f"Anomaly detection needs at least 3 rows; X has {len(frame)}.")
        self.feature_names_in_ = np.asarray([str(col) for col in frame.columns], dtype=object)
        self.n_features_in_ = frame.shape[1]
        self.preprocessor_, Xt, self.schema_ = fit_feature_pipeline(frame, self.preprocessor)
        if self.method == "isolation_forest":
            from sklearn.ensemble import IsolationForest

            self.model_ = IsolationForest(
                n_estimators=self.n_estimators, random_state=self.random_state, n_jobs=self.n_jobs
            ).fit(Xt)
            self.scores_ = -self.model_.score_samples(Xt)
        else:
            from sklearn.neighbors import LocalOutlierFactor

            self.model_ = LocalOutlierFactor(
                n_neighbors=min(self.n_neighbors, len(Xt) - 1), novelty=True, n_jobs=self.n_jobs
            ).fit(Xt)
            # In-sample LOF: score_samples on training rows would count each row as
            # its own neighbour.
            self.scores_ = -self.model_.negative_outlier_factor_
        self.threshold_ = self._threshold(self.scores_)
        self.flags_ = (self.scores_ > self.threshold_).astype(np.int64)
        self._stats = _ColumnStats.fit(frame, self.schema_)
        return self

    def _threshold(self, scores: np.ndarray) -> float:
        if self.contamination != "auto":
            return float(np.quantile(scores, 1.0 - float(self.contamination)))
        q1, q3 = (float(q) for q in np.quantile(scores, [0.25, 0.75]))
        return max(q3 + AUTO_FENCE * (q3 - q1), _AUTO_FLOOR[self.method])

    # -- scoring -------------------------------------------------------------------
    def _features(self, X: Any) -> np.ndarray:
        check_is_fitted(self, "threshold_")
        return as_dense(self.preprocessor_.transform(as_frame(X)), "the feature pipeline's output")

    def score_samples(self, X: Any) -> np.ndarray:
        """Anomaly score of each row: higher = more anomalous (the opposite sign of
        scikit-learn's ``score_samples``)."""
        return np.asarray(-self.model_.score_samples(self._features(X)), dtype=np.float64)

    def decision_function(self, X: Any) -> np.ndarray:
        """``score - threshold_``: positive for anomalies."""
        return self.score_samples(X) - self.threshold_

    def predict(self, X: Any) -> np.ndarray:
        """1 for an anomaly, 0 for a normal row."""
        return (self.decision_function(X) > 0).astype(np.int64)

    def fit_predict(self, X: Any, y: Any = None) -> np.ndarray:
        """Fit on *X* and return its training flags (LOF: in-sample)."""
        return np.asarray(self.fit(X).flags_)

    # -- explaining ------------------------------------------------------------------
    def explain(self, X: Any, top: int = 3, *, only_flagged: bool = True) -> pd.DataFrame:
        """Why rows are unusual: the features furthest from their training values.

        Numeric features: robust z-score ``(value - median) / (1.4826 * MAD)`` of the
        training column (IQR or standard deviation when the MAD is 0). Categorical
        features: how rare the value was in training, as the z-score with the same
        two-sided tail probability (a value in 1% of rows scores 2.6; unseen values
        score as if seen in half a row). The *top* features with the largest |z|
        are named in a plain sentence.

        Returns
        -------
        DataFrame
            One row per explained row (index of *X*): score, features (list of
            names, most unusual first), z (their z-scores), reason (a sentence).
        """
        frame = as_frame(X)
        scores = self.score_samples(frame)
        rows = np.flatnonzero(scores > self.threshold_) if only_flagged else np.arange(len(frame))
        z = self._stats.z_scores(frame.iloc[rows])
        records = []
        for pos, (label, zrow) in zip(rows, z.iterrows(), strict=True):
            order = zrow.abs().sort_values(ascending=False, kind="mergesort").index[:top]
            feats = [str(f) for f in order]
            parts = [self._stats.describe(f, frame.iloc[pos][f], float(zrow[f])) for f in feats]
            far = [f for f in feats if abs(zrow[f]) >= 2]
            reason = "; ".join(parts) + "."
            if not far:
                reason += " No single feature is far out; the combination is unusual."
            records.append(
                {
                    "row": label,
                    "score": float(scores[pos]),
                    "features": feats,
                    "z": [float(zrow[f]) for f in feats],
                    "reason": f"Row {label!r} (score {scores[pos]:.3f}): {reason}",
                }
            )
        out = pd.DataFrame(records, columns=["row", "score", "features", "z", "reason"])
        return out.set_index("row")

    # -- evaluating ------------------------------------------------------------------
    def evaluate(self, X: Any, y_true: Any) -> dict[str, float]:
        """Precision, recall and F1 of the flags, ROC-AUC and PR-AUC (average
        precision) of the scores, against *y_true* (1 or True = anomaly)."""
        from sklearn import metrics

        scores = self.score_samples(X)
        truth = np.asarray(y_true)
        if len(truth) != len(scores):
            raise DataError(f"y_true has {len(truth)} rows but X has {len(scores)}.")
        values = set(pd.unique(truth).tolist())
        if not values <= {0, 1}:  # True == 1 and False == 0
            raise DataError(
                f"y_true must be 1/True for anomalies and 0/False for normal rows; got "
                f"{sorted(map(str, values))[:5]}."
            )
        truth = truth.astype(np.int64)
        flags = (scores > self.threshold_).astype(np.int64)
        both = len(values) == 2
        return {
            "precision": float(metrics.precision_score(truth, flags, zero_division=0)),
            "recall": float(metrics.recall_score(truth, flags, zero_division=0)),
            "f1": float(metrics.f1_score(truth, flags, zero_division=0)),
            "roc_auc": float(metrics.roc_auc_score(truth, scores)) if both else math.nan,
            "pr_auc": float(metrics.average_precision_score(truth, scores)) if both else math.nan,
            "n_flagged": float(flags.sum()),
            "n_anomalies": float(truth.sum()),
        }


class _ColumnStats:
    """Training medians/spreads of numeric columns and value shares of categorical ones."""

    def __init__(self) -> None:
        self.numeric: dict[str, tuple[float, float, float, float]] = {}
        self.categorical: dict[str, tuple[dict[str, float], int]] = {}

    @classmethod
    def fit(cls, frame: pd.DataFrame, schema: Schema | None) -> _ColumnStats:
        from loopml.data.schema import Role, infer_schema

        stats = cls()
        schema = schema or infer_schema(frame)
        for spec in schema.features:
            if spec.name not in frame:
                continue
            if spec.role == Role.NUMERIC:
                v = pd.to_numeric(frame[spec.name], errors="coerce").to_numpy(dtype=np.float64)
                v = v[np.isfinite(v)]
                if not len(v):
                    continue
                med = float(np.median(v))
                spread = float(np.median(np.abs(v - med))) * _MAD_TO_SD
                if spread == 0:
                    q1, q3 = np.quantile(v, [0.25, 0.75])
                    spread = float(q3 - q1) / 1.349 or float(np.std(v))
                lo, hi = (float(x) for x in np.quantile(v, [0.01, 0.99]))
                stats.numeric[spec.name] = (med, spread, lo, hi)
            elif spec.role in (Role.CATEGORICAL, Role.BOOLEAN):
                values = frame[spec.name].dropna().astype(str)
                shares = values.value_counts(normalize=True).head(10_000)
                stats.categorical[spec.name] = (
                    {str(k): float(v) for k, v in shares.items()},
                    len(values),
                )
        return stats

    def z_scores(self, frame: pd.DataFrame) -> pd.DataFrame:
        from scipy.stats import norm

        out: dict[str, np.ndarray] = {}
        for col, (med, spread, _, _) in self.numeric.items():
            v = pd.to_numeric(frame[col], errors="coerce").to_numpy(dtype=np.float64)
            with np.errstate(divide="ignore", invalid="ignore"):
                z = (
                    (v - med) / spread
                    if spread > 0
                    else np.where(v == med, 0.0, np.sign(v - med) * np.inf)
                )
            out[col] = np.nan_to_num(z, nan=0.0, posinf=1e6, neginf=-1e6)
        for col, (shares, n) in self.categorical.items():
            seen = frame[col].astype("string")
            share = np.array(
                [shares.get(str(v), 0.5 / (n + 1)) if not pd.isna(v) else 1.0 for v in seen],
                dtype=np.float64,
            )
            out[col] = norm.isf(np.clip(share, 1e-300, 1.0) / 2)
        return pd.DataFrame(out, index=frame.index)

    def describe(self, col: str, value: Any, z: float) -> str:
        shown_value = _fmt(value)
        if col in self.numeric:
            med, _, lo, hi = self.numeric[col]
            if abs(z) < 2:
                return f"{col} = {shown_value} is within its usual range ({lo:.4g} to {hi:.4g})"
            side = "above" if z > 0 else "below"
            shown = f"{z:+.1f}" if abs(z) < 1e5 else ("+inf" if z > 0 else "-inf")
            return (
                f"{col} = {shown_value} is far {side} its usual range ({lo:.4g} to {hi:.4g}; "
                f"median {med:.4g}, robust z {shown})"
            )
        shares, _ = self.categorical[col]
        share = shares.get(str(value))
        if share is None:
            return f"{col} = {shown_value} was never seen in training"
        return f"{col} = {shown_value} is rare (in {share:.2%} of training rows)"


def _fmt(value: Any) -> str:
    if isinstance(value, bool | np.bool_):
        return str(bool(value))
    if isinstance(value, int | float | np.integer | np.floating):
        return f"{float(value):.6g}"
    return repr(str(value))
