"""One call to evaluate a stored model on labelled data, and the data of a past run.

:func:`evaluate` (``loopml.evaluate(model, data)``, ``loopml evaluate``) predicts
every row of a labelled file with a model, scores it with every metric for its
task on the *original* labels, and returns an :class:`EvaluationResult` with the
plots (confusion matrix, ROC, precision-recall, calibration, threshold curve;
residuals and predicted-vs-actual for regression; model-native and permutation
feature importance), an HTML page and a JSON-safe dict.

A training run's data and the fit diagnosis of its model are in
:mod:`loopml.evaluate.runs`.
"""

from __future__ import annotations

import math
import re
import time
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from loopml.data.schema import Task
from loopml.exceptions import DataError

if TYPE_CHECKING:
    import plotly.graph_objects as go

    from loopml.bundle import ModelBundle
    from loopml.evaluate.classification import ClassificationReport
    from loopml.evaluate.regression import RegressionReport
    from loopml.report.html import Section
    from loopml.store import Store

__all__ = [
    "EvaluationResult",
    "encode_labels",
    "evaluate",
    "native_importance",
    "permutation_importance",
]

#: Rows permutation importance is computed on (a random sample above this).
PERMUTATION_ROWS = 1_000
#: Seconds permutation importance may take before it stops (columns done so far are kept).
PERMUTATION_SECONDS = 20.0
_CLASSIFICATION = (Task.BINARY, Task.MULTICLASS)


# -- labels -------------------------------------------------------------------------------------


def _align_labels(
    y: pd.Series, classes: list[Any], where: str, target: str
) -> np.ndarray[Any, Any]:
    """The file's labels as the model's class values (``"1"`` in a CSV matches class ``1``)."""
    values = pd.Series(np.asarray(y.to_numpy(), dtype=object))
    known = {_key(c): c for c in classes}
    mapping: dict[Any, Any] = {}
    unknown: list[Any] = []
    for u in pd.unique(values):
        k = _key(u)
        if k in known:
            mapping[u] = known[k]
        else:
            unknown.append(u)
    if unknown:
        raise DataError(
            f"Column '{target}' in {where} has label(s) the model does not know: "
            f"{', '.join(map(repr, unknown[:5]))}{' ...' if len(unknown) > 5 else ''}. "
            f"The model predicts {', '.join(map(repr, classes[:10]))}. Fix the labels or "
            "evaluate a model trained on them."
        )
    return np.asarray(values.map(mapping).to_numpy(), dtype=object)


def _key(value: Any) -> str:
    """How labels compare across files: case-blind text, ``1 == 1.0 == "1"``, ``True == "true"``."""
    if isinstance(value, bool | np.bool_):
        return str(bool(value)).lower()
    text = str(value).strip().lower()
    try:
        number = float(text)
    except ValueError:
        return text
    return str(int(number)) if number.is_integer() else repr(number)


def _codes(y: np.ndarray[Any, Any], classes: list[Any]) -> np.ndarray[Any, Any]:
    index = {_key(c): i for i, c in enumerate(classes)}
    values = pd.Series(np.asarray(y, dtype=object))
    mapping = {u: index[_key(u)] for u in pd.unique(values)}
    return values.map(mapping).to_numpy(dtype=np.int64)


def encode_labels(y: pd.Series, classes: list[Any] | None, task: Task) -> np.ndarray[Any, Any]:
    """Class labels → indices into *classes* (what loopml pipelines predict); else float."""
    if task in _CLASSIFICATION and classes:
        return _codes(_align_labels(y, classes, "the data", str(y.name)), classes)
    return pd.to_numeric(y, errors="coerce").to_numpy(dtype="float64")


# -- feature importance -------------------------------------------------------------------------


def _fitted_final(pipeline: Any) -> Any:
    est = pipeline
    while True:
        if hasattr(est, "steps"):
            est = est.steps[-1][1]
        elif hasattr(est, "regressor_"):
            est = est.regressor_
        else:
            return est


