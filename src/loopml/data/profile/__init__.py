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
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from loopml.data.io import load, source_name
from loopml.data.profile._associations import (
    _associations,
    _correlations,
    correlation_ratio,
    cramers_v,
)
from loopml.data.profile._constants import (
    ASSOCIATION_ROWS,
)
from loopml.data.profile._json import _jsonable
from loopml.data.profile._stats import _binary_codes, _column_stats, _target_summary
from loopml.data.profile._warnings import _count_duplicates, _warnings
from loopml.data.schema import Role, Schema, Task, infer_schema
from loopml.exceptions import DataError

__all__ = ["Profile", "correlation_ratio", "cramers_v", "profile"]


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
