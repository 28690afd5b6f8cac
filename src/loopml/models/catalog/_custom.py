"""Your own scikit-learn-compatible estimators in the catalogue: :func:`register`."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from loopml.data.schema import Task
from loopml.exceptions import DataError
from loopml.models.catalog._registry import _ALIASES, _REGISTRY, _add, _key
from loopml.models.catalog._spec import (
    CLASSIFICATION,
    COST_ORDER,
    REGRESSION,
    ModelSpec,
    task_kind,
)
from loopml.tune.space import Choice, Float, Int, Param

__all__ = ["register", "unregister"]


class _EstimatorFactory:
    """Builds a user's estimator: a class, or a prototype instance cloned per use."""

    def __init__(self, estimator: Any, defaults: Mapping[str, Any]) -> None:
        self.estimator = estimator
        self.defaults = dict(defaults)

    def __call__(self, params: dict[str, Any], seed: int, n_jobs: int) -> Any:
        from sklearn.base import clone

        est = self.estimator() if isinstance(self.estimator, type) else clone(self.estimator)
        accepted = est.get_params(deep=False) if hasattr(est, "get_params") else {}
        extra: dict[str, Any] = {}
        if "random_state" in accepted and "random_state" not in params:
            extra["random_state"] = seed
        if "n_jobs" in accepted and "n_jobs" not in params:
            extra["n_jobs"] = n_jobs
        est.set_params(**{**extra, **self.defaults, **params})
        return est


def register(
    name: str,
    estimator: Any,
    *,
    task: str | Task,
    space: Mapping[str, Param] | None = None,
    grid: Mapping[str, Sequence[Any]] | None = None,
    portfolio: Iterable[Mapping[str, Any]] = ({},),
    defaults: Mapping[str, Any] | None = None,
    scale: bool = True,
    dense: bool = False,
    proba: bool | None = None,
    scale_target: bool = False,
    cost: str = "medium",
    max_rows: int | None = None,
    aliases: Sequence[str] = (),
    description: str = "",
    replace_existing: bool = False,
) -> ModelSpec:
    """Add a scikit-learn-compatible estimator to the catalogue.

    Parameters
    ----------
    name : str
        Catalogue name (letters, digits and underscores).
    estimator : class or instance
        Anything with ``fit``/``predict`` and ``get_params``/``set_params``. A class is
        instantiated per candidate; an instance is cloned. ``random_state`` and ``n_jobs``
        are set when the estimator has them. Define it at module level: candidates are
        fitted in worker processes that import it by name.
    task : {"classification", "regression", "binary", "multiclass"}
    space : dict of Param, optional
        What Bayesian/random search explores, e.g. ``{"alpha": Float(1e-3, 10, log=True)}``.
    grid : dict of lists, optional
        What grid search tries (default: the space's choices and small integer ranges).
    portfolio : list of dicts
        Configurations the AutoML search tries first (default: the estimator's defaults).
    defaults : dict, optional
        Fixed parameters applied to every candidate.
    scale, dense, proba, scale_target, cost, max_rows
        The family's needs; see :class:`ModelSpec`. ``proba`` defaults to whether
        the estimator has ``predict_proba``.

    Returns
    -------
    ModelSpec
    """
    kind = task_kind(task)
    key = _key(name)
    if not key.replace("_", "").isalnum():
        raise DataError(f"Model names use letters, digits and underscores; got {name!r}.")
    if (key, kind) in _REGISTRY and not replace_existing:
        raise DataError(
            f"A {kind} model named '{key}' is already registered; pass replace_existing=True "
            "to replace it, or choose another name."
        )
    if cost not in COST_ORDER:
        raise DataError(f"cost must be one of {', '.join(COST_ORDER)}; got {cost!r}.")
    if not (isinstance(estimator, type) or hasattr(estimator, "get_params")):
        raise DataError(
            f"register('{name}', ...) needs a scikit-learn estimator class or instance "
            f"(with fit and get_params); got {type(estimator).__name__}."
        )
    space = dict(space or {})
    for pname, param in space.items():
        if not isinstance(param, Float | Int | Choice):
            raise DataError(
                f"The search space of '{name}' must map names to Float, Int or Choice; "
                f"'{pname}' is {param!r}."
            )
    if grid is None:
        grid = {}
        for pname, param in space.items():
            try:
                grid[pname] = param.grid(pname)
            except DataError:
                continue
    if proba is None:
        proba = hasattr(estimator, "predict_proba")
    spec = ModelSpec(
        name=key,
        task=kind,
        factory=_EstimatorFactory(estimator, defaults or {}),
        space=space,
        grid={k: list(v) for k, v in grid.items()},
        portfolio=tuple(dict(p) for p in portfolio) or ({},),
        scale=scale,
        dense=dense,
        proba=bool(proba),
        scale_target=scale_target,
        cost=cost,
        max_rows=max_rows,
        description=description or _describe(estimator),
        aliases=tuple(_key(a) for a in aliases),
        builtin=False,
    )
    spec.check_params({})
    _add(spec)
    return spec


def unregister(name: str, task: str | Task | None = None) -> None:
    """Remove a user-registered family (from one task kind, or both)."""
    kinds = [task_kind(task)] if task is not None else [CLASSIFICATION, REGRESSION]
    key = _key(name)
    found = False
    for kind in kinds:
        spec = _REGISTRY.get((key, kind))
        if spec is None:
            continue
        if spec.builtin:
            raise DataError(f"'{key}' is a built-in model; it cannot be unregistered.")
        del _REGISTRY[(key, kind)]
        for alias in [a for a, v in _ALIASES.items() if v == key and a[1] == kind]:
            del _ALIASES[alias]
        found = True
    if not found:
        raise DataError(f"No user-registered model named '{key}'.")


def _describe(estimator: Any) -> str:
    cls = estimator if isinstance(estimator, type) else type(estimator)
    return f"{cls.__module__}.{cls.__qualname__}"
