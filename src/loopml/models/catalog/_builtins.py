"""The built-in model families: search spaces, grids, portfolios and needs.

:data:`BUILTINS` lists them in the order the search breaks ties within a cost class
(strong, cheap families first). Each family is described once; where its
classification and regression entries differ, its :class:`Variant` s say how.
"""

from __future__ import annotations

from loopml.models.catalog import _factories as make
from loopml.models.catalog._family import Family, KindFactory, Variant
from loopml.tune.space import Choice, Float, Int, Param

__all__ = ["BUILTINS"]

_LEARNING_RATE = Float(0.01, 0.3, log=True)
#: Row and column subsampling and L1/L2 penalties: named alike in LightGBM and XGBoost.
_BOOSTER_SAMPLING_AND_PENALTIES: dict[str, Param] = {
    "subsample": Float(0.5, 1.0),
    "colsample_bytree": Float(0.3, 1.0),
    "reg_lambda": Float(1e-6, 10.0, log=True),
    "reg_alpha": Float(1e-6, 10.0, log=True),
}
#: Classification trees also search the split criterion.
_CRITERION: dict[str, Param] = {"criterion": Choice(["gini", "entropy"])}


def _forest(
    name: str, factory: KindFactory, *, description: str, aliases: tuple[str, ...]
) -> Family:
    """Random forests and extra trees: same space, grid and portfolios."""
    return Family(
        name,
        factory,
        classification=Variant(
            extra_space=_CRITERION,
            portfolio=({"max_features": "sqrt"}, {"max_features": 0.5, "min_samples_leaf": 2}),
        ),
        regression=Variant(
            portfolio=({"max_features": 0.5}, {"max_features": 1.0, "min_samples_leaf": 3}),
        ),
        description=description,
        space={
            "n_estimators": Int(100, 500, log=True),
            "max_features": Float(0.05, 1.0),
            "min_samples_leaf": Int(1, 32, log=True),
            "bootstrap": Choice([True, False]),
        },
        grid={"max_features": ["sqrt", 0.3, 0.6, 1.0], "min_samples_leaf": [1, 3, 10]},
        scale=False,
        cost="medium",
        aliases=aliases,
    )


