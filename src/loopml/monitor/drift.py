"""Data drift, prediction drift and data-quality drift between reference and current data.

:func:`drift_report` tests every feature with the test practitioners expect for its
type and sample size (Evidently's defaults, so verdicts agree with it), decides
whether the dataset drifted (share of drifted features), checks data quality
(missing values, new categories, values outside the training range) and, given the
model, whether its predictions drifted. :func:`reference_from_bundle` rebuilds the
rows a model was trained on.

Examples
--------
>>> import numpy as np, pandas as pd
>>> rng = np.random.default_rng(0)
>>> ref = pd.DataFrame({"x": rng.normal(size=2000), "c": rng.choice(list("ab"), 2000)})
>>> cur = pd.DataFrame({"x": rng.normal(1.0, size=2000), "c": rng.choice(list("ab"), 2000)})
>>> report = drift_report(ref, cur)
>>> [(c.column, c.test, c.drifted) for c in report.columns]
[('x', 'wasserstein', True), ('c', 'jensenshannon', False)]
>>> report.dataset_drift
True
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from loopml.exceptions import DataError
from loopml.monitor import columns as cols
from loopml.monitor.columns import Distribution
from loopml.monitor.stattests import (
    CATEGORICAL,
    DISPLAY_NAMES,
    METHODS,
    NUMERIC,
    NUMERIC_ONLY,
    CategoricalSample,
    NumericSample,
    TestResult,
    choose_test,
    n_distinct,
    run_test,
)

if TYPE_CHECKING:
    import pandas as pd

    from loopml.bundle import ModelBundle
    from loopml.data.schema import Schema

__all__ = [
    "ColumnDrift",
    "ColumnQuality",
    "DriftReport",
    "drift_report",
    "reference_from_bundle",
]

#: A column's missing share must grow by at least this much to be flagged.
MISSING_TOLERANCE = 0.05
#: Share of current rows outside the training range above which a column is flagged.
RANGE_TOLERANCE = 0.01


@dataclass
class ColumnDrift:
    """One column's drift test.

    ``score`` is compared with ``threshold``: a p-value (drift when below; KS also at
    equality) or a distance (drift when at or above). ``reason`` says it in a sentence.
    """

    column: str
    kind: str
    test: str
    statistic: float
    p_value: float | None
    score: float
    threshold: float
    drifted: bool
    reason: str
    n_reference: int
    n_current: int
    summary: dict[str, Any]
    distribution: Distribution

    @property
    def test_name(self) -> str:
        return DISPLAY_NAMES[self.test]

    def to_dict(self) -> dict[str, Any]:
        return {
            "column": self.column,
            "kind": self.kind,
            "test": self.test,
            "test_name": self.test_name,
            "statistic": _finite(self.statistic),
            "p_value": _finite(self.p_value),
            "score": _finite(self.score),
            "threshold": self.threshold,
            "drifted": self.drifted,
            "reason": self.reason,
            "n_reference": self.n_reference,
            "n_current": self.n_current,
            "summary": self.summary,
            "distribution": self.distribution.to_dict(),
        }


@dataclass
class ColumnQuality:
    """Data quality of one column, reference against current."""

    column: str
    kind: str
    missing_reference: float
    missing_current: float
    missing_surge: bool = False
    invalid_current: int = 0
    new_categories: dict[str, int] = field(default_factory=dict)
    new_category_rows: int = 0
    below_range: int = 0
    above_range: int = 0
    range: tuple[float, float] | None = None
    range_source: str | None = None
    out_of_range_share: float = 0.0
    issues: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {
            "column": self.column,
            "kind": self.kind,
            "missing_reference": self.missing_reference,
            "missing_current": self.missing_current,
            "missing_surge": self.missing_surge,
            "invalid_current": self.invalid_current,
            "new_categories": self.new_categories,
            "new_category_rows": self.new_category_rows,
            "below_range": self.below_range,
            "above_range": self.above_range,
            "range": list(self.range) if self.range else None,
            "range_source": self.range_source,
            "out_of_range_share": self.out_of_range_share,
            "issues": self.issues,
        }


@dataclass
class DriftReport:
    """What :func:`drift_report` found. ``dataset_drift`` is the headline verdict."""

    columns: list[ColumnDrift]
    quality: list[ColumnQuality]
    prediction: list[ColumnDrift]
    n_reference: int
    n_current: int
    drift_share: float
    method: str
    skipped: dict[str, str] = field(default_factory=dict)
    missing_columns: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    seconds: float = 0.0
    model: str | None = None

    @property
    def n_drifted(self) -> int:
        return sum(c.drifted for c in self.columns)

    @property
    def share_drifted(self) -> float:
        return self.n_drifted / len(self.columns) if self.columns else 0.0

    @property
    def dataset_drift(self) -> bool:
        """True when the share of drifted features reaches ``drift_share``."""
        return bool(self.columns) and self.share_drifted >= self.drift_share

    @property
    def drifted_columns(self) -> list[str]:
        return [c.column for c in self.columns if c.drifted]

    @property
    def prediction_drift(self) -> bool:
        return any(c.drifted for c in self.prediction)

    @property
    def quality_issues(self) -> list[str]:
        return [issue for q in self.quality for issue in q.issues]

    def __getitem__(self, column: str) -> ColumnDrift:
        for c in self.columns:
            if c.column == column:
                return c
        raise KeyError(column)

    def figures(self) -> dict[str, float]:
        """Flat numbers for alert rules: ``dataset_drift``, ``drift_share``,
        ``n_drifted``, ``prediction_drift``, ``quality_issues``, and per column
        ``drift_score.<col>``, ``drifted.<col>``, ``missing_share.<col>``,
        ``new_category_rows.<col>``, ``out_of_range_share.<col>``."""
        out: dict[str, float] = {
            "dataset_drift": float(self.dataset_drift),
            "drift_share": self.share_drifted,
            "n_drifted": float(self.n_drifted),
            "prediction_drift": float(self.prediction_drift),
            "quality_issues": float(len(self.quality_issues)),
        }
        for c in [*self.columns, *self.prediction]:
            out[f"drift_score.{c.column}"] = c.score
            out[f"drifted.{c.column}"] = float(c.drifted)
        for q in self.quality:
            out[f"missing_share.{q.column}"] = q.missing_current
            out[f"new_category_rows.{q.column}"] = float(q.new_category_rows)
            out[f"out_of_range_share.{q.column}"] = q.out_of_range_share
        return out

    def summary(self) -> str:
        """One line: the verdict and the drifted columns."""
        verdict = "Dataset drift" if self.dataset_drift else "No dataset drift"
        text = (
            f"{verdict}: {self.n_drifted} of {len(self.columns)} columns drifted "
            f"({100 * self.share_drifted:.0f}%, threshold {100 * self.drift_share:.0f}%)"
        )
        if self.drifted_columns:
            text += ": " + ", ".join(self.drifted_columns[:8])
            if len(self.drifted_columns) > 8:
                text += f" and {len(self.drifted_columns) - 8} more"
        return text + "."

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe dict (NaN and infinities become None)."""
        return {
            "dataset_drift": self.dataset_drift,
            "share_drifted": self.share_drifted,
            "n_drifted": self.n_drifted,
            "n_columns": len(self.columns),
            "drift_share": self.drift_share,
            "drifted_columns": self.drifted_columns,
            "method": self.method,
            "n_reference": self.n_reference,
            "n_current": self.n_current,
            "model": self.model,
            "seconds": self.seconds,
            "columns": [c.to_dict() for c in self.columns],
            "prediction": [c.to_dict() for c in self.prediction],
            "prediction_drift": self.prediction_drift,
            "quality": [q.to_dict() for q in self.quality],
            "quality_issues": self.quality_issues,
            "skipped": self.skipped,
            "missing_columns": self.missing_columns,
            "notes": self.notes,
        }

    def to_json(self, indent: int | None = 2) -> str:
        return json.dumps(self.to_dict(), indent=indent, allow_nan=False)

    def to_html(self, *, title: str | None = None) -> str:
        """The report as a self-contained HTML page (overlaid distributions per column)."""
        from loopml.monitor.report import render_monitor

        return render_monitor(drift=self, title=title)

    def save(self, path: str | Path, *, title: str | None = None) -> Path:
        """Write the HTML page to *path* and the JSON beside it (``.json``), atomically.

        A *path* ending in ``.json`` writes the JSON only. Returns the path written.
        """
        from loopml.monitor.report import save_monitor

        return save_monitor(path, drift=self, title=title)


