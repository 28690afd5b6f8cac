"""Reading a multi-label target: several 0/1 columns, or one column of joined labels."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from loopml.exceptions import DataError

__all__ = ["parse_targets"]


def parse_targets(
    df: pd.DataFrame, target: str | Sequence[str], delimiter: str = "|", where: str = "the data"
) -> tuple[np.ndarray[Any, Any], list[str], list[str], str, np.ndarray[Any, Any], list[str]]:
    """Read a multi-label target from *df*.

    Returns ``(Y, labels, target_columns, format, keep, notes)``: the 0/1 matrix, the
    label names, the columns that hold the target, "columns" or "delimited", the mask of
    rows kept (rows missing a 0/1 value are dropped) and notes for the report.
    """
    cols = [str(c) for c in df.columns]
    if isinstance(target, str):
        names = [target] if target in cols else [t.strip() for t in target.split(",") if t.strip()]
    else:
        names = [str(t) for t in target]
    missing = [t for t in names if t not in cols]
    if missing or not names:
        raise DataError(
            f"Target column(s) {', '.join(map(repr, missing or names))} not in {where}. Give "
            "several 0/1 columns (--target urgent,financial) or one column of labels joined "
            f"by '{delimiter}' (--target tags). Columns: {', '.join(cols[:12])}."
        )
    notes: list[str] = []
    if len(names) == 1:
        col = df[names[0]]
        sets: list[list[str]] = []
        n_empty = 0
        for v in col.tolist():
            if v is None or v is pd.NA or (isinstance(v, float) and math.isnan(v)):
                sets.append([])
                n_empty += 1
                continue
            parts = [p.strip() for p in str(v).split(delimiter) if p.strip()]
            n_empty += not parts
            sets.append(parts)
        labels = sorted({lab for s in sets for lab in s})
        if len(labels) < 2:
            raise DataError(
                f"Target '{names[0]}' in {where} holds {len(labels)} distinct label(s) when "
                f"split on '{delimiter}'; multi-label needs at least 2. Check --delimiter, or "
                "train a binary model instead."
            )
        if n_empty:
            notes.append(f"{n_empty} row(s) of '{names[0]}' have no label (an empty label set).")
        index = {lab: j for j, lab in enumerate(labels)}
        Y = np.zeros((len(df), len(labels)), dtype=np.int64)
        for i, s in enumerate(sets):
            for lab in s:
                Y[i, index[lab]] = 1
        return Y, labels, names, "delimited", np.ones(len(df), dtype=bool), notes
    columns = []
    keep = np.ones(len(df), dtype=bool)
    for name in names:
        values = _binary_column(df[name], name, where)
        keep &= ~np.isnan(values)
        columns.append(values)
    dropped = int((~keep).sum())
    if dropped:
        notes.append(
            f"{dropped} row(s) of {where} miss a value in the target columns; they are left out."
        )
    Y = np.column_stack(columns)[keep].astype(np.int64)
    return Y, names, names, "columns", keep, notes


def _binary_column(s: pd.Series, name: str, where: str) -> np.ndarray[Any, Any]:
    if pd.api.types.is_bool_dtype(s) or pd.api.types.is_numeric_dtype(s):
        v = pd.to_numeric(s, errors="coerce").to_numpy(dtype=np.float64)
    else:
        text = s.astype("string").str.strip().str.lower()
        v = (
            text.map({"1": 1.0, "0": 0.0, "true": 1.0, "false": 0.0, "yes": 1.0, "no": 0.0})
            .astype("Float64")
            .to_numpy(dtype=np.float64, na_value=np.nan)
        )
    bad = ~np.isnan(v) & ~np.isin(v, (0.0, 1.0))
    raw_bad = s.notna().to_numpy() & np.isnan(v)
    if bad.any() or raw_bad.any():
        i = int(np.flatnonzero(bad | raw_bad)[0])
        raise DataError(
            f"Target column '{name}' in {where} must hold 0/1 (or true/false, yes/no); row {i} "
            f"has {s.iloc[i]!r}. For one column of joined labels give only that column."
        )
    return v