def native_importance(pipeline: Any) -> dict[str, Any] | None:
    """The model's own importances: ``{"names", "values", "kind"}`` or None.

    Trees and boosting give impurity/gain importances (``feature_importances_``);
    linear models their coefficients (mean absolute value over classes when there
    are several), on the transformed features the pipeline feeds the model.
    """
    final = _fitted_final(pipeline)
    if hasattr(final, "feature_importances_"):
        values = np.asarray(final.feature_importances_, dtype="float64").ravel()
        kind = "importance (impurity / gain)"
    elif hasattr(final, "coef_"):
        coef = np.asarray(final.coef_, dtype="float64")
        if coef.ndim == 2 and coef.shape[0] > 1:
            values, kind = np.abs(coef).mean(axis=0), "mean |coefficient| over classes"
        else:
            values, kind = coef.ravel(), "coefficient"
    else:
        return None
    names: list[str] = []
    if hasattr(pipeline, "steps") and len(pipeline.steps) > 1:
        try:
            names = [str(n) for n in pipeline[:-1].get_feature_names_out()]
        except Exception:
            names = []
    if len(names) != len(values):
        names = [f"feature {i}" for i in range(len(values))]
    names = [re.sub(r"^[a-z_]+__", "", n) for n in names]  # "num__age" -> "age"
    return {"names": names, "values": [float(v) for v in values], "kind": kind}