# -- the report ----------------------------------------------------------------------------


def drift_report(
    reference: pd.DataFrame,
    current: pd.DataFrame,
    *,
    schema: Schema | None = None,
    columns: Sequence[str] | None = None,
    method: str | Mapping[str, str] = "auto",
    threshold: float | Mapping[str, float] | None = None,
    drift_share: float = 0.5,
    model: ModelBundle | None = None,
    current_predictions: Any = None,
    missing_tolerance: float = MISSING_TOLERANCE,
    range_tolerance: float = RANGE_TOLERANCE,
) -> DriftReport:
    """Compare *current* data with *reference* data, column by column.

    Parameters
    ----------
    reference, current : DataFrame
        The training data (see :func:`reference_from_bundle`) and the data seen since.
    schema : Schema, optional
        Which columns are features and of what kind, their training ranges and
        categories. Default: inferred from the reference (as Evidently does).
    columns : list of str, optional
        Test only these columns.
    method : str or dict, default "auto"
        ``"auto"`` (KS / chi-square / Z on <= 1000 reference rows, normed Wasserstein /
        Jensen-Shannon above), or one of ``ks``, ``chisquare``, ``z``, ``wasserstein``,
        ``jensenshannon``, ``psi`` for every column; a dict maps column names to
        methods (others: auto). KS and Wasserstein need numbers: categorical columns
        keep the automatic test.
    threshold : float or dict, optional
        Replaces each test's default threshold (p-value 0.05; distances 0.1); a dict
        maps column names or test names to thresholds.
    drift_share : float, default 0.5
        The dataset drifted when at least this share of columns drifted.
    model : ModelBundle, optional
        Also test the model's predictions (labels or values, and the positive-class
        probability of a binary classifier) for drift.
    current_predictions : array-like, optional
        Predictions already made on *current* (e.g. from the prediction log); default:
        the model predicts *current*.
    missing_tolerance : float, default 0.05
        Flag a column whose missing share grows by at least this much.
    range_tolerance : float, default 0.01
        Flag a numeric column when more than this share of current values lies outside
        the training range (the schema's, else the reference's minimum and maximum).

    Raises
    ------
    DataError
        If either frame is empty, or *method* / *threshold* / *drift_share* is invalid.
    """
    started = time.perf_counter()
    _check_args(reference, current, method, drift_share)
    if model is not None and schema is None:
        schema = model.schema
    kinds, skipped = cols.column_kinds(reference, current, schema, columns)
    missing_columns = [name for name, why in skipped.items() if why == "not in the current data"]
    notes: list[str] = []
    if missing_columns:
        notes.append(
            f"{len(missing_columns)} column(s) of the reference are missing from the current "
            f"data: {', '.join(missing_columns[:10])}."
        )
    results: list[ColumnDrift] = []
    quality: list[ColumnQuality] = []
    for name, kind in kinds.items():
        spec = schema[name] if schema is not None and name in schema else None
        col_method = method.get(name, "auto") if isinstance(method, Mapping) else method
        if kind == NUMERIC:
            drift, q = _numeric_column(
                name, reference[name], current[name], spec, col_method, threshold, notes
            )
        else:
            drift, q = _categorical_column(
                name, reference[name], current[name], spec, col_method, threshold, notes
            )
        _flag_quality(q, missing_tolerance, range_tolerance)
        quality.append(q)
        if drift is None:
            skipped[name] = "no values in the reference or current data"
        else:
            results.append(drift)
    if not results:
        notes.append("No column could be tested for drift.")
    prediction: list[ColumnDrift] = []
    if model is not None:
        prediction = _prediction_drift(
            model, reference, current, current_predictions, method, threshold, notes
        )
    return DriftReport(
        columns=results,
        quality=quality,
        prediction=prediction,
        n_reference=len(reference),
        n_current=len(current),
        drift_share=float(drift_share),
        method=method if isinstance(method, str) else "per column",
        skipped=skipped,
        missing_columns=missing_columns,
        notes=notes,
        seconds=time.perf_counter() - started,
        model=_model_ref(model),
    )


