"""Ensembles of the top models: greedy ensemble selection, then weighted soft voting.

Caruana et al.'s ensemble selection: start from nothing and repeatedly add (with
replacement) the candidate whose out-of-fold predictions most improve the
averaged predictions' score; the counts become voting weights. The ensemble is
kept only if its validation score beats the best single model's. The fitted
model is a scikit-learn ``VotingClassifier`` (soft voting) or ``VotingRegressor``
of the members' pipelines, so a bundle still holds only scikit-learn, LightGBM
and XGBoost types.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from loopml.learn.candidates import EvalPlan, TrialResult

if TYPE_CHECKING:
    from loopml.evaluate.scoring import Metric

__all__ = ["EnsembleChoice", "make_voting", "select_ensemble"]


@dataclass
class EnsembleChoice:
    """Members (trial, weight) and the ensemble's validation score."""

    members: list[tuple[TrialResult, int]]
    score: float
    std: float | None
    predictions: np.ndarray[Any, Any]

    def as_trial(self, number: int) -> TrialResult:
        """A leaderboard row for the ensemble."""
        weights = {f"{t.model}#{t.number}": w for t, w in self.members}
        return TrialResult(
            number,
            "ensemble",
            {"voting": "soft", "weights": weights},
            self.score,
            None,
            float(sum(t.fit_time for t, _ in self.members)),
            float(sum(t.predict_time_per_1k or 0.0 for t, _ in self.members)) or None,
            valid_std=self.std,
            predictions=self.predictions,
            phase="ensemble",
        )


def _pooled_score(metric: Metric, y: Any, pred: Any, classification: bool) -> float:
    from loopml.evaluate.scoring import score

    if classification:
        if metric.needs_proba:
            pred = pred / np.clip(pred.sum(axis=1, keepdims=True), 1e-12, None)
            return float(score(metric, y, y_proba=pred))
        return float(score(metric, y, y_pred=np.argmax(pred, axis=1)))
    return float(score(metric, y, y_pred=pred))


def _fold_scores(plan: EvalPlan, metric: Metric, pred: Any, classification: bool) -> list[float]:
    rows = plan.scored_rows
    position = np.empty(len(plan.X), dtype=np.int64)
    position[rows] = np.arange(len(rows))
    out = []
    for _, score_idx in plan.folds:
        p = pred[position[score_idx]]
        out.append(_pooled_score(metric, plan.y[score_idx], p, classification))
    return out


def select_ensemble(
    trials: list[TrialResult],
    plan: EvalPlan,
    metric: Metric,
    *,
    max_candidates: int = 12,
    per_family_max: int = 3,
    rounds: int = 25,
) -> EnsembleChoice | None:
    """Greedy ensemble selection over the best trials' out-of-fold predictions.

    Returns None when fewer than two models help, or the ensemble does not beat
    the best single model's (mean-over-folds) validation score.
    """
    classification = plan.n_classes > 0
    key_sign = -1.0 if metric.greater_is_better else 1.0
    pool = [
        t
        for t in trials
        if t.ok and t.predictions is not None and (not classification or t.predictions.ndim == 2)
    ]
    pool.sort(key=lambda t: (key_sign * float(t.valid_score or 0.0), t.number))
    per_family: dict[str, int] = {}
    diverse = []
    for t in pool:  # a varied pool: at most a few configurations of one family
        if per_family.get(t.model, 0) < per_family_max:
            per_family[t.model] = per_family.get(t.model, 0) + 1
            diverse.append(t)
    pool = diverse[:max_candidates]
    if len(pool) < 2:
        return None
    y = plan.y_scored
    preds = [np.asarray(t.predictions, dtype="float64") for t in pool]
    total = np.zeros_like(preds[0])
    counts = [0] * len(pool)
    best: tuple[float, list[int]] | None = None
    for r in range(1, rounds + 1):
        scores = [_pooled_score(metric, y, (total + p) / r, classification) for p in preds]
        pick = 0
        for i, s in enumerate(scores):
            if metric.better(s, scores[pick]):
                pick = i
        total += preds[pick]
        counts[pick] += 1
        if best is None or metric.better(scores[pick], best[0]):
            best = (scores[pick], list(counts))
    assert best is not None
    weights = best[1]
    members = [(pool[i], w) for i, w in enumerate(weights) if w > 0]
    if len(members) < 2:
        return None
    blend = np.asarray(
        sum(w * preds[i] for i, w in enumerate(weights) if w > 0) / sum(weights), dtype="float64"
    )
    folds = _fold_scores(plan, metric, blend, classification)
    mean = float(np.mean(folds))
    single = float(pool[0].valid_score or 0.0)
    if not metric.better(mean, single):
        return None
    return EnsembleChoice(
        members, mean, float(np.std(folds)) if len(folds) > 1 else None, blend.astype("float32")
    )


def make_voting(members: list[tuple[str, Any, int]], classification: bool) -> Any:
    """A soft-voting classifier or a voting regressor of ``(name, pipeline, weight)``."""
    from sklearn.ensemble import VotingClassifier, VotingRegressor

    estimators = [(name, pipe) for name, pipe, _ in members]
    weights = [float(w) for _, _, w in members]
    if classification:
        return VotingClassifier(estimators, voting="soft", weights=weights)
    return VotingRegressor(estimators, weights=weights)
