"""Input checks and label encoding shared by the metric modules.

Every check raises :class:`~loopml.exceptions.DataError` with a message that
names the argument, says what was expected and what was found, and how to fix
it, so that users never see a traceback from deep inside numpy or scikit-learn.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

from loopml.exceptions import DataError

__all__ = [
    "EncodedLabels",
    "as_1d",
    "as_float_1d",
    "check_lengths",
    "encode_labels",
    "fmt_values",
    "jsonable",
    "safe_div",
]

# Integer labels spanning at most this range are encoded with a lookup table
# (O(n)) rather than a sort.
_LUT_MAX_SPAN = 1 << 20


def fmt_values(values: Any, limit: int = 5) -> str:
    """``'a', 'b', 'c' and 2 more`` for an error message."""
    items = [repr(v.item() if isinstance(v, np.generic) else v) for v in list(values)[:limit]]
    n = len(values)
    more = f" and {n - limit} more" if n > limit else ""
    return ", ".join(items) + more


def as_1d(x: Any, name: str) -> NDArray[Any]:
    """*x* (list, Series, array, one-column frame) as a 1-D array; never empty."""
    if x is None:
        raise DataError(f"{name} is None; pass an array-like of shape (n_samples,).")
    if hasattr(x, "to_numpy"):  # pandas Series/DataFrame keep their dtype this way
        arr = np.asarray(x.to_numpy())
    else:
        try:
            arr = np.asarray(x)
        except ValueError as exc:  # ragged nested lists
            raise DataError(
                f"{name} must be array-like of shape (n_samples,); it could not be read "
                f"as an array ({exc})."
            ) from exc
    if arr.ndim == 2 and arr.shape[1] == 1:
        arr = arr[:, 0]
    if arr.ndim != 1:
        raise DataError(
            f"{name} must be 1-D of shape (n_samples,); got shape {arr.shape}. "
            "Pass one value per sample (use evaluate_multilabel for indicator matrices)."
        )
    if arr.shape[0] == 0:
        raise DataError(f"{name} is empty; metrics need at least one sample.")
    return arr


def _missing_mask(arr: NDArray[Any]) -> NDArray[np.bool_] | None:
    if arr.dtype.kind == "f" or arr.dtype.kind == "c":
        mask = np.isnan(arr)
        return mask if mask.any() else None
    if arr.dtype.kind == "O":
        import pandas as pd

        mask = np.asarray(pd.isna(arr), dtype=bool)
        return mask if mask.any() else None
    return None


def check_no_missing(arr: NDArray[Any], name: str) -> None:
    """Raise when *arr* holds NaN or None."""
    mask = _missing_mask(arr)
    if mask is not None:
        bad = np.flatnonzero(mask)
        raise DataError(
            f"{name} contains {bad.size} missing value(s) (NaN/None), first at index "
            f"{bad[0]}. Drop those samples or fill them before evaluating."
        )


def as_float_1d(x: Any, name: str, *, allow_inf: bool = False) -> NDArray[np.float64]:
    """*x* as a non-empty 1-D float64 array of finite numbers."""
    arr = as_1d(x, name)
    if arr.dtype.kind not in "biuf":
        try:
            arr = arr.astype(np.float64)
        except (TypeError, ValueError) as exc:
            raise DataError(
                f"{name} must be numeric; got values of type {arr.dtype} ({exc}). "
                "Convert it to numbers first."
            ) from exc
    out = np.asarray(arr, dtype=np.float64)
    check_finite(out, name, allow_inf=allow_inf)
    return out


def check_finite(arr: NDArray[np.floating[Any]], name: str, *, allow_inf: bool = False) -> None:
    """Raise when *arr* holds NaN (or infinities, unless *allow_inf*)."""
    ok = ~np.isnan(arr) if allow_inf else np.isfinite(arr)
    if not ok.all():
        bad = np.flatnonzero(~ok.ravel())
        first = np.unravel_index(bad[0], arr.shape)
        where = first[0] if len(first) == 1 else tuple(int(i) for i in first)
        raise DataError(
            f"{name} contains {bad.size} NaN or infinite value(s), first at index {where}. "
            "Metrics need finite numbers: drop or fill those samples."
        )


def check_lengths(**arrays: Any) -> int:
    """All arrays have the same first dimension; return it."""
    lengths = {name: len(a) for name, a in arrays.items() if a is not None}
    if len(set(lengths.values())) > 1:
        got = ", ".join(f"{k} has {v}" for k, v in lengths.items())
        raise DataError(
            f"Length mismatch: {got} samples. Pass one prediction per true value, "
            "in the same order."
        )
    return next(iter(lengths.values()))


def safe_div(num: Any, den: Any, zero_division: float = 0.0) -> NDArray[np.float64]:
    """num / den element-wise, with *zero_division* where den == 0."""
    num = np.asarray(num, dtype=np.float64)
    den = np.asarray(den, dtype=np.float64)
    out = np.full(np.broadcast(num, den).shape, float(zero_division))
    np.divide(num, den, out=out, where=den != 0)
    return out


@dataclass(frozen=True)
class EncodedLabels:
    """Labels mapped to column indices of ``classes``."""

    classes: NDArray[Any]
    y_true: NDArray[np.intp]
    y_pred: NDArray[np.intp] | None


def _kind(arr: NDArray[Any]) -> str:
    if arr.dtype.kind in "biuf":
        return "number"
    if arr.dtype.kind in "US":
        return "string"
    if arr.dtype.kind == "O" and arr.size:
        first = arr[0]
        return "string" if isinstance(first, str) else "number" if np.isscalar(first) else "object"
    return "object"


def _sorted_unique(arr: NDArray[Any], name: str) -> NDArray[Any]:
    try:
        return np.unique(arr)
    except TypeError as exc:
        raise DataError(
            f"{name} mixes label types that cannot be compared ({exc}). "
            "Convert all labels to one type (e.g. all strings) first."
        ) from exc


def _int_codes(
    arrays: list[NDArray[Any]], classes: NDArray[Any] | None
) -> tuple[NDArray[Any], list[NDArray[np.intp]]] | None:
    """Fast path for integer labels with a small range: a lookup table, no sort."""
    if not all(a.dtype.kind in "iu" for a in arrays):
        return None
    if classes is not None and classes.dtype.kind not in "iu":
        return None
    lo = min(int(a.min()) for a in arrays)
    hi = max(int(a.max()) for a in arrays)
    if classes is not None and classes.size:
        lo = min(lo, int(classes.min()))
        hi = max(hi, int(classes.max()))
    span = hi - lo + 1
    if span > _LUT_MAX_SPAN:
        return None
    if classes is None:
        present = np.zeros(span, dtype=bool)
        for a in arrays:
            present |= np.bincount(a - lo, minlength=span).astype(bool)
        classes = np.flatnonzero(present) + lo
    lut = np.full(span, -1, dtype=np.intp)
    lut[classes - lo] = np.arange(classes.size)
    return classes, [lut[a - lo] for a in arrays]


def _generic_codes(
    arrays: list[NDArray[Any]], names: list[str], classes: NDArray[Any] | None
) -> tuple[NDArray[Any], list[NDArray[np.intp]]]:
    uniques = []
    inverses = []
    for a, name in zip(arrays, names, strict=True):
        try:
            u, inv = np.unique(a, return_inverse=True)
        except TypeError as exc:
            raise DataError(
                f"{name} mixes label types that cannot be compared ({exc}). "
                "Convert all labels to one type (e.g. all strings) first."
            ) from exc
        uniques.append(u)
        inverses.append(inv.ravel())
    if classes is None:
        classes = _sorted_unique(np.concatenate(uniques), "the labels")
    order = np.argsort(classes, kind="stable")
    sorted_classes = classes[order]
    codes = []
    for u, inv in zip(uniques, inverses, strict=True):
        pos = np.searchsorted(sorted_classes, u)
        pos_clipped = np.minimum(pos, sorted_classes.size - 1)
        found = sorted_classes[pos_clipped] == u
        u_codes = np.where(found, order[pos_clipped], -1)
        codes.append(u_codes[inv])
    return classes, codes


def encode_labels(
    y_true: NDArray[Any],
    y_pred: NDArray[Any] | None,
    classes: Any = None,
) -> EncodedLabels:
    """Map labels to indices into *classes* (default: sorted union of the labels seen).

    Raises when labels are missing, of mixed kinds (numbers vs strings), or not in
    *classes*.
    """
    check_no_missing(y_true, "y_true")
    arrays = [y_true]
    names = ["y_true"]
    if y_pred is not None:
        check_no_missing(y_pred, "y_pred")
        if _kind(y_true) != _kind(y_pred) and "object" not in (_kind(y_true), _kind(y_pred)):
            raise DataError(
                f"y_true holds {_kind(y_true)}s but y_pred holds {_kind(y_pred)}s "
                f"(e.g. {fmt_values(y_true[:1])} vs {fmt_values(y_pred[:1])}), so no label "
                "could ever match. Convert both to the same type."
            )
        arrays.append(y_pred)
        names.append("y_pred")
    cls: NDArray[Any] | None = None
    if classes is not None:
        cls = np.asarray(list(classes))
        if cls.ndim != 1 or cls.size == 0:
            raise DataError(f"classes must be a non-empty list of labels; got {classes!r}.")
        if np.unique(cls).size != cls.size:
            raise DataError(f"classes must not repeat labels; got {fmt_values(cls, 20)}.")
    all_bool = all(a.dtype.kind == "b" for a in arrays)
    if any(a.dtype.kind == "b" for a in arrays):  # True == 1: encode booleans as ints
        arrays = [a.astype(np.int64) if a.dtype.kind == "b" else a for a in arrays]
        if cls is not None and cls.dtype.kind == "b":
            cls = cls.astype(np.int64)
    fast_int = _int_codes(arrays, cls)
    result = fast_int if fast_int is not None else _generic_codes(arrays, names, cls)
    if all_bool and (classes is None or np.asarray(list(classes)).dtype.kind == "b"):
        result = (result[0].astype(bool), result[1])
    out_cls, codes = result
    for code, arr, name in zip(codes, arrays, names, strict=True):
        unknown = code < 0
        if unknown.any():
            bad = _sorted_unique(arr[unknown], name)
            raise DataError(
                f"{name} holds label(s) {fmt_values(bad)} that are not in classes "
                f"[{fmt_values(out_cls, 20)}]. Add them to classes (the column order of "
                "y_proba, e.g. model.classes_) or fix the labels."
            )
    return EncodedLabels(
        classes=out_cls,
        y_true=codes[0],
        y_pred=codes[1] if y_pred is not None else None,
    )


def jsonable(value: Any) -> Any:
    """Recursively turn numpy scalars/arrays into plain Python; NaN/inf become None."""
    if isinstance(value, dict):
        return {str(jsonable(k)): jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [jsonable(v) for v in value]
    if isinstance(value, np.ndarray):
        return jsonable(value.tolist())
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not np.isfinite(value):
        return None
    return value


def as_2d_float(x: ArrayLike, name: str) -> NDArray[np.float64]:
    """*x* as a finite 2-D float64 array."""
    if hasattr(x, "to_numpy"):
        x = x.to_numpy()
    try:
        arr = np.asarray(x, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise DataError(
            f"{name} must be a numeric array of shape (n_samples, n_columns) ({exc})."
        ) from exc
    if arr.ndim != 2:
        raise DataError(f"{name} must be 2-D of shape (n_samples, n_columns); got {arr.shape}.")
    if arr.shape[0] == 0:
        raise DataError(f"{name} is empty; metrics need at least one sample.")
    check_finite(arr, name)
    return arr
