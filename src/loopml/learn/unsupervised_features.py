"""Raw rows to a dense float matrix, for the unsupervised estimators.

:class:`~loopml.learn.clustering.Segmenter` and the anomaly detectors fit a feature
pipeline (built from the inferred schema unless one is given) and work on its dense,
finite output.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
from sklearn.base import clone

from loopml.exceptions import DataError

if TYPE_CHECKING:
    from loopml.data.schema import Schema

__all__ = ["as_dense", "as_frame", "fit_feature_pipeline"]


def fit_feature_pipeline(
    X: pd.DataFrame, preprocessor: Any = None
) -> tuple[Any, np.ndarray, Schema | None]:
    """Fit a feature pipeline on *X*; return (fitted pipeline, dense float matrix, schema).

    With ``preprocessor=None`` the schema is inferred from *X* and the pipeline is
    ``loopml.features.build.build_features(schema, scale=True, dense=True)``;
    otherwise a clone of the given (unfitted) transformer is fitted.
    """
    schema = None
    if preprocessor is None:
        from loopml.data.schema import infer_schema
        from loopml.features.build import build_features

        schema = infer_schema(X)
        pre = build_features(schema, scale=True, dense=True)
    else:
        pre = clone(preprocessor)
    Xt = as_dense(pre.fit_transform(X), "the feature pipeline's output")
    return pre, Xt, schema


def as_dense(Xt: Any, what: str) -> np.ndarray:
    """*Xt* as a 2-D float64 array, refusing NaN or infinite values."""
    if hasattr(Xt, "toarray"):
        Xt = Xt.toarray()
    arr = np.asarray(Xt, dtype=np.float64)
    if arr.ndim != 2:
        raise DataError(f"Expected a 2-D feature matrix from {what}; got shape {arr.shape}.")
    if not np.isfinite(arr).all():
        col = int(np.flatnonzero(~np.isfinite(arr).all(axis=0))[0])
        raise DataError(
            f"{what} has missing or infinite values (first in feature {col}). Impute them "
            "in the preprocessor (e.g. SimpleImputer), or leave preprocessor=None."
        )
    return arr


def as_frame(X: Any) -> pd.DataFrame:
    """*X* as a non-empty DataFrame (2-D arrays get columns x0, x1, ...)."""
    if isinstance(X, pd.DataFrame):
        frame = X
    else:
        arr = np.asarray(X)
        if arr.ndim != 2:
            raise DataError(f"X must be a DataFrame or a 2-D array; got shape {arr.shape}.")
        frame = pd.DataFrame(arr, columns=[f"x{i}" for i in range(arr.shape[1])])
    if len(frame) == 0 or frame.shape[1] == 0:
        raise DataError(f"X is empty ({frame.shape[0]} rows, {frame.shape[1]} columns).")
    return frame