def _check_args(
    reference: pd.DataFrame, current: pd.DataFrame, method: Any, drift_share: float
) -> None:
    for label, df in (("reference", reference), ("current", current)):
        if len(df) == 0:
            raise DataError(f"The {label} data has no rows; drift needs rows in both frames.")
    methods = method.values() if isinstance(method, Mapping) else [method]
    for m in methods:
        if m not in METHODS:
            raise DataError(f"Unknown drift method {m!r}; choose one of {', '.join(METHODS)}.")
    if not 0.0 < float(drift_share) <= 1.0:
        raise DataError(f"drift_share must be in (0, 1]; got {drift_share}.")


def _pick(
    name: str,
    kind: str,
    method: str,
    ref: NumericSample | CategoricalSample,
    cur: NumericSample | CategoricalSample,
    threshold: float | Mapping[str, float] | None,
    notes: list[str],
) -> tuple[str, float | None]:
    test = method
    if method == "auto" or (kind == CATEGORICAL and method in NUMERIC_ONLY):
        if method != "auto":
            notes.append(
                f"Column '{name}' holds categories: {DISPLAY_NAMES[method]} needs numbers, "
                "so the automatic test was used."
            )
        test = choose_test(kind, ref.n, n_distinct(ref, cur, at_most=5))
    if isinstance(threshold, Mapping):
        t = threshold.get(name, threshold.get(test))
        return test, None if t is None else float(t)
    return test, None if threshold is None else float(threshold)


