"""The public loopml.metrics and loopml.evaluate namespaces."""

from __future__ import annotations

import importlib
import subprocess
import sys

import pytest

import loopml.evaluate
import loopml.metrics

PRACTITIONER_NAMES = {
    "confusion_matrix", "accuracy", "precision", "recall", "sensitivity", "specificity", "f1",
    "roc_auc", "roc_curve", "pr_curve", "average_precision", "log_loss", "balanced_accuracy",
    "mcc", "hamming_loss", "subset_accuracy", "mae", "mape", "rmse", "mse", "r2", "median_ae",
    "residual_summary", "silhouette", "calinski_harabasz", "davies_bouldin", "ari", "nmi",
    "rouge", "perplexity", "perplexity_from_logits", "threshold_curve", "choose_threshold",
    "evaluate_classification", "evaluate_multilabel", "evaluate_regression",
    "evaluate_clustering",
}  # fmt: skip


def test_metrics_all_is_exactly_the_public_names() -> None:
    assert set(loopml.metrics.__all__) == PRACTITIONER_NAMES
    assert loopml.metrics.__all__ == sorted(loopml.metrics.__all__)
    public = {n for n in vars(loopml.metrics) if not n.startswith("_")}
    assert public - {"annotations"} == PRACTITIONER_NAMES
    for name in PRACTITIONER_NAMES:
        assert callable(getattr(loopml.metrics, name))
    assert loopml.metrics.sensitivity is loopml.metrics.recall


def test_evaluate_exports_resolve_lazily() -> None:
    assert loopml.evaluate.__all__ == sorted(loopml.evaluate.__all__)
    for name in loopml.evaluate.__all__:
        assert getattr(loopml.evaluate, name) is not None
    assert set(loopml.metrics.__all__) - {"sensitivity"} <= set(loopml.evaluate.__all__)
    with pytest.raises(AttributeError, match="has no attribute 'nope'"):
        _ = loopml.evaluate.nope  # type: ignore[attr-defined]


def test_importing_scoring_does_not_load_the_metric_modules() -> None:
    code = (
        "import sys, loopml.evaluate.scoring; "
        "print(any(m.startswith('loopml.evaluate.') and m != 'loopml.evaluate.scoring' "
        "for m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_doc_examples_run() -> None:
    import doctest

    for mod in [
        "loopml.metrics",
        "loopml.evaluate",
        "loopml.evaluate.labels",
        "loopml.evaluate.classification",
        "loopml.evaluate.ranking",
        "loopml.evaluate.multilabel",
        "loopml.evaluate.regression",
        "loopml.evaluate.clustering",
        "loopml.evaluate.perplexity",
        "loopml.evaluate.text",
        "loopml.evaluate.threshold",
    ]:
        result = doctest.testmod(importlib.import_module(mod), optionflags=doctest.ELLIPSIS)
        assert result.failed == 0, mod
