"""Turn what callers log (numpy scalars, NaN, paths, enums...) into plain JSON values.

PostgreSQL's JSON types reject ``NaN`` and ``Infinity``, and SQLite silently turns a
NaN ``REAL`` into ``NULL``; so every non-finite float becomes ``None`` (JSON ``null``)
before it reaches the database, on every backend alike. numpy is never imported here:
its scalars and arrays are recognised by their ``tolist`` method.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from datetime import date, datetime, time
from decimal import Decimal
from enum import Enum
from pathlib import PurePath
from typing import Any
from uuid import UUID

from loopml.exceptions import DataError

__all__ = ["jsonable", "metric_value", "metrics_from_json", "metrics_to_json"]

_MAX_DEPTH = 64


def jsonable(value: Any, where: str = "value", _depth: int = 0) -> Any:
    """Return *value* as plain JSON data: dict/list/str/int/float/bool/None.

    Non-finite floats become ``None``; numpy scalars and arrays become Python
    numbers and lists; tuples and sets become lists; dates become ISO strings;
    paths, UUIDs and enums become their string or value.

    Raises
    ------
    DataError
        If *value* holds an object with no JSON form; the message names where.
    """
    if _depth > _MAX_DEPTH:
        raise DataError(f"{where} is nested more than {_MAX_DEPTH} levels deep (a cycle?)")
    if value is None or isinstance(value, bool):
        return value
    if isinstance(value, Enum):
        return jsonable(value.value, where, _depth + 1)
    if isinstance(value, str):
        return value if type(value) is str else str(value)
    if isinstance(value, int):
        return int(value)
    if isinstance(value, float):
        return float(value) if math.isfinite(value) else None
    if isinstance(value, Decimal):
        return jsonable(float(value), where, _depth + 1)
    if isinstance(value, Mapping):
        return {
            str(key): jsonable(item, f"{where}[{key!r}]", _depth + 1) for key, item in value.items()
        }
    if isinstance(value, list | tuple):
        return [jsonable(item, f"{where}[{i}]", _depth + 1) for i, item in enumerate(value)]
    if isinstance(value, set | frozenset):
        items = [jsonable(item, f"{where} item", _depth + 1) for item in value]
        try:
            return sorted(items)
        except TypeError:
            return items
    if isinstance(value, datetime | date | time):
        return value.isoformat()
    if isinstance(value, PurePath | UUID):
        return str(value)
    tolist = getattr(value, "tolist", None)  # numpy scalars/arrays, pandas Series/Index
    if callable(tolist):
        return jsonable(tolist(), where, _depth + 1)
    raise DataError(
        f"{where} is a {type(value).__module__}.{type(value).__qualname__}, which the store "
        "cannot save as JSON. Log numbers, strings, booleans, lists and dicts of them; "
        "convert other objects first (e.g. str(obj))."
    )


def metric_value(key: str, value: Any) -> float | None:
    """Return metric *value* as a float, or ``None`` when it is missing, NaN or infinite."""
    if value is None:
        return None
    if isinstance(value, str | bytes):
        raise DataError(
            f"Metric {key!r} must be a number; got {type(value).__name__} {value!r}. "
            "Log numbers as metrics and text with set(...) or log_params(...)."
        )
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise DataError(
            f"Metric {key!r} must be a number; got {type(value).__name__} {value!r}. "
            "Log numbers as metrics and anything else with set(...)."
        ) from None
    return number if math.isfinite(number) else None


def metrics_to_json(metrics: Mapping[str, Any]) -> dict[str, float | None]:
    """Validate a metrics mapping and make it JSON-safe (non-finite -> ``None``)."""
    return {str(key): metric_value(str(key), value) for key, value in metrics.items()}


def metrics_from_json(stored: Any) -> dict[str, float]:
    """Read a stored metrics mapping back; ``None`` (a stored NaN/inf) becomes ``nan``."""
    if not isinstance(stored, Mapping):
        return {}
    return {str(key): math.nan if value is None else float(value) for key, value in stored.items()}
