"""Exploratory data analysis: per-column statistics, correlations, target balance, warnings.

:func:`profile` reads a dataset (anything :func:`loopml.data.io.load` accepts),
infers its schema, and returns a :class:`Profile`: plain, JSON-safe dictionaries
that :meth:`Profile.save` writes as an HTML page and a JSON file side by side.

Counts (rows, missing, distinct values, duplicates, top values) and numeric
summaries are exact. Correlations and target associations use a random sample
of at most ``max_rows`` rows (the report says so), so profiling a million rows
takes seconds, not minutes.

Examples
--------
>>> p = profile("builtin:iris", target="target")
>>> p.n_rows, p.target["n_classes"]
(150, 3)
>>> [w["kind"] for w in p.warnings if w["kind"] == "leakage"]
[]
"""

from __future__ import annotations

import json
import math
import warnings
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from loopml.data.io import load, source_name
from loopml.data.schema import Role, Schema, Task, infer_schema
from loopml.exceptions import DataError

__all__ = ["Profile", "profile"]

#: A feature whose |Pearson| or |Spearman| with a numeric target exceeds this is flagged.
LEAKAGE_CORRELATION = 0.95
#: A feature whose single-feature stump balanced accuracy (or binary AUC) reaches this is flagged.
LEAKAGE_SCORE = 0.99
#: Categorical columns with more distinct values than this are high-cardinality.
HIGH_CARDINALITY = 50
#: Majority/minority class ratio from which the target counts as imbalanced.
IMBALANCE_RATIO = 5.0
#: |skewness| above this is strong skew.
SKEW_THRESHOLD = 2.0
#: Missing share above this is flagged.
MISSING_THRESHOLD = 0.2
#: Most columns in a correlation matrix (the first ones, target first, are kept).
MAX_CORRELATION_COLUMNS = 100
#: Most categorical columns in the Cramér's V matrix.
MAX_CATEGORICAL_COLUMNS = 40
#: Categories kept per column for associations; the rest are pooled as one.
MAX_CATEGORIES = 50
#: Rows used for the (per-feature) target-association checks.
ASSOCIATION_ROWS = 20_000
TOP_VALUES = 10
_MIN_ROWS_FOR_LEAKAGE = 30


