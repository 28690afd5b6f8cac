"""Column converters of :mod:`loopml.serve.inputs`: values → (array, problems).

Each converter takes one column's values as decoded from JSON (or read from CSV)
and returns the column as the training pipeline expects it, with the values that
do not fit as ``(row, type, msg, value)`` problems. A column is converted as a whole
(``numpy.array(values, dtype=float64)``, ``numpy.isfinite``...); only a column that
fails takes a per-value pass, to name every bad value.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from itertools import repeat
from typing import Any

import numpy as np

from loopml.data.schema import Role

__all__ = ["CONVERTERS", "FLOAT_MAX", "NUMBER_OK", "Converter", "Problem", "numeric_text"]

_NONE_TYPE = type(None)
_STR_OK = frozenset({str, _NONE_TYPE})
NUMBER_OK = frozenset({int, float, _NONE_TYPE})
_SCALARS = (bool, int, float)
_BAD = -1.0
_TRUE = ("true", "yes", "y", "t", "1", "1.0")
_FALSE = ("false", "no", "n", "f", "0", "0.0")
_BOOL_MAP: dict[Any, float] = {
    True: 1.0,
    False: 0.0,
    None: math.nan,
    **dict.fromkeys(_TRUE, 1.0),
    **dict.fromkeys(_FALSE, 0.0),
}

#: Largest finite float64. The spec publishes it as an *exclusive* bound: a JSON number
#: past it can round to it when read, so the bound itself is refused too.
FLOAT_MAX = 1.7976931348623157e308

#: A value that does not fit: ``(row, type, msg, value)``.
Problem = tuple[int, str, str, Any]
Converter = Callable[[Sequence[Any]], tuple[np.ndarray[Any, Any], list[Problem]]]


def _numeric(values: Sequence[Any]) -> tuple[np.ndarray[Any, Any], list[Problem]]:
    """JSON numbers (and null); a string or boolean is refused, as the spec says."""
    if not set(map(type, values)) <= NUMBER_OK:
        return _numeric_slow(values, strict=True)
    return numeric_text(values)


def numeric_text(values: Sequence[Any]) -> tuple[np.ndarray[Any, Any], list[Problem]]:
    """Numbers, or text that reads as a number (CSV cells)."""
    n = len(values)
    try:
        arr = np.array(values, dtype=np.float64)
    except (TypeError, ValueError, OverflowError):
        arr = None
    if arr is None or arr.shape != (n,):
        return _numeric_slow(values)
    with np.errstate(invalid="ignore"):
        bad = ~(np.abs(arr) < FLOAT_MAX)
    if not bad.any():
        return arr, []
    problems = [
        (i, "finite_number", "Input should be a finite number", values[i])
        for i in np.flatnonzero(bad).tolist()
        if values[i] is not None
    ]
    return arr, problems


def _numeric_slow(
    values: Sequence[Any], strict: bool = False
) -> tuple[np.ndarray[Any, Any], list[Problem]]:
    out = np.full(len(values), np.nan)
    problems: list[Problem] = []
    for i, v in enumerate(values):
        if v is None:
            continue
        if strict and (isinstance(v, bool) or not isinstance(v, int | float)):
            problems.append((i, "float_type", "Input should be a valid number", v))
        elif isinstance(v, _SCALARS) or isinstance(v, str):
            try:
                f = float(v)
            except (ValueError, OverflowError):
                problems.append(
                    (
                        i,
                        "float_parsing",
                        "Input should be a valid number, unable to parse string as a number",
                        v,
                    )
                )
                continue
            if abs(f) < FLOAT_MAX:
                out[i] = f
            else:
                problems.append((i, "finite_number", "Input should be a finite number", v))
        else:
            problems.append((i, "float_type", "Input should be a valid number", v))
    return out, problems


def _boolean(values: Sequence[Any]) -> tuple[np.ndarray[Any, Any], list[Problem]]:
    n = len(values)
    try:
        arr = np.fromiter(map(_BOOL_MAP.get, values, repeat(_BAD)), np.float64, n)
    except TypeError:  # an unhashable value (list, object)
        arr = np.array([_BOOL_MAP.get(v, _BAD) if _hashable(v) else _BAD for v in values])
    problems: list[Problem] = []
    for i in np.flatnonzero(arr == _BAD).tolist():
        v = values[i]
        if isinstance(v, str) and v.strip().lower() in _BOOL_MAP:
            arr[i] = _BOOL_MAP[v.strip().lower()]
        elif isinstance(v, str | int | float):
            problems.append(
                (i, "bool_parsing", "Input should be a valid boolean, unable to interpret input", v)
            )
        else:
            problems.append((i, "bool_type", "Input should be a valid boolean", v))
    return arr, problems


def _is_none(arr: np.ndarray[Any, Any]) -> np.ndarray[Any, Any]:
    """Elementwise ``is None`` of an object array (a C loop, no Python per element)."""
    none: Any = None
    return np.asarray(np.equal(arr, none), dtype=bool)


def _hashable(v: Any) -> bool:
    try:
        hash(v)
    except TypeError:
        return False
    return True


def _text_slow(
    values: Sequence[Any], msg: str, *, scalars: bool
) -> tuple[list[Any], list[Problem]]:
    """Strings and None kept, numbers and booleans as text if *scalars*, the rest refused."""
    converted: list[Any] = []
    problems: list[Problem] = []
    for i, v in enumerate(values):
        if v is None or isinstance(v, str):
            converted.append(v)
        elif scalars and isinstance(v, _SCALARS):
            # Training saw categories as text: 3 and "3" are the same category.
            converted.append(str(v))
        else:
            converted.append(None)
            problems.append((i, "string_type", msg, v))
    return converted, problems


def _strings(values: Sequence[Any]) -> tuple[np.ndarray[Any, Any], list[Problem]]:
    arr = np.empty(len(values), dtype=object)
    problems: list[Problem] = []
    types = set(map(type, values))
    if types <= _STR_OK:
        arr[:] = values
    else:
        converted, problems = _text_slow(values, "Input should be a valid string", scalars=True)
        arr[:] = converted
    if _NONE_TYPE in types:
        arr[_is_none(arr)] = np.nan
    return arr, problems


def _datetimes(values: Sequence[Any]) -> tuple[np.ndarray[Any, Any], list[Problem]]:
    import warnings

    import pandas as pd

    arr = np.empty(len(values), dtype=object)
    problems: list[Problem] = []
    if set(map(type, values)) <= _STR_OK:
        arr[:] = values
    else:
        converted, problems = _text_slow(
            values, "Input should be a valid datetime string", scalars=False
        )
        arr[:] = converted
    present = ~_is_none(arr)
    arr[~present] = np.nan
    if present.any():
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            parsed = pd.to_datetime(pd.Series(arr[present]), errors="coerce", format="mixed")
        for i in np.flatnonzero(present)[parsed.isna().to_numpy()].tolist():
            if isinstance(values[i], str):
                problems.append(
                    (
                        i,
                        "datetime_parsing",
                        "Input should be a valid datetime, unable to parse the string",
                        values[i],
                    )
                )
    return arr, problems


#: The converter of each feature role (CSV cells read numeric columns with
#: :func:`numeric_text` instead, as text is all they have).
CONVERTERS: dict[Role, Converter] = {
    Role.NUMERIC: _numeric,
    Role.BOOLEAN: _boolean,
    Role.CATEGORICAL: _strings,
    Role.TEXT: _strings,
    Role.DATETIME: _datetimes,
}