BUILTINS: tuple[Family, ...] = (
    Family(
        "logreg",
        make.logreg,
        classification=Variant(),
        description="logistic regression (L2)",
        space={"C": Float(1e-4, 1e3, log=True), "class_weight": Choice([None, "balanced"])},
        grid={"C": [0.01, 0.1, 1.0, 10.0, 100.0], "class_weight": [None, "balanced"]},
        portfolio=({"C": 1.0}, {"C": 0.1}, {"C": 10.0}),
        cost="cheap",
        aliases=("logistic", "logistic_regression", "lr", "linear"),
    ),
    Family(
        "ridge",
        make.ridge,
        regression=Variant(),
        description="ridge regression (L2)",
        space={"alpha": Float(1e-3, 1e3, log=True)},
        grid={"alpha": [0.01, 0.1, 1.0, 10.0, 100.0]},
        portfolio=({"alpha": 1.0}, {"alpha": 10.0}, {"alpha": 0.1}),
        cost="cheap",
        aliases=("l2",),
    ),
    Family(
        "linear",
        make.linear,
        regression=Variant(),
        description="ordinary least squares",
        cost="cheap",
        aliases=("ols", "linear_regression", "lr"),
    ),
    Family(
        "lasso",
        make.lasso,
        regression=Variant(scale_target=True),
        description="lasso regression (L1)",
        space={"alpha": Float(1e-5, 1.0, log=True)},
        grid={"alpha": [1e-4, 1e-3, 1e-2, 1e-1]},
        portfolio=({"alpha": 0.01}, {"alpha": 0.001}),
        cost="cheap",
        aliases=("l1",),
    ),
    Family(
        "elastic_net",
        make.elastic_net,
        regression=Variant(scale_target=True),
        description="elastic net (L1 + L2)",
        space={"alpha": Float(1e-5, 1.0, log=True), "l1_ratio": Float(0.05, 0.95)},
        grid={"alpha": [1e-3, 1e-2, 1e-1], "l1_ratio": [0.2, 0.5, 0.8]},
        portfolio=({"alpha": 0.01, "l1_ratio": 0.5}, {"alpha": 0.05, "l1_ratio": 0.2}),
        cost="cheap",
        aliases=("elasticnet", "enet"),
    ),
    Family(
        "naive_bayes",
        make.naive_bayes,
        classification=Variant(),
        description="Gaussian naive Bayes",
        space={"var_smoothing": Float(1e-12, 1e-1, log=True)},
        grid={"var_smoothing": [1e-9, 1e-6, 1e-3, 1e-1]},
        dense=True,
        cost="cheap",
        aliases=("nb", "gaussian_nb", "bayes"),
    ),
    Family(
        "knn",
        make.knn,
        classification=Variant(
            portfolio=(
                {"n_neighbors": 5, "weights": "distance"},
                {"n_neighbors": 15, "weights": "distance"},
                {"n_neighbors": 1},
            ),
        ),
        regression=Variant(
            portfolio=(
                {"n_neighbors": 10, "weights": "distance"},
                {"n_neighbors": 5},
                {"n_neighbors": 25, "weights": "distance"},
            ),
        ),
        description="k-nearest neighbours",
        space={
            "n_neighbors": Int(1, 50, log=True),
            "weights": Choice(["uniform", "distance"]),
            "p": Choice([1, 2]),
        },
        grid={"n_neighbors": [1, 3, 5, 10, 20, 40], "weights": ["uniform", "distance"]},
        cost="cheap",
        max_rows=100_000,
        aliases=("kneighbors", "k_nn", "nearest_neighbors"),
    ),
    Family(
        "svm_linear",
        make.linear_svm,
        classification=Variant(
            grid={"C": [0.001, 0.01, 0.1, 1.0, 10.0]},
            description="linear SVM (calibrated probabilities)",
            aliases=("linear_svm", "linear_svc", "linearsvc"),
        ),
        regression=Variant(
            extra_space={"epsilon": Float(0.0, 1.0)},
            grid={"C": [0.01, 0.1, 1.0, 10.0]},
            scale_target=True,
            description="linear support vector regression",
            aliases=("linear_svm", "linear_svr", "linearsvr"),
        ),
        space={"C": Float(1e-4, 1e2, log=True)},
        portfolio=({"C": 1.0}, {"C": 0.05}),
        cost="cheap",
    ),
    Family(
        "svm_rbf",
        make.svm_rbf,
        classification=Variant(
            portfolio=({"C": 10.0}, {"C": 1.0}, {"C": 100.0}),
            description="RBF-kernel SVM",
            aliases=("svm", "svc", "rbf_svm", "kernel_svm"),
        ),
        regression=Variant(
            extra_space={"epsilon": Float(0.01, 1.0, log=True)},
            portfolio=({"C": 1.0}, {"C": 10.0}, {"C": 0.3, "epsilon": 0.3}),
            scale_target=True,
            description="RBF-kernel support vector regression",
            aliases=("svm", "svr", "rbf_svm", "kernel_svm"),
        ),
        space={"C": Float(1e-2, 1e3, log=True), "gamma": Float(1e-4, 1.0, log=True)},
        grid={"C": [0.1, 1.0, 10.0, 100.0], "gamma": ["scale", 0.001, 0.01, 0.1]},
        cost="medium",
        max_rows=20_000,
    ),
    Family(
        "tree",
        make.tree,
        classification=Variant(extra_space=_CRITERION),
        regression=Variant(),
        description="decision tree",
        space={
            "max_depth": Int(2, 32, log=True),
            "min_samples_leaf": Int(1, 64, log=True),
            "max_features": Float(0.1, 1.0),
        },
        grid={"max_depth": [3, 5, 8, None], "min_samples_leaf": [1, 5, 20]},
        portfolio=({"min_samples_leaf": 5}, {"max_depth": 4}),
        scale=False,
        cost="cheap",
        aliases=("decision_tree", "dt", "cart"),
    ),
    Family(
        "lightgbm",
        make.lightgbm,
        classification=Variant(),
        regression=Variant(),
        description="LightGBM gradient boosting",
        space={
            "learning_rate": _LEARNING_RATE,
            "num_leaves": Int(4, 256, log=True),
            "min_child_samples": Int(2, 100, log=True),
            **_BOOSTER_SAMPLING_AND_PENALTIES,
        },
        grid={
            "learning_rate": [0.03, 0.1],
            "num_leaves": [7, 15, 31, 63],
            "min_child_samples": [5, 20],
        },
        portfolio=(
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
        ),
        scale=False,
        cost="medium",
        staged="lightgbm",
        aliases=("lgbm", "lgb"),
    ),
    Family(
        "hgb",
        make.hgb,
        classification=Variant(),
        regression=Variant(),
        description="histogram gradient boosting (scikit-learn)",
        space={
            "learning_rate": _LEARNING_RATE,
            "max_leaf_nodes": Int(4, 128, log=True),
            "min_samples_leaf": Int(2, 100, log=True),
            "l2_regularization": Float(1e-6, 10.0, log=True),
            "max_features": Float(0.3, 1.0),
        },
        grid={"learning_rate": [0.03, 0.1, 0.3], "max_leaf_nodes": [7, 15, 31, 63]},
        portfolio=({}, {"learning_rate": 0.05, "max_leaf_nodes": 15, "l2_regularization": 1.0}),
        scale=False,
        dense=True,
        cost="medium",
        staged="hgb",
        aliases=("hist_gb", "histgradientboosting", "hist_gradient_boosting", "gbm"),
    ),
    Family(
        "xgboost",
        make.xgboost,
        classification=Variant(),
        regression=Variant(),
        description="XGBoost gradient boosting",
        space={
            "learning_rate": _LEARNING_RATE,
            "max_depth": Int(2, 12),
            "min_child_weight": Float(0.5, 20.0, log=True),
            **_BOOSTER_SAMPLING_AND_PENALTIES,
        },
        grid={"learning_rate": [0.03, 0.1], "max_depth": [3, 6, 9], "subsample": [0.8, 1.0]},
        portfolio=(
            {"learning_rate": 0.05, "max_depth": 4, "subsample": 0.8, "colsample_bytree": 0.8},
            {"learning_rate": 0.1, "max_depth": 6},
            {
                "learning_rate": 0.03,
                "max_depth": 8,
                "colsample_bytree": 0.5,
                "min_child_weight": 2.0,
            },
        ),
        scale=False,
        cost="medium",
        staged="xgboost",
        aliases=("xgb",),
    ),
    _forest(
        "random_forest",
        make.random_forest,
        description="random forest",
        aliases=("rf", "forest", "randomforest"),
    ),
    _forest(
        "extra_trees",
        make.extra_trees,
        description="extremely randomised trees",
        aliases=("et", "extratrees", "extra_tree"),
    ),
    Family(
        "mlp",
        make.mlp,
        classification=Variant(aliases=("nn", "neural_net", "neural_network", "mlp_classifier")),
        regression=Variant(
            scale_target=True, aliases=("nn", "neural_net", "neural_network", "mlp_regressor")
        ),
        description="neural network (multi-layer perceptron, early stopping)",
        space={
            "layers": Int(1, 3),
            "width": Int(16, 512, log=True),
            "alpha": Float(1e-6, 1e-1, log=True),
            "learning_rate_init": Float(1e-4, 1e-2, log=True),
            "batch_size": Choice([32, 64, 128, 256]),
            "epochs": Int(20, 300, log=True),
        },
        grid={"layers": [1, 2], "width": [64, 256], "alpha": [1e-4, 1e-2]},
        portfolio=(
            {"layers": 1, "width": 128, "alpha": 1e-4, "learning_rate_init": 1e-3},
            {"layers": 2, "width": 128, "alpha": 1e-3, "learning_rate_init": 1e-3},
            {"layers": 1, "width": 256, "alpha": 1e-2, "learning_rate_init": 3e-3},
        ),
        cost="expensive",
        staged="mlp",
    ),
)
