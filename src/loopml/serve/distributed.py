"""Distributed batch transform on Dask: ``loopml predict ... --workers N | --scheduler ADDR``.

The input (a Parquet or CSV file, or a directory of partitions) is read with
``dask.dataframe`` (Parquet: one partition per row group; CSV: byte blocks);
each partition is validated against the training schema, predicted in chunks of
*chunk_rows* rows and written by its worker as one Parquet file into a temporary
directory next to the output, which is renamed into place only when every
partition succeeded. The output is a directory of Parquet partitions
(``part-00000.parquet``, ...), which ``loopml predict`` and pandas read back.

``workers=N`` starts a local cluster (N single-threaded worker processes, so the
model's own threads do not oversubscribe the cores); ``scheduler="tcp://host:8786"``
uses an existing cluster, whose workers must see the input and output paths (a
shared file system) and have loopml installed. Dask is optional: ``pip install
'loopml[dist]'``.

Examples
--------
>>> summary = predict_distributed("churn", "big.parquet", "out.parquet", workers=2)  # doctest: +SKIP
>>> summary.rows_per_second  # doctest: +SKIP
412000.0
"""

from __future__ import annotations

import os
import shutil
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from loopml.data.io import describe_source
from loopml.data.schema import Role
from loopml.data.validate import InputReport
from loopml.exceptions import DataError, require
from loopml.serve.batch import DEFAULT_CHUNK_ROWS, PredictSummary, predict_frame

if TYPE_CHECKING:
    import pandas as pd
    import pyarrow as pa

    from loopml.bundle import ModelBundle
    from loopml.store import Store

__all__ = ["predict_distributed"]

_PARQUET = {".parquet", ".pq"}
_CSV = {".csv", ".tsv", ".txt", ".tab"}
_NULLS = ("", "NA", "N/A", "NaN", "nan", "null", "NULL", "None", "#N/A", "?")
#: CSV bytes per partition: a block of ~64 MB holds ~0.5-1 M rows of 20-30 columns.
CSV_BLOCKSIZE = "64MB"


