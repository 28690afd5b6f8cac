"""Transformers that turn raw, schema-described columns into model-ready ones.

They are plain scikit-learn estimators whose parameters are JSON-like (lists,
dicts, strings), so that skops can save and load them without running code.
"""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.utils.validation import check_is_fitted

from loopml.exceptions import SchemaMismatchError

__all__ = ["DateTimeFeatures", "SchemaCoercer", "coerce_column"]

_TRUE = {"true", "yes", "y", "t", "1", "1.0"}
_FALSE = {"false", "no", "n", "f", "0", "0.0"}


def coerce_column(values: pd.Series, role: str) -> pd.Series:
    """Cast one raw column to the dtype its role needs; unparseable values become missing."""
    if role == "numeric":
        if pd.api.types.is_numeric_dtype(values) and not pd.api.types.is_bool_dtype(values):
            out = values.astype("float64")
        else:
            out = pd.to_numeric(values, errors="coerce").astype("float64")
        return out.mask(np.isinf(out.to_numpy()))
    if role == "boolean":
        if pd.api.types.is_bool_dtype(values) or pd.api.types.is_numeric_dtype(values):
            return values.astype("float64")
        lowered = values.astype("string").str.strip().str.lower()
        return pd.Series(
            np.where(lowered.isin(_TRUE), 1.0, np.where(lowered.isin(_FALSE), 0.0, np.nan)),
            index=values.index,
        )
    if role == "datetime":
        if pd.api.types.is_datetime64_any_dtype(values):
            return values
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return pd.to_datetime(values, errors="coerce", format="mixed")
    if role == "text":
        return values.astype("object").where(values.notna(), "").astype(str)
    # categorical: strings, with every kind of missing (None, NaN, pd.NA) as NaN (imputed later).
    present = values.notna()
    strings = values.astype("object").where(present, np.nan)
    return strings.where(~present, values.astype(str)).astype("object")


class SchemaCoercer(TransformerMixin, BaseEstimator):  # type: ignore[misc]
    """Select the feature columns named in *columns*, in order, with the dtypes of their roles.

    Parameters
    ----------
    columns : list of [name, role]
        The schema's feature columns, e.g. ``[["age", "numeric"], ["plan", "categorical"]]``.

    Extra input columns are ignored; missing ones raise :class:`SchemaMismatchError`.
    """

    def __init__(self, columns: list[list[str]] | None = None) -> None:
        self.columns = columns

    def fit(self, X: pd.DataFrame, y: Any = None) -> SchemaCoercer:
        self.feature_names_in_ = np.asarray([c for c, _ in self.columns or []], dtype=object)
        self.n_features_in_ = len(self.feature_names_in_)
        return self

    def transform(self, X: pd.DataFrame) -> pd.DataFrame:
        check_is_fitted(self)
        if not isinstance(X, pd.DataFrame):
            raise SchemaMismatchError(
                f"The model takes a pandas DataFrame with named columns; got {type(X).__name__}."
            )
        missing = [c for c, _ in self.columns or [] if c not in X.columns]
        if missing:
            raise SchemaMismatchError(
                f"Input is missing {len(missing)} column(s) the model needs: "
                f"{', '.join(repr(m) for m in missing)}. Add them (empty values are allowed)."
            )
        data = {name: coerce_column(X[name], role) for name, role in self.columns or []}
        return pd.DataFrame(data, index=X.index)

    def get_feature_names_out(self, input_features: Any = None) -> np.ndarray[Any, Any]:
        return np.asarray([c for c, _ in self.columns or []], dtype=object)


_PARTS = ("year", "month", "day", "dayofweek", "hour")


class DateTimeFeatures(TransformerMixin, BaseEstimator):  # type: ignore[misc]
    """Expand datetime columns into year, month, day, day of week, hour and elapsed days.

    Elapsed days count from the earliest date seen at fit time, so a model can
    learn trends; parts that never vary in training (e.g. hour of pure dates) are dropped.
    """

    def fit(self, X: pd.DataFrame, y: Any = None) -> DateTimeFeatures:
        X = _as_datetimes(X)
        self.feature_names_in_ = np.asarray(X.columns, dtype=object)
        self.origin_ = {c: (X[c].min().value if X[c].notna().any() else 0) for c in X.columns}
        self.parts_ = {}
        for c in X.columns:
            parts = [p for p in _PARTS if getattr(X[c].dt, p).nunique(dropna=True) > 1]
            self.parts_[c] = [*parts, "elapsed_days"]
        return self

    def transform(self, X: pd.DataFrame) -> np.ndarray[Any, Any]:
        check_is_fitted(self)
        X = _as_datetimes(X)
        out = []
        for c in self.feature_names_in_:
            col = X[c]
            for part in self.parts_[c]:
                if part == "elapsed_days":
                    delta = col - pd.Timestamp(self.origin_[c])
                    out.append(delta.dt.total_seconds().to_numpy(dtype="float64") / 86400.0)
                else:
                    out.append(getattr(col.dt, part).to_numpy(dtype="float64", na_value=np.nan))
        if not out:
            return np.empty((len(X), 0))
        return np.column_stack(out)

    def get_feature_names_out(self, input_features: Any = None) -> np.ndarray[Any, Any]:
        check_is_fitted(self)
        return np.asarray(
            [f"{c}_{p}" for c in self.feature_names_in_ for p in self.parts_[c]], dtype=object
        )


def _as_datetimes(X: pd.DataFrame) -> pd.DataFrame:
    X = pd.DataFrame(X)
    out = {}
    for c in X.columns:
        col = X[c]
        if not pd.api.types.is_datetime64_any_dtype(col):
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                col = pd.to_datetime(col, errors="coerce", format="mixed")
        if getattr(col.dt, "tz", None) is not None:
            col = col.dt.tz_convert("UTC").dt.tz_localize(None)
        out[c] = col.astype("datetime64[ns]")
    return pd.DataFrame(out, index=X.index)
