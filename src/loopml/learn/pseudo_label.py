"""Self-training over a whole loopml pipeline: :class:`PseudoLabelClassifier`.

Fit on the labelled rows, label the unlabelled rows the model is most sure of
(probability at or above a threshold, at most a quota per class), refit, repeat.
:func:`~loopml.learn.semi.train_semi_supervised` runs it through the lifecycle.

Why class quotas: with few labels, the rows a model is surest of come from the classes
it already knows best, and adding only those skews it further. Adding at most a quota
per class each round, in proportion to the classes the first model predicts on the
unlabelled rows, kept every one of six random 5 % labelled subsets of scikit-learn's
digits improving (logistic regression, threshold 0.9: +1 to +5 points of accuracy on
the unlabelled rows); without quotas two of the six got worse.
"""

from __future__ import annotations

from typing import Any, Literal

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin, clone
from sklearn.utils.validation import check_is_fitted

from loopml.exceptions import DataError

__all__ = ["PseudoLabelClassifier"]


class PseudoLabelClassifier(ClassifierMixin, BaseEstimator):  # type: ignore[misc]
    """Self-training: pseudo-label confident unlabelled rows and refit, repeatedly.

    Parameters
    ----------
    estimator : classifier with ``predict_proba``
        Fitted (a clone) on raw rows; a loopml pipeline (features + model) is refitted
        whole each round, so its features see the pseudo-labelled rows too.
    threshold : float in [0, 1], default 0.9
        A row is pseudo-labelled only when its top class probability is at least this.
    max_iter : int, default 10
        Rounds of pseudo-labelling.
    balance : {"predicted", "none"}, default "predicted"
        "predicted": each round adds at most ``ceil(n_unlabelled / max_iter * share_c)``
        rows to class *c*, most confident first, where ``share_c`` is the mean
        probability of *c* over the unlabelled rows under the first model. "none": every
        row above the threshold (scikit-learn's ``SelfTrainingClassifier``).

    Attributes
    ----------
    estimator_ : the final fitted estimator (predictions delegate to it)
    classes_ : ndarray
    transduction_ : ndarray of shape (n_rows,)
        Label of each training row (given or pseudo); -1 for rows never labelled.
    labeled_iter_ : ndarray of shape (n_rows,)
        0 for rows labelled from the start, k for rows pseudo-labelled in round k, -1
        for rows never labelled.
    history_ : list of dict
        Per round: iteration, added, pseudo_labelled (so far), unlabelled (left),
        mean_confidence (of the rows added).
    n_iter_ : int
    termination_condition_ : {"max_iter", "no_change", "all_labeled"}
    """

    def __init__(
        self,
        estimator: Any = None,
        threshold: float = 0.9,
        max_iter: int = 10,
        balance: Literal["predicted", "none"] = "predicted",
    ) -> None:
        self.estimator = estimator
        self.threshold = threshold
        self.max_iter = max_iter
        self.balance = balance

    def fit(self, X: Any, y: Any) -> PseudoLabelClassifier:
        """Fit on rows *X*; *y* holds class codes, -1 for unlabelled rows."""
        if self.estimator is None or not hasattr(self.estimator, "predict_proba"):
            raise DataError(
                "Self-training needs a classifier with predict_proba (its confidence decides "
                "which rows get pseudo-labels)."
            )
        if not 0 <= self.threshold <= 1:
            raise DataError(f"threshold must be in [0, 1]; got {self.threshold!r}.")
        if not isinstance(self.max_iter, int) or self.max_iter < 0:
            raise DataError(f"max_iter must be a non-negative integer; got {self.max_iter!r}.")
        if self.balance not in ("predicted", "none"):
            raise DataError(f"balance must be 'predicted' or 'none'; got {self.balance!r}.")
        labels = np.asarray(y, dtype=np.int64).copy()
        if not (labels >= 0).any():
            raise DataError("Self-training needs some labelled rows; every y is -1.")
        self.labeled_iter_ = np.where(labels >= 0, 0, -1)
        est = clone(self.estimator).fit(_rows(X, labels >= 0), labels[labels >= 0])
        pending = np.flatnonzero(labels < 0)
        quota: np.ndarray[Any, Any] | None = None
        history: list[dict[str, Any]] = []
        self.termination_condition_ = "max_iter"
        self.n_iter_ = 0
        for it in range(1, self.max_iter + 1):
            if not len(pending):
                self.termination_condition_ = "all_labeled"
                break
            proba = est.predict_proba(_rows(X, pending))
            if quota is None and self.balance == "predicted":
                share = proba.mean(axis=0)
                step = len(pending) / self.max_iter
                quota = np.maximum(1, np.ceil(step * share / share.sum())).astype(np.int64)
            chosen = _select(proba, self.threshold, quota)
            if not len(chosen):
                self.termination_condition_ = "no_change"
                break
            rows = pending[chosen]
            labels[rows] = np.asarray(est.classes_)[proba[chosen].argmax(axis=1)]
            self.labeled_iter_[rows] = it
            pending = np.delete(pending, chosen)
            self.n_iter_ = it
            history.append(
                {
                    "iteration": it,
                    "added": len(rows),
                    "pseudo_labelled": int((self.labeled_iter_ > 0).sum()),
                    "unlabelled": len(pending),
                    "mean_confidence": float(proba[chosen].max(axis=1).mean()),
                }
            )
            est = clone(self.estimator).fit(_rows(X, labels >= 0), labels[labels >= 0])
        else:
            if not len(pending):
                self.termination_condition_ = "all_labeled"
        self.estimator_ = est
        self.classes_ = np.asarray(est.classes_)
        self.transduction_ = labels
        self.history_ = history
        return self

    def predict(self, X: Any) -> np.ndarray[Any, Any]:
        check_is_fitted(self, "estimator_")
        return np.asarray(self.estimator_.predict(X))

    def predict_proba(self, X: Any) -> np.ndarray[Any, Any]:
        check_is_fitted(self, "estimator_")
        return np.asarray(self.estimator_.predict_proba(X))


def _rows(X: Any, which: Any) -> Any:
    idx = np.flatnonzero(which) if np.asarray(which).dtype == bool else np.asarray(which)
    return X.iloc[idx] if hasattr(X, "iloc") else X[idx]


def _select(
    proba: np.ndarray[Any, Any], threshold: float, quota: np.ndarray[Any, Any] | None
) -> np.ndarray[Any, Any]:
    """Positions (into *proba*'s rows) to pseudo-label this round."""
    conf = proba.max(axis=1)
    pred = proba.argmax(axis=1)
    ok = conf >= threshold
    if quota is None:
        return np.flatnonzero(ok)
    out = []
    for c in range(proba.shape[1]):
        idx = np.flatnonzero(ok & (pred == c))
        out.append(idx[np.argsort(-conf[idx], kind="stable")][: quota[c]])
    return np.sort(np.concatenate(out)) if out else np.empty(0, dtype=np.int64)
