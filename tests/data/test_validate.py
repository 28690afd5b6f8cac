from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from loopml.data.schema import infer_schema
from loopml.data.validate import check_input, check_target, drop_missing_target
from loopml.exceptions import DataError, SchemaMismatchError


def _train() -> pd.DataFrame:
    rng = np.random.default_rng(0)
    n = 100
    return pd.DataFrame(
        {
            "age": rng.integers(18, 80, n),
            "plan": rng.choice(["basic", "pro"], n),
            "active": rng.choice(["yes", "no"], n),
            "signup": pd.date_range("2021-01-01", periods=n).strftime("%Y-%m-%d"),
            "churn": rng.choice([0, 1], n),
        }
    )


def test_target_missing_suggests_close_names() -> None:
    with pytest.raises(
        DataError, match=r"Target column 'Churn' is not in c\.csv\. Did you mean 'churn'"
    ):
        check_target(_train(), "Churn", "c.csv")
    with pytest.raises(DataError, match=r"'chrun' is not in .* Did you mean 'churn'"):
        check_target(_train(), "chrun", "c.csv")


def test_target_single_class_and_all_missing() -> None:
    df = _train()
    df["churn"] = 1
    with pytest.raises(DataError, match=r"single class \(1 in all 100 labelled rows\)"):
        check_target(df, "churn", "c.csv")
    df["churn"] = None
    with pytest.raises(DataError, match="entirely missing"):
        check_target(df, "churn", "c.csv")


def test_rows_without_target_are_dropped_with_a_note() -> None:
    df = _train()
    df.loc[:4, "churn"] = None
    kept, note = drop_missing_target(df, "churn", "c.csv")
    assert len(kept) == 95
    assert note is not None and "5 of 100 rows" in note


def test_predict_input_missing_extra_and_unseen() -> None:
    df = _train()
    schema = infer_schema(df, "churn")
    new = df.drop(columns=["churn"]).copy()
    new["plan"] = ["enterprise"] * 3 + ["basic"] * 97
    new["note"] = "x"
    report = check_input(new, schema, "new.csv")
    assert report.extra_columns == ["note"]
    assert report.unseen_categories == {"plan": 3}
    assert any("not seen at training" in n for n in report.notes())
    with pytest.raises(
        SchemaMismatchError, match=r"new\.csv is missing 2 column\(s\).*'age'.*'plan'"
    ):
        check_input(new.drop(columns=["age", "plan"]), schema, "new.csv")


def test_predict_input_wrong_types_are_listed_with_the_first_bad_value() -> None:
    df = _train()
    schema = infer_schema(df, "churn")
    new = df.drop(columns="churn").astype({"age": object})
    new.loc[12, "age"] = "forty"
    new.loc[30, "signup"] = "someday"
    new.loc[7, "active"] = "maybe"
    with pytest.raises(SchemaMismatchError) as info:
        check_input(new, schema, "new.csv", row_offset=1000)
    msg = str(info.value)
    assert "column 'age' must be numeric; 1 row(s) are not (first: row 1012, value 'forty')" in msg
    assert "column 'signup' must be a date/time" in msg
    assert "column 'active' must be true/false" in msg


def test_nan_and_inf_numeric_are_not_type_errors() -> None:
    df = _train()
    schema = infer_schema(df, "churn")
    new = df.drop(columns="churn").astype({"age": float})
    new.loc[0, "age"] = np.inf
    new.loc[1, "age"] = np.nan
    report = check_input(new, schema, "new.csv")
    assert report.missing_values == {"age": 1}
