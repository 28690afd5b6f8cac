"""Evaluation-metrics benchmark: ``evaluate_classification`` vs scikit-learn one by one.

Run: ``.venv/bin/python benchmarks/metrics.py [--rows 1000000] [--repeats 5]``

Figures written to BENCHMARKS.md (section "## Evaluation metrics"):

- binary, 1 million predictions with probabilities: ``evaluate_classification``
  (every metric, confusion matrix, per-class table, ROC and PR curves) against
  calling ``accuracy_score``, ``precision_score``, ``recall_score``, ``f1_score``,
  ``confusion_matrix``, ``roc_auc_score``, ``roc_curve``, ``precision_recall_curve``,
  ``average_precision_score``, ``log_loss``, ``balanced_accuracy_score`` and
  ``matthews_corrcoef`` one after the other;
- multiclass, 1 million predictions over 10 classes: the same list (macro
  averages, one-vs-rest ROC-AUC and average precision). scikit-learn has no
  multiclass curve function, so its side computes no curves while loopml's still
  builds the ten one-vs-rest ROC and PR curves.

Before timing, every loopml value is checked against scikit-learn's (the script
fails on any difference above 1e-9). Times are medians of ``--repeats`` runs;
the two sides alternate within each run.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from _report import machine_info, write_section  # noqa: E402

from loopml.evaluate import evaluate_classification  # noqa: E402

TOL = 1e-9


def binary_data(n: int, seed: int = 0) -> dict[str, Any]:
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 2, n)
    p = 1 / (1 + np.exp(-rng.normal(1.2 * y - 0.6, 1.2)))
    return {"y": y, "pred": (p >= 0.5).astype(np.int64), "proba": np.c_[1 - p, p], "score": p}


def multiclass_data(n: int, k: int = 10, seed: int = 0) -> dict[str, Any]:
    rng = np.random.default_rng(seed)
    y = rng.integers(0, k, n)
    logits = rng.normal(size=(n, k))
    logits[np.arange(n), y] += 1.5
    proba = np.exp(logits - logits.max(axis=1, keepdims=True))
    proba /= proba.sum(axis=1, keepdims=True)
    return {"y": y, "pred": proba.argmax(axis=1), "proba": proba}


def sklearn_binary(d: dict[str, Any]) -> dict[str, Any]:
    from sklearn import metrics as m

    y, pred, score, proba = d["y"], d["pred"], d["score"], d["proba"]
    return {
        "accuracy": m.accuracy_score(y, pred),
        "precision": m.precision_score(y, pred),
        "recall": m.recall_score(y, pred),
        "f1": m.f1_score(y, pred),
        "confusion": m.confusion_matrix(y, pred),
        "roc_auc": m.roc_auc_score(y, score),
        "roc_curve": m.roc_curve(y, score),
        "pr_curve": m.precision_recall_curve(y, score),
        "average_precision": m.average_precision_score(y, score),
        "log_loss": m.log_loss(y, proba),
        "balanced_accuracy": m.balanced_accuracy_score(y, pred),
        "mcc": m.matthews_corrcoef(y, pred),
    }


def sklearn_multiclass(d: dict[str, Any]) -> dict[str, Any]:
    from sklearn import metrics as m

    y, pred, proba = d["y"], d["pred"], d["proba"]
    return {
        "accuracy": m.accuracy_score(y, pred),
        "precision": m.precision_score(y, pred, average="macro"),
        "recall": m.recall_score(y, pred, average="macro"),
        "f1": m.f1_score(y, pred, average="macro"),
        "confusion": m.confusion_matrix(y, pred),
        "roc_auc": m.roc_auc_score(y, proba, multi_class="ovr"),
        "average_precision": m.average_precision_score(y, proba),
        "log_loss": m.log_loss(y, proba),
        "balanced_accuracy": m.balanced_accuracy_score(y, pred),
        "mcc": m.matthews_corrcoef(y, pred),
    }


def loopml_eval(d: dict[str, Any]) -> Any:
    return evaluate_classification(d["y"], d["pred"], d["proba"])


def check(report: Any, ref: dict[str, Any], what: str) -> None:
    """Every loopml value equals scikit-learn's."""
    for name, value in ref.items():
        if name == "confusion":
            ok = np.array_equal(report.confusion.counts, value)
        elif name in ("roc_curve", "pr_curve"):
            continue  # the report holds downsampled curves; full curves checked below
        else:
            ok = abs(report.metrics[name] - value) <= TOL * max(1.0, abs(value))
        if not ok:
            raise SystemExit(
                f"{what}: {name} differs: loopml {report.metrics.get(name)} vs {value}"
            )