def permutation_importance(
    bundle: ModelBundle,
    X: pd.DataFrame,
    y_codes: np.ndarray[Any, Any],
    *,
    metric: str | None = None,
    n_repeats: int = 5,
    seed: int = 0,
    max_rows: int = PERMUTATION_ROWS,
    time_limit: float = PERMUTATION_SECONDS,
) -> dict[str, Any] | None:
    """Drop in score when each input column is shuffled: ``{"names", "mean", "std", "metric"}``.

    Works on the raw input columns (whatever the pipeline does with them), so it
    ranks what the user can act on. Positive means the model relies on the column.
    """
    from loopml.evaluate.scoring import default_metric, get_metric, score

    task = str(bundle.task)
    m = get_metric(metric, task) if metric else default_metric(task, y_codes)
    n_classes = len(bundle.classes or []) if bundle.task in _CLASSIFICATION else 0
    if m.needs_proba and not hasattr(bundle.pipeline, "predict_proba"):
        m = get_metric("accuracy")
    rng = np.random.RandomState(seed)
    if len(X) > max_rows:
        take = np.sort(rng.choice(len(X), max_rows, replace=False))
        X, y_codes = X.iloc[take], y_codes[take]
    X = X.reset_index(drop=True)
    columns = [c.name for c in bundle.schema.features if c.name in X.columns]

    def values(frame: pd.DataFrame, k: int) -> list[float]:
        """Scores of *k* stacked copies of the sample (one prediction call for all)."""
        n = len(frame) // k
        if m.needs_proba:
            out = np.asarray(bundle.pipeline.predict_proba(frame), dtype="float64")
            if out.shape[1] != n_classes:
                return [float("nan")] * k
            return [float(score(m, y_codes, y_proba=out[i * n : (i + 1) * n])) for i in range(k)]
        out = np.asarray(bundle.pipeline.predict(frame))
        return [float(score(m, y_codes, y_pred=out[i * n : (i + 1) * n])) for i in range(k)]

    sign = 1.0 if m.greater_is_better else -1.0
    started = time.perf_counter()
    names, means, stds = [], [], []
    stacked = pd.concat([X] * n_repeats, ignore_index=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            base = values(X, 1)[0]
        except Exception:
            return None
        for col in columns:
            if time.perf_counter() - started > time_limit:
                break
            shuffled = stacked.copy()
            original = X[col].to_numpy()
            shuffled[col] = np.concatenate(
                [original[rng.permutation(len(X))] for _ in range(n_repeats)]
            )
            drops = [sign * (base - v) for v in values(shuffled, n_repeats)]
            names.append(col)
            means.append(float(np.nanmean(drops)))
            stds.append(float(np.nanstd(drops)))
    if not names:
        return None
    return {
        "names": names,
        "mean": means,
        "std": stds,
        "metric": m.name,
        "n_rows": len(X),
        "complete": len(names) == len(columns),
    }


# -- evaluation ---------------------------------------------------------------------------------


@dataclass
class EvaluationResult:
    """What :func:`evaluate` found: metrics, the full report, and what the plots need.

    Attributes
    ----------
    model : str
        The model's reference (``name@version``).
    task : str
    metrics : dict
        Every metric for the task (classification: on the original labels).
    report : ClassificationReport or RegressionReport
        Confusion matrix, per-class table and curves; or residual analysis.
    threshold : float or None
        Binary models: the threshold on the positive-class probability that decided
        the labels (given, or stored with the model); None when the model's own
        ``predict`` decided.
    notes : list of str
        Rows dropped, columns ignored, unseen categories...
    """

    model: str
    task: str
    target: str
    source: str
    n_rows: int
    metrics: dict[str, float | None]
    report: ClassificationReport | RegressionReport
    classes: list[Any] | None = None
    threshold: float | None = None
    notes: list[str] = field(default_factory=list)
    y_true: np.ndarray[Any, Any] = field(default_factory=lambda: np.empty(0), repr=False)
    y_pred: np.ndarray[Any, Any] = field(default_factory=lambda: np.empty(0), repr=False)
    proba: np.ndarray[Any, Any] | None = field(default=None, repr=False)
    threshold_table: pd.DataFrame | None = field(default=None, repr=False)
    importance: dict[str, Any] | None = field(default=None, repr=False)
    permutation: dict[str, Any] | None = field(default=None, repr=False)

    @property
    def is_classification(self) -> bool:
        return self.task in ("binary", "multiclass")

    def figures(self) -> dict[str, go.Figure]:
        """Every plot that applies, by name: ``confusion_matrix``, ``roc``, ``pr``,
        ``calibration``, ``threshold`` (binary), ``residuals``, ``predicted_vs_actual``
        (regression), ``importance``, ``permutation_importance``."""
        from loopml.evaluate import plots

        out: dict[str, go.Figure] = {}
        rep = self.report
        if self.is_classification:
            from loopml.evaluate.classification import ClassificationReport

            if not isinstance(rep, ClassificationReport):  # pragma: no cover - by construction
                raise TypeError("classification result without a classification report")
            out["confusion_matrix"] = plots.confusion_matrix(
                rep.confusion.labels, rep.confusion.counts
            )
            if rep.curves.get("roc"):
                per = rep.per_class
                aucs = _per_class(per, "roc_auc")
                aps = _per_class(per, "average_precision")
                if rep.task == "binary":
                    aucs = {k: rep.metrics.get("roc_auc") for k in rep.curves["roc"]}
                    aps = {k: rep.metrics.get("average_precision") for k in rep.curves["pr"]}
                support = rep.confusion.counts.sum(axis=1)
                prevalence = {
                    str(c): float(s / max(1, support.sum()))
                    for c, s in zip(rep.confusion.labels, support, strict=True)
                }
                out["roc"] = plots.roc_curves(_str_keys(rep.curves["roc"]), _str_keys(aucs))
                out["pr"] = plots.pr_curves(_str_keys(rep.curves["pr"]), _str_keys(aps), prevalence)
            if self.proba is not None and self.classes:
                out["calibration"] = plots.calibration(
                    _codes(self.y_true, self.classes), self.proba, self.classes
                )
            if self.threshold_table is not None:
                out["threshold"] = plots.threshold(
                    self.threshold_table,
                    current=self.threshold if self.threshold is not None else 0.5,
                )
        else:
            out["residuals"] = plots.residuals(self.y_true, self.y_pred)
            out["predicted_vs_actual"] = plots.predicted_vs_actual(self.y_true, self.y_pred)
        if self.importance:
            imp = self.importance
            out["importance"] = plots.feature_importance(
                imp["names"], imp["values"], title="Feature importance (model)", x_title=imp["kind"]
            )
        if self.permutation:
            p = self.permutation
            out["permutation_importance"] = plots.feature_importance(
                p["names"],
                p["mean"],
                p["std"],
                title="Permutation importance",
                x_title=f"drop in {p['metric']} when shuffled",
            )
        return out

    def sections(self, *, title_prefix: str = "") -> list[Section]:
        """Report sections: metrics, plots and feature importance (used by the run report)."""
        from loopml.report.html import Alert, Card, Section, Table

        headline = _headline(self.task)
        cards = [Card("Rows", self.n_rows)]
        cards += [
            Card(name.replace("_", " "), self.metrics.get(name), None, "accent")
            for name in headline
            if self.metrics.get(name) is not None
        ]
        rows = [[k, v] for k, v in self.metrics.items()]
        tables: list[Any] = [Table(["metric", "value"], rows, "All metrics")]
        if self.is_classification:
            per = getattr(self.report, "per_class", None)
            if per is not None and len(per) <= 50:
                tables.append(Table.from_frame(per.round(4), index=True, caption="Per class"))
        alerts = [Alert(n, "note", "info") for n in self.notes]
        residual_hints = getattr(getattr(self.report, "residuals", None), "hints", [])
        alerts += [Alert(h, "residuals", "warning") for h in residual_hints]
        figs = self.figures()
        imp_names = ("importance", "permutation_importance")
        main = [f for k, f in figs.items() if k not in imp_names]
        imp = [f for k, f in figs.items() if k in imp_names]
        out = [
            Section(
                f"{title_prefix}Metrics", cards=cards, alerts=alerts, tables=tables, stack=True
            ),
            Section(f"{title_prefix}Plots", figures=main, figure_columns=2),
        ]
        if imp:
            text = (
                "Model: the estimator's own importances on the transformed features. Permutation: "
                "how much the score drops when one input column is shuffled (on up to "
                f"{PERMUTATION_ROWS:,} rows)."
            )
            out.append(
                Section(
                    f"{title_prefix}Feature importance", text=text, figures=imp, figure_columns=2
                )
            )
        return out

    def to_html(self, path: str | Path | None = None) -> str:
        """A self-contained HTML page (plots drawn offline), written atomically to *path*."""
        from loopml.report.html import render_page, write_html

        subtitle = (
            f"{self.model} on {self.source} · {self.n_rows:,} rows · "
            f"target '{self.target}' ({self.task})"
        )
        html = render_page(f"Evaluation: {self.model}", self.sections(), subtitle=subtitle)
        if path is not None:
            write_html(path, html)
        return html

    def save_png(self, directory: str | Path) -> list[Path]:
        """Write every figure as ``NAME.png`` under *directory*; [] when no PNG backend is installed
        (see :func:`loopml.evaluate.plots.export_png`)."""
        from loopml.evaluate.plots import export_png, png_backend

        if png_backend() is None:
            return []
        out = []
        for name, fig in self.figures().items():
            p = export_png(fig, Path(directory) / f"{name}.png")
            if p is not None:
                out.append(p)
        return out

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe summary: metrics, report, importances and notes (no per-row data)."""
        from loopml.evaluate._checks import jsonable

        out: dict[str, Any] = jsonable(
            {
                "model": self.model,
                "task": self.task,
                "target": self.target,
                "source": self.source,
                "n_rows": self.n_rows,
                "threshold": self.threshold,
                "metrics": self.metrics,
                "report": self.report.to_dict(),
                "importance": self.importance,
                "permutation_importance": self.permutation,
                "notes": self.notes,
            }
        )
        return out


def _per_class(per: pd.DataFrame, col: str) -> dict[Any, float | None]:
    if col not in per.columns:
        return {}
    return {
        k: (None if v is None or not math.isfinite(float(v)) else float(v))
        for k, v in per[col].items()
    }


def _str_keys(d: dict[Any, Any]) -> dict[str, Any]:
    return {str(k): v for k, v in d.items()}


def _headline(task: str) -> list[str]:
    if task == "binary":
        return ["roc_auc", "accuracy", "precision", "recall", "f1"]
    if task == "multiclass":
        return ["accuracy", "balanced_accuracy", "f1_macro", "roc_auc"]
    return ["rmse", "mae", "r2"]


def evaluate(
    model: ModelBundle | str | Path,
    data: Any,
    *,
    target: str | None = None,
    store: Store | None = None,
    threshold: float | None = None,
    importance: bool = True,
    seed: int = 0,
) -> EvaluationResult:
    """Evaluate *model* on labelled *data*: every metric for its task, plots, importances.

    Parameters
    ----------
    model : ModelBundle, reference or bundle directory
        ``"churn"``, ``"churn@3"``, ``"churn@production"`` or a bundle path.
    data : path, DataFrame or "builtin:NAME"
        Rows with the model's input columns and the label column.
    target : str, optional
        The label column (default: the model's training target).
    store : Store, optional
        Where references are resolved (default: ``.loopml/`` here).
    threshold : float, optional
        Binary models: decide with this threshold on the positive-class probability
        instead of the model's own.
    importance : bool, default True
        Compute model-native and permutation feature importance.

    Examples
    --------
    >>> result = evaluate("iris@1", "labelled.csv")  # doctest: +SKIP
    >>> result.metrics["accuracy"]  # doctest: +SKIP
    0.96
    >>> result.to_html("eval.html")  # doctest: +SKIP
    """
    from loopml.bundle import ModelBundle, load_model
    from loopml.data.io import describe_source, load

    bundle = model if isinstance(model, ModelBundle) else load_model(model, store=store)
    where = describe_source(data)
    df = load(data)
    target = target or bundle.schema.target
    if not target:
        raise DataError(
            f"The model {bundle.ref} records no target column; pass target= (--target) with "
            f"the label column of {where}."
        )
    if target not in df.columns:
        raise DataError(
            f"{where} has no column '{target}' (the labels to evaluate against). Pass the label "
            f"column with --target (columns: {', '.join(map(str, list(df.columns)[:12]))})."
        )
    notes: list[str] = []
    missing = int(df[target].isna().sum())
    if missing:
        df = df[df[target].notna()].reset_index(drop=True)
        notes.append(f"Dropped {missing:,} row(s) with no value in '{target}'.")
    if len(df) == 0:
        raise DataError(f"{where} has no rows with a value in '{target}' to evaluate on.")
    notes.extend(bundle.check(df, where).notes())
    task = bundle.task
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        if task in _CLASSIFICATION:
            result = _evaluate_classification(bundle, df, target, where, threshold, notes)
        elif task == Task.REGRESSION:
            result = _evaluate_regression(bundle, df, target, where, notes)
        else:
            raise DataError(
                f"loopml evaluate covers classification and regression models; {bundle.ref} is "
                f"a {task} model."
            )
    if importance:
        result.importance = native_importance(bundle.pipeline)
        y_codes = (
            _codes(result.y_true, bundle.classes or [])
            if task in _CLASSIFICATION
            else result.y_true
        )
        result.permutation = permutation_importance(
            bundle, df, y_codes, metric=bundle.info.get("metric"), seed=seed
        )
    return result


def _evaluate_classification(
    bundle: ModelBundle,
    df: pd.DataFrame,
    target: str,
    where: str,
    threshold: float | None,
    notes: list[str],
) -> EvaluationResult:
    from loopml.evaluate.classification import evaluate_classification
    from loopml.evaluate.threshold import threshold_curve

    classes = list(bundle.classes or [])
    y_true = _align_labels(df[target], classes, where, target)
    proba_df = bundle.predict_proba(df)
    proba = None if proba_df is None else proba_df.to_numpy(dtype="float64")
    binary = len(classes) == 2
    used = bundle.threshold
    if threshold is not None:
        if not binary or proba is None:
            raise DataError(
                "--threshold applies to binary models with probabilities; "
                f"{bundle.ref} is {bundle.task} without predict_proba."
                if proba is None
                else f"--threshold applies to binary models; {bundle.ref} has "
                f"{len(classes)} classes."
            )
        used = float(threshold)
        y_pred = np.asarray(classes, dtype=object)[(proba[:, 1] >= used).astype(np.int64)]
    else:
        y_pred = bundle.predict(df)
    report = evaluate_classification(y_true, y_pred, proba, classes=classes)
    table = None
    if binary and proba is not None and len(set(_codes(y_true, classes))) == 2:
        table = threshold_curve(_codes(y_true, classes), proba[:, 1], classes=[0, 1])
    notes.extend(n for n in report.notes if not n.startswith("No y_proba"))
    return EvaluationResult(
        model=bundle.ref,
        task=str(bundle.task),
        target=target,
        source=where,
        n_rows=len(df),
        metrics=report.metrics,
        report=report,
        classes=classes,
        threshold=used,
        notes=notes,
        y_true=y_true,
        y_pred=np.asarray(y_pred, dtype=object),
        proba=proba,
        threshold_table=table,
    )


def _evaluate_regression(
    bundle: ModelBundle, df: pd.DataFrame, target: str, where: str, notes: list[str]
) -> EvaluationResult:
    from loopml.evaluate.regression import evaluate_regression

    y = pd.to_numeric(df[target], errors="coerce")
    if y.isna().any():
        bad = df[target][y.isna()]
        raise DataError(
            f"Column '{target}' in {where} must hold numbers (the model is a regression); "
            f"{len(bad)} row(s) do not (first: row {bad.index[0]}, value {bad.iloc[0]!r})."
        )
    y_true = y.to_numpy(dtype="float64")
    y_pred = bundle.predict(df)
    report = evaluate_regression(y_true, y_pred)
    notes.extend(report.notes)
    return EvaluationResult(
        model=bundle.ref,
        task="regression",
        target=target,
        source=where,
        n_rows=len(df),
        metrics=report.metrics,
        report=report,
        notes=notes,
        y_true=y_true,
        y_pred=np.asarray(y_pred, dtype="float64"),
    )
