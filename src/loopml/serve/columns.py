"""A validated batch of requests: one array per feature column (see :mod:`loopml.serve.inputs`).

Numeric and boolean columns are float64 arrays (NaN when missing); the others are
object arrays of strings with ``numpy.nan`` when missing, the representation the
training pipeline imputes.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

__all__ = ["Columns"]


@dataclass
class Columns:
    """A validated batch: one array per feature column, in schema order."""

    data: dict[str, np.ndarray[Any, Any]]
    n_rows: int
    extra_columns: list[str] = field(default_factory=list)
    unseen_categories: dict[str, int] = field(default_factory=dict)
    #: The numeric columns as one (n_rows, k) float64 matrix when they were read as one,
    #: with their names; ``data`` then holds views of its columns.
    matrix: np.ndarray[Any, Any] | None = None
    matrix_names: tuple[str, ...] = ()

    @staticmethod
    def concat(parts: Sequence[Columns]) -> Columns:
        """One batch made of *parts*, in order (for micro-batching)."""
        if len(parts) == 1:
            return parts[0]
        first = parts[0]
        if first.matrix is not None and all(
            p.matrix is not None and p.matrix_names == first.matrix_names for p in parts
        ):
            matrix = np.concatenate([p.matrix for p in parts if p.matrix is not None])
            data = {n: matrix[:, j] for j, n in enumerate(first.matrix_names)}
            for n in first.data:
                if n not in data:
                    data[n] = np.concatenate([p.data[n] for p in parts])
            data = {n: data[n] for n in first.data}
            return Columns(data, matrix.shape[0], matrix=matrix, matrix_names=first.matrix_names)
        data = {n: np.concatenate([p.data[n] for p in parts]) for n in first.data}
        return Columns(data, sum(p.n_rows for p in parts))

    def records(self) -> list[dict[str, Any]]:
        """The rows as JSON-ready dicts (missing values as None); for logs, not the hot path."""
        names = list(self.data)
        lists = [_json_list(self.data[n]) for n in names]
        return [dict(zip(names, values, strict=True)) for values in zip(*lists, strict=True)]


def _json_list(arr: np.ndarray[Any, Any]) -> list[Any]:
    if arr.dtype.kind == "f":
        values: list[Any] = arr.tolist()
        if np.isnan(arr).any():
            return [None if v != v else v for v in values]
        return values
    return [None if isinstance(v, float) and v != v else v for v in arr.tolist()]
