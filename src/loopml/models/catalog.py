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

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from loopml.data.schema import Task
from loopml.exceptions import DataError
from loopml.tune.space import Choice, Float, Int, Param, contains

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

CLASSIFICATION = "classification"
REGRESSION = "regression"
#: Cost classes, cheapest first: the AutoML search tries cheap families first.
COST_ORDER = ("cheap", "medium", "expensive")

Factory = Callable[[dict[str, Any], int, int], Any]


@dataclass(frozen=True)
class ModelSpec:
    """One model family for one task kind.

    Parameters
    ----------
    name : str
        Catalogue name, e.g. ``"svm_rbf"``.
    task : {"classification", "regression"}
    factory : callable
        ``factory(params, seed, n_jobs)`` → an unfitted estimator. It must be
        picklable (a module-level function or an instance of a module-level
        class), because candidates are fitted in worker processes.
    space : dict of Param
        Hyperparameters Bayesian and random search explore.
    grid : dict of lists
        Values grid search tries by default (every combination).
    portfolio : tuple of dicts
        Known-good configurations, best first; the AutoML search tries them before tuning.
    scale, dense : bool
        Needs standardised inputs / a dense matrix.
    proba : bool
        The classifier has ``predict_proba``.
    scale_target : bool
        Regression only: fit on a standardised target (``TransformedTargetRegressor``).
    cost : {"cheap", "medium", "expensive"}
        Orders the search; expensive families come last.
    max_rows : int, optional
        The AutoML search skips this family on more training rows (e.g. kernel SVMs).
    staged : {"lightgbm", "xgboost", "hgb", "mlp"}, optional
        Supports early stopping on validation rows (and reports progress while fitting).
    """

    name: str
    task: str
    factory: Factory = field(repr=False)
    space: Mapping[str, Param] = field(default_factory=dict, repr=False)
    grid: Mapping[str, Sequence[Any]] = field(default_factory=dict, repr=False)
    portfolio: tuple[dict[str, Any], ...] = ({},)
    scale: bool = True
    dense: bool = False
    proba: bool = True
    scale_target: bool = False
    cost: str = "medium"
    max_rows: int | None = None
    staged: str | None = None
    description: str = ""
    aliases: tuple[str, ...] = ()
    builtin: bool = True

    def build(
        self, params: Mapping[str, Any] | None = None, *, seed: int = 0, n_jobs: int = 1
    ) -> Any:
        """An unfitted estimator for *params* (regression targets standardised if needed)."""
        estimator = self.factory(dict(params or {}), seed, n_jobs)
        if self.scale_target and self.task == REGRESSION:
            from sklearn.compose import TransformedTargetRegressor
            from sklearn.preprocessing import StandardScaler

            return TransformedTargetRegressor(regressor=estimator, transformer=StandardScaler())
        return estimator

    def check_params(self, params: Mapping[str, Any]) -> None:
        """Raise a :class:`DataError` naming the parameter when *params* cannot build the model."""
        base = self.factory({}, 0, 1)
        if hasattr(base, "get_params"):
            known = set(base.get_params(deep=True)) | set(self.space)
            known |= _DERIVED.get(self.name, set())
            unknown = [k for k in params if k not in known]
            if unknown:
                raise DataError(
                    f"Model '{self.name}' has no parameter {', '.join(map(repr, unknown))}. "
                    f"Searchable parameters: {', '.join(self.space) or 'none'}; "
                    f"estimator parameters: {', '.join(sorted(base.get_params(deep=False)))}."
                )
        try:
            self.factory(dict(params), 0, 1)
        except (TypeError, ValueError) as exc:
            raise DataError(
                f"Model '{self.name}' cannot be built with {dict(params)}: {exc}"
            ) from None

    def seeds(self) -> list[dict[str, Any]]:
        """The portfolio configurations restricted to :attr:`space` (to seed a study)."""
        return [contains(self.space, cfg) for cfg in self.portfolio]


#: Parameters the catalogue's factories translate (not estimator parameters themselves).
_DERIVED: dict[str, set[str]] = {"mlp": {"layers", "width", "epochs"}}