def _numeric_column(
    name: str,
    ref_s: pd.Series,
    cur_s: pd.Series,
    spec: Any,
    method: str,
    threshold: float | Mapping[str, float] | None,
    notes: list[str],
) -> tuple[ColumnDrift | None, ColumnQuality]:
    ref = cols.read_numeric(ref_s)
    cur = cols.read_numeric(cur_s)
    r, c = ref.sample.values, cur.sample.values
    q = ColumnQuality(
        name,
        NUMERIC,
        missing_reference=(ref.n_rows - ref.sample.n) / max(ref.n_rows, 1),
        missing_current=(cur.n_rows - cur.sample.n) / max(cur.n_rows, 1),
        invalid_current=cur.n_invalid,
    )
    lo, hi, source = _training_range(spec, r)
    if lo is not None and hi is not None and c.size:
        q.range, q.range_source = (lo, hi), source
        q.below_range = int(np.searchsorted(c, lo, side="left"))
        q.above_range = int(c.size - np.searchsorted(c, hi, side="right"))
        q.out_of_range_share = (q.below_range + q.above_range) / c.size
    if r.size == 0 or c.size == 0:
        return None, q
    test, t = _pick(name, NUMERIC, method, ref.sample, cur.sample, threshold, notes)
    result = run_test(test, ref.sample, cur.sample, t)
    ref_sum, cur_sum = cols.numeric_summary(r), cols.numeric_summary(c)
    drift = ColumnDrift(
        column=name,
        kind=NUMERIC,
        test=test,
        statistic=result.statistic,
        p_value=result.p_value,
        score=result.score,
        threshold=result.threshold,
        drifted=result.drifted,
        reason=_numeric_reason(result, ref_sum, cur_sum),
        n_reference=int(r.size),
        n_current=int(c.size),
        summary={"reference": ref_sum, "current": cur_sum},
        distribution=cols.numeric_distribution(r, c),
    )
    return drift, q


def _training_range(spec: Any, ref: Any) -> tuple[float | None, float | None, str | None]:
    if (
        spec is not None
        and isinstance(spec.minimum, int | float)
        and isinstance(spec.maximum, int | float)
    ):
        return float(spec.minimum), float(spec.maximum), "schema"
    if ref.size:
        return float(ref[0]), float(ref[-1]), "reference"
    return None, None, None


def _categorical_column(
    name: str,
    ref_s: pd.Series,
    cur_s: pd.Series,
    spec: Any,
    method: str,
    threshold: float | Mapping[str, float] | None,
    notes: list[str],
) -> tuple[ColumnDrift | None, ColumnQuality]:
    pair = cols.read_categorical_pair(ref_s, cur_s)
    labels = pair.labels
    ref_c, cur_c = pair.reference.counts, pair.current.counts
    q = ColumnQuality(
        name,
        CATEGORICAL,
        missing_reference=pair.missing[0] / max(pair.rows[0], 1),
        missing_current=pair.missing[1] / max(pair.rows[1], 1),
    )
    known = set(spec.categories or []) if spec is not None else set()
    new = {
        label: int(n)
        for label, n_ref, n in zip(labels, ref_c, cur_c, strict=True)
        if n_ref == 0 and n > 0 and label not in known
    }
    q.new_categories = dict(sorted(new.items(), key=lambda kv: -kv[1])[:50])
    q.new_category_rows = sum(new.values())
    if pair.reference.n == 0 or pair.current.n == 0:
        return None, q
    test, t = _pick(name, CATEGORICAL, method, pair.reference, pair.current, threshold, notes)
    result = run_test(test, pair.reference, pair.current, t)
    drift = ColumnDrift(
        column=name,
        kind=CATEGORICAL,
        test=test,
        statistic=result.statistic,
        p_value=result.p_value,
        score=result.score,
        threshold=result.threshold,
        drifted=result.drifted,
        reason=_categorical_reason(result, labels, ref_c, cur_c, new),
        n_reference=pair.reference.n,
        n_current=pair.current.n,
        summary={
            "reference": cols.categorical_summary(labels, ref_c),
            "current": cols.categorical_summary(labels, cur_c),
        },
        distribution=cols.categorical_distribution(labels, ref_c, cur_c),
    )
    return drift, q


