"""Schema inference: the role of every column and the task implied by the target.

The :class:`Schema` is the contract between training and everything after it:
the feature pipeline is built from it, predict-time input is validated against
it, the endpoint's request model and drift checks read it. It serialises to JSON.
"""

from __future__ import annotations

import json
import re
import warnings
from dataclasses import asdict, dataclass, field
from enum import StrEnum
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["ColumnSpec", "Role", "Schema", "Task", "infer_schema", "infer_task"]

#: Most categories stored per column (the rest are counted as "other").
MAX_STORED_CATEGORIES = 1000
#: Integer targets with at most this many distinct values are classes, not amounts.
MAX_CLASSES_FOR_INT_TARGET = 20

_ID_NAME = re.compile(r"(^|_)(id|uuid|guid|key)$|^(id|uuid|guid)_|Id$|ID$")
_BOOL_STRINGS = {
    frozenset({"true", "false"}),
    frozenset({"yes", "no"}),
    frozenset({"y", "n"}),
    frozenset({"t", "f"}),
}


class Role(StrEnum):
    """What a column is used for."""

    NUMERIC = "numeric"
    CATEGORICAL = "categorical"
    BOOLEAN = "boolean"
    DATETIME = "datetime"
    TEXT = "text"
    ID = "id"
    CONSTANT = "constant"
    EMPTY = "empty"
    TARGET = "target"

    @property
    def is_feature(self) -> bool:
        return self in _FEATURE_ROLES


_FEATURE_ROLES = {Role.NUMERIC, Role.CATEGORICAL, Role.BOOLEAN, Role.DATETIME, Role.TEXT}


class Task(StrEnum):
    """The kind of problem the target defines."""

    BINARY = "binary"
    MULTICLASS = "multiclass"
    MULTILABEL = "multilabel"
    REGRESSION = "regression"
    CLUSTERING = "clustering"
    ANOMALY = "anomaly"
    RULES = "rules"

    @property
    def is_classification(self) -> bool:
        return self in (Task.BINARY, Task.MULTICLASS, Task.MULTILABEL)


@dataclass
class ColumnSpec:
    """One column as seen at training time."""

    name: str
    role: Role
    dtype: str
    missing_fraction: float = 0.0
    n_unique: int = 0
    categories: list[Any] | None = None
    minimum: float | str | None = None
    maximum: float | str | None = None
    note: str | None = None

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["role"] = str(self.role)
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> ColumnSpec:
        d = dict(d)
        d["role"] = Role(d["role"])
        return cls(**d)


@dataclass
class Schema:
    """Column roles, dtypes and ranges seen at training, plus the target and task.

    Examples
    --------
    >>> import pandas as pd
    >>> df = pd.DataFrame({"age": [30, 41, 25, 52], "plan": list("abab"), "y": [0, 1, 0, 1]})
    >>> schema = infer_schema(df, target="y")
    >>> schema.task, schema.feature_names
    (<Task.BINARY: 'binary'>, ['age', 'plan'])
    """

    columns: list[ColumnSpec]
    target: str | None = None
    task: Task | None = None
    classes: list[Any] | None = None
    notes: list[str] = field(default_factory=list)

    # -- lookups ---------------------------------------------------------------
    def __getitem__(self, name: str) -> ColumnSpec:
        for col in self.columns:
            if col.name == name:
                return col
        raise KeyError(name)

    def __contains__(self, name: object) -> bool:
        return any(col.name == name for col in self.columns)

    @property
    def features(self) -> list[ColumnSpec]:
        """Columns the model uses, in training order."""
        return [c for c in self.columns if c.role.is_feature]

    @property
    def feature_names(self) -> list[str]:
        return [c.name for c in self.features]

    def by_role(self, role: Role) -> list[str]:
        return [c.name for c in self.columns if c.role == role]

    # -- serialisation ---------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        return {
            "target": self.target,
            "task": str(self.task) if self.task else None,
            "classes": self.classes,
            "notes": self.notes,
            "columns": [c.to_dict() for c in self.columns],
        }

    def to_json(self, indent: int | None = 2) -> str:
        return json.dumps(self.to_dict(), indent=indent, default=_json_default)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Schema:
        return cls(
            columns=[ColumnSpec.from_dict(c) for c in d["columns"]],
            target=d.get("target"),
            task=Task(d["task"]) if d.get("task") else None,
            classes=d.get("classes"),
            notes=list(d.get("notes", [])),
        )

    @classmethod
    def from_json(cls, text: str) -> Schema:
        return cls.from_dict(json.loads(text))