@dataclass
class Profile:
    """The result of :func:`profile`: JSON-safe statistics about one dataset.

    Attributes
    ----------
    name : str
        Dataset name (file stem, builtin name, or the ``name`` argument).
    n_rows, n_columns : int
        Shape of the data, target included.
    schema : Schema
        Column roles and the task.
    columns : list of dict
        Per column: ``name, role, dtype, count, missing, missing_pct, unique`` and, by role,
        ``mean/std/min/q25/median/q75/max/skew`` and a ``histogram`` (numeric), ``top``
        values with counts (categorical, boolean, text), ``min/max`` (datetime).
    correlations : dict
        ``pearson`` and ``spearman`` (numeric columns), ``categorical`` (Cramér's V between
        categorical columns) as ``{"columns": [...], "values": [[...]]}``;
        ``correlation_ratio`` (numeric rows by categorical columns) as
        ``{"rows", "columns", "values"}``; ``top_pairs``. A key is None when there are
        fewer than two such columns.
    target : dict or None
        Class counts, shares and imbalance ratio, or a numeric summary; ``associations``
        ranks the features by how well each alone predicts the target.
    warnings : list of dict
        ``{"kind", "column", "message", "severity"}``, most severe first.
    duplicates : int
        Rows that repeat an earlier row exactly.
    sample_rows : int
        Rows used for correlations and associations (``n_rows`` unless sampled).
    missing_cells : int
        Missing values over the whole table.
    """

    name: str
    n_rows: int
    n_columns: int
    schema: Schema
    columns: list[dict[str, Any]]
    correlations: dict[str, Any]
    target: dict[str, Any] | None
    warnings: list[dict[str, Any]]
    duplicates: int
    sample_rows: int = 0
    missing_cells: int = 0
    seed: int = 0
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def sampled(self) -> bool:
        return self.sample_rows < self.n_rows

    def column(self, name: str) -> dict[str, Any]:
        """The statistics of one column."""
        for col in self.columns:
            if col["name"] == name:
                return col
        raise KeyError(
            f"Column '{name}' is not in profile '{self.name}'. "
            f"Columns: {', '.join(c['name'] for c in self.columns)}."
        )

    def correlation_frame(self, kind: str = "pearson") -> pd.DataFrame:
        """A correlation matrix (``pearson``, ``spearman``, ``categorical``) as a DataFrame."""
        if kind not in ("pearson", "spearman", "categorical", "correlation_ratio"):
            raise ValueError(
                f"kind must be 'pearson', 'spearman', 'categorical' or 'correlation_ratio'; "
                f"got {kind!r}."
            )
        m = self.correlations.get(kind)
        if not m:
            return pd.DataFrame()
        rows = m.get("rows", m["columns"])
        values = [[np.nan if v is None else v for v in r] for r in m["values"]]
        return pd.DataFrame(values, index=rows, columns=m["columns"], dtype="float64")

    # -- serialisation ---------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        """Everything as plain JSON types (no NaN, no infinity, no numpy scalars)."""
        out = {
            "name": self.name,
            "n_rows": self.n_rows,
            "n_columns": self.n_columns,
            "sample_rows": self.sample_rows,
            "seed": self.seed,
            "duplicates": self.duplicates,
            "missing_cells": self.missing_cells,
            "schema": self.schema.to_dict(),
            "columns": self.columns,
            "correlations": self.correlations,
            "target": self.target,
            "warnings": self.warnings,
        }
        if self.extra:
            out["extra"] = self.extra
        return dict(_jsonable(out))

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Profile:
        return cls(
            name=d["name"],
            n_rows=d["n_rows"],
            n_columns=d["n_columns"],
            schema=Schema.from_dict(d["schema"]),
            columns=d["columns"],
            correlations=d["correlations"],
            target=d.get("target"),
            warnings=d.get("warnings", []),
            duplicates=d.get("duplicates", 0),
            sample_rows=d.get("sample_rows", d["n_rows"]),
            missing_cells=d.get("missing_cells", 0),
            seed=d.get("seed", 0),
            extra=d.get("extra", {}),
        )

    def to_json(self, path: str | Path | None = None, *, indent: int | None = 2) -> str:
        """The profile as strict JSON; also written (atomically) to *path* if given."""
        text = json.dumps(self.to_dict(), indent=indent, allow_nan=False, ensure_ascii=False)
        if path is not None:
            from loopml.report import write_text_atomic

            write_text_atomic(path, text)
        return text

    def to_html(self, path: str | Path | None = None) -> str:
        """The profile as one self-contained HTML page; also written to *path* if given."""
        from loopml.report import write_html
        from loopml.report.profile import render_profile

        html = render_profile(self)
        if path is not None:
            write_html(path, html)
        return html

    def save(self, path: str | Path) -> tuple[Path, Path]:
        """Write ``<stem>.html`` and ``<stem>.json`` side by side; returns both paths.

        *path* may name either file (``eda.html`` or ``eda.json``) or the stem (``eda``).
        Both are rendered before either is written, and each write is atomic.
        """
        from loopml.report import write_text_atomic

        path = Path(path)
        if path.suffix.lower() in (".html", ".htm", ".json"):
            html_path = path if path.suffix.lower() != ".json" else path.with_suffix(".html")
            json_path = path.with_suffix(".json")
        else:
            html_path = path.with_name(path.name + ".html")
            json_path = path.with_name(path.name + ".json")
        html, text = self.to_html(), self.to_json()
        write_text_atomic(json_path, text)
        write_text_atomic(html_path, html)
        return html_path, json_path

    def __repr__(self) -> str:
        return (
            f"Profile(name={self.name!r}, n_rows={self.n_rows}, n_columns={self.n_columns}, "
            f"target={self.schema.target!r}, warnings={len(self.warnings)})"
        )


