from __future__ import annotations

import math
from datetime import UTC, date, datetime
from decimal import Decimal
from enum import Enum
from pathlib import Path
from uuid import UUID

import numpy as np
import pandas as pd
import pytest

from loopml.exceptions import DataError
from loopml.store import Stage
from loopml.store._convert import jsonable, metric_value, metrics_from_json, metrics_to_json


class Color(Enum):
    RED = 1


def test_jsonable_plain_values() -> None:
    value = {
        1: np.float32(0.5),
        "arr": np.array([[1.0, np.nan], [np.inf, 2.0]]),
        "series": pd.Series([1, 2]),
        "set": {3, 1},
        "tuple": (np.int8(1), None),
        "path": Path("/a/b"),
        "when": datetime(2024, 1, 2, 3, 4, tzinfo=UTC),
        "day": date(2024, 1, 2),
        "enum": Color.RED,
        "stage": Stage.PRODUCTION,
        "uuid": UUID(int=1),
        "decimal": Decimal("1.5"),
        "bool": np.bool_(False),
    }
    assert jsonable(value) == {
        "1": 0.5,
        "arr": [[1.0, None], [None, 2.0]],
        "series": [1, 2],
        "set": [1, 3],
        "tuple": [1, None],
        "path": "/a/b",
        "when": "2024-01-02T03:04:00+00:00",
        "day": "2024-01-02",
        "enum": 1,
        "stage": "production",
        "uuid": "00000000-0000-0000-0000-000000000001",
        "decimal": 1.5,
        "bool": False,
    }
    assert type(jsonable(Stage.NONE)) is str


def test_jsonable_rejects_unknown_objects_by_location() -> None:
    with pytest.raises(DataError, match=r"params\['model'\]\[0\] is a builtins.object"):
        jsonable({"model": [object()]}, "params")


def test_jsonable_rejects_cycles() -> None:
    cyclic: list[object] = []
    cyclic.append(cyclic)
    with pytest.raises(DataError, match="nested more than 64 levels"):
        jsonable(cyclic)


def test_metric_values() -> None:
    assert metric_value("a", np.float32(0.5)) == 0.5
    assert metric_value("a", True) == 1.0
    assert metric_value("a", None) is None
    assert metric_value("a", float("nan")) is None
    assert metric_value("a", float("inf")) is None
    with pytest.raises(DataError, match="Metric 'a' must be a number; got list"):
        metric_value("a", [1])
    assert metrics_to_json({"a": np.nan, "b": 1}) == {"a": None, "b": 1.0}
    restored = metrics_from_json({"a": None, "b": 1})
    assert math.isnan(restored["a"]) and restored["b"] == 1.0
    assert metrics_from_json(None) == {}