def _json_default(obj: Any) -> Any:
    import numpy as np

    if isinstance(obj, np.integer):
        return int(obj)
    if isinstance(obj, np.floating):
        return float(obj)
    if isinstance(obj, np.bool_):
        return bool(obj)
    return str(obj)


# -- inference -----------------------------------------------------------------


def infer_task(y: pd.Series) -> Task:
    """Infer binary / multiclass / regression from a target column.

    Booleans and any two-valued target are binary; strings and categories are
    multiclass; integers with at most 20 distinct values are multiclass; any other
    number is regression.
    """
    import pandas as pd

    values = y.dropna()
    n_unique = values.nunique()
    if n_unique <= 2:
        return Task.BINARY
    if (
        pd.api.types.is_bool_dtype(values)
        or isinstance(values.dtype, pd.CategoricalDtype)
        or pd.api.types.is_object_dtype(values)
        or pd.api.types.is_string_dtype(values)
    ):
        return Task.MULTICLASS
    if pd.api.types.is_numeric_dtype(values):
        integral = pd.api.types.is_integer_dtype(values) or bool(
            (values.astype("float64") % 1 == 0).all()
        )
        if integral and n_unique <= MAX_CLASSES_FOR_INT_TARGET:
            return Task.MULTICLASS
        return Task.REGRESSION
    return Task.MULTICLASS


def infer_schema(
    df: pd.DataFrame,
    target: str | list[str] | None = None,
    *,
    task: Task | str | None = None,
    roles: dict[str, Role | str] | None = None,
) -> Schema:
    """Give every column of *df* a role and infer the task from *target*.

    Parameters
    ----------
    df : DataFrame
        Training data, target column included.
    target : str, list of str or None
        Target column (several for multi-label). None for unsupervised tasks.
    task : Task or str, optional
        Override the inferred task.
    roles : dict, optional
        Override inferred roles, e.g. ``{"zip": "categorical"}``.
    """
    forced_roles = {k: Role(v) for k, v in (roles or {}).items()}
    targets = [target] if isinstance(target, str) else list(target or [])
    columns: list[ColumnSpec] = []
    notes: list[str] = []
    for name in df.columns:
        if name in targets:
            continue
        spec = _infer_column(df[name], str(name), forced=forced_roles.get(str(name)))
        columns.append(spec)
        if spec.note:
            notes.append(spec.note)
        if spec.role == Role.EMPTY:
            warnings.warn(spec.note or "", stacklevel=2)
    schema = Schema(columns=columns, notes=notes)
    if targets:
        schema.target = targets[0] if len(targets) == 1 else ",".join(targets)
        if len(targets) > 1:
            schema.task = Task.MULTILABEL
            schema.classes = targets
        else:
            y = df[targets[0]]
            schema.task = Task(task) if task else infer_task(y)
            if schema.task in (Task.BINARY, Task.MULTICLASS):
                schema.classes = _sorted_classes(y)
    elif task:
        schema.task = Task(task)
    return schema


def _sorted_classes(y: pd.Series) -> list[Any]:
    values = y.dropna().unique().tolist()
    try:
        return sorted(values)
    except TypeError:
        return sorted(values, key=str)