def profile(
    data: Any,
    target: str | None = None,
    *,
    schema: Schema | None = None,
    name: str | None = None,
    max_rows: int | None = 200_000,
    seed: int = 0,
) -> Profile:
    """Profile a dataset: statistics per column, correlations, target balance, warnings.

    Parameters
    ----------
    data : str, Path or DataFrame
        Anything :func:`loopml.data.io.load` accepts (a file, a DataFrame, ``"builtin:NAME"``).
    target : str, optional
        The label column; defaults to ``schema.target``. Without one, no target section.
    schema : Schema, optional
        Column roles to use; inferred from the data if not given.
    name : str, optional
        Name shown in the report; defaults to the file stem or builtin name.
    max_rows : int or None
        Correlations and target associations use a random sample of at most this many rows
        (None: all rows). Counts and numeric summaries are always exact.
    seed : int
        Seed of the row sample.

    Returns
    -------
    Profile

    Examples
    --------
    >>> p = profile("builtin:breast_cancer", target="target")
    >>> p.target["classes"][0]["value"], p.target["classes"][0]["count"]
    ('benign', 357)
    """
    if max_rows is not None and max_rows < 2:
        raise DataError(f"max_rows must be None or at least 2; got {max_rows}.")
    df = load(data)
    df.columns = [str(c) for c in df.columns]
    if len(df) == 0:
        raise DataError(f"Cannot profile {source_name(data)}: it has no rows.")
    if target is None and schema is not None:
        target = schema.target
    if target is not None and target not in df.columns:
        raise DataError(
            f"Target column '{target}' is not in the data. Columns: "
            f"{', '.join(map(repr, df.columns[:30]))}{'...' if df.shape[1] > 30 else ''}. "
            "Pass one of these as the target, or none for an unsupervised profile."
        )
    if target is not None and df[target].notna().sum() == 0:
        raise DataError(
            f"Target column '{target}' is empty: all {len(df):,} values are missing. "
            "Give a column that holds the labels, or profile without a target."
        )
    df = _hashable(df)
    schema, inferred = _complete_schema(df, target, schema)
    task = schema.task if target is not None else None

    n = len(df)
    rng = np.random.default_rng(seed)
    if max_rows is not None and n > max_rows:
        idx = np.sort(rng.choice(n, size=max_rows, replace=False))
    else:
        idx = np.arange(n)
    roles = {c.name: c.role for c in schema.columns}
    # Inference just counted distinct values on these very rows: no need to count twice.
    known_unique = {c.name: c.n_unique for c in schema.columns if c.name in inferred}
    notes = {c.name: c.note for c in schema.columns if c.note}

    columns: list[dict[str, Any]] = []
    numeric: dict[str, np.ndarray] = {}  # full float arrays
    categorical: dict[str, pd.Series] = {}  # sampled series
    for col in df.columns:
        s = df[col]
        is_target = col == target
        role = Role.TARGET if is_target else roles.get(col, Role.CATEGORICAL)
        kind = _analysis_kind(s, role, task if is_target else None)
        stats, values = _column_stats(s, idx, col, role, kind, known_unique.get(col))
        stats["note"] = notes.get(col)
        columns.append(stats)
        if values is not None and (role == Role.NUMERIC or (is_target and kind == "numeric")):
            numeric[col] = values
        if role in (Role.CATEGORICAL, Role.BOOLEAN) or (is_target and kind == "categorical"):
            categorical[col] = s.iloc[idx] if len(idx) < n else s

    target_info = None
    if target is not None:
        target_info = _target_summary(df[target], task, schema, columns)
        if task == Task.BINARY and target not in numeric:
            numeric = {target: _binary_codes(df[target], schema.classes), **numeric}
        elif target in numeric:
            numeric = {target: numeric[target], **{k: v for k, v in numeric.items() if k != target}}
        if target in categorical:
            categorical = {target: categorical[target], **categorical}

    correlations = _correlations(
        {k: v[idx] if len(idx) < n else v for k, v in numeric.items()}, categorical
    )
    if target is not None and target_info is not None:
        assoc_idx = (
            idx
            if len(idx) <= ASSOCIATION_ROWS
            else np.sort(rng.choice(idx, size=ASSOCIATION_ROWS, replace=False))
        )
        target_info["associations"] = _associations(df, assoc_idx, target, task, roles)

    duplicates = _count_duplicates(df)
    missing_cells = int(sum(c["missing"] for c in columns))
    result = Profile(
        name=name or source_name(data),
        n_rows=n,
        n_columns=df.shape[1],
        schema=schema,
        columns=columns,
        correlations=correlations,
        target=target_info,
        warnings=[],
        duplicates=duplicates,
        sample_rows=len(idx),
        missing_cells=missing_cells,
        seed=seed,
    )
    result.warnings = _warnings(result, task)
    # One pass makes every attribute JSON-safe, so to_dict/to_json cannot fail later.
    result.columns = _jsonable(result.columns)
    result.correlations = _jsonable(result.correlations)
    result.target = _jsonable(result.target)
    return result