def _flag_quality(q: ColumnQuality, missing_tolerance: float, range_tolerance: float) -> None:
    if q.missing_current - q.missing_reference >= missing_tolerance:
        q.missing_surge = True
        q.issues.append(
            f"'{q.column}': missing values rose from {_pct(q.missing_reference)} to "
            f"{_pct(q.missing_current)} of rows."
        )
    if q.new_categories:
        shown = ", ".join(f"'{k}' ({n:,})" for k, n in list(q.new_categories.items())[:5])
        q.issues.append(
            f"'{q.column}': {len(q.new_categories)} categor"
            f"{'y' if len(q.new_categories) == 1 else 'ies'} not seen in training, in "
            f"{q.new_category_rows:,} rows: {shown}."
        )
    if q.range is not None and q.out_of_range_share > range_tolerance:
        q.issues.append(
            f"'{q.column}': {_pct(q.out_of_range_share)} of values lie outside the training "
            f"range [{q.range[0]:.4g}, {q.range[1]:.4g}] ({q.below_range:,} below, "
            f"{q.above_range:,} above)."
        )
    if q.invalid_current:
        q.issues.append(
            f"'{q.column}': {q.invalid_current:,} current values are not finite numbers."
        )


# -- reasons -------------------------------------------------------------------------------


def _verdict(result: TestResult) -> str:
    name = DISPLAY_NAMES[result.test]
    if result.is_p_value:
        p = _num(result.p_value)
        op = (
            ("<=" if result.test == "ks" else "<")
            if result.drifted
            else (">" if result.test == "ks" else ">=")
        )
        return f"{name} p-value {p} {op} {result.threshold:g}"
    op = ">=" if result.drifted else "<"
    if result.test == "wasserstein":
        return (
            f"Wasserstein distance {_num(result.score)} reference standard deviations "
            f"{op} {result.threshold:g}"
        )
    return f"{name} {_num(result.score)} {op} {result.threshold:g}"


def _numeric_reason(result: TestResult, ref: dict[str, Any], cur: dict[str, Any]) -> str:
    head = _verdict(result)
    change = (
        f"mean {_num(ref['mean'])} \u2192 {_num(cur['mean'])}, "
        f"std {_num(ref['std'])} \u2192 {_num(cur['std'])}, "
        f"median {_num(ref['median'])} \u2192 {_num(cur['median'])}"
    )
    if result.drifted:
        return f"Drift: {head}; {change}."
    return f"No drift: {head} ({change})."


def _categorical_reason(
    result: TestResult,
    labels: list[str],
    ref_c: Any,
    cur_c: Any,
    new: Mapping[str, int],
) -> str:
    head = _verdict(result)
    moved = cols.biggest_share_change(labels, ref_c, cur_c)
    detail = ""
    if moved is not None:
        label, a, b = moved
        detail = f"largest change '{label}' {_pct(a)} \u2192 {_pct(b)} of rows"
    if new:
        detail += f"{'; ' if detail else ''}{len(new)} new categor{'y' if len(new) == 1 else 'ies'}"
    if result.drifted:
        return f"Drift: {head}; {detail}." if detail else f"Drift: {head}."
    return f"No drift: {head} ({detail})." if detail else f"No drift: {head}."


def _num(value: float | None) -> str:
    if value is None or not math.isfinite(value):
        return "n/a" if value is None or math.isnan(value) else str(value)
    if value != 0 and abs(value) < 1e-3:
        return f"{value:.2e}"
    return f"{value:.4g}"


def _pct(share: float) -> str:
    return f"{100 * share:.1f}%"


def _finite(value: float | None) -> float | None:
    if value is None or not math.isfinite(value):
        return None
    return float(value)


def _model_ref(model: ModelBundle | None) -> str | None:
    if model is None:
        return None
    return f"{model.name}@{model.version}" if model.version is not None else model.name


# -- prediction drift ----------------------------------------------------------------------