def predict_distributed(
    model: str | ModelBundle,
    source: str | Path,
    output: str | Path,
    *,
    workers: int | None = None,
    scheduler: str | None = None,
    store: Store | None = None,
    chunk_rows: int = DEFAULT_CHUNK_ROWS,
    keep: list[str] | None = None,
    proba: bool = True,
    on_progress: Callable[[int], None] | None = None,
    memory_limit: str | float | None = "auto",
) -> PredictSummary:
    """Predict every row of *source* on a Dask cluster; write partitioned Parquet atomically.

    Parameters
    ----------
    model : str or ModelBundle
        A store reference (``"churn@production"``), a bundle path, or a loaded bundle.
    source : path
        A Parquet or CSV file, or a directory of Parquet or CSV partitions.
    output : path
        The output directory (e.g. ``out/`` or ``out.parquet/``), written atomically.
    workers : int, optional
        Start a local cluster with this many worker processes (default 2 when no
        *scheduler* is given).
    scheduler : str, optional
        Address of an existing Dask scheduler, e.g. ``"tcp://host:8786"``.
    chunk_rows : int
        Rows predicted at a time inside a partition (bounds each worker's memory).
    keep : list of str, optional
        Input columns copied to the output (default: the schema's identifier columns).
    on_progress : callable, optional
        Called with the number of rows done each time a partition finishes.
    memory_limit : str or float, optional
        Per-worker memory limit of a local cluster (Dask's ``memory_limit``).

    Returns
    -------
    PredictSummary
        As :func:`loopml.serve.batch.predict_file` returns it.
    """
    require("dask", "dist", "Distributed batch prediction")
    require("distributed", "dist", "Distributed batch prediction")
    from dask.delayed import delayed

    from loopml.bundle import ModelBundle, load_model

    if workers is not None and scheduler is not None:
        raise DataError(
            "Give either --workers (a local cluster) or --scheduler (an existing one), not both."
        )
    if workers is not None and workers < 1:
        raise DataError(f"--workers must be at least 1; got {workers}.")
    if chunk_rows < 1:
        raise DataError(f"chunk_rows must be at least 1; got {chunk_rows}.")
    bundle = model if isinstance(model, ModelBundle) else load_model(model, store=store)
    output = Path(output)
    if output.suffix.lower() in _CSV | {".jsonl", ".json"}:
        raise DataError(
            f"Distributed prediction writes a directory of Parquet partitions; {output} "
            "names a CSV/JSON file. Give a directory such as out/ or out.parquet."
        )
    if output.exists() and not output.is_dir():
        raise DataError(
            f"{output} exists and is a file; give a directory for the Parquet partitions."
        )
    where = describe_source(source)
    if keep is None:
        keep = bundle.schema.by_role(Role.ID)
    frame = _read(source)
    missing_keep = [k for k in keep if k not in frame.columns]
    if missing_keep:
        raise DataError(
            f"--keep column(s) {missing_keep} are not in {where}. "
            f"Columns: {', '.join(map(str, list(frame.columns)[:12]))}."
        )
    schema = _output_schema(bundle, frame, keep, proba)
    output.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{output.name}-", dir=output.parent))
    report = InputReport()
    rows = 0
    started = time.perf_counter()
    try:
        with _client(workers, scheduler, memory_limit) as client:
            as_completed = _distributed().as_completed
            model_key = delayed(bundle, pure=True)
            tasks = [
                delayed(_predict_partition, pure=False)(
                    part, model_key, i, str(tmp), keep, proba, where, chunk_rows, schema
                )
                for i, part in enumerate(frame.to_delayed())
            ]
            futures = client.compute(tasks)
            try:
                for future in as_completed(futures):
                    n, part_report = future.result()
                    rows += n
                    report.merge(part_report)
                    if on_progress is not None:
                        on_progress(rows)
            except BaseException:
                client.cancel(futures)
                raise
        if rows == 0:
            raise DataError(f"{where} has no rows to predict.")
        _replace_dir(tmp, output)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    ref = bundle.ref
    return PredictSummary(ref, where, str(output), rows, time.perf_counter() - started, report)


# -- the engine -------------------------------------------------------------------------


@contextmanager
def _client(workers: int | None, scheduler: str | None, memory_limit: Any) -> Iterator[Any]:
    """A Dask client: on an existing scheduler, or on a local cluster started (and stopped) here."""
    import logging

    dist = _distributed()
    Client, LocalCluster = dist.Client, dist.LocalCluster
    if scheduler is not None:
        try:
            client = Client(scheduler, timeout="10s")
        except OSError as exc:
            raise DataError(
                f"Cannot reach the Dask scheduler at {scheduler}: {exc}. Check the address "
                "(tcp://host:8786) and that `dask scheduler` runs there."
            ) from None
        try:
            yield client
        finally:
            client.close()
        return
    cluster = LocalCluster(
        n_workers=workers or 2,
        threads_per_worker=1,
        processes=True,
        memory_limit=memory_limit if memory_limit is not None else "auto",
        host="127.0.0.1",
        # Any free port: a fixed one (8787) may be taken by another cluster on the machine.
        dashboard_address=":0",
        silence_logs=logging.ERROR,
    )
    try:
        client = Client(cluster)
        try:
            yield client
        finally:
            client.close()
    finally:
        cluster.close()


def _distributed() -> Any:
    """``distributed``, untyped: its API has no annotations for mypy to check."""
    import distributed

    return distributed


# -- reading ----------------------------------------------------------------------------