def _infer_column(s: pd.Series, name: str, forced: Role | None = None) -> ColumnSpec:
    import pandas as pd

    n = len(s)
    if s.dtype == object and len(s.dropna()) and isinstance(s.dropna().iloc[0], list | dict | set):
        # Nested values (JSON Lines): their text is what a model can use.
        s = s.map(lambda v: v if v is None or v != v else str(v))
        if forced is None:
            forced = Role.TEXT
    non_missing = s.dropna()
    missing_fraction = 1.0 - len(non_missing) / n if n else 0.0
    n_unique = int(non_missing.nunique())
    spec = ColumnSpec(
        name=name,
        role=Role.CATEGORICAL,
        dtype=str(s.dtype),
        missing_fraction=round(float(missing_fraction), 6),
        n_unique=n_unique,
    )
    if forced is not None:
        spec.role = forced
    elif len(non_missing) == 0:
        spec.role = Role.EMPTY
        spec.note = f"Column '{name}' is 100% missing; it is dropped."
        return spec
    elif n_unique == 1:
        spec.role = Role.CONSTANT
        spec.note = (
            f"Column '{name}' has a single value ({_plain(non_missing.iloc[0])!r}); it is excluded."
        )
    elif pd.api.types.is_bool_dtype(s) or (n_unique == 2 and _looks_boolean(non_missing)):
        spec.role = Role.BOOLEAN
    elif pd.api.types.is_datetime64_any_dtype(s):
        spec.role = Role.DATETIME
    elif pd.api.types.is_numeric_dtype(s):
        is_int = pd.api.types.is_integer_dtype(s)
        if is_int and n_unique == n and n >= 20 and (_ID_NAME.search(name) or _is_sequence(s)):
            spec.role = Role.ID
        else:
            spec.role = Role.NUMERIC
    else:
        spec.role = _infer_object_role(non_missing, name, n)
        if spec.role == Role.NUMERIC:
            spec.note = _numeric_note(non_missing, name)

    if spec.role == Role.ID and spec.note is None:
        spec.note = (
            f"Column '{name}' is unique per row (an identifier); it is not used as a feature."
        )
    _record_ranges(spec, non_missing)
    return spec


def _looks_boolean(values: pd.Series) -> bool:
    import pandas as pd

    uniques = values.unique()
    if len(uniques) != 2:
        return False
    if pd.api.types.is_numeric_dtype(values):
        return {float(u) for u in uniques} == {0.0, 1.0}
    lowered = frozenset(str(u).strip().lower() for u in uniques)
    return lowered in _BOOL_STRINGS


def _is_sequence(s: pd.Series) -> bool:
    diffs = s.diff().dropna()
    return bool(len(diffs) > 0 and (diffs == diffs.iloc[0]).all())


def _infer_object_role(values: pd.Series, name: str, n_rows: int) -> Role:
    import pandas as pd

    strings = values.astype(str)
    sample = strings.iloc[:2000]
    numeric = pd.to_numeric(sample, errors="coerce")
    if numeric.notna().mean() >= 0.95:
        return Role.NUMERIC
    if _parses_as_datetime(sample):
        return Role.DATETIME
    n_unique = values.nunique()
    mean_words = float(sample.str.count(r"\S+").mean())
    if mean_words >= 4 and n_unique > min(50, 0.5 * len(values)):
        return Role.TEXT
    if n_unique == n_rows and n_rows >= 20 and mean_words <= 1.0:
        return Role.ID
    return Role.CATEGORICAL


def _parses_as_datetime(sample: pd.Series) -> bool:
    import pandas as pd

    # Only strings that contain a date separator; avoids reading "12" as a date.
    if not sample.str.contains(r"\d{1,4}[-/.:]\d{1,2}", regex=True).mean() >= 0.9:
        return False
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        parsed = pd.to_datetime(sample, errors="coerce", format="mixed")
    return bool(parsed.notna().mean() >= 0.9)


def _numeric_note(values: pd.Series, name: str) -> str | None:
    import pandas as pd

    parsed = pd.to_numeric(values.astype(str), errors="coerce")
    bad = values[parsed.isna()]
    if len(bad) == 0:
        return None
    return (
        f"Column '{name}' is numeric but {len(bad)} rows are not numbers "
        f"(first: row {bad.index[0]}, value {bad.iloc[0]!r}); they are treated as missing."
    )


def _record_ranges(spec: ColumnSpec, values: pd.Series) -> None:
    import pandas as pd

    if spec.role == Role.NUMERIC:
        nums = pd.to_numeric(values, errors="coerce")
        nums = nums[nums.abs() != float("inf")].dropna()
        if len(nums):
            spec.minimum = float(nums.min())
            spec.maximum = float(nums.max())
        spec.dtype = "float64"
    elif spec.role == Role.DATETIME:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            dates = pd.to_datetime(values, errors="coerce", format="mixed")
        dates = dates.dropna()
        if len(dates):
            spec.minimum = str(dates.min())
            spec.maximum = str(dates.max())
    elif spec.role in (Role.CATEGORICAL, Role.BOOLEAN, Role.CONSTANT):
        counts = values.astype(str).value_counts()
        spec.categories = counts.index[:MAX_STORED_CATEGORIES].tolist()


def _plain(value: Any) -> Any:
    item = getattr(value, "item", None)
    return item() if callable(item) else value
