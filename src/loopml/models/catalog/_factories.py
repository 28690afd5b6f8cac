"""The built-in families' estimator factories.

Each is ``factory(kind, params, seed, n_jobs)`` (a :data:`KindFactory`): *kind* picks
the classifier or the regressor, *params* override the family's defaults. They are
module-level functions so that worker processes can unpickle them, and they import
their library only when called, so that loading the catalogue stays cheap.
"""

from __future__ import annotations

from typing import Any

from loopml.models.catalog._spec import CLASSIFICATION

__all__ = [
    "elastic_net",
    "extra_trees",
    "hgb",
    "knn",
    "lasso",
    "lightgbm",
    "linear",
    "linear_svm",
    "logreg",
    "mlp",
    "naive_bayes",
    "random_forest",
    "ridge",
    "svm_rbf",
    "tree",
    "xgboost",
]


def _merge(defaults: dict[str, Any], params: dict[str, Any]) -> dict[str, Any]:
    return {**defaults, **params}


# -- one task kind ----------------------------------------------------------------------


def logreg(kind: str, p: dict[str, Any], seed: int, n_jobs: int) -> Any:
    from sklearn.linear_model import LogisticRegression

    return LogisticRegression(**_merge({"C": 1.0, "max_iter": 2000, "random_state": seed}, p))


def naive_bayes(kind: str, p: dict[str, Any], seed: int, n_jobs: int) -> Any:
    from sklearn.naive_bayes import GaussianNB

    return GaussianNB(**p)


def linear(kind: str, p: dict[str, Any], seed: int, n_jobs: int) -> Any:
    from sklearn.linear_model import LinearRegression

    return LinearRegression(**p)


def ridge(kind: str, p: dict[str, Any], seed: int, n_jobs: int) -> Any:
    from sklearn.linear_model import Ridge

    return Ridge(**_merge({"alpha": 1.0}, p))


def lasso(kind: str, p: dict[str, Any], seed: int, n_jobs: int) -> Any:
    from sklearn.linear_model import Lasso

    return Lasso(**_merge({"alpha": 0.01, "max_iter": 5000, "random_state": seed}, p))


def elastic_net(kind: str, p: dict[str, Any], seed: int, n_jobs: int) -> Any:
    from sklearn.linear_model import ElasticNet

    defaults = {"alpha": 0.01, "l1_ratio": 0.5, "max_iter": 5000, "random_state": seed}
    return ElasticNet(**_merge(defaults, p))


# -- both task kinds --------------------------------------------------------------------


def knn(kind: str, p: dict[str, Any], seed: int, n_jobs: int) -> Any:
    from sklearn.neighbors import KNeighborsClassifier, KNeighborsRegressor

    cls = KNeighborsClassifier if kind == CLASSIFICATION else KNeighborsRegressor
    return cls(**_merge({"n_jobs": n_jobs}, p))


def linear_svm(kind: str, p: dict[str, Any], seed: int, n_jobs: int) -> Any:
    from sklearn.svm import LinearSVC, LinearSVR

    if kind == CLASSIFICATION:
        from sklearn.calibration import CalibratedClassifierCV

        svc = LinearSVC(**_merge({"C": 1.0, "max_iter": 5000, "random_state": seed}, p))
        return CalibratedClassifierCV(svc, cv=3)
    defaults = {
        "loss": "squared_epsilon_insensitive",  # lets liblinear solve the primal: converges
        "dual": "auto",
        "max_iter": 5000,
        "random_state": seed,
    }
    return LinearSVR(**_merge(defaults, p))


def svm_rbf(kind: str, p: dict[str, Any], seed: int, n_jobs: int) -> Any:
    from sklearn.svm import SVC, SVR

    if kind == CLASSIFICATION:
        # probability=True: Platt scaling gives predict_proba (ROC-AUC, log loss, soft voting).
        return SVC(**_merge({"probability": True, "random_state": seed, "cache_size": 500}, p))
    return SVR(**_merge({"cache_size": 500}, p))


def tree(kind: str, p: dict[str, Any], seed: int, n_jobs: int) -> Any:
    from sklearn.tree import DecisionTreeClassifier, DecisionTreeRegressor

    cls = DecisionTreeClassifier if kind == CLASSIFICATION else DecisionTreeRegressor
    return cls(**_merge({"random_state": seed}, p))


def _forest(cls: Any, p: dict[str, Any], seed: int, n_jobs: int) -> Any:
    return cls(**_merge({"n_estimators": 300, "random_state": seed, "n_jobs": n_jobs}, p))


def random_forest(kind: str, p: dict[str, Any], seed: int, n_jobs: int) -> Any:
    from sklearn.ensemble import RandomForestClassifier, RandomForestRegressor

    cls = RandomForestClassifier if kind == CLASSIFICATION else RandomForestRegressor
    return _forest(cls, p, seed, n_jobs)


def extra_trees(kind: str, p: dict[str, Any], seed: int, n_jobs: int) -> Any:
    from sklearn.ensemble import ExtraTreesClassifier, ExtraTreesRegressor

    cls = ExtraTreesClassifier if kind == CLASSIFICATION else ExtraTreesRegressor
    return _forest(cls, p, seed, n_jobs)


def hgb(kind: str, p: dict[str, Any], seed: int, n_jobs: int) -> Any:
    from sklearn.ensemble import HistGradientBoostingClassifier, HistGradientBoostingRegressor

    cls = (
        HistGradientBoostingClassifier if kind == CLASSIFICATION else HistGradientBoostingRegressor
    )
    # Early stopping is done on the validation rows by the staged fit; a refit runs
    # the number of iterations it found.
    return cls(**_merge({"max_iter": 300, "early_stopping": False, "random_state": seed}, p))


def lightgbm(kind: str, p: dict[str, Any], seed: int, n_jobs: int) -> Any:
    import lightgbm as lgb

    cls = lgb.LGBMClassifier if kind == CLASSIFICATION else lgb.LGBMRegressor
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


def xgboost(kind: str, p: dict[str, Any], seed: int, n_jobs: int) -> Any:
    import xgboost as xgb

    cls = xgb.XGBClassifier if kind == CLASSIFICATION else xgb.XGBRegressor
    defaults = {
        "n_estimators": 1000,
        "learning_rate": 0.05,
        "tree_method": "hist",
        "random_state": seed,
        "n_jobs": n_jobs,
        "verbosity": 0,
    }
    return cls(**_merge(defaults, p))


def mlp(kind: str, p: dict[str, Any], seed: int, n_jobs: int) -> Any:
    from sklearn.neural_network import MLPClassifier, MLPRegressor

    p = dict(p)
    layers = int(p.pop("layers", 1))
    width = int(p.pop("width", 128))
    epochs = int(p.pop("epochs", 200))
    cls = MLPClassifier if kind == CLASSIFICATION else MLPRegressor
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