# -- schema ------------------------------------------------------------------------------


def _hashable(df: pd.DataFrame) -> pd.DataFrame:
    """Lists and dicts (e.g. from JSON Lines) as their text, so they can be counted."""
    for col in df.columns:
        s = df[col]
        if s.dtype != object:
            continue
        try:
            s.nunique()
        except TypeError:
            df[col] = s.map(lambda v: v if _is_missing(v) else str(v))
    return df


def _is_missing(v: Any) -> bool:
    return v is None or (isinstance(v, float) and math.isnan(v))


def _complete_schema(
    df: pd.DataFrame, target: str | None, schema: Schema | None
) -> tuple[Schema, set[str]]:
    """The schema to use, and the columns whose spec was inferred from *df* here.

    A given schema is completed with the columns it lacks, and re-targeted when *target*
    differs from the schema's (the target never appears among the feature columns).
    """
    with warnings.catch_warnings():
        # Empty columns are reported as profile warnings, not Python warnings.
        warnings.simplefilter("ignore")
        if schema is None:
            inferred = infer_schema(df, target)
            return inferred, {c.name for c in inferred.columns}
        missing = [c for c in df.columns if c not in schema and c != target]
        extra = infer_schema(df[missing]) if missing else Schema(columns=[])
        task, classes = schema.task, schema.classes
        if target is not None and target != schema.target:
            retarget = infer_schema(df[[target]], target)
            task, classes = retarget.task, retarget.classes
    if not missing and target == schema.target and target not in schema:
        return schema, set()
    merged = Schema(
        columns=[*(c for c in schema.columns if c.name != target), *extra.columns],
        target=target,
        task=task,
        classes=classes,
        notes=[*schema.notes, *extra.notes],
    )
    return merged, set(missing)


def _analysis_kind(s: pd.Series, role: Role, task: Task | None) -> str:
    if role == Role.TARGET:
        if task == Task.REGRESSION and pd.api.types.is_numeric_dtype(s):
            return "numeric"
        return "categorical"
    if role == Role.NUMERIC:
        return "numeric"
    if role == Role.DATETIME:
        return "datetime"
    if role == Role.TEXT:
        return "text"
    if role == Role.EMPTY:
        return "empty"
    if role == Role.ID:
        return "id"
    return "categorical"


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


# -- correlations ---------------------------------------------------------------------------


def _matrix(names: list[str], values: np.ndarray) -> dict[str, Any]:
    return {"columns": names, "values": np.round(values, 4).tolist()}


def _pearson(x: np.ndarray) -> np.ndarray:
    if not np.isnan(x).any():
        centred = x - x.mean(axis=0)
        norms = np.sqrt((centred**2).sum(axis=0))
        with np.errstate(invalid="ignore", divide="ignore"):
            c = (centred.T @ centred) / np.outer(norms, norms)
        c[:, norms == 0] = np.nan
        c[norms == 0, :] = np.nan
        np.fill_diagonal(c, np.where(norms == 0, np.nan, 1.0))
        return np.asarray(np.clip(c, -1.0, 1.0), dtype="float64")
    # Pairwise-complete Pearson (as pandas' DataFrame.corr) with matrix products:
    # every sum below runs over the rows where both columns of a pair are present.
    valid = (~np.isnan(x)).astype("float64")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # an all-missing column
        centred = np.where(valid > 0, x - np.nanmean(x, axis=0), 0.0)
    n = valid.T @ valid
    sx = centred.T @ valid  # sx[i, j]: sum of column i over rows where i and j are present
    sxx = (centred**2).T @ valid
    sxy = centred.T @ centred
    with np.errstate(invalid="ignore", divide="ignore"):
        cov = n * sxy - sx * sx.T
        var = (n * sxx - sx**2) * (n * sxx - sx**2).T
        c = cov / np.sqrt(var)
    c[(n < 3) | ~(var > 0)] = np.nan
    return np.asarray(np.clip(c, -1.0, 1.0), dtype="float64")