_REGISTRY: dict[tuple[str, str], ModelSpec] = {}
_ALIASES: dict[tuple[str, str], str] = {}


def task_kind(task: Task | str) -> str:
    """``"classification"`` for binary/multiclass tasks, ``"regression"`` for regression."""
    t = str(task)
    if t in (CLASSIFICATION, "binary", "multiclass"):
        return CLASSIFICATION
    if t == REGRESSION:
        return REGRESSION
    raise DataError(f"The model catalogue covers classification and regression; got task '{t}'.")


def _key(name: str) -> str:
    return name.strip().lower().replace("-", "_")


def resolve_name(name: str, task: Task | str) -> str:
    """The catalogue name *name* (or an alias of it) refers to for *task*."""
    kind = task_kind(task)
    key = _key(name)
    if (key, kind) in _REGISTRY:
        return key
    alias = _ALIASES.get((key, kind))
    if alias is not None:
        return alias
    import difflib

    known = model_names(kind)
    close = difflib.get_close_matches(key, known + [a for a, k in _ALIASES if k == kind], n=1)
    hint = f" Did you mean '{close[0]}'?" if close else ""
    raise DataError(f"Unknown {kind} model '{name}'. Choose from: {', '.join(known)}.{hint}")


def get_model(name: str, task: Task | str) -> ModelSpec:
    """The :class:`ModelSpec` for *name* (catalogue name or alias) and *task*."""
    kind = task_kind(task)
    return _REGISTRY[(resolve_name(name, kind), kind)]


def list_models(task: Task | str | None = None) -> list[ModelSpec]:
    """Every registered family (for one task kind), cheapest first."""
    kind = task_kind(task) if task is not None else None
    specs = [s for (n, k), s in _REGISTRY.items() if kind is None or k == kind]
    return sorted(specs, key=lambda s: (COST_ORDER.index(s.cost), _ORDER.get(s.name, 99), s.name))


def model_names(task: Task | str | None = None) -> list[str]:
    """Catalogue names (for one task kind), cheapest first, without duplicates."""
    seen: dict[str, None] = {}
    for s in list_models(task):
        seen.setdefault(s.name, None)
    return list(seen)


def default_models(task: Task | str, n_rows: int, *, quick: bool = False) -> list[str]:
    """Families the search tries by default on *n_rows* training rows.

    ``quick`` (no time budget, no trial budget) keeps a small, fast set: a
    regularised linear model, a kernel SVM on small data, and gradient boosting.
    """
    kind = task_kind(task)
    if quick:
        names = (
            ["logreg", "svm_rbf", "random_forest", "hgb"]
            if kind == CLASSIFICATION
            else ["ridge", "svm_rbf", "random_forest", "hgb"]
        )
    else:
        names = [s.name for s in list_models(kind) if s.builtin]
    out = []
    for n in names:
        spec = _REGISTRY[(n, kind)]
        if spec.max_rows is None or n_rows <= spec.max_rows:
            out.append(n)
    return out


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


def _add(spec: ModelSpec) -> None:
    _REGISTRY[(spec.name, spec.task)] = spec
    for alias in spec.aliases:
        _ALIASES[(alias, spec.task)] = spec.name


# -- built-in factories (module level, so worker processes can unpickle them) ------------


def _merge(defaults: dict[str, Any], params: dict[str, Any]) -> dict[str, Any]:
    return {**defaults, **params}


def _logreg(p: dict[str, Any], seed: int, n_jobs: int) -> Any:
    from sklearn.linear_model import LogisticRegression

    return LogisticRegression(**_merge({"C": 1.0, "max_iter": 2000, "random_state": seed}, p))


def _naive_bayes(p: dict[str, Any], seed: int, n_jobs: int) -> Any:
    from sklearn.naive_bayes import GaussianNB

    return GaussianNB(**p)


def _knn_clf(p: dict[str, Any], seed: int, n_jobs: int) -> Any:
    from sklearn.neighbors import KNeighborsClassifier

    return KNeighborsClassifier(**_merge({"n_jobs": n_jobs}, p))


