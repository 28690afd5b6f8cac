"""Checks on training and predict-time data, with errors a person can act on."""

from __future__ import annotations

import difflib
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from loopml.data.schema import Role, Schema, Task
from loopml.exceptions import DataError, SchemaMismatchError

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["InputReport", "check_input", "check_target", "drop_missing_target"]


def check_target(df: pd.DataFrame, target: str, where: str, task: Task | None = None) -> None:
    """Raise :class:`DataError` when *target* cannot be learned from."""
    if target not in df.columns:
        cols = [str(c) for c in df.columns]
        close = difflib.get_close_matches(target, cols, n=3, cutoff=0.5)
        lowered = [c for c in cols if c.lower() == target.lower()]
        hint = lowered or close
        suggestion = f" Did you mean {', '.join(repr(h) for h in hint)}?" if hint else ""
        shown = ", ".join(repr(c) for c in cols[:12]) + (", ..." if len(cols) > 12 else "")
        raise DataError(
            f"Target column '{target}' is not in {where}.{suggestion} "
            f"The columns are: {shown}. Pass the right name with --target."
        )
    y = df[target]
    n_present = int(y.notna().sum())
    if n_present == 0:
        raise DataError(
            f"Target column '{target}' in {where} is entirely missing ({len(y)} rows, no values). "
            "Fill in the labels, or pick another target column."
        )
    if task != Task.REGRESSION and y.nunique(dropna=True) < 2:
        value = _plain(y.dropna().iloc[0])
        raise DataError(
            f"Target column '{target}' in {where} has a single class ({value!r} in all "
            f"{n_present} labelled rows); a model needs at least two. Add rows of other "
            "classes, or choose another target."
        )


def drop_missing_target(
    df: pd.DataFrame, target: str, where: str
) -> tuple[pd.DataFrame, str | None]:
    """Drop rows whose target is missing; return the frame and a note (None if none dropped)."""
    mask = df[target].isna()
    n = int(mask.sum())
    if n == 0:
        return df, None
    note = (
        f"{n} of {len(df)} rows in {where} have no value in target '{target}'; they are "
        "left out of training (use --semi-supervised to learn from them)."
    )
    return df.loc[~mask].reset_index(drop=True), note


@dataclass
class InputReport:
    """What predict-time validation found in one batch of rows."""

    n_rows: int = 0
    extra_columns: list[str] = field(default_factory=list)
    unseen_categories: dict[str, int] = field(default_factory=dict)
    missing_values: dict[str, int] = field(default_factory=dict)

    def merge(self, other: InputReport) -> None:
        self.n_rows += other.n_rows
        for c in other.extra_columns:
            if c not in self.extra_columns:
                self.extra_columns.append(c)
        for src, dst in (
            (other.unseen_categories, self.unseen_categories),
            (other.missing_values, self.missing_values),
        ):
            for k, v in src.items():
                dst[k] = dst.get(k, 0) + v

    def notes(self) -> list[str]:
        out = []
        if self.extra_columns:
            out.append(
                f"Ignored {len(self.extra_columns)} column(s) the model does not use: "
                + ", ".join(repr(c) for c in self.extra_columns[:10])
                + ("..." if len(self.extra_columns) > 10 else "")
            )
        for col, n in self.unseen_categories.items():
            out.append(
                f"Column '{col}': {n} value(s) in categories not seen at training "
                "(handled as infrequent/unknown)."
            )
        return out

    def to_dict(self) -> dict[str, Any]:
        return {
            "n_rows": self.n_rows,
            "extra_columns": self.extra_columns,
            "unseen_categories": self.unseen_categories,
            "missing_values": self.missing_values,
        }


def check_input(
    df: pd.DataFrame, schema: Schema, where: str, *, row_offset: int = 0
) -> InputReport:
    """Validate rows to predict on against the training *schema* (vectorised).

    Missing feature columns and values of the wrong type raise
    :class:`SchemaMismatchError` listing every offending column with its first
    bad row and value; extra columns and unseen categories are reported, not fatal.
    """
    import pandas as pd

    report = InputReport(n_rows=len(df))
    needed = schema.features
    missing = [c.name for c in needed if c.name not in df.columns]
    if missing:
        cols = [str(c) for c in df.columns]
        hints = []
        for m in missing:
            close = difflib.get_close_matches(m, cols, n=1, cutoff=0.6)
            if close:
                hints.append(f"'{m}' (found '{close[0]}')")
            else:
                hints.append(f"'{m}'")
        raise SchemaMismatchError(
            f"{where} is missing {len(missing)} column(s) the model was trained on: "
            f"{', '.join(hints)}. Add them (empty values are allowed and imputed)."
        )
    known = set(schema.feature_names) | {c.name for c in schema.columns}
    if schema.target:
        known |= set(schema.target.split(","))
    report.extra_columns = [str(c) for c in df.columns if c not in known]

    problems = []
    for spec in needed:
        col = df[spec.name]
        present = col.notna()
        n_missing = int((~present).sum())
        if n_missing:
            report.missing_values[spec.name] = n_missing
        if spec.role == Role.NUMERIC:
            if pd.api.types.is_numeric_dtype(col):
                continue
            parsed = pd.to_numeric(col.astype("string").str.strip(), errors="coerce")
            bad = present & parsed.isna()
            if bad.any():
                problems.append(_bad_values(spec.name, "numeric", col, bad, row_offset))
        elif spec.role == Role.DATETIME:
            if pd.api.types.is_datetime64_any_dtype(col):
                continue
            import warnings

            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                parsed_dt = pd.to_datetime(col, errors="coerce", format="mixed")
            bad = present & parsed_dt.isna()
            if bad.any():
                problems.append(_bad_values(spec.name, "a date/time", col, bad, row_offset))
        elif spec.role == Role.BOOLEAN:
            if pd.api.types.is_bool_dtype(col) or pd.api.types.is_numeric_dtype(col):
                continue
            lowered = col.astype("string").str.strip().str.lower()
            allowed = {"true", "false", "yes", "no", "y", "n", "t", "f", "1", "0", "1.0", "0.0"}
            bad = present & ~lowered.isin(allowed)
            if bad.any():
                problems.append(_bad_values(spec.name, "true/false", col, bad, row_offset))
        elif spec.role == Role.CATEGORICAL and spec.categories is not None:
            if spec.n_unique > len(spec.categories):
                continue  # too many categories were seen to tell unseen ones apart
            seen = set(spec.categories)
            values = col[present].astype(str)
            unseen = int((~values.isin(list(seen))).sum())
            if unseen:
                report.unseen_categories[spec.name] = unseen
    if problems:
        raise SchemaMismatchError(
            f"{where} has values of the wrong type in {len(problems)} column(s): "
            + "; ".join(problems)
            + ". Fix those values or leave them empty (missing values are imputed)."
        )
    return report


def _bad_values(name: str, expected: str, col: Any, bad: Any, row_offset: int) -> str:
    idx = bad.to_numpy().nonzero()[0]
    first = int(idx[0])
    value = _plain(col.iloc[first])
    return (
        f"column '{name}' must be {expected}; {len(idx)} row(s) are not "
        f"(first: row {first + row_offset}, value {value!r})"
    )


def _plain(value: Any) -> Any:
    """numpy scalars as plain Python values, so messages show 1, not np.int64(1)."""
    item = getattr(value, "item", None)
    return item() if callable(item) else value
