"""The data side of a supervised fit: load, infer the schema, check the target, split,
encode the target.

:func:`prepare_data` does all of it for :func:`~loopml.learn.supervised.train` and for
tuning a stored model; :func:`load_data` and :func:`infer_noting` are the first steps on
their own, for the fits that split their own way (multi-label, semi-supervised).
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from loopml.data.io import describe_source, load, source_name
from loopml.data.schema import Role, Schema, Task, infer_schema
from loopml.data.split import Split, split
from loopml.data.validate import check_target, drop_missing_target
from loopml.exceptions import DataError

__all__ = [
    "Prepared",
    "encode_target",
    "infer_noting",
    "load_data",
    "prepare_data",
    "schema_summary",
    "source_params",
]

#: ``on_event(kind, payload)``: how a fit reports its progress.
EventHandler = Callable[[str, dict[str, Any]], None]


@dataclass
class Prepared:
    """Loaded, validated and split data, with encoded targets."""

    where: str
    name: str
    target: str
    schema: Schema
    split: Split
    y_train: np.ndarray[Any, Any]
    y_valid: np.ndarray[Any, Any]
    y_test: np.ndarray[Any, Any]
    notes: list[str]

    @property
    def task(self) -> Task:
        return self.schema.task or Task.REGRESSION


def prepare_data(
    data: Any,
    target: str | None,
    *,
    name: str | None = None,
    task: Task | str | None = None,
    roles: dict[str, str] | None = None,
    split_sizes: tuple[float, float, float] | str = (0.7, 0.15, 0.15),
    seed: int = 0,
    time_column: str | None = None,
    group_column: str | None = None,
    schema: Schema | None = None,
    emit: EventHandler | None = None,
) -> Prepared:
    """Load *data*, infer (or reuse) the schema, check the target, split and encode it."""
    emit = emit or (lambda kind, payload: None)
    df, where, name = load_data(data, name, emit)
    if target is None:
        if isinstance(data, str) and data.startswith("builtin:"):
            target = "target"
        else:
            raise DataError(
                f"No target given for {where}. Pass the column to predict with --target "
                f"(columns: {', '.join(map(str, list(df.columns)[:12]))})."
            )
    forced_task = Task(task) if task else None
    check_target(df, target, where, task=forced_task)
    df, note = drop_missing_target(df, target, where)
    notes = [note] if note else []

    emit("phase", {"phase": "schema"})
    if schema is None:
        schema = infer_noting(df, target, task=forced_task, roles=roles, notes=notes)
    check_target(df, target, where, task=schema.task)
    _check_task(schema, df[target], where)

    emit("phase", {"phase": "split"})
    sp = split(
        df,
        target,
        sizes=split_sizes,
        seed=seed,
        time_column=time_column,
        group_column=group_column,
        where=where,
    )
    notes.extend(sp.notes)
    return Prepared(
        where,
        name,
        target,
        schema,
        sp,
        encode_target(sp.train[target], schema),
        encode_target(sp.valid[target], schema),
        encode_target(sp.test[target], schema),
        notes,
    )


def load_data(data: Any, name: str | None, emit: EventHandler) -> tuple[pd.DataFrame, str, str]:
    """The rows of *data*, how to name it in messages, and the model name (default: the
    file's stem or the builtin's name)."""
    where = describe_source(data)
    emit("phase", {"phase": "load", "source": where})
    df = load(data)
    return df, where, name or source_name(data)


def infer_noting(
    df: pd.DataFrame,
    target: str | list[str],
    *,
    task: Task | None,
    roles: dict[str, str] | None,
    notes: list[str],
) -> Schema:
    """:func:`~loopml.data.schema.infer_schema`, adding its warnings and the schema's notes
    to *notes* (each schema note once)."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        schema = infer_schema(df, target, task=task, roles=roles)
    notes.extend(str(w.message) for w in caught if issubclass(w.category, UserWarning))
    notes.extend(n for n in schema.notes if n not in notes)
    return schema


def encode_target(y: pd.Series, schema: Schema) -> np.ndarray[Any, Any]:
    """Class labels → indices into ``schema.classes``; regression targets → float64."""
    if schema.task in (Task.BINARY, Task.MULTICLASS):
        classes = schema.classes or []
        codes = pd.Categorical(y, categories=classes).codes
        return np.asarray(codes, dtype=np.int64)
    values = pd.to_numeric(y, errors="coerce")
    if values.isna().any():
        bad = y[values.isna()]
        raise DataError(
            f"Target '{schema.target}' is treated as a number (regression) but "
            f"{len(bad)} rows are not numbers (first: row {bad.index[0]}, value {bad.iloc[0]!r}). "
            "Fix those values, or pass --task multiclass."
        )
    return values.to_numpy(dtype="float64")


def source_params(data: Any) -> dict[str, Any]:
    """How to find the training data again (``loopml tune`` reloads it from here)."""
    if isinstance(data, str) and data.startswith("builtin:"):
        return {"source": data}
    if isinstance(data, str | Path):
        return {"source": str(data), "source_path": str(Path(data).resolve())}
    return {"source": describe_source(data)}


def schema_summary(schema: Schema) -> dict[str, Any]:
    """The schema in brief, for the run record."""
    roles: dict[str, int] = {}
    for c in schema.columns:
        roles[str(c.role)] = roles.get(str(c.role), 0) + 1
    return {
        "task": str(schema.task),
        "target": schema.target,
        "classes": schema.classes,
        "roles": roles,
        "n_features": len(schema.features),
        "excluded": [c.name for c in schema.columns if not c.role.is_feature],
        "datetime": schema.by_role(Role.DATETIME),
    }


def _check_task(schema: Schema, y: pd.Series, where: str) -> None:
    if schema.task == Task.REGRESSION and not pd.api.types.is_numeric_dtype(y):
        parsed = pd.to_numeric(y, errors="coerce")
        if parsed.isna().mean() > 0.5:
            raise DataError(
                f"Target '{schema.target}' in {where} is text, so it cannot be a regression "
                "target. Drop --task regression, or use --task multiclass."
            )
    if schema.task in (Task.CLUSTERING, Task.ANOMALY, Task.RULES, Task.MULTILABEL):
        raise DataError(
            f"Task '{schema.task}' is not trained with `train`; use the matching command "
            "(cluster, anomalies, rules)."
        )
