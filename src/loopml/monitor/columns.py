"""Per-column preparation for drift: kinds, sorted samples, counts, summaries and bins.

Everything here reads a column once and keeps what the tests, the data-quality
checks and the report's plots need: sorted finite values for numbers, value counts
for categories. Only binned counts ever reach a report.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
from numpy.typing import NDArray

from loopml.data.schema import Role
from loopml.monitor.stattests import (
    CATEGORICAL,
    NUMERIC,
    CategoricalSample,
    NumericSample,
    sorted_histogram,
)

if TYPE_CHECKING:
    import pandas as pd

    from loopml.data.schema import Schema

__all__ = ["Distribution", "column_kinds", "key_text"]

#: Integer columns with at most this many distinct values are categories (Evidently's rule).
INT_CATEGORY_LIMIT = 10
#: Bins of the numeric histograms drawn in reports.
PLOT_BINS = 40
#: Categories drawn in reports; the rest are summed as "other".
PLOT_CATEGORIES = 20
#: Plot range: these quantiles of both samples (outliers would flatten the bars).
PLOT_QUANTILES = (0.005, 0.995)


@dataclass
class Distribution:
    """Binned reference and current counts of one column, for overlaid plots.

    Numeric columns have ``edges`` (``len(counts) + 1``) and ``outside`` (rows of
    each sample below and above the plotted range); categorical columns have
    ``categories`` and ``other`` (rows of each sample in the categories not shown).
    """

    kind: str
    reference: list[int]
    current: list[int]
    edges: list[float] | None = None
    categories: list[str] | None = None
    outside: dict[str, list[int]] = field(default_factory=dict)
    other: list[int] | None = None

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "kind": self.kind,
            "reference": self.reference,
            "current": self.current,
        }
        if self.edges is not None:
            out["edges"] = self.edges
            out["outside"] = self.outside
        if self.categories is not None:
            out["categories"] = self.categories
            out["other"] = self.other
        return out


# -- kinds ---------------------------------------------------------------------------------


def column_kinds(
    reference: pd.DataFrame,
    current: pd.DataFrame,
    schema: Schema | None,
    columns: Sequence[str] | None,
) -> tuple[dict[str, str], dict[str, str]]:
    """Map each column to test to "numeric" or "categorical"; say why the others are skipped.

    With a schema: its numeric features are numeric, categorical and boolean ones
    categorical; datetime and text features, ids and the target are skipped. Without
    one, Evidently's inference on the reference: floats numeric, integers numeric
    unless they hold <= 10 distinct values, strings categorical unless more than half
    are distinct (text), booleans categorical.
    """
    import pandas as pd

    kinds: dict[str, str] = {}
    skipped: dict[str, str] = {}
    if columns is not None:
        names = [str(c) for c in columns]
    elif schema is not None:
        names = schema.feature_names
    else:
        names = [str(c) for c in reference.columns]
    for name in names:
        if name not in reference.columns:
            skipped[name] = "not in the reference data"
            continue
        if name not in current.columns:
            skipped[name] = "not in the current data"
            continue
        if schema is not None and name in schema:
            role = schema[name].role
            if role == Role.NUMERIC:
                kinds[name] = NUMERIC
            elif role in (Role.CATEGORICAL, Role.BOOLEAN):
                kinds[name] = CATEGORICAL
            else:
                skipped[name] = f"role '{role}' is not tested for drift"
            continue
        s = reference[name]
        dtype = s.dtype
        if pd.api.types.is_bool_dtype(dtype) or isinstance(dtype, pd.CategoricalDtype):
            kinds[name] = CATEGORICAL
        elif pd.api.types.is_float_dtype(dtype):
            kinds[name] = NUMERIC
        elif pd.api.types.is_integer_dtype(dtype):
            kinds[name] = CATEGORICAL if s.nunique() <= INT_CATEGORY_LIMIT else NUMERIC
        elif pd.api.types.is_datetime64_any_dtype(dtype):
            skipped[name] = "dates are not tested for drift"
        elif pd.api.types.is_string_dtype(dtype) or pd.api.types.is_object_dtype(dtype):
            non_missing = s.dropna()
            if len(non_missing) == 0:
                skipped[name] = "empty in the reference data"
            elif not isinstance(non_missing.iloc[0], str):
                skipped[name] = (
                    f"values of type {type(non_missing.iloc[0]).__name__} are not tested"
                )
            elif s.nunique() > 0.5 * len(non_missing):
                skipped[name] = "free text (more than half the values are distinct)"
            else:
                kinds[name] = CATEGORICAL
        else:
            skipped[name] = f"dtype {dtype} is not tested for drift"
    return kinds, skipped


# -- numeric -------------------------------------------------------------------------------


@dataclass
class NumericColumn:
    """One frame's numeric column, read once."""

    sample: NumericSample
    n_rows: int
    n_missing: int
    n_invalid: int  # text that is not a number, and infinities


