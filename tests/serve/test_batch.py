from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from loopml.exceptions import DataError, SchemaMismatchError
from loopml.serve.batch import predict_file, predict_frame
from tests.test_bundle import make_bundle


@pytest.mark.parametrize(("fmt_in", "fmt_out"), [("csv", "parquet"), ("parquet", "csv")])
def test_streamed_predictions_equal_in_memory_predictions(
    tmp_path: Path, fmt_in: str, fmt_out: str
) -> None:
    bundle, df = make_bundle()
    X = df.drop(columns="target")
    src = tmp_path / f"in.{fmt_in}"
    X.to_csv(src, index=False) if fmt_in == "csv" else X.to_parquet(src)
    out = tmp_path / f"out.{fmt_out}"
    seen: list[int] = []
    summary = predict_file(bundle, src, out, chunk_rows=100, on_progress=seen.append)
    assert summary.rows == len(X)
    assert seen == [100, 200, 300, 400, 500, 569]
    got = pd.read_parquet(out) if fmt_out == "parquet" else pd.read_csv(out)
    expected = predict_frame(bundle, X)
    np.testing.assert_array_equal(got["prediction"].to_numpy(), expected["prediction"].to_numpy())
    np.testing.assert_allclose(got["proba_malignant"], expected["proba_malignant"], rtol=1e-12)
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []


def test_bad_chunk_leaves_no_output(tmp_path: Path) -> None:
    bundle, df = make_bundle()
    X = df.drop(columns="target").astype({"mean radius": object})
    X.loc[450, "mean radius"] = "big"
    X.to_csv(tmp_path / "in.csv", index=False)
    out = tmp_path / "out.parquet"
    with pytest.raises(DataError, match=r"column 'mean radius' must be numeric.*'big'"):
        predict_file(bundle, tmp_path / "in.csv", out, chunk_rows=100)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in.csv"]


def test_wrong_type_in_a_dataframe_chunk_is_listed(tmp_path: Path) -> None:
    bundle, df = make_bundle()
    X = df.drop(columns="target").astype({"mean area": object})
    X.loc[3, "mean area"] = "huge"
    with pytest.raises(
        SchemaMismatchError, match=r"column 'mean area' must be numeric.*row 3, value 'huge'"
    ):
        predict_file(bundle, X, tmp_path / "o.parquet")


def test_missing_columns_and_extra_columns(tmp_path: Path) -> None:
    bundle, df = make_bundle()
    X = df.drop(columns=["target", "mean radius"])
    with pytest.raises(SchemaMismatchError, match=r"missing 1 column\(s\).*'mean radius'"):
        predict_file(bundle, X, tmp_path / "o.parquet")
    X = df.drop(columns="target").assign(customer="c")
    summary = predict_file(bundle, X, tmp_path / "o.parquet", keep=["customer"])
    assert summary.report.extra_columns == ["customer"]
    assert "customer" in pd.read_parquet(tmp_path / "o.parquet").columns


def test_output_format_must_be_known(tmp_path: Path) -> None:
    bundle, df = make_bundle()
    with pytest.raises(DataError, match=r"must end in \.parquet or \.csv"):
        predict_file(bundle, df, tmp_path / "o.xlsx")
