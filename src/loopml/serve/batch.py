"""Batch transform: predict over a file (or directory of partitions) in bounded memory.

The input is read in chunks; each chunk is validated against the training
schema, predicted, and appended to a temporary output file that is renamed into
place only when every chunk succeeded, so a failure never leaves a half-written
result.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from loopml._fs import atomic_file
from loopml.data.io import describe_source, iter_chunks
from loopml.data.schema import Role, Task
from loopml.data.validate import InputReport
from loopml.exceptions import DataError

if TYPE_CHECKING:
    import pandas as pd

    from loopml.bundle import ModelBundle
    from loopml.store import Store

__all__ = ["PredictSummary", "predict_file", "predict_frame"]

DEFAULT_CHUNK_ROWS = 200_000


@dataclass
class PredictSummary:
    """What a batch prediction did."""

    model: str
    input: str
    output: str
    rows: int
    seconds: float
    report: InputReport = field(default_factory=InputReport)

    @property
    def rows_per_second(self) -> float:
        return self.rows / self.seconds if self.seconds > 0 else float("inf")

    @property
    def notes(self) -> list[str]:
        return self.report.notes()

    def to_dict(self) -> dict[str, Any]:
        return {
            "model": self.model,
            "input": self.input,
            "output": self.output,
            "rows": self.rows,
            "seconds": round(self.seconds, 4),
            "rows_per_second": round(self.rows_per_second, 1),
            "notes": self.notes,
            "input_report": self.report.to_dict(),
        }


def predict_frame(
    model: ModelBundle,
    df: pd.DataFrame,
    *,
    keep: list[str] | None = None,
    proba: bool = True,
) -> pd.DataFrame:
    """Predictions for *df* as a frame: the kept columns, then by the model's task

    - binary / multiclass / regression: ``prediction`` and ``proba_<class>``;
    - multilabel: one 0/1 column per label, ``labels`` (the predicted labels joined by the
      model's delimiter, ``|`` by default) and ``proba_<label>``;
    - clustering: ``segment`` (-1: noise);
    - anomaly: ``anomaly_score`` (higher = more unusual) and ``is_anomaly`` (0/1);
    - rules: one row per basket (per transaction for long-format input, whose transaction
      column leads): ``recommendations`` (joined by ``|``), ``top_score``, ``top_rule``.
    """
    import numpy as np
    import pandas as pd

    task = model.task
    if task == Task.RULES:
        recs = model.recommend(df)
        positions = np.asarray(recs.index, dtype=np.int64)
        out = pd.DataFrame(index=df.index[positions])
        for col in keep or []:
            if col not in recs.columns:
                out[col] = df[col].to_numpy()[positions]
        for col in recs.columns:
            out[col] = recs[col].to_numpy()
        return out
    out = pd.DataFrame(index=df.index)
    for col in keep or []:
        out[col] = df[col].to_numpy()
    if task == Task.CLUSTERING:
        out["segment"] = model.predict(df)
    elif task == Task.ANOMALY:
        scores = model.score_samples(df)
        out["anomaly_score"] = scores
        out["is_anomaly"] = (scores > (model.anomaly_threshold or 0.0)).astype(np.int64)
    elif task == Task.MULTILABEL:
        names = [str(c) for c in model.classes or []]
        flags = model.predict(df)
        for j, name in enumerate(names):
            out[name] = flags[:, j]
        delimiter = str((model.info.get("multilabel") or {}).get("delimiter") or "|")
        out["labels"] = [delimiter.join(names[j] for j in row.nonzero()[0]) for row in flags]
    else:
        out["prediction"] = model.predict(df)
    if proba:
        p = model.predict_proba(df)
        if p is not None:
            for c in p.columns:
                out[f"proba_{c}"] = p[c].to_numpy(dtype="float64")
    return out


def predict_file(
    model: str | ModelBundle,
    source: Any,
    output: str | Path,
    *,
    store: Store | None = None,
    chunk_rows: int = DEFAULT_CHUNK_ROWS,
    keep: list[str] | None = None,
    proba: bool = True,
    on_progress: Callable[[int], None] | None = None,
) -> PredictSummary:
    """Predict every row of *source* and write *output* (``.parquet`` or ``.csv``) atomically.

    Parameters
    ----------
    model : str or ModelBundle
        A store reference (``"churn"``, ``"churn@3"``, ``"churn@production"``), a bundle
        path, or a loaded bundle.
    source : path
        CSV/TSV/Parquet/JSONL file, or a directory of partitions.
    output : path
        Where to write; the format follows the suffix (``.parquet`` or ``.csv``).
    chunk_rows : int
        Rows per chunk; memory stays proportional to it.
    keep : list of str, optional
        Input columns copied to the output (default: the schema's identifier columns).
    on_progress : callable, optional
        Called with the number of rows done after each chunk.
    """
    import pyarrow as pa

    from loopml.bundle import ModelBundle, load_model

    bundle = model if isinstance(model, ModelBundle) else load_model(model, store=store)
    output = Path(output)
    fmt = _format(output)
    where = describe_source(source)
    if keep is None:
        keep = bundle.schema.by_role(Role.ID)
    types = _column_types(bundle)
    report = InputReport()
    rows = 0
    started = time.perf_counter()
    with atomic_file(output) as tmp:
        writer: Any = None
        try:
            for chunk in iter_chunks(source, chunk_rows, columns=types):
                chunk_report = bundle.check(chunk, where, row_offset=rows)
                missing_keep = [k for k in keep if k not in chunk.columns]
                if missing_keep:
                    raise DataError(
                        f"--keep column(s) {missing_keep} are not in {where}. "
                        f"Columns: {', '.join(map(str, chunk.columns[:12]))}."
                    )
                preds = predict_frame(bundle, chunk, keep=keep, proba=proba)
                table = pa.Table.from_pandas(preds, preserve_index=False)
                writer = writer or _open_writer(tmp, fmt, table.schema)
                writer.write_table(table)
                report.merge(chunk_report)
                rows += len(chunk)
                if on_progress is not None:
                    on_progress(rows)
            if writer is None:
                raise DataError(f"{where} has no rows to predict.")
        finally:
            if writer is not None:
                writer.close()
    ref = bundle.ref
    return PredictSummary(ref, where, str(output), rows, time.perf_counter() - started, report)


def _format(output: Path) -> str:
    suffix = output.suffix.lower()
    if suffix in (".parquet", ".pq"):
        return "parquet"
    if suffix in (".csv", ".tsv"):
        return suffix[1:]
    raise DataError(
        f"Output {output} must end in .parquet or .csv (got '{suffix or 'no suffix'}')."
    )


def _open_writer(path: Path, fmt: str, schema: Any) -> Any:
    if fmt == "parquet":
        import pyarrow.parquet as pq

        return pq.ParquetWriter(path, schema)
    import pyarrow.csv as pacsv

    options = pacsv.WriteOptions(delimiter="\t" if fmt == "tsv" else ",")
    return pacsv.CSVWriter(path, schema, write_options=options)


def _column_types(bundle: ModelBundle) -> dict[str, str]:
    """CSV read types so that every chunk parses the same way: numbers as float64."""
    types = {}
    for col in bundle.schema.columns:
        types[col.name] = "float64" if col.role == Role.NUMERIC else "string"
    return types
