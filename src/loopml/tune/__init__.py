"""Hyperparameter tuning and the AutoML search, on Optuna.

- :mod:`loopml.tune.space`: search spaces (:class:`Float`, :class:`Int`, :class:`Choice`)
  and the ``NAME=VALUES`` command-line syntax;
- :mod:`loopml.tune.search`: grid, random and Bayesian (TPE) search, median pruning;
- :mod:`loopml.tune.executor`: candidates evaluated in stoppable worker processes;
- :mod:`loopml.tune.automl`: portfolio first, then tuning of the best families;
- :mod:`loopml.tune.ensemble`: greedy ensemble selection, soft voting;
- :mod:`loopml.tune.model`: :func:`tune_model`, retuning a stored model version, with
  its Optuna study in the store (:mod:`~loopml.tune.study`), the trial loop
  (:mod:`~loopml.tune.trials`) and the comparison with the stored version
  (:mod:`~loopml.tune.outcome`).

Names load on first use, so ``import loopml.tune`` stays cheap.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

_LAZY = {
    "BayesSearch": "loopml.tune.search",
    "Choice": "loopml.tune.space",
    "Float": "loopml.tune.space",
    "GridSearch": "loopml.tune.search",
    "Int": "loopml.tune.space",
    "RandomSearch": "loopml.tune.search",
    "Searcher": "loopml.tune.search",
    "TuneResult": "loopml.tune.model",
    "get_searcher": "loopml.tune.search",
    "parse_param": "loopml.tune.space",
    "tune_model": "loopml.tune.model",
}

__all__ = [
    "BayesSearch",
    "Choice",
    "Float",
    "GridSearch",
    "Int",
    "RandomSearch",
    "Searcher",
    "TuneResult",
    "get_searcher",
    "parse_param",
    "tune_model",
]


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'loopml.tune' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(__all__)


if TYPE_CHECKING:
    from loopml.tune.model import TuneResult, tune_model
    from loopml.tune.search import BayesSearch, GridSearch, RandomSearch, Searcher, get_searcher
    from loopml.tune.space import Choice, Float, Int, parse_param