def _knn_reg(p: dict[str, Any], seed: int, n_jobs: int) -> Any:
    from sklearn.neighbors import KNeighborsRegressor

    return KNeighborsRegressor(**_merge({"n_jobs": n_jobs}, p))


def _svc(p: dict[str, Any], seed: int, n_jobs: int) -> Any:
    from sklearn.svm import SVC

    # probability=True: Platt scaling gives predict_proba (ROC-AUC, log loss, soft voting).
    return SVC(**_merge({"probability": True, "random_state": seed, "cache_size": 500}, p))


def _linear_svc(p: dict[str, Any], seed: int, n_jobs: int) -> Any:
    from sklearn.calibration import CalibratedClassifierCV
    from sklearn.svm import LinearSVC

    svc = LinearSVC(**_merge({"C": 1.0, "max_iter": 5000, "random_state": seed}, p))
    return CalibratedClassifierCV(svc, cv=3)


def _svr(p: dict[str, Any], seed: int, n_jobs: int) -> Any:
    from sklearn.svm import SVR

    return SVR(**_merge({"cache_size": 500}, p))


def _linear_svr(p: dict[str, Any], seed: int, n_jobs: int) -> Any:
    from sklearn.svm import LinearSVR

    defaults = {
        "loss": "squared_epsilon_insensitive",  # lets liblinear solve the primal: converges
        "dual": "auto",
        "max_iter": 5000,
        "random_state": seed,
    }
    return LinearSVR(**_merge(defaults, p))


def _tree_clf(p: dict[str, Any], seed: int, n_jobs: int) -> Any:
    from sklearn.tree import DecisionTreeClassifier

    return DecisionTreeClassifier(**_merge({"random_state": seed}, p))


def _tree_reg(p: dict[str, Any], seed: int, n_jobs: int) -> Any:
    from sklearn.tree import DecisionTreeRegressor

    return DecisionTreeRegressor(**_merge({"random_state": seed}, p))


def _forest(cls_name: str, p: dict[str, Any], seed: int, n_jobs: int) -> Any:
    import sklearn.ensemble as ens

    cls = getattr(ens, cls_name)
    return cls(**_merge({"n_estimators": 300, "random_state": seed, "n_jobs": n_jobs}, p))


def _rf_clf(p: dict[str, Any], seed: int, n_jobs: int) -> Any:
    return _forest("RandomForestClassifier", p, seed, n_jobs)


def _rf_reg(p: dict[str, Any], seed: int, n_jobs: int) -> Any:
    return _forest("RandomForestRegressor", p, seed, n_jobs)


def _et_clf(p: dict[str, Any], seed: int, n_jobs: int) -> Any:
    return _forest("ExtraTreesClassifier", p, seed, n_jobs)


def _et_reg(p: dict[str, Any], seed: int, n_jobs: int) -> Any:
    return _forest("ExtraTreesRegressor", p, seed, n_jobs)


def _hgb(classification: bool, p: dict[str, Any], seed: int) -> Any:
    from sklearn.ensemble import HistGradientBoostingClassifier, HistGradientBoostingRegressor

    cls = HistGradientBoostingClassifier if classification else HistGradientBoostingRegressor
    # Early stopping is done on the validation rows by the staged fit; a refit runs
    # the number of iterations it found.
    return cls(**_merge({"max_iter": 300, "early_stopping": False, "random_state": seed}, p))


def _hgb_clf(p: dict[str, Any], seed: int, n_jobs: int) -> Any:
    return _hgb(True, p, seed)


def _hgb_reg(p: dict[str, Any], seed: int, n_jobs: int) -> Any:
    return _hgb(False, p, seed)


def _lgbm(classification: bool, p: dict[str, Any], seed: int, n_jobs: int) -> Any:
    import lightgbm as lgb

    cls = lgb.LGBMClassifier if classification else lgb.LGBMRegressor
    params = _merge(
        {
            "n_estimators": 1000,
            "learning_rate": 0.05,
            "random_state": seed,
            "n_jobs": n_jobs,
            "verbosity": -1,
            "deterministic": True,
            "force_col_wise": True,
        },
        p,
    )
    if params.get("subsample", 1.0) < 1.0:
        params.setdefault("subsample_freq", 1)
    return cls(**params)