def check_curves(d: dict[str, Any], ref: dict[str, Any]) -> None:
    from loopml.metrics import pr_curve, roc_curve

    for ours, theirs in [
        (roc_curve(d["y"], d["score"]), ref["roc_curve"]),
        (pr_curve(d["y"], d["score"]), ref["pr_curve"]),
    ]:
        for a, b in zip(ours, theirs, strict=True):
            if a.shape != b.shape or not np.allclose(a, b, rtol=TOL, atol=TOL):
                raise SystemExit("binary: full ROC/PR curves differ from scikit-learn")


def time_pair(
    ours: Callable[[], Any], theirs: Callable[[], Any], repeats: int
) -> tuple[float, float]:
    t_ours, t_theirs = [], []
    for i in range(repeats):
        order = [(ours, t_ours), (theirs, t_theirs)]
        for fn, acc in order if i % 2 == 0 else order[::-1]:
            t0 = time.perf_counter()
            fn()
            acc.append(time.perf_counter() - t0)
    return statistics.median(t_ours), statistics.median(t_theirs)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rows", type=int, default=1_000_000)
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--no-write", action="store_true", help="print only; leave BENCHMARKS.md")
    args = ap.parse_args()

    rows = []
    for label, data, ref_fn in [
        ("binary, with probabilities", binary_data(args.rows), sklearn_binary),
        (
            "multiclass, 10 classes, with probabilities",
            multiclass_data(args.rows),
            sklearn_multiclass,
        ),
    ]:
        ref = ref_fn(data)
        check(loopml_eval(data), ref, label)
        if "score" in data:
            check_curves(data, ref)
        ours, theirs = time_pair(
            lambda data=data: loopml_eval(data), lambda data=data, f=ref_fn: f(data), args.repeats
        )
        rows.append((label, ours, theirs))
        print(f"{label}: loopml {ours:.3f}s  sklearn {theirs:.3f}s  ratio {ours / theirs:.2f}")

    table = "\n".join(
        f"| {label} | {ours:.3f} | {theirs:.3f} | **{ours / theirs:.2f}** |"
        for label, ours, theirs in rows
    )
    body = f"""
{machine_info()}

Environment: OMP_NUM_THREADS={os.environ.get("OMP_NUM_THREADS", "unset")}. Script: `benchmarks/metrics.py --rows {args.rows}`.

`evaluate_classification(y_true, y_pred, y_proba)` on {args.rows:,} predictions computes every
classification metric (accuracy, balanced accuracy, precision, recall, specificity, F1 binary/
macro/micro/weighted, MCC, ROC-AUC, average precision, log loss), the confusion matrix, the
per-class table and ROC/PR curves. The baseline calls the scikit-learn functions one by one:
`accuracy_score`, `precision_score`, `recall_score`, `f1_score`, `confusion_matrix`,
`roc_auc_score`, `roc_curve` and `precision_recall_curve` (binary only: scikit-learn has no
multiclass curve), `average_precision_score`, `log_loss`, `balanced_accuracy_score`,
`matthews_corrcoef`. Every loopml value was checked equal to scikit-learn's (within 1e-9) in
the same run. Median of {args.repeats} runs, sides alternating.

| task | loopml s | scikit-learn s | ratio loopml / sklearn |
|---|---|---|---|
{table}

Target: ratio <= 1.2. loopml counts the confusion matrix once with `numpy.bincount` and
derives every label metric from it, and sorts the scores once per class for ROC-AUC,
average precision and both curves.
"""
    if not args.no_write:
        write_section("Evaluation metrics", body)
        print("wrote section 'Evaluation metrics' of BENCHMARKS.md")


if __name__ == "__main__":
    main()
