"""Per-column statistics and the target summary."""

from __future__ import annotations

import math
import warnings
from typing import Any

import numpy as np
import pandas as pd

from loopml.data.profile._constants import (
    TOP_VALUES,
)
from loopml.data.profile._json import _scalar
from loopml.data.schema import Role, Schema, Task

# -- per-column statistics ---------------------------------------------------------------


def _column_stats(
    s: pd.Series, idx: np.ndarray, name: str, role: Role, kind: str, unique: int | None = None
) -> tuple[dict[str, Any], np.ndarray | None]:
    n = len(s)
    missing = int(s.isna().sum())
    count = n - missing
    if unique is None:
        unique = int(s.nunique(dropna=True))
    d: dict[str, Any] = {
        "name": name,
        "role": str(role),
        "kind": kind,
        "dtype": str(s.dtype),
        "count": count,
        "missing": missing,
        "missing_pct": round(100.0 * missing / n, 4) if n else 0.0,
        "unique": unique,
        "unique_pct": round(100.0 * unique / count, 4) if count else 0.0,
    }
    values: np.ndarray | None = None
    if kind == "numeric":
        values = _as_float(s)
        d.update(_numeric_summary(values, unique))
        unparsed = int(np.isnan(values).sum()) - missing  # text in a numeric column
        if unparsed > 0:
            d["not_numeric"] = unparsed
    elif kind == "categorical":
        d.update(_top_values(s, count))
    elif kind == "text":
        d.update(_top_values(s, count, limit=5))
        d.update(_text_summary(s.iloc[idx] if len(idx) < n else s))
    elif kind == "datetime":
        d.update(_datetime_summary(s, idx))
    elif kind == "id":
        d["examples"] = [_scalar(v) for v in s.dropna().head(5)]
        if pd.api.types.is_numeric_dtype(s) and count:
            d["min"], d["max"] = _scalar(s.min()), _scalar(s.max())
    return d, values


def _as_float(s: pd.Series) -> np.ndarray:
    if not pd.api.types.is_numeric_dtype(s) or pd.api.types.is_bool_dtype(s):
        s = pd.to_numeric(s.astype("object"), errors="coerce")
    out = s.to_numpy(dtype="float64", na_value=np.nan)
    return np.asarray(out, dtype="float64")


def _skew(x: np.ndarray) -> float | None:
    """Adjusted Fisher-Pearson skewness, as pandas ``Series.skew``."""
    n = x.size
    if n < 3:
        return None
    dev = x - x.mean()
    dev2 = dev * dev
    m2 = float(dev2.mean())
    if m2 <= 1e-14 * max(1.0, float(np.mean(x)) ** 2):
        return 0.0
    m3 = float((dev2 * dev).mean())
    return float(math.sqrt(n * (n - 1)) / (n - 2) * m3 / math.pow(m2, 1.5))


def _numeric_summary(x: np.ndarray, n_unique: int) -> dict[str, Any]:
    finite = x[np.isfinite(x)]
    d: dict[str, Any] = {"infinite": int(np.isinf(x).sum())}
    if finite.size == 0:
        return d
    q25, median, q75 = (float(v) for v in np.percentile(finite, [25, 50, 75]))
    d.update(
        mean=float(finite.mean()),
        std=float(finite.std(ddof=1)) if finite.size > 1 else None,
        min=float(finite.min()),
        q25=q25,
        median=median,
        q75=q75,
        max=float(finite.max()),
        skew=_skew(finite),
        zeros=int((finite == 0).sum()),
        negative=int((finite < 0).sum()),
        histogram=_histogram(finite, q75 - q25, n_unique),
    )
    return d


def _histogram(finite: np.ndarray, iqr: float, n_unique: int) -> dict[str, Any]:
    if n_unique <= 30 and bool(np.all(finite == np.round(finite))):
        values, counts = np.unique(finite, return_counts=True)
        return {"kind": "discrete", "values": values.tolist(), "counts": counts.tolist()}
    lo, hi = float(finite.min()), float(finite.max())
    width = 2.0 * iqr / finite.size ** (1 / 3)  # Freedman-Diaconis
    bins = math.ceil((hi - lo) / width) if width > 0 else 30
    bins = int(min(50, max(10, bins))) if hi > lo else 1
    counts, edges = np.histogram(finite, bins=bins, range=(lo, hi) if hi > lo else None)
    return {"kind": "bins", "edges": edges.tolist(), "counts": counts.tolist()}