def _lgbm_clf(p: dict[str, Any], seed: int, n_jobs: int) -> Any:
    return _lgbm(True, p, seed, n_jobs)


def _lgbm_reg(p: dict[str, Any], seed: int, n_jobs: int) -> Any:
    return _lgbm(False, p, seed, n_jobs)


def _xgb(classification: bool, p: dict[str, Any], seed: int, n_jobs: int) -> Any:
    import xgboost as xgb

    cls = xgb.XGBClassifier if classification else xgb.XGBRegressor
    return cls(
        **_merge(
            {
                "n_estimators": 1000,
                "learning_rate": 0.05,
                "tree_method": "hist",
                "random_state": seed,
                "n_jobs": n_jobs,
                "verbosity": 0,
            },
            p,
        )
    )


def _xgb_clf(p: dict[str, Any], seed: int, n_jobs: int) -> Any:
    return _xgb(True, p, seed, n_jobs)


def _xgb_reg(p: dict[str, Any], seed: int, n_jobs: int) -> Any:
    return _xgb(False, p, seed, n_jobs)


def _mlp(classification: bool, p: dict[str, Any], seed: int) -> Any:
    from sklearn.neural_network import MLPClassifier, MLPRegressor

    p = dict(p)
    layers = int(p.pop("layers", 1))
    width = int(p.pop("width", 128))
    epochs = int(p.pop("epochs", 200))
    cls = MLPClassifier if classification else MLPRegressor
    defaults: dict[str, Any] = {
        "hidden_layer_sizes": (width,) * layers,
        "alpha": 1e-4,
        "learning_rate_init": 1e-3,
        "batch_size": 64,
        "max_iter": epochs,
        # A refit runs the epochs early stopping chose: do not stop on a loss plateau.
        "n_iter_no_change": epochs + 1,
        "random_state": seed,
    }
    return cls(**_merge(defaults, p))


def _mlp_clf(p: dict[str, Any], seed: int, n_jobs: int) -> Any:
    return _mlp(True, p, seed)


def _mlp_reg(p: dict[str, Any], seed: int, n_jobs: int) -> Any:
    return _mlp(False, p, seed)


def _linear(p: dict[str, Any], seed: int, n_jobs: int) -> Any:
    from sklearn.linear_model import LinearRegression

    return LinearRegression(**p)


def _ridge(p: dict[str, Any], seed: int, n_jobs: int) -> Any:
    from sklearn.linear_model import Ridge

    return Ridge(**_merge({"alpha": 1.0}, p))


def _lasso(p: dict[str, Any], seed: int, n_jobs: int) -> Any:
    from sklearn.linear_model import Lasso

    return Lasso(**_merge({"alpha": 0.01, "max_iter": 5000, "random_state": seed}, p))


def _elastic_net(p: dict[str, Any], seed: int, n_jobs: int) -> Any:
    from sklearn.linear_model import ElasticNet

    return ElasticNet(
        **_merge({"alpha": 0.01, "l1_ratio": 0.5, "max_iter": 5000, "random_state": seed}, p)
    )


# -- shared spaces ----------------------------------------------------------------------

