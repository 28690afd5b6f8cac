from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from loopml.data.schema import Role, Schema, Task, infer_schema, infer_task


def _frame(n: int = 60) -> pd.DataFrame:
    rng = np.random.default_rng(0)
    return pd.DataFrame(
        {
            "customer_id": np.arange(1000, 1000 + n),
            "age": rng.integers(18, 80, n),
            "income": rng.normal(50_000, 10_000, n),
            "plan": rng.choice(["basic", "pro", "team"], n),
            "active": rng.choice(["yes", "no"], n),
            "signup": pd.date_range("2021-01-01", periods=n, freq="D").strftime("%Y-%m-%d"),
            "comment": [f"customer wrote a long note about issue number {i}" for i in range(n)],
            "country": ["NL"] * n,
            "empty": [None] * n,
            "churn": rng.choice([0, 1], n),
        }
    )


def test_roles_are_inferred() -> None:
    with pytest.warns(UserWarning, match="'empty' is 100% missing"):
        schema = infer_schema(_frame(), "churn")
    roles = {c.name: c.role for c in schema.columns}
    assert roles == {
        "customer_id": Role.ID,
        "age": Role.NUMERIC,
        "income": Role.NUMERIC,
        "plan": Role.CATEGORICAL,
        "active": Role.BOOLEAN,
        "signup": Role.DATETIME,
        "comment": Role.TEXT,
        "country": Role.CONSTANT,
        "empty": Role.EMPTY,
    }
    assert schema.task == Task.BINARY
    assert schema.classes == [0, 1]
    assert "customer_id" not in schema.feature_names
    assert any("identifier" in n for n in schema.notes)


def test_ranges_and_categories_are_recorded() -> None:
    df = _frame().drop(columns="empty")
    schema = infer_schema(df, "churn")
    assert schema["age"].minimum == df["age"].min()
    assert schema["age"].maximum == df["age"].max()
    assert set(schema["plan"].categories or []) == {"basic", "pro", "team"}
    assert schema["signup"].minimum == "2021-01-01 00:00:00"


def test_json_round_trip() -> None:
    schema = infer_schema(_frame().drop(columns="empty"), "churn")
    again = Schema.from_json(schema.to_json())
    assert again == schema


@pytest.mark.parametrize(
    ("values", "task"),
    [
        ([0, 1, 0, 1], Task.BINARY),
        (["yes", "no", "yes", "no"], Task.BINARY),
        ([True, False, True, False], Task.BINARY),
        (["a", "b", "c", "a"], Task.MULTICLASS),
        ([1, 2, 3, 4, 5, 1], Task.MULTICLASS),
        ([0.5, 1.25, 3.0, 7.75, 2.0], Task.REGRESSION),
        (list(range(100)), Task.REGRESSION),
    ],
)
def test_task_inference(values: list[object], task: Task) -> None:
    assert infer_task(pd.Series(values)) == task


def test_task_and_roles_can_be_overridden() -> None:
    df = pd.DataFrame({"zip": [1011, 1012, 1013, 1011] * 10, "y": [1.0, 2.0, 3.0, 4.0] * 10})
    schema = infer_schema(df, "y", task="multiclass", roles={"zip": "categorical"})
    assert schema.task == Task.MULTICLASS
    assert schema["zip"].role == Role.CATEGORICAL


def test_mostly_numeric_strings_are_numeric_with_a_note() -> None:
    values = [str(i) for i in range(99)] + ["forty"]
    schema = infer_schema(pd.DataFrame({"age": values}))
    assert schema["age"].role == Role.NUMERIC
    assert "1 rows are not numbers" in (schema["age"].note or "")
    assert "'forty'" in (schema["age"].note or "")


def test_multilabel_targets() -> None:
    df = pd.DataFrame({"x": range(10), "a": [0, 1] * 5, "b": [1, 1, 0, 0, 1] * 2})
    schema = infer_schema(df, ["a", "b"])
    assert schema.task == Task.MULTILABEL
    assert schema.feature_names == ["x"]
