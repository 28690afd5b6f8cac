"""loopml.evaluate: every metric for every task, as plain functions and one-call evaluators.

The evaluators (``evaluate_classification``, ``evaluate_regression``,
``evaluate_multilabel``, ``evaluate_clustering``) return reports with a flat
``metrics`` dict, notes on anything undefined, and a JSON-safe ``to_dict()``.
The plain metric functions are also exported under practitioner names in
:mod:`loopml.metrics`. Submodules load on first use, so importing
``loopml.evaluate.scoring`` stays cheap.

Examples
--------
>>> from loopml.evaluate import evaluate_classification
>>> report = evaluate_classification([0, 1, 1, 0], [0, 1, 0, 0], [0.2, 0.9, 0.4, 0.1])
>>> report.metrics["recall"]
0.5
"""

from __future__ import annotations

import importlib
import sys
import types
from typing import TYPE_CHECKING, Any

_LAZY: dict[str, str] = {
    "ClassificationReport": "loopml.evaluate.classification",
    "ConfusionMatrix": "loopml.evaluate.classification",
    "evaluate_classification": "loopml.evaluate.classification",
    "log_loss": "loopml.evaluate.classification",
    "accuracy": "loopml.evaluate.labels",
    "balanced_accuracy": "loopml.evaluate.labels",
    "confusion_matrix": "loopml.evaluate.labels",
    "f1": "loopml.evaluate.labels",
    "mcc": "loopml.evaluate.labels",
    "precision": "loopml.evaluate.labels",
    "recall": "loopml.evaluate.labels",
    "specificity": "loopml.evaluate.labels",
    "average_precision": "loopml.evaluate.ranking",
    "pr_curve": "loopml.evaluate.ranking",
    "roc_auc": "loopml.evaluate.ranking",
    "roc_curve": "loopml.evaluate.ranking",
    "MultilabelReport": "loopml.evaluate.multilabel",
    "evaluate_multilabel": "loopml.evaluate.multilabel",
    "hamming_loss": "loopml.evaluate.multilabel",
    "subset_accuracy": "loopml.evaluate.multilabel",
    "RegressionReport": "loopml.evaluate.regression",
    "ResidualSummary": "loopml.evaluate.regression",
    "evaluate_regression": "loopml.evaluate.regression",
    "mae": "loopml.evaluate.regression",
    "mape": "loopml.evaluate.regression",
    "median_ae": "loopml.evaluate.regression",
    "mse": "loopml.evaluate.regression",
    "r2": "loopml.evaluate.regression",
    "residual_summary": "loopml.evaluate.regression",
    "rmse": "loopml.evaluate.regression",
    "ClusteringReport": "loopml.evaluate.clustering",
    "ari": "loopml.evaluate.clustering",
    "calinski_harabasz": "loopml.evaluate.clustering",
    "davies_bouldin": "loopml.evaluate.clustering",
    "evaluate_clustering": "loopml.evaluate.clustering",
    "nmi": "loopml.evaluate.clustering",
    "silhouette": "loopml.evaluate.clustering",
    "PerplexityResult": "loopml.evaluate.perplexity",
    "perplexity": "loopml.evaluate.perplexity",
    "perplexity_from_logits": "loopml.evaluate.perplexity",
    "RougeResult": "loopml.evaluate.text",
    "TextPairs": "loopml.evaluate.text",
    "read_logprobs": "loopml.evaluate.text",
    "read_text_pairs": "loopml.evaluate.text",
    "rouge": "loopml.evaluate.text",
    "ThresholdChoice": "loopml.evaluate.threshold",
    "choose_threshold": "loopml.evaluate.threshold",
    "threshold_curve": "loopml.evaluate.threshold",
}

__all__ = [
    "ClassificationReport",
    "ClusteringReport",
    "ConfusionMatrix",
    "MultilabelReport",
    "PerplexityResult",
    "RegressionReport",
    "ResidualSummary",
    "RougeResult",
    "TextPairs",
    "ThresholdChoice",
    "accuracy",
    "ari",
    "average_precision",
    "balanced_accuracy",
    "calinski_harabasz",
    "choose_threshold",
    "confusion_matrix",
    "davies_bouldin",
    "evaluate_classification",
    "evaluate_clustering",
    "evaluate_multilabel",
    "evaluate_regression",
    "f1",
    "hamming_loss",
    "log_loss",
    "mae",
    "mape",
    "mcc",
    "median_ae",
    "mse",
    "nmi",
    "perplexity",
    "perplexity_from_logits",
    "pr_curve",
    "precision",
    "r2",
    "read_logprobs",
    "read_text_pairs",
    "recall",
    "residual_summary",
    "rmse",
    "roc_auc",
    "roc_curve",
    "rouge",
    "silhouette",
    "specificity",
    "subset_accuracy",
    "threshold_curve",
]


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'loopml.evaluate' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(__all__) | {"scoring"})


if TYPE_CHECKING:
    from loopml.evaluate.classification import (
        ClassificationReport,
        ConfusionMatrix,
        evaluate_classification,
        log_loss,
    )
    from loopml.evaluate.clustering import (
        ClusteringReport,
        ari,
        calinski_harabasz,
        davies_bouldin,
        evaluate_clustering,
        nmi,
        silhouette,
    )
    from loopml.evaluate.labels import (
        accuracy,
        balanced_accuracy,
        confusion_matrix,
        f1,
        mcc,
        precision,
        recall,
        specificity,
    )
    from loopml.evaluate.multilabel import (
        MultilabelReport,
        evaluate_multilabel,
        hamming_loss,
        subset_accuracy,
    )
    from loopml.evaluate.perplexity import PerplexityResult, perplexity, perplexity_from_logits
    from loopml.evaluate.ranking import average_precision, pr_curve, roc_auc, roc_curve
    from loopml.evaluate.regression import (
        RegressionReport,
        ResidualSummary,
        evaluate_regression,
        mae,
        mape,
        median_ae,
        mse,
        r2,
        residual_summary,
        rmse,
    )
    from loopml.evaluate.text import (
        RougeResult,
        TextPairs,
        read_logprobs,
        read_text_pairs,
        rouge,
    )
    from loopml.evaluate.threshold import ThresholdChoice, choose_threshold, threshold_curve


class _CallableModule(types.ModuleType):
    """Lets ``loopml.evaluate(model, data)`` call :func:`~loopml.evaluate.evaluator.evaluate`
    while ``loopml.evaluate`` stays the package of metric modules."""

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        from loopml.evaluate.evaluator import evaluate

        return evaluate(*args, **kwargs)


sys.modules[__name__].__class__ = _CallableModule