_LR = Float(0.01, 0.3, log=True)
_TREE_SPACE: dict[str, Param] = {
    "max_depth": Int(2, 32, log=True),
    "min_samples_leaf": Int(1, 64, log=True),
    "max_features": Float(0.1, 1.0),
}
_FOREST_SPACE: dict[str, Param] = {
    "n_estimators": Int(100, 500, log=True),
    "max_features": Float(0.05, 1.0),
    "min_samples_leaf": Int(1, 32, log=True),
    "bootstrap": Choice([True, False]),
}
_FOREST_GRID: dict[str, list[Any]] = {
    "max_features": ["sqrt", 0.3, 0.6, 1.0],
    "min_samples_leaf": [1, 3, 10],
}
_HGB_SPACE: dict[str, Param] = {
    "learning_rate": _LR,
    "max_leaf_nodes": Int(4, 128, log=True),
    "min_samples_leaf": Int(2, 100, log=True),
    "l2_regularization": Float(1e-6, 10.0, log=True),
    "max_features": Float(0.3, 1.0),
}
_HGB_GRID: dict[str, list[Any]] = {
    "learning_rate": [0.03, 0.1, 0.3],
    "max_leaf_nodes": [7, 15, 31, 63],
}
_LGBM_SPACE: dict[str, Param] = {
    "learning_rate": _LR,
    "num_leaves": Int(4, 256, log=True),
    "min_child_samples": Int(2, 100, log=True),
    "subsample": Float(0.5, 1.0),
    "colsample_bytree": Float(0.3, 1.0),
    "reg_lambda": Float(1e-6, 10.0, log=True),
    "reg_alpha": Float(1e-6, 10.0, log=True),
}
_LGBM_GRID: dict[str, list[Any]] = {
    "learning_rate": [0.03, 0.1],
    "num_leaves": [7, 15, 31, 63],
    "min_child_samples": [5, 20],
}
_LGBM_PORTFOLIO = (
    {
        "learning_rate": 0.05,
        "num_leaves": 15,
        "min_child_samples": 5,
        "subsample": 0.8,
        "colsample_bytree": 0.8,
        "reg_lambda": 1.0,
    },
    {"learning_rate": 0.1, "num_leaves": 31, "min_child_samples": 20},
    {
        "learning_rate": 0.03,
        "num_leaves": 63,
        "min_child_samples": 10,
        "colsample_bytree": 0.5,
        "subsample": 0.8,
    },
)
_XGB_SPACE: dict[str, Param] = {
    "learning_rate": _LR,
    "max_depth": Int(2, 12),
    "min_child_weight": Float(0.5, 20.0, log=True),
    "subsample": Float(0.5, 1.0),
    "colsample_bytree": Float(0.3, 1.0),
    "reg_lambda": Float(1e-6, 10.0, log=True),
    "reg_alpha": Float(1e-6, 10.0, log=True),
}
_XGB_GRID: dict[str, list[Any]] = {
    "learning_rate": [0.03, 0.1],
    "max_depth": [3, 6, 9],
    "subsample": [0.8, 1.0],
}
_XGB_PORTFOLIO = (
    {"learning_rate": 0.05, "max_depth": 4, "subsample": 0.8, "colsample_bytree": 0.8},
    {"learning_rate": 0.1, "max_depth": 6},
    {"learning_rate": 0.03, "max_depth": 8, "colsample_bytree": 0.5, "min_child_weight": 2.0},
)
_MLP_SPACE: dict[str, Param] = {
    "layers": Int(1, 3),
    "width": Int(16, 512, log=True),
    "alpha": Float(1e-6, 1e-1, log=True),
    "learning_rate_init": Float(1e-4, 1e-2, log=True),
    "batch_size": Choice([32, 64, 128, 256]),
    "epochs": Int(20, 300, log=True),
}
_MLP_GRID: dict[str, list[Any]] = {"layers": [1, 2], "width": [64, 256], "alpha": [1e-4, 1e-2]}
_MLP_PORTFOLIO = (
    {"layers": 1, "width": 128, "alpha": 1e-4, "learning_rate_init": 1e-3},
    {"layers": 2, "width": 128, "alpha": 1e-3, "learning_rate_init": 1e-3},
    {"layers": 1, "width": 256, "alpha": 1e-2, "learning_rate_init": 3e-3},
)
_KNN_SPACE: dict[str, Param] = {
    "n_neighbors": Int(1, 50, log=True),
    "weights": Choice(["uniform", "distance"]),
    "p": Choice([1, 2]),
}
_KNN_GRID: dict[str, list[Any]] = {
    "n_neighbors": [1, 3, 5, 10, 20, 40],
    "weights": ["uniform", "distance"],
}
_SVM_GRID: dict[str, list[Any]] = {
    "C": [0.1, 1.0, 10.0, 100.0],
    "gamma": ["scale", 0.001, 0.01, 0.1],
}