def _rank(v: np.ndarray) -> np.ndarray:
    """Average ranks (1-based, ties share their mean rank); NaN stays NaN."""
    out = np.full(v.shape, np.nan)
    mask = ~np.isnan(v)
    _, inverse, counts = np.unique(v[mask], return_inverse=True, return_counts=True)
    ends = np.cumsum(counts)
    out[mask] = (ends - (counts - 1) / 2.0)[inverse]
    return out


def _ranks(x: np.ndarray) -> np.ndarray:
    return np.column_stack([_rank(x[:, j]) for j in range(x.shape[1])])


def _codes(s: pd.Series) -> np.ndarray:
    """Integer codes of the most frequent categories; rarer ones pooled; -1 for missing."""
    codes, uniques = pd.factorize(s, use_na_sentinel=True)
    codes = np.asarray(codes, dtype="int64")
    if len(uniques) > MAX_CATEGORIES:
        freq = np.bincount(codes[codes >= 0], minlength=len(uniques))
        keep = np.argsort(-freq, kind="stable")[:MAX_CATEGORIES]
        remap = np.full(len(uniques), MAX_CATEGORIES, dtype="int64")
        remap[keep] = np.arange(MAX_CATEGORIES)
        codes = np.where(codes >= 0, remap[np.maximum(codes, 0)], -1)
    return codes


def cramers_v(a: np.ndarray, b: np.ndarray) -> float | None:
    """Bias-corrected Cramér's V (Bergsma 2013) between two code arrays (-1 = missing)."""
    mask = (a >= 0) & (b >= 0)
    a, b = a[mask], b[mask]
    n = a.size
    if n < 2:
        return None
    _, a = np.unique(a, return_inverse=True)
    _, b = np.unique(b, return_inverse=True)
    r, k = int(a.max()) + 1, int(b.max()) + 1
    if r < 2 or k < 2:
        return None
    table = np.bincount(a * k + b, minlength=r * k).reshape(r, k).astype("float64")
    expected = np.outer(table.sum(axis=1), table.sum(axis=0)) / n
    chi2 = float(((table - expected) ** 2 / expected).sum())
    phi2 = max(0.0, chi2 / n - (k - 1) * (r - 1) / (n - 1))
    r_corr = r - (r - 1) ** 2 / (n - 1)
    k_corr = k - (k - 1) ** 2 / (n - 1)
    denom = min(k_corr - 1, r_corr - 1)
    if denom <= 0:
        return None
    return float(min(1.0, math.sqrt(phi2 / denom)))


def correlation_ratio(x: np.ndarray, codes: np.ndarray) -> float | None:
    """η: how much of the variance of numeric *x* the categories explain (sqrt of R²)."""
    mask = np.isfinite(x) & (codes >= 0)
    x, c = x[mask], codes[mask]
    if x.size < 2:
        return None
    total = float(((x - x.mean()) ** 2).sum())
    if total == 0:
        return None
    sums = np.bincount(c, weights=x)
    counts = np.bincount(c)
    seen = counts > 0
    between = float((sums[seen] ** 2 / counts[seen]).sum() - x.sum() ** 2 / x.size)
    return float(math.sqrt(min(1.0, max(0.0, between / total))))