def _prediction_drift(
    model: ModelBundle,
    reference: pd.DataFrame,
    current: pd.DataFrame,
    current_predictions: Any,
    method: str | Mapping[str, str],
    threshold: float | Mapping[str, float] | None,
    notes: list[str],
) -> list[ColumnDrift]:
    import pandas as pd

    frames: dict[str, tuple[pd.Series, pd.Series]] = {}
    try:
        ref_pred = model.predict(reference)
        cur_pred = (
            np.asarray(current_predictions)
            if current_predictions is not None
            else model.predict(current)
        )
        frames["prediction"] = (pd.Series(ref_pred), pd.Series(cur_pred))
        binary = model.task.is_classification and len(model.classes or []) == 2
        if binary and current_predictions is None:
            ref_p, cur_p = model.predict_proba(reference), model.predict_proba(current)
            if ref_p is not None and cur_p is not None:
                pos = ref_p.columns[-1]
                frames[f"proba_{pos}"] = (ref_p[pos], cur_p[pos])
    except Exception as exc:  # a model that cannot score the data says why in the report
        notes.append(f"Prediction drift skipped: the model could not predict ({exc}).")
        return []
    out: list[ColumnDrift] = []
    for name, (r, c) in frames.items():
        kind = CATEGORICAL if name == "prediction" and model.task.is_classification else NUMERIC
        col_method = method.get(name, "auto") if isinstance(method, Mapping) else method
        if kind == NUMERIC:
            drift, _ = _numeric_column(name, r, c, None, col_method, threshold, notes)
        else:
            drift, _ = _categorical_column(name, r, c, None, col_method, threshold, notes)
        if drift is not None:
            out.append(drift)
    return out


# -- the training reference ----------------------------------------------------------------


def reference_from_bundle(bundle: ModelBundle, *, part: str = "fit") -> pd.DataFrame:
    """Reload the rows *bundle* was trained on, by redoing its recorded split.

    Parameters
    ----------
    bundle : ModelBundle
        A model trained by ``loopml train`` (its ``info`` records the data source and
        the split's sizes, seed and strategy).
    part : {"fit", "train", "valid", "test"}, default "fit"
        ``"fit"``: the rows the final model was fitted on (train + validation when it
        was refit on both, as ``loopml train`` does); otherwise one split.

    Raises
    ------
    DataError
        If the source is not a file or builtin dataset that can be read again, or it
        changed since training (different row counts); pass the reference explicitly.
    """
    import pandas as pd

    from loopml.data.io import load
    from loopml.data.split import split
    from loopml.data.validate import drop_missing_target

    info = bundle.info
    source = info.get("source")
    sp = info.get("split")
    fix = "Pass the training data explicitly (--reference FILE, or reference= in Python)."
    if not isinstance(source, str) or source == "the DataFrame" or not isinstance(sp, dict):
        raise DataError(
            f"Model '{bundle.name}' does not record a data source that can be read again "
            f"(source: {source!r}). {fix}"
        )
    if part not in ("fit", "train", "valid", "test"):
        raise DataError(f"part must be one of fit, train, valid, test; got {part!r}.")
    target = bundle.schema.target or info.get("target")
    try:
        df = load(source)
    except DataError as exc:
        raise DataError(
            f"Cannot reload the training data of '{bundle.name}': {exc} {fix}"
        ) from None
    if target is not None and target in df.columns:
        df, _ = drop_missing_target(df, target, source)
    strategy = str(sp.get("strategy", ""))
    time_column = _quoted(strategy) if strategy.startswith("time-ordered") else None
    group_column = _quoted(strategy) if strategy.startswith("grouped") else None
    parts = split(
        df,
        target,
        sizes=tuple(sp.get("sizes", (0.7, 0.15, 0.15))),  # type: ignore[arg-type]
        seed=int(sp.get("seed", 0)),
        stratify=strategy != "random",
        time_column=time_column,
        group_column=group_column,
        where=source,
    )
    expected = sp.get("rows")
    if isinstance(expected, dict) and expected != parts.counts:
        raise DataError(
            f"The training data of '{bundle.name}' ({source}) changed since training: the split "
            f"now has {parts.counts} rows, training had {expected}. {fix}"
        )
    if part == "fit":
        if info.get("refit_on") == "train+valid":
            return pd.concat([parts.train, parts.valid], ignore_index=True)
        return parts.train
    frame: pd.DataFrame = getattr(parts, part)
    return frame


def _quoted(text: str) -> str | None:
    start = text.find("'")
    end = text.rfind("'")
    return text[start + 1 : end] if 0 <= start < end else None
