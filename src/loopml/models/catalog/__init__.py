"""The model catalogue: one entry per model family and task.

Each :class:`ModelSpec` says how to build the estimator from a flat dict of
hyperparameters, which hyperparameters can be searched (:attr:`ModelSpec.space`,
and a finite :attr:`ModelSpec.grid` for grid search), a *portfolio* of
known-good configurations tried first by the AutoML search, and what the family
needs: standardised inputs, a dense matrix, a standardised regression target,
whether it predicts probabilities, and a cost class used to order the search.

Names are shared across tasks where the idea is the same (``knn``,
``random_forest``, ``lightgbm``...); :func:`get_model` resolves aliases such as
``lgbm``, ``xgb``, ``svm``, ``rf``, ``mlp`` or ``logreg``.

Register your own scikit-learn-compatible estimator with :func:`register`.

The package, one idea a module: ``_spec`` (what an entry is), ``_family`` (a
family described once for both task kinds), ``_factories`` and ``_builtins``
(the built-in families), ``_registry`` (lookup and the search's order) and
``_custom`` (your own estimators).

Examples
--------
>>> spec = get_model("lgbm", "binary")
>>> spec.name, spec.task, spec.dense
('lightgbm', 'classification', False)
>>> from sklearn.linear_model import RidgeClassifier
>>> from loopml.tune.space import Float
>>> custom = register("ridge_clf", RidgeClassifier, task="classification",
...                   space={"alpha": Float(1e-3, 1e3, log=True)}, proba=False)
>>> get_model("ridge_clf", "multiclass").space["alpha"].log
True
>>> unregister("ridge_clf")
"""

from __future__ import annotations

from loopml.models.catalog._custom import register, unregister
from loopml.models.catalog._registry import (
    default_models,
    get_model,
    list_models,
    model_names,
    resolve_name,
)
from loopml.models.catalog._spec import CLASSIFICATION as CLASSIFICATION
from loopml.models.catalog._spec import COST_ORDER, ModelSpec, task_kind
from loopml.models.catalog._spec import REGRESSION as REGRESSION
from loopml.models.catalog._spec import Factory as Factory

__all__ = [
    "COST_ORDER",
    "ModelSpec",
    "default_models",
    "get_model",
    "list_models",
    "model_names",
    "register",
    "resolve_name",
    "task_kind",
    "unregister",
]
