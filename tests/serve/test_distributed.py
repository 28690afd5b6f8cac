from __future__ import annotations

import importlib.util
import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from loopml.exceptions import DataError, MissingDependencyError
from loopml.serve.batch import predict_frame
from loopml.serve.distributed import predict_distributed
from tests.test_bundle import make_bundle

pytest.importorskip("distributed")


@pytest.fixture(scope="module")
def scheduler() -> Iterator[str]:
    """One local cluster for the module's tests (starting workers takes seconds)."""
    from distributed import LocalCluster

    cluster = LocalCluster(
        n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1",
        dashboard_address=":0", silence_logs=logging.ERROR,
    )  # fmt: skip
    yield cluster.scheduler_address
    cluster.close()


@pytest.fixture(scope="module")
def bundle_and_rows() -> tuple[Any, pd.DataFrame]:
    bundle, df = make_bundle()
    X = df.drop(columns="target")
    X.insert(0, "customer_id", [f"c{i}" for i in range(len(X))])
    return bundle, X


def _parquet(path: Path, X: pd.DataFrame, row_group_size: int) -> Path:
    pq.write_table(
        pa.Table.from_pandas(X, preserve_index=False), path, row_group_size=row_group_size
    )
    return path


@pytest.mark.slow
def test_parquet_by_row_group_equals_in_memory(
    tmp_path: Path, scheduler: str, bundle_and_rows: tuple[Any, pd.DataFrame]
) -> None:
    bundle, X = bundle_and_rows
    src = _parquet(tmp_path / "in.parquet", X, row_group_size=100)
    seen: list[int] = []
    summary = predict_distributed(
        bundle, src, tmp_path / "out.parquet", scheduler=scheduler, chunk_rows=40,
        keep=["customer_id"], on_progress=seen.append,
    )  # fmt: skip
    assert summary.rows == len(X) and seen[-1] == len(X) and seen == sorted(seen)
    parts = sorted(p.name for p in (tmp_path / "out.parquet").iterdir())
    assert parts[0] == "part-00000.parquet" and len(parts) == 6
    got = pd.read_parquet(tmp_path / "out.parquet").sort_values("customer_id", key=_num)
    expected = predict_frame(bundle, X, keep=["customer_id"])
    np.testing.assert_array_equal(got["prediction"].to_numpy(), expected["prediction"].to_numpy())
    np.testing.assert_allclose(got["proba_malignant"], expected["proba_malignant"], rtol=1e-12)
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []


def _num(s: pd.Series) -> pd.Series:
    return s.str[1:].astype(int)


@pytest.mark.slow
def test_csv_partitions_directory_and_report(
    tmp_path: Path, scheduler: str, bundle_and_rows: tuple[Any, pd.DataFrame]
) -> None:
    bundle, X = bundle_and_rows
    parts = tmp_path / "in"
    parts.mkdir()
    for i, start in enumerate(range(0, len(X), 200)):
        X.iloc[start : start + 200].assign(extra="x").to_csv(parts / f"p{i}.csv", index=False)
    (parts / "_SUCCESS").write_text("")
    summary = predict_distributed(bundle, parts, tmp_path / "out", scheduler=scheduler)
    assert summary.rows == len(X)
    assert any("extra" in note for note in summary.notes)
    got = pd.read_parquet(tmp_path / "out")
    assert len(got) == len(X) and set(got.columns) == {
        "prediction",
        "proba_benign",
        "proba_malignant",
    }
    # a second run replaces the output directory
    again = predict_distributed(bundle, parts, tmp_path / "out", scheduler=scheduler, proba=False)
    assert again.rows == len(X)
    assert list(pd.read_parquet(tmp_path / "out").columns) == ["prediction"]


@pytest.mark.slow
def test_bad_partition_leaves_no_output(
    tmp_path: Path, scheduler: str, bundle_and_rows: tuple[Any, pd.DataFrame]
) -> None:
    bundle, X = bundle_and_rows
    bad = X.astype({"mean radius": object})
    bad.loc[450, "mean radius"] = "big"
    bad.to_csv(tmp_path / "in.csv", index=False)
    with pytest.raises(DataError, match=r"column 'mean radius' must be numeric.*'big'"):
        predict_distributed(bundle, tmp_path / "in.csv", tmp_path / "out", scheduler=scheduler)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in.csv"]


@pytest.mark.slow
def test_local_cluster_from_workers(
    tmp_path: Path, bundle_and_rows: tuple[Any, pd.DataFrame]
) -> None:
    bundle, X = bundle_and_rows
    src = _parquet(tmp_path / "in.parquet", X, row_group_size=300)
    summary = predict_distributed(bundle, src, tmp_path / "out", workers=1)
    assert summary.rows == len(X)
    assert summary.model == "cancer"
    assert len(pd.read_parquet(tmp_path / "out")) == len(X)


def test_arguments_are_checked_before_any_cluster(
    tmp_path: Path, bundle_and_rows: tuple[Any, pd.DataFrame]
) -> None:
    bundle, X = bundle_and_rows
    src = _parquet(tmp_path / "in.parquet", X, row_group_size=300)
    with pytest.raises(DataError, match=r"either --workers .* or --scheduler"):
        predict_distributed(bundle, src, tmp_path / "o", workers=2, scheduler="tcp://x:1")
    with pytest.raises(DataError, match=r"writes a directory of Parquet partitions"):
        predict_distributed(bundle, src, tmp_path / "o.csv", workers=1)
    with pytest.raises(DataError, match=r"--workers must be at least 1"):
        predict_distributed(bundle, src, tmp_path / "o", workers=0)
    with pytest.raises(DataError, match=r"does not exist"):
        predict_distributed(bundle, tmp_path / "nope.parquet", tmp_path / "o", workers=1)
    with pytest.raises(DataError, match=r"--keep column\(s\) \['id'\]"):
        predict_distributed(bundle, src, tmp_path / "o", workers=1, keep=["id"])
    (tmp_path / "mixed").mkdir()
    X.head(5).to_csv(tmp_path / "mixed" / "a.csv", index=False)
    X.head(5).to_parquet(tmp_path / "mixed" / "b.parquet")
    with pytest.raises(DataError, match=r"mixes Parquet and CSV"):
        predict_distributed(bundle, tmp_path / "mixed", tmp_path / "o", workers=1)
    assert not (tmp_path / "o").exists()


def test_missing_dask_names_the_extra(
    monkeypatch: pytest.MonkeyPatch, bundle_and_rows: tuple[Any, pd.DataFrame]
) -> None:
    real = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util, "find_spec", lambda name, *a: None if name == "dask" else real(name, *a)
    )
    with pytest.raises(MissingDependencyError, match=r"pip install 'loopml\[dist\]'"):
        predict_distributed(bundle_and_rows[0], "x.parquet", "out", workers=1)


@pytest.mark.slow
def test_unreachable_scheduler(tmp_path: Path, bundle_and_rows: tuple[Any, pd.DataFrame]) -> None:
    bundle, X = bundle_and_rows
    src = _parquet(tmp_path / "in.parquet", X.head(20), row_group_size=300)
    with pytest.raises(DataError, match=r"Cannot reach the Dask scheduler at tcp://127.0.0.1:9"):
        predict_distributed(bundle, src, tmp_path / "o", scheduler="tcp://127.0.0.1:9")
