"""Data drift, prediction drift and data-quality drift between reference and current data.

:func:`drift_report` tests every feature with the test practitioners expect for its
type and sample size (Evidently's defaults, so verdicts agree with it), decides
whether the dataset drifted (share of drifted features), checks data quality
(missing values, new categories, values outside the training range) and, given the
model, whether its predictions drifted. :func:`reference_from_bundle` rebuilds the
rows a model was trained on.

The parts live beside this module: the report objects in
:mod:`~loopml.monitor.drift_result`, one column's test and quality check in
:mod:`~loopml.monitor.column_drift`, their sentences in
:mod:`~loopml.monitor.drift_reasons`, the training reference in
:mod:`~loopml.monitor.reference`.

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

import time
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from loopml.exceptions import DataError
from loopml.monitor import columns as cols
from loopml.monitor.column_drift import MISSING_TOLERANCE as MISSING_TOLERANCE
from loopml.monitor.column_drift import RANGE_TOLERANCE as RANGE_TOLERANCE
from loopml.monitor.column_drift import compare_column, flag_quality
from loopml.monitor.drift_result import ColumnDrift as ColumnDrift
from loopml.monitor.drift_result import ColumnQuality as ColumnQuality
from loopml.monitor.drift_result import DriftReport as DriftReport
from loopml.monitor.reference import reference_from_bundle as reference_from_bundle
from loopml.monitor.stattests import CATEGORICAL, METHODS, NUMERIC

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
        drift, q = compare_column(
            name, kind, reference[name], current[name], spec, method, threshold, notes
        )
        flag_quality(q, missing_tolerance, range_tolerance)
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
        model=(None if model is None else model.ref),
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
        drift, _ = compare_column(name, kind, r, c, None, method, threshold, notes)
        if drift is not None:
            out.append(drift)
    return out
