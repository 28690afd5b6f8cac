from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from loopml.data.io import BUILTIN_DATASETS, iter_chunks, load, source_name
from loopml.exceptions import DataError


@pytest.mark.parametrize("name", BUILTIN_DATASETS)
def test_builtins_load_offline_with_a_target_column(name: str) -> None:
    df = load(f"builtin:{name}")
    assert "target" in df.columns
    assert len(df) > 100
    assert df["target"].notna().all()


def test_builtin_class_names_are_readable() -> None:
    assert set(load("builtin:iris")["target"]) == {"setosa", "versicolor", "virginica"}


def test_unknown_builtin_suggests_the_close_name() -> None:
    with pytest.raises(DataError, match="Did you mean 'builtin:iris'"):
        load("builtin:irs")


@pytest.mark.parametrize(
    ("sep", "suffix"), [(",", ".csv"), (";", ".csv"), ("\t", ".tsv"), ("|", ".txt"), ("\t", ".csv")]
)
def test_csv_delimiter_is_sniffed(tmp_path: Path, sep: str, suffix: str) -> None:
    path = tmp_path / f"data{suffix}"
    path.write_text(
        sep.join(["a", "b", "c"])
        + "\n"
        + "\n".join(sep.join([str(i), f"x{i}", str(i * 0.5)]) for i in range(20))
        + "\n"
    )
    df = load(path)
    assert list(df.columns) == ["a", "b", "c"]
    assert len(df) == 20
    assert df["c"].iloc[3] == pytest.approx(1.5)


def test_cp1252_and_utf8_bom_are_decoded(tmp_path: Path) -> None:
    p1 = tmp_path / "latin.csv"
    p1.write_bytes("name,city\nJosé,Zürich\nAnaïs,Köln\n".encode("cp1252"))
    assert load(p1)["city"].tolist() == ["Zürich", "Köln"]
    p2 = tmp_path / "bom.csv"
    p2.write_bytes("\ufeffname,n\nå,1\n".encode())
    assert list(load(p2).columns) == ["name", "n"]


def test_parquet_jsonl_dataframe_and_partition_directory(tmp_path: Path) -> None:
    df = pd.DataFrame({"x": np.arange(10), "y": list("ab") * 5})
    df.to_parquet(tmp_path / "d.parquet")
    df.to_json(tmp_path / "d.jsonl", orient="records", lines=True)
    parts = tmp_path / "parts"
    parts.mkdir()
    df.iloc[:4].to_parquet(parts / "p0.parquet")
    df.iloc[4:].to_parquet(parts / "p1.parquet")
    for source in (tmp_path / "d.parquet", tmp_path / "d.jsonl", df, parts):
        got = load(source)
        assert got["x"].tolist() == list(range(10))


def test_chunks_cover_every_row_once(tmp_path: Path) -> None:
    df = pd.DataFrame({"x": np.arange(1001, dtype=float), "s": ["a"] * 1001})
    df.to_csv(tmp_path / "d.csv", index=False)
    df.to_parquet(tmp_path / "d.parquet")
    for path in (tmp_path / "d.csv", tmp_path / "d.parquet"):
        chunks = list(iter_chunks(path, 300, columns={"x": "float64", "s": "string"}))
        assert [len(c) for c in chunks] == [300, 300, 300, 101]
        assert pd.concat(chunks)["x"].tolist() == df["x"].tolist()


def test_source_name() -> None:
    assert source_name("builtin:wine") == "wine"
    assert source_name("data/customers.csv") == "customers"
    assert source_name(pd.DataFrame()) == "data"


# -- bad input: one clear error each ------------------------------------------------------


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(DataError, match=r"nope\.csv does not exist"):
        load(tmp_path / "nope.csv")


def test_empty_file(tmp_path: Path) -> None:
    (tmp_path / "e.csv").write_text("")
    with pytest.raises(DataError, match=r"e\.csv is empty"):
        load(tmp_path / "e.csv")


def test_header_only(tmp_path: Path) -> None:
    (tmp_path / "h.csv").write_text("a,b,c\n")
    with pytest.raises(DataError, match=r"h\.csv has a header .* but no data rows"):
        load(tmp_path / "h.csv")


def test_unreadable_encoding(tmp_path: Path) -> None:
    (tmp_path / "bin.csv").write_bytes(b"a,b\n\x00\x01\x02,\x03\n")
    with pytest.raises(DataError, match=r"bin\.csv is not readable text.*encoding"):
        load(tmp_path / "bin.csv")


def test_ragged_rows(tmp_path: Path) -> None:
    (tmp_path / "r.csv").write_text("a,b,c\n1,2,3\n4,5,6,7\n")
    with pytest.raises(DataError, match=r"r\.csv has ragged rows: the header has 3 columns"):
        load(tmp_path / "r.csv")


def test_duplicate_column_names(tmp_path: Path) -> None:
    (tmp_path / "d.csv").write_text("a,b,a\n1,2,3\n")
    with pytest.raises(DataError, match=r"duplicate column names: 'a'"):
        load(tmp_path / "d.csv")
    df = pd.DataFrame([[1, 2]], columns=["x", "x"])
    with pytest.raises(DataError, match=r"DataFrame has duplicate column names: 'x'"):
        load(df)


def test_blank_header_name(tmp_path: Path) -> None:
    (tmp_path / "b.csv").write_text("a,,c\n1,2,3\n")
    with pytest.raises(DataError, match=r"column 2 of the header has no name"):
        load(tmp_path / "b.csv")


def test_bad_number_in_a_chunked_numeric_column_names_the_column(tmp_path: Path) -> None:
    (tmp_path / "n.csv").write_text("age,plan\n31,a\nforty,b\n")
    with pytest.raises(DataError, match=r"column 'age' must be numeric.*'forty'"):
        list(iter_chunks(tmp_path / "n.csv", 10, columns={"age": "float64"}))


def test_all_missing_column_loads_as_float(tmp_path: Path) -> None:
    (tmp_path / "m.csv").write_text("a,b\n1,\n2,\n")
    df = load(tmp_path / "m.csv")
    assert df["b"].isna().all()
    assert df["b"].dtype == np.float64