def _read(source: str | Path) -> Any:
    """A dask DataFrame over *source*: Parquet by row group, CSV by ~64 MB blocks."""
    import dask.dataframe as dd

    if not isinstance(source, str | Path):
        raise DataError(
            "Distributed prediction reads files: give a Parquet/CSV file or a directory of "
            f"partitions (got a {type(source).__name__})."
        )
    path = Path(source)
    if not path.exists():
        raise DataError(f"File {path} does not exist. Check the path (relative to {Path.cwd()}).")
    files = _files(path)
    kinds = {"parquet" if f.suffix.lower() in _PARQUET else "csv" for f in files}
    if len(kinds) > 1:
        raise DataError(f"{path} mixes Parquet and CSV partitions; give one format.")
    names = [str(f) for f in files]
    try:
        if kinds == {"parquet"}:
            return dd.read_parquet(names, split_row_groups=True)
        from loopml.data.io import sniff_csv

        encoding, delimiter, header = sniff_csv(files[0])
        # Text in, as loopml's chunked reader does: the schema check then names the column
        # and row of a bad value, where a float64 parse would fail without saying where.
        return dd.read_csv(
            names,
            blocksize=CSV_BLOCKSIZE,
            dtype=dict.fromkeys(header, "object"),
            sep=delimiter,
            encoding=encoding,
            keep_default_na=False,
            na_values=list(_NULLS),
        )
    except DataError:
        raise
    except Exception as exc:
        raise DataError(f"Cannot read {path} for distributed prediction: {exc}") from None


def _files(path: Path) -> list[Path]:
    if path.is_file():
        if path.suffix.lower() not in _PARQUET | _CSV:
            raise DataError(
                f"{path}: distributed prediction reads Parquet or CSV (.parquet, .csv, .tsv); "
                f"got '{path.suffix}'."
            )
        return [path]
    files = sorted(
        p
        for p in path.rglob("*")
        if p.is_file()
        and p.suffix.lower() in _PARQUET | _CSV
        and not any(part.startswith((".", "_")) for part in p.relative_to(path).parts)
    )
    if not files:
        raise DataError(f"Directory {path} holds no .parquet or .csv partitions.")
    return files


def _output_schema(bundle: ModelBundle, frame: Any, keep: list[str], proba: bool) -> pa.Schema:
    """The Arrow schema every partition is written with, from the model's output on a few rows."""
    import pyarrow as pa

    sample = frame.head(64, npartitions=-1)
    if len(sample) == 0:
        raise DataError("The input has no rows to predict.")
    table = pa.Table.from_pandas(
        predict_frame(bundle, sample, keep=keep, proba=proba), preserve_index=False
    )
    fields = [
        pa.field(f.name, pa.string()) if pa.types.is_null(f.type) else f for f in table.schema
    ]
    return pa.schema(fields)


# -- on the workers ---------------------------------------------------------------------


def _predict_partition(
    df: pd.DataFrame,
    bundle: ModelBundle,
    index: int,
    out_dir: str,
    keep: list[str],
    proba: bool,
    where: str,
    chunk_rows: int,
    schema: pa.Schema,
) -> tuple[int, InputReport]:
    """Validate, predict and write one partition; return its row count and input report."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    report = InputReport()
    if len(df) == 0:
        return 0, report
    place = f"{where} (partition {index})"
    path = Path(out_dir) / f"part-{index:05d}.parquet"
    writer = pq.ParquetWriter(path, schema)
    try:
        for start in range(0, len(df), chunk_rows):
            chunk = df.iloc[start : start + chunk_rows]
            report.merge(bundle.check(chunk, place, row_offset=start))
            preds = predict_frame(bundle, chunk, keep=keep, proba=proba)
            table = pa.Table.from_pandas(preds, preserve_index=False)
            writer.write_table(table.select(schema.names).cast(schema))
    finally:
        writer.close()
    return len(df), report


def _replace_dir(tmp: Path, output: Path) -> None:
    """Rename *tmp* to *output*; an existing output directory is swapped out, then removed."""
    old = None
    if output.exists():
        old = output.with_name(f".{output.name}-old-{os.getpid()}")
        os.replace(output, old)
    try:
        os.replace(tmp, output)
    except BaseException:
        if old is not None:
            os.replace(old, output)
        raise
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)
