"""Fakes for tuning tests: a sleeping estimator and a sampler that plays a fixed sequence.

They live in an importable module (not a test file) because candidates are fitted
in worker processes, which import estimators by name.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import optuna
from sklearn.base import BaseEstimator, ClassifierMixin

from loopml.tune.search import Searcher
from loopml.tune.space import Param


class Sleepy(ClassifierMixin, BaseEstimator):
    """A classifier whose fit takes *seconds* (a stand-in for a slow model)."""

    def __init__(self, seconds: float = 60.0) -> None:
        self.seconds = seconds

    def fit(self, X: Any, y: Any) -> Sleepy:
        time.sleep(self.seconds)
        self.classes_ = np.unique(y)
        return self

    def predict(self, X: Any) -> Any:
        return np.full(X.shape[0], self.classes_[0])

    def predict_proba(self, X: Any) -> Any:
        out = np.zeros((X.shape[0], len(self.classes_)))
        out[:, 0] = 1.0
        return out


class _SequenceSampler(optuna.samplers.BaseSampler):
    def __init__(self, values: Mapping[str, Sequence[Any]]) -> None:
        self.values = values

    def infer_relative_search_space(self, study: Any, trial: Any) -> dict[str, Any]:
        return {}

    def sample_relative(self, study: Any, trial: Any, search_space: Any) -> dict[str, Any]:
        return {}

    def sample_independent(self, study: Any, trial: Any, name: str, distribution: Any) -> Any:
        seq = self.values[name]
        return seq[trial.number % len(seq)]


@dataclass(frozen=True)
class SequenceSearch(Searcher):
    """Trial *i* gets the *i*-th value of each parameter: a test can script a study."""

    name: str = "sequence"
    values: tuple[tuple[str, tuple[Any, ...]], ...] = ()

    def sampler(self, space: Mapping[str, Param], seed: int) -> optuna.samplers.BaseSampler:
        return _SequenceSampler(dict(self.values))