#: Tie-break order inside a cost class (strong, cheap families first).
_ORDER = {
    n: i
    for i, n in enumerate(
        [
            "logreg",
            "ridge",
            "linear",
            "lasso",
            "elastic_net",
            "naive_bayes",
            "knn",
            "svm_linear",
            "svm_rbf",
            "tree",
            "lightgbm",
            "hgb",
            "xgboost",
            "random_forest",
            "extra_trees",
            "mlp",
        ]
    )
}


def _builtins() -> list[ModelSpec]:
    C, R = CLASSIFICATION, REGRESSION
    forest_portfolio = (
        {"max_features": "sqrt"},
        {"max_features": 0.5, "min_samples_leaf": 2},
    )
    return [
        # -- classification -------------------------------------------------------------
        ModelSpec(
            "logreg",
            C,
            _logreg,
            space={"C": Float(1e-4, 1e3, log=True), "class_weight": Choice([None, "balanced"])},
            grid={"C": [0.01, 0.1, 1.0, 10.0, 100.0], "class_weight": [None, "balanced"]},
            portfolio=({"C": 1.0}, {"C": 0.1}, {"C": 10.0}),
            cost="cheap",
            description="logistic regression (L2)",
            aliases=("logistic", "logistic_regression", "lr", "linear"),
        ),
        ModelSpec(
            "naive_bayes",
            C,
            _naive_bayes,
            space={"var_smoothing": Float(1e-12, 1e-1, log=True)},
            grid={"var_smoothing": [1e-9, 1e-6, 1e-3, 1e-1]},
            dense=True,
            cost="cheap",
            description="Gaussian naive Bayes",
            aliases=("nb", "gaussian_nb", "bayes"),
        ),
        ModelSpec(
            "knn",
            C,
            _knn_clf,
            space=_KNN_SPACE,
            grid=_KNN_GRID,
            portfolio=(
                {"n_neighbors": 5, "weights": "distance"},
                {"n_neighbors": 15, "weights": "distance"},
                {"n_neighbors": 1},
            ),
            cost="cheap",
            max_rows=100_000,
            description="k-nearest neighbours",
            aliases=("kneighbors", "k_nn", "nearest_neighbors"),
        ),
        ModelSpec(
            "svm_linear",
            C,
            _linear_svc,
            space={"C": Float(1e-4, 1e2, log=True)},
            grid={"C": [0.001, 0.01, 0.1, 1.0, 10.0]},
            portfolio=({"C": 1.0}, {"C": 0.05}),
            cost="cheap",
            description="linear SVM (calibrated probabilities)",
            aliases=("linear_svm", "linear_svc", "linearsvc"),
        ),
        ModelSpec(
            "svm_rbf",
            C,
            _svc,
            space={"C": Float(1e-2, 1e3, log=True), "gamma": Float(1e-4, 1.0, log=True)},
            grid=_SVM_GRID,
            portfolio=({"C": 10.0}, {"C": 1.0}, {"C": 100.0}),
            cost="medium",
            max_rows=20_000,
            description="RBF-kernel SVM",
            aliases=("svm", "svc", "rbf_svm", "kernel_svm"),
        ),
        ModelSpec(
            "tree",
            C,
            _tree_clf,
            space={**_TREE_SPACE, "criterion": Choice(["gini", "entropy"])},
            grid={"max_depth": [3, 5, 8, None], "min_samples_leaf": [1, 5, 20]},
            portfolio=({"min_samples_leaf": 5}, {"max_depth": 4}),
            scale=False,
            cost="cheap",
            description="decision tree",
            aliases=("decision_tree", "dt", "cart"),
        ),
        ModelSpec(
            "random_forest",
            C,
            _rf_clf,
            space={**_FOREST_SPACE, "criterion": Choice(["gini", "entropy"])},
            grid=_FOREST_GRID,
            portfolio=forest_portfolio,
            scale=False,
            cost="medium",
            description="random forest",
            aliases=("rf", "forest", "randomforest"),
        ),
        ModelSpec(
            "extra_trees",
            C,
            _et_clf,
            space={**_FOREST_SPACE, "criterion": Choice(["gini", "entropy"])},
            grid=_FOREST_GRID,
            portfolio=forest_portfolio,
            scale=False,
            cost="medium",
            description="extremely randomised trees",
            aliases=("et", "extratrees", "extra_tree"),
        ),
        ModelSpec(
            "hgb",
            C,
            _hgb_clf,
            space=_HGB_SPACE,
            grid=_HGB_GRID,
            portfolio=({}, {"learning_rate": 0.05, "max_leaf_nodes": 15, "l2_regularization": 1.0}),
            scale=False,
            dense=True,
            cost="medium",
            staged="hgb",
            description="histogram gradient boosting (scikit-learn)",
            aliases=("hist_gb", "histgradientboosting", "hist_gradient_boosting", "gbm"),
        ),
        ModelSpec(
            "lightgbm",
            C,
            _lgbm_clf,
            space=_LGBM_SPACE,
            grid=_LGBM_GRID,
            portfolio=_LGBM_PORTFOLIO,
            scale=False,
            cost="medium",
            staged="lightgbm",
            description="LightGBM gradient boosting",
            aliases=("lgbm", "lgb"),
        ),
        ModelSpec(
            "xgboost",
            C,
            _xgb_clf,
            space=_XGB_SPACE,
            grid=_XGB_GRID,
            portfolio=_XGB_PORTFOLIO,
            scale=False,
            cost="medium",
            staged="xgboost",
            description="XGBoost gradient boosting",
            aliases=("xgb",),
        ),
        ModelSpec(
            "mlp",
            C,
            _mlp_clf,
            space=_MLP_SPACE,
            grid=_MLP_GRID,
            portfolio=_MLP_PORTFOLIO,
            cost="expensive",
            staged="mlp",
            description="neural network (multi-layer perceptron, early stopping)",
            aliases=("nn", "neural_net", "neural_network", "mlp_classifier"),
        ),
        # -- regression -----------------------------------------------------------------
        ModelSpec(
            "linear",
            R,
            _linear,
            cost="cheap",
            description="ordinary least squares",
            aliases=("ols", "linear_regression", "lr"),
        ),
        ModelSpec(
            "ridge",
            R,
            _ridge,
            space={"alpha": Float(1e-3, 1e3, log=True)},
            grid={"alpha": [0.01, 0.1, 1.0, 10.0, 100.0]},
            portfolio=({"alpha": 1.0}, {"alpha": 10.0}, {"alpha": 0.1}),
            cost="cheap",
            description="ridge regression (L2)",
            aliases=("l2",),
        ),
        ModelSpec(
            "lasso",
            R,
            _lasso,
            space={"alpha": Float(1e-5, 1.0, log=True)},
            grid={"alpha": [1e-4, 1e-3, 1e-2, 1e-1]},
            portfolio=({"alpha": 0.01}, {"alpha": 0.001}),
            scale_target=True,
            cost="cheap",
            description="lasso regression (L1)",
            aliases=("l1",),
        ),
        ModelSpec(
            "elastic_net",
            R,
            _elastic_net,
            space={"alpha": Float(1e-5, 1.0, log=True), "l1_ratio": Float(0.05, 0.95)},
            grid={"alpha": [1e-3, 1e-2, 1e-1], "l1_ratio": [0.2, 0.5, 0.8]},
            portfolio=({"alpha": 0.01, "l1_ratio": 0.5}, {"alpha": 0.05, "l1_ratio": 0.2}),
            scale_target=True,
            cost="cheap",
            description="elastic net (L1 + L2)",
            aliases=("elasticnet", "enet"),
        ),
        ModelSpec(
            "knn",
            R,
            _knn_reg,
            space=_KNN_SPACE,
            grid=_KNN_GRID,
            portfolio=(
                {"n_neighbors": 10, "weights": "distance"},
                {"n_neighbors": 5},
                {"n_neighbors": 25, "weights": "distance"},
            ),
            cost="cheap",
            max_rows=100_000,
            description="k-nearest neighbours",
            aliases=("kneighbors", "k_nn", "nearest_neighbors"),
        ),
        ModelSpec(
            "svm_linear",
            R,
            _linear_svr,
            space={"C": Float(1e-4, 1e2, log=True), "epsilon": Float(0.0, 1.0)},
            grid={"C": [0.01, 0.1, 1.0, 10.0]},
            portfolio=({"C": 1.0}, {"C": 0.05}),
            scale_target=True,
            cost="cheap",
            description="linear support vector regression",
            aliases=("linear_svm", "linear_svr", "linearsvr"),
        ),
        ModelSpec(
            "svm_rbf",
            R,
            _svr,
            space={
                "C": Float(1e-2, 1e3, log=True),
                "gamma": Float(1e-4, 1.0, log=True),
                "epsilon": Float(0.01, 1.0, log=True),
            },
            grid=_SVM_GRID,
            portfolio=({"C": 1.0}, {"C": 10.0}, {"C": 0.3, "epsilon": 0.3}),
            scale_target=True,
            cost="medium",
            max_rows=20_000,
            description="RBF-kernel support vector regression",
            aliases=("svm", "svr", "rbf_svm", "kernel_svm"),
        ),
        ModelSpec(
            "tree",
            R,
            _tree_reg,
            space=_TREE_SPACE,
            grid={"max_depth": [3, 5, 8, None], "min_samples_leaf": [1, 5, 20]},
            portfolio=({"min_samples_leaf": 5}, {"max_depth": 4}),
            scale=False,
            cost="cheap",
            description="decision tree",
            aliases=("decision_tree", "dt", "cart"),
        ),
        ModelSpec(
            "random_forest",
            R,
            _rf_reg,
            space=_FOREST_SPACE,
            grid=_FOREST_GRID,
            portfolio=({"max_features": 0.5}, {"max_features": 1.0, "min_samples_leaf": 3}),
            scale=False,
            cost="medium",
            description="random forest",
            aliases=("rf", "forest", "randomforest"),
        ),
        ModelSpec(
            "extra_trees",
            R,
            _et_reg,
            space=_FOREST_SPACE,
            grid=_FOREST_GRID,
            portfolio=({"max_features": 0.5}, {"max_features": 1.0, "min_samples_leaf": 3}),
            scale=False,
            cost="medium",
            description="extremely randomised trees",
            aliases=("et", "extratrees", "extra_tree"),
        ),
        ModelSpec(
            "hgb",
            R,
            _hgb_reg,
            space=_HGB_SPACE,
            grid=_HGB_GRID,
            portfolio=({}, {"learning_rate": 0.05, "max_leaf_nodes": 15, "l2_regularization": 1.0}),
            scale=False,
            dense=True,
            cost="medium",
            staged="hgb",
            description="histogram gradient boosting (scikit-learn)",
            aliases=("hist_gb", "histgradientboosting", "hist_gradient_boosting", "gbm"),
        ),
        ModelSpec(
            "lightgbm",
            R,
            _lgbm_reg,
            space=_LGBM_SPACE,
            grid=_LGBM_GRID,
            portfolio=_LGBM_PORTFOLIO,
            scale=False,
            cost="medium",
            staged="lightgbm",
            description="LightGBM gradient boosting",
            aliases=("lgbm", "lgb"),
        ),
        ModelSpec(
            "xgboost",
            R,
            _xgb_reg,
            space=_XGB_SPACE,
            grid=_XGB_GRID,
            portfolio=_XGB_PORTFOLIO,
            scale=False,
            cost="medium",
            staged="xgboost",
            description="XGBoost gradient boosting",
            aliases=("xgb",),
        ),
        ModelSpec(
            "mlp",
            R,
            _mlp_reg,
            space=_MLP_SPACE,
            grid=_MLP_GRID,
            portfolio=_MLP_PORTFOLIO,
            scale_target=True,
            cost="expensive",
            staged="mlp",
            description="neural network (multi-layer perceptron, early stopping)",
            aliases=("nn", "neural_net", "neural_network", "mlp_regressor"),
        ),
    ]


for _spec in _builtins():
    _add(_spec)
del _spec