def _top_values(s: pd.Series, count: int, limit: int = TOP_VALUES) -> dict[str, Any]:
    vc = s.value_counts(dropna=True)
    vc = vc[vc > 0]  # a categorical dtype also lists its unused categories
    top = [
        {"value": _scalar(v), "count": int(c), "share": float(c) / count if count else 0.0}
        for v, c in vc.head(limit).items()
    ]
    shown = sum(t["count"] for t in top)
    return {"top": top, "other_count": count - shown, "mode": top[0]["value"] if top else None}


def _text_summary(s: pd.Series) -> dict[str, Any]:
    text = s.dropna().astype(str)
    if text.empty:
        return {}
    lengths = text.str.len().to_numpy(dtype="float64")
    words = text.str.count(r"\S+").to_numpy(dtype="float64")
    q75, q25 = np.percentile(lengths, [75, 25])
    return {
        "length": {
            "mean": float(lengths.mean()),
            "min": float(lengths.min()),
            "median": float(np.median(lengths)),
            "max": float(lengths.max()),
        },
        "words_mean": float(words.mean()),
        "length_histogram": _histogram(lengths, float(q75 - q25), 10**9),
    }


def _datetime_summary(s: pd.Series, idx: np.ndarray) -> dict[str, Any]:
    sampled = len(idx) < len(s)
    if pd.api.types.is_datetime64_any_dtype(s):
        ts = s
    else:
        part = s.iloc[idx] if sampled else s
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            ts = pd.to_datetime(part, errors="coerce", format="mixed")
        unparsed = int(part.notna().sum() - ts.notna().sum())
        if unparsed:
            note = f"{unparsed} values{' in the sample' if sampled else ''} are not dates"
            return {**_datetime_values(ts), "unparsed": unparsed, "unparsed_note": note}
    return _datetime_values(ts)


def _datetime_values(ts: pd.Series) -> dict[str, Any]:
    ts = ts.dropna()
    if ts.empty:
        return {}
    if getattr(ts.dt, "tz", None) is not None:
        ts = ts.dt.tz_convert("UTC").dt.tz_localize(None)
    ms = ts.to_numpy().astype("datetime64[ms]").astype("int64")
    lo, hi = int(ms.min()), int(ms.max())
    bins = int(min(40, max(10, math.sqrt(ms.size)))) if hi > lo else 1
    counts, edges = np.histogram(ms, bins=bins, range=(lo, hi + 1))
    iso = [str(v) for v in np.asarray(edges, dtype="int64").astype("datetime64[ms]")]
    return {
        "min": ts.min().isoformat(),
        "max": ts.max().isoformat(),
        "histogram": {"kind": "time", "edges": iso, "counts": counts.tolist()},
    }


# -- target -------------------------------------------------------------------------------


def _target_summary(
    y: pd.Series, task: Task | None, schema: Schema, columns: list[dict[str, Any]]
) -> dict[str, Any]:
    col = next(c for c in columns if c["name"] == y.name)
    info: dict[str, Any] = {"column": str(y.name), "task": str(task) if task else None}
    info["missing"] = col["missing"]
    if task is not None and task.is_classification:
        counts = y.value_counts(dropna=True)
        order = (
            schema.classes if schema.classes and set(schema.classes) == set(counts.index) else None
        )
        if order is not None:
            counts = counts.reindex(order)
        total = int(counts.sum())
        info["n_classes"] = len(counts)
        info["classes"] = [
            {"value": _scalar(v), "count": int(c), "share": float(c) / total}
            for v, c in counts.items()
        ]
        if len(counts):
            info["majority_class"] = _scalar(counts.idxmax())
            info["minority_class"] = _scalar(counts.idxmin())
            info["majority_share"] = float(counts.max()) / total
            info["imbalance_ratio"] = float(counts.max()) / float(counts.min())
    else:
        keys = ("mean", "std", "min", "q25", "median", "q75", "max", "skew", "histogram")
        info.update({k: col[k] for k in keys if k in col})
    return info


def _binary_codes(y: pd.Series, classes: list[Any] | None) -> np.ndarray:
    """0/1 codes of a binary target, the second class (sorted) as 1."""
    positive = classes[-1] if classes else sorted(y.dropna().unique(), key=str)[-1]
    codes = np.asarray((y == positive).to_numpy(dtype="float64"), dtype="float64")
    codes[y.isna().to_numpy()] = np.nan
    return codes