def read_numeric(s: pd.Series) -> NumericColumn:
    """Finite values sorted; missing and non-numeric values counted."""
    import pandas as pd

    n_invalid = 0
    if pd.api.types.is_numeric_dtype(s.dtype) and not pd.api.types.is_bool_dtype(s.dtype):
        a = s.to_numpy(dtype=np.float64, na_value=np.nan)
    else:
        if pd.api.types.is_bool_dtype(s.dtype):
            s = s.astype("float64")
        coerced = pd.to_numeric(s, errors="coerce")
        n_invalid = int((coerced.isna() & s.notna()).sum())
        a = coerced.to_numpy(dtype=np.float64, na_value=np.nan)
    finite = np.isfinite(a)
    n_nan = int(np.count_nonzero(np.isnan(a)))
    n_infinite = a.size - n_nan - int(np.count_nonzero(finite))
    values = a[finite]  # a copy: sorting it leaves the frame alone
    values.sort()
    return NumericColumn(NumericSample(values), a.size, n_nan - n_invalid, n_invalid + n_infinite)


def sorted_quantile(values: NDArray[np.float64], q: float) -> float:
    """The *q* quantile of sorted *values*, interpolated linearly (NumPy's default method)."""
    pos = q * (values.size - 1)
    lo = math.floor(pos)
    hi = min(lo + 1, values.size - 1)
    a, b = float(values[lo]), float(values[hi])
    return a + (b - a) * (pos - lo)


def numeric_summary(values: NDArray[np.float64]) -> dict[str, float | None]:
    if values.size == 0:
        return dict.fromkeys(("mean", "std", "min", "q25", "median", "q75", "max"))
    q = [sorted_quantile(values, p) for p in (0.25, 0.5, 0.75)]
    return {
        "mean": float(np.mean(values)),
        "std": float(np.std(values)),
        "min": float(values[0]),
        "q25": float(q[0]),
        "median": float(q[1]),
        "q75": float(q[2]),
        "max": float(values[-1]),
    }


def numeric_distribution(
    ref: NDArray[np.float64], cur: NDArray[np.float64], bins: int = PLOT_BINS
) -> Distribution:
    lo_q, hi_q = PLOT_QUANTILES
    both = [x for x in (ref, cur) if x.size]
    lo = min(sorted_quantile(x, lo_q) for x in both)
    hi = max(sorted_quantile(x, hi_q) for x in both)
    if not hi > lo:
        lo, hi = min(float(x[0]) for x in both), max(float(x[-1]) for x in both)
    if not hi > lo:
        lo, hi = lo - 0.5, hi + 0.5
    edges = np.linspace(lo, hi, bins + 1)
    outside = {
        "reference": _outside(ref, lo, hi),
        "current": _outside(cur, lo, hi),
    }
    return Distribution(
        NUMERIC,
        reference=sorted_histogram(ref, edges).tolist(),
        current=sorted_histogram(cur, edges).tolist(),
        edges=edges.tolist(),
        outside=outside,
    )


def _outside(values: NDArray[np.float64], lo: float, hi: float) -> list[int]:
    below = int(np.searchsorted(values, lo, side="left"))
    above = int(values.size - np.searchsorted(values, hi, side="right"))
    return [below, above]


