"""One column of a drift report: pick its test, run it, and check its data quality.

:func:`compare_column` reads a numeric or categorical column from both frames, picks the
test practitioners expect for its type and sample size (or the one asked for), runs
it, and measures the column's data quality (missing share, values outside the
training range, categories not seen in training). :func:`flag_quality` turns those
measures into the issues the report lists.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import numpy as np

from loopml.monitor import columns as cols
from loopml.monitor.columns import Distribution
from loopml.monitor.drift_reasons import categorical_reason, numeric_reason, pct
from loopml.monitor.drift_result import ColumnDrift, ColumnQuality
from loopml.monitor.stattests import (
    CATEGORICAL,
    DISPLAY_NAMES,
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

__all__ = ["MISSING_TOLERANCE", "RANGE_TOLERANCE", "compare_column", "flag_quality"]

#: A column's missing share must grow by at least this much to be flagged.
MISSING_TOLERANCE = 0.05
#: Share of current rows outside the training range above which a column is flagged.
RANGE_TOLERANCE = 0.01

Threshold = float | Mapping[str, float] | None


def compare_column(
    name: str,
    kind: str,
    ref_s: pd.Series,
    cur_s: pd.Series,
    spec: Any,
    method: str | Mapping[str, str],
    threshold: Threshold,
    notes: list[str],
) -> tuple[ColumnDrift | None, ColumnQuality]:
    """Test column *name* of kind *kind* (numeric or categorical) for drift.

    *method* is a test name, ``"auto"``, or a mapping of column names to them (other
    columns: auto). The drift is None when either side has no values; notes about
    the choice of test are appended to *notes*.
    """
    col_method = method.get(name, "auto") if isinstance(method, Mapping) else method
    if kind == NUMERIC:
        return _numeric_column(name, ref_s, cur_s, spec, col_method, threshold, notes)
    return _categorical_column(name, ref_s, cur_s, spec, col_method, threshold, notes)


def _pick(
    name: str,
    kind: str,
    method: str,
    ref: NumericSample | CategoricalSample,
    cur: NumericSample | CategoricalSample,
    threshold: Threshold,
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


def _column_drift(
    name: str,
    kind: str,
    result: TestResult,
    reason: str,
    n: tuple[int, int],
    summary: dict[str, Any],
    distribution: Distribution,
) -> ColumnDrift:
    return ColumnDrift(
        column=name,
        kind=kind,
        test=result.test,
        statistic=result.statistic,
        p_value=result.p_value,
        score=result.score,
        threshold=result.threshold,
        drifted=result.drifted,
        reason=reason,
        n_reference=n[0],
        n_current=n[1],
        summary=summary,
        distribution=distribution,
    )


def _numeric_column(
    name: str,
    ref_s: pd.Series,
    cur_s: pd.Series,
    spec: Any,
    method: str,
    threshold: Threshold,
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
    drift = _column_drift(
        name,
        NUMERIC,
        result,
        numeric_reason(result, ref_sum, cur_sum),
        (int(r.size), int(c.size)),
        {"reference": ref_sum, "current": cur_sum},
        cols.numeric_distribution(r, c),
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
    threshold: Threshold,
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
    drift = _column_drift(
        name,
        CATEGORICAL,
        result,
        categorical_reason(result, labels, ref_c, cur_c, new),
        (pair.reference.n, pair.current.n),
        {
            "reference": cols.categorical_summary(labels, ref_c),
            "current": cols.categorical_summary(labels, cur_c),
        },
        cols.categorical_distribution(labels, ref_c, cur_c),
    )
    return drift, q


def flag_quality(q: ColumnQuality, missing_tolerance: float, range_tolerance: float) -> None:
    """Append to ``q.issues`` what a person should look at (and set ``missing_surge``)."""
    if q.missing_current - q.missing_reference >= missing_tolerance:
        q.missing_surge = True
        q.issues.append(
            f"'{q.column}': missing values rose from {pct(q.missing_reference)} to "
            f"{pct(q.missing_current)} of rows."
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
            f"'{q.column}': {pct(q.out_of_range_share)} of values lie outside the training "
            f"range [{q.range[0]:.4g}, {q.range[1]:.4g}] ({q.below_range:,} below, "
            f"{q.above_range:,} above)."
        )
    if q.invalid_current:
        q.issues.append(
            f"'{q.column}': {q.invalid_current:,} current values are not finite numbers."
        )