def _correlations(
    numeric: dict[str, np.ndarray], categorical: dict[str, pd.Series]
) -> dict[str, Any]:
    out: dict[str, Any] = {"pearson": None, "spearman": None, "categorical": None}
    out["correlation_ratio"] = None
    out["top_pairs"] = []
    num_names = list(numeric)[:MAX_CORRELATION_COLUMNS]
    out["truncated"] = len(numeric) > MAX_CORRELATION_COLUMNS or (
        len(categorical) > MAX_CATEGORICAL_COLUMNS
    )
    if len(num_names) >= 2:
        x = np.column_stack([numeric[c] for c in num_names])
        x[~np.isfinite(x)] = np.nan
        pearson, spearman = _pearson(x), _pearson(_ranks(x))
        out["pearson"] = _matrix(num_names, pearson)
        out["spearman"] = _matrix(num_names, spearman)
        pairs = []
        for i in range(len(num_names)):
            for j in range(i + 1, len(num_names)):
                if np.isfinite(pearson[i, j]):
                    pairs.append((abs(pearson[i, j]), i, j))
        pairs.sort(reverse=True)
        out["top_pairs"] = [
            {
                "a": num_names[i],
                "b": num_names[j],
                "pearson": round(float(pearson[i, j]), 4),
                "spearman": round(float(spearman[i, j]), 4),
            }
            for _, i, j in pairs[:10]
        ]
    cat_names = list(categorical)[:MAX_CATEGORICAL_COLUMNS]
    codes = {c: _codes(categorical[c]) for c in cat_names}
    if len(cat_names) >= 2:
        v = np.eye(len(cat_names))
        for i, a in enumerate(cat_names):
            for j in range(i + 1, len(cat_names)):
                val = cramers_v(codes[a], codes[cat_names[j]])
                v[i, j] = v[j, i] = np.nan if val is None else val
        out["categorical"] = _matrix(cat_names, v)
    # A binary target is in both lists (as 0/1 and as classes); keep it on the categorical side.
    ratio_rows = [r for r in num_names if r not in codes]
    if ratio_rows and cat_names:
        ratio = np.array(
            [
                [_none_to_nan(correlation_ratio(numeric[r], codes[c])) for c in cat_names]
                for r in ratio_rows
            ]
        )
        out["correlation_ratio"] = {"rows": ratio_rows, **_matrix(cat_names, ratio)}
    return out


def _none_to_nan(v: float | None) -> float:
    return np.nan if v is None else v


# -- target associations and leakage -----------------------------------------------------------


def _associations(
    df: pd.DataFrame, idx: np.ndarray, target: str, task: Task | None, roles: dict[str, Role]
) -> list[dict[str, Any]]:
    """How well each feature alone predicts the target, strongest first."""
    part = df.iloc[idx]
    labelled = part[part[target].notna()]
    if len(labelled) < _MIN_ROWS_FOR_LEAKAGE or task is None:
        return []
    out: list[dict[str, Any]] = []
    y_raw = labelled[target]
    if task == Task.REGRESSION:
        y = _as_float(y_raw)
        for col, role in roles.items():
            if col not in labelled:
                continue
            if role == Role.NUMERIC:
                out.append(_regression_numeric(col, _as_float(labelled[col]), y))
            elif role in (Role.CATEGORICAL, Role.BOOLEAN):
                codes = _codes(labelled[col])
                if codes.max() + 1 <= len(labelled) / 20:
                    eta = correlation_ratio(y, codes)
                    out.append({"column": col, "measure": "correlation_ratio", "score": eta})
    elif task.is_classification and task != Task.MULTILABEL:
        y_codes = np.asarray(pd.factorize(y_raw.astype(str))[0], dtype="int64")
        for col, role in roles.items():
            if col not in labelled:
                continue
            if role == Role.NUMERIC:
                out.append(_classification_numeric(col, _as_float(labelled[col]), y_codes))
            elif role in (Role.CATEGORICAL, Role.BOOLEAN):
                codes = _codes(labelled[col])
                n_cat = int(codes.max()) + 2  # + the missing bucket
                if n_cat * 20 <= len(labelled):
                    score = _purity_balanced_accuracy(
                        np.where(codes < 0, n_cat - 1, codes), y_codes
                    )
                    out.append({"column": col, "measure": "category_purity", "score": score})
    out = [a for a in out if a.get("score") is not None]
    out.sort(key=lambda a: -a["score"])
    return out


def _regression_numeric(col: str, x: np.ndarray, y: np.ndarray) -> dict[str, Any]:
    mask = np.isfinite(x) & np.isfinite(y)
    entry: dict[str, Any] = {"column": col, "measure": "correlation", "score": None}
    if mask.sum() < 3 or np.ptp(x[mask]) == 0 or np.ptp(y[mask]) == 0:
        return entry
    xy = np.column_stack([x[mask], y[mask]])
    pearson = float(_pearson(xy)[0, 1])
    spearman = float(_pearson(_ranks(xy))[0, 1])
    entry.update(pearson=pearson, spearman=spearman, score=max(abs(pearson), abs(spearman)))
    return entry


