"""Every loopml metric under the name practitioners use.

Classification: :func:`confusion_matrix`, :func:`accuracy`, :func:`precision`,
:func:`recall` (= :func:`sensitivity`), :func:`specificity`, :func:`f1`,
:func:`balanced_accuracy`, :func:`mcc`, :func:`log_loss`, :func:`roc_auc`,
:func:`roc_curve`, :func:`pr_curve`, :func:`average_precision`. Multi-label:
:func:`hamming_loss`, :func:`subset_accuracy` (precision/recall/f1 accept
indicator matrices). Regression: :func:`mae`, :func:`mape`, :func:`rmse`,
:func:`mse`, :func:`r2`, :func:`median_ae`, :func:`residual_summary`.
Clustering: :func:`silhouette`, :func:`calinski_harabasz`,
:func:`davies_bouldin`, :func:`ari`, :func:`nmi`. Text: :func:`rouge`,
:func:`perplexity`, :func:`perplexity_from_logits`. Thresholds:
:func:`threshold_curve`, :func:`choose_threshold`. One call per task:
:func:`evaluate_classification`, :func:`evaluate_multilabel`,
:func:`evaluate_regression`, :func:`evaluate_clustering`.

Binary metrics score the positive class ``classes[1]`` (the later of the two
sorted labels) unless ``pos_label=`` is given; multiclass ones macro-average.
Undefined metrics raise :class:`~loopml.exceptions.DataError` saying why; the
``evaluate_*`` functions report them as None with a note instead.

Examples
--------
>>> from loopml import metrics
>>> metrics.recall([0, 1, 1, 0], [0, 1, 0, 0])
0.5
>>> metrics.rmse([1.0, 2.0], [1.0, 4.0])
1.4142135623730951
"""

from __future__ import annotations

from loopml.evaluate.classification import evaluate_classification, log_loss
from loopml.evaluate.clustering import (
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
from loopml.evaluate.multilabel import evaluate_multilabel, hamming_loss, subset_accuracy
from loopml.evaluate.perplexity import perplexity, perplexity_from_logits
from loopml.evaluate.ranking import average_precision, pr_curve, roc_auc, roc_curve
from loopml.evaluate.regression import (
    evaluate_regression,
    mae,
    mape,
    median_ae,
    mse,
    r2,
    residual_summary,
    rmse,
)
from loopml.evaluate.text import rouge
from loopml.evaluate.threshold import choose_threshold, threshold_curve

sensitivity = recall

__all__ = [
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
    "recall",
    "residual_summary",
    "rmse",
    "roc_auc",
    "roc_curve",
    "rouge",
    "sensitivity",
    "silhouette",
    "specificity",
    "subset_accuracy",
    "threshold_curve",
]