# -- categorical ---------------------------------------------------------------------------


@dataclass
class CategoricalPair:
    """Counts of each value in the reference and current frames, over the same keys."""

    reference: CategoricalSample
    current: CategoricalSample
    missing: tuple[int, int]
    rows: tuple[int, int]

    @property
    def labels(self) -> list[str]:
        return [key_text(k) for k in self.reference.keys]


def read_categorical_pair(ref: pd.Series, cur: pd.Series) -> CategoricalPair:
    """Value counts of both columns over the union of their values.

    Numbers are compared as numbers (so ``1`` and ``1.0`` are one value, as a CSV
    with missing values reads them); anything else as text.
    """
    import pandas as pd

    numeric = all(
        pd.api.types.is_numeric_dtype(s.dtype) and not pd.api.types.is_bool_dtype(s.dtype)
        for s in (ref, cur)
    )
    ref_counts = _value_counts(ref, numeric)
    cur_counts = _value_counts(cur, numeric)
    keys: list[Any] = list(ref_counts)
    keys.extend(k for k in cur_counts if k not in ref_counts)
    ref_c = np.array([ref_counts.get(k, 0) for k in keys], dtype=np.int64)
    cur_c = np.array([cur_counts.get(k, 0) for k in keys], dtype=np.int64)
    return CategoricalPair(
        CategoricalSample(keys, ref_c),
        CategoricalSample(keys, cur_c),
        missing=(int(ref.isna().sum()), int(cur.isna().sum())),
        rows=(len(ref), len(cur)),
    )


def _value_counts(s: pd.Series, numeric: bool) -> dict[Any, int]:
    counts = s.value_counts(dropna=True, sort=True)
    out: dict[Any, int] = {}
    for key, n in zip(counts.index.tolist(), counts.to_numpy().tolist(), strict=True):
        if numeric:
            k: Any = float(key)
            if math.isnan(k) or math.isinf(k):
                continue
        else:
            k = str(key)
        out[k] = out.get(k, 0) + int(n)
    return out


def key_text(key: Any) -> str:
    """How a category is shown: integral floats without ``.0``."""
    if isinstance(key, float) and key.is_integer():
        return str(int(key))
    return str(key)


def categorical_summary(
    labels: list[str], counts: NDArray[np.int64], top: int = 5
) -> dict[str, Any]:
    total = int(counts.sum())
    order = np.argsort(-counts, kind="stable")[:top]
    return {
        "distinct": int(np.count_nonzero(counts)),
        "top": [
            {
                "value": labels[i],
                "count": int(counts[i]),
                "share": counts[i] / total if total else 0.0,
            }
            for i in order
            if counts[i] > 0
        ],
    }


def categorical_distribution(
    labels: list[str], ref_c: NDArray[np.int64], cur_c: NDArray[np.int64]
) -> Distribution:
    ref_share = ref_c / max(int(ref_c.sum()), 1)
    cur_share = cur_c / max(int(cur_c.sum()), 1)
    order = np.argsort(-np.maximum(ref_share, cur_share), kind="stable")
    shown, rest = order[:PLOT_CATEGORIES], order[PLOT_CATEGORIES:]
    return Distribution(
        CATEGORICAL,
        reference=ref_c[shown].tolist(),
        current=cur_c[shown].tolist(),
        categories=[labels[i] for i in shown],
        other=[int(ref_c[rest].sum()), int(cur_c[rest].sum())] if rest.size else None,
    )


def biggest_share_change(
    labels: list[str], ref_c: NDArray[np.int64], cur_c: NDArray[np.int64]
) -> tuple[str, float, float] | None:
    """The category whose share of rows changed most: (label, reference share, current share)."""
    if ref_c.size == 0:
        return None
    ref_share = ref_c / max(int(ref_c.sum()), 1)
    cur_share = cur_c / max(int(cur_c.sum()), 1)
    i = int(np.argmax(np.abs(cur_share - ref_share)))
    return labels[i], float(ref_share[i]), float(cur_share[i])