def _classification_numeric(col: str, x: np.ndarray, y: np.ndarray) -> dict[str, Any]:
    x = np.where(np.isinf(x), np.nan, x)
    entry: dict[str, Any] = {"column": col, "measure": "stump_balanced_accuracy", "score": None}
    if np.isnan(x).all():
        return entry
    n_classes = int(y.max()) + 1
    if n_classes == 2:
        entry["score"] = _binary_stump(x, y)
        entry["auc"] = _auc(x, y)
        return entry
    from sklearn.tree import DecisionTreeClassifier

    # One interval per class, and then some: a "stump" that can isolate every class.
    tree = DecisionTreeClassifier(
        max_leaf_nodes=2 * n_classes, class_weight="balanced", random_state=0
    )
    pred = tree.fit(x.reshape(-1, 1), y).predict(x.reshape(-1, 1))
    entry["score"] = _balanced_accuracy(y, np.asarray(pred, dtype="int64"), n_classes)
    return entry


def _binary_stump(x: np.ndarray, y: np.ndarray) -> float | None:
    """Best balanced accuracy of one threshold on *x* (either direction); NaN rows ignored."""
    mask = ~np.isnan(x)
    x, y = x[mask], y[mask]
    n1 = int(y.sum())
    n0 = y.size - n1
    if n1 == 0 or n0 == 0:
        return None
    order = np.argsort(x, kind="stable")
    xs, ys = x[order], y[order]
    group_end = np.r_[xs[1:] != xs[:-1], True]  # thresholds fall between distinct values
    below1 = np.cumsum(ys)[group_end]
    below0 = np.cumsum(1 - ys)[group_end]
    youden = np.abs(below0 / n0 - below1 / n1)  # TNR - FNR = TPR - FPR
    return float((1.0 + youden.max()) / 2.0)


def _balanced_accuracy(y: np.ndarray, pred: np.ndarray, n_classes: int) -> float:
    support = np.bincount(y, minlength=n_classes)
    hits = np.bincount(y[pred == y], minlength=n_classes)
    seen = support > 0
    return float(np.mean(hits[seen] / support[seen]))


def _purity_balanced_accuracy(codes: np.ndarray, y: np.ndarray) -> float:
    """Balanced accuracy of predicting, for each category, its most frequent class."""
    n_classes = int(y.max()) + 1
    table = np.bincount(codes * n_classes + y, minlength=(int(codes.max()) + 1) * n_classes)
    table = table.reshape(-1, n_classes)
    pred = table.argmax(axis=1)[codes]
    return _balanced_accuracy(y, pred, n_classes)


def _auc(x: np.ndarray, y: np.ndarray) -> float | None:
    """ROC AUC of a single feature, direction-free (max of AUC and 1 - AUC)."""
    mask = ~np.isnan(x)
    x, y = x[mask], y[mask]
    n1 = int((y == 1).sum())
    n0 = y.size - n1
    if n1 == 0 or n0 == 0:
        return None
    ranks = _rank(x)
    auc = (float(ranks[y == 1].sum()) - n1 * (n1 + 1) / 2) / (n1 * n0)
    return max(auc, 1.0 - auc)


# -- duplicates and warnings --------------------------------------------------------------------


def _count_duplicates(df: pd.DataFrame) -> int:
    hashes = pd.util.hash_pandas_object(df, index=False)
    return int(hashes.duplicated().sum())


def _warn(kind: str, column: str | None, message: str, severity: str) -> dict[str, Any]:
    return {"kind": kind, "column": column, "message": message, "severity": severity}


def _warnings(p: Profile, task: Task | None) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    t = p.target
    target = t["column"] if t else None
    for a in (t or {}).get("associations", []):
        out.extend(_leakage_warning(a, target or "", task))
    if t and t["missing"]:
        out.append(
            _warn(
                "target_missing",
                target,
                f"Target '{target}' is missing in {t['missing']:,} rows; they cannot be used "
                "for training or evaluation. Drop them or find their labels.",
                "warning",
            )
        )
    if t and t.get("imbalance_ratio") and t["imbalance_ratio"] >= IMBALANCE_RATIO:
        classes = t["classes"]
        major = max(classes, key=lambda c: c["count"])
        minor = min(classes, key=lambda c: c["count"])
        out.append(
            _warn(
                "imbalance",
                target,
                f"Target '{target}' is imbalanced: class '{major['value']}' has "
                f"{t['imbalance_ratio']:.1f} times as many rows as class '{minor['value']}' "
                f"({100 * major['share']:.1f}% vs {100 * minor['share']:.1f}%). Use a stratified "
                "split, class weights, and metrics such as balanced accuracy, F1 or PR-AUC "
                "rather than accuracy.",
                "warning",
            )
        )
    if p.duplicates:
        out.append(
            _warn(
                "duplicates",
                None,
                f"{p.duplicates:,} rows ({100 * p.duplicates / p.n_rows:.1f}%) repeat an earlier "
                "row exactly. Drop them unless they are real repeated events: copies split across "
                "train and test inflate scores.",
                "warning",
            )
        )
    for col in p.columns:
        out.extend(_column_warnings(col, p.n_rows, target))
    order = {"danger": 0, "warning": 1, "info": 2}
    out.sort(key=lambda w: order.get(w["severity"], 3))
    return out


def _leakage_warning(a: dict[str, Any], target: str, task: Task | None) -> list[dict[str, Any]]:
    col, score = a["column"], a["score"]
    if task == Task.REGRESSION:
        if score <= LEAKAGE_CORRELATION:
            return []
        if a["measure"] == "correlation":
            detail = f"Pearson r = {a['pearson']:.3f}, Spearman rho = {a['spearman']:.3f}"
        else:
            detail = f"correlation ratio eta = {score:.3f}"
    else:
        auc = a.get("auc")
        if score < LEAKAGE_SCORE and not (auc is not None and auc >= LEAKAGE_SCORE):
            return []
        if a["measure"] == "category_purity":
            detail = f"predicting each category's most common class: balanced accuracy {score:.3f}"
        else:
            detail = f"a single-feature decision stump reaches balanced accuracy {score:.3f}"
            if auc is not None:
                detail += f", AUC {auc:.3f}"
    return [
        _warn(
            "leakage",
            col,
            f"Possible leakage: column '{col}' alone predicts the target '{target}' almost "
            f"perfectly ({detail}). If it is derived from the target or only known after it, "
            "drop it before training.",
            "danger",
        )
    ]


def _column_warnings(col: dict[str, Any], n_rows: int, target: str | None) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    name, role = col["name"], col["role"]
    if role in ("empty", "constant", "id"):
        msg = col.get("note") or f"Column '{name}' has role {role}; it is not used as a feature."
        out.append(_warn(role, name, msg, "info" if role == "id" else "warning"))
        return out
    share = col["missing"] / n_rows if n_rows else 0.0
    if share > MISSING_THRESHOLD and name != target:
        out.append(
            _warn(
                "missing",
                name,
                f"Column '{name}' is {100 * share:.1f}% missing ({col['missing']:,} of "
                f"{n_rows:,} rows). Impute it (with a missing-value indicator) or drop it.",
                "warning",
            )
        )
    if role == "categorical" and col["unique"] > HIGH_CARDINALITY:
        out.append(
            _warn(
                "high_cardinality",
                name,
                f"Column '{name}' has {col['unique']:,} distinct values "
                f"({col['unique_pct']:.1f}% of non-missing rows). One-hot encoding would add as "
                "many columns: group rare values, or use frequency or target encoding.",
                "warning",
            )
        )
    skew = col.get("skew")
    if col.get("kind") == "numeric" and skew is not None and abs(skew) > SKEW_THRESHOLD:
        what = "the target" if name == target else "linear and distance-based models"
        out.append(
            _warn(
                "skew",
                name,
                f"Column '{name}' is strongly skewed (skewness {skew:.2f}); consider a log, "
                f"Yeo-Johnson or quantile transform for {what}.",
                "info",
            )
        )
    return out


# -- JSON safety ------------------------------------------------------------------------------


def _scalar(v: Any) -> Any:
    """A category value or statistic as a JSON-friendly Python value."""
    if v is None or v is pd.NaT:
        return None
    if isinstance(v, np.generic):
        v = v.item()
    if isinstance(v, float):
        return v if math.isfinite(v) else None
    if isinstance(v, bool | int | str):
        return v
    if isinstance(v, pd.Timestamp | datetime | date):
        return v.isoformat()
    try:
        if pd.isna(v):
            return None
    except (TypeError, ValueError):
        pass
    return str(v)


def _jsonable(obj: Any) -> Any:
    if isinstance(obj, dict):
        return {str(k): _jsonable(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [_jsonable(v) for v in obj]
    if isinstance(obj, np.ndarray):
        return _jsonable(obj.tolist())
    return _scalar(obj)
