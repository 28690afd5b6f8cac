"""Edge runtime: predict with an exported loopml ONNX model using onnxruntime and numpy only.

This module imports nothing from loopml's heavy parts (no pandas, no
scikit-learn): an edge device needs ``pip install onnxruntime numpy``. It is also
copied into every edge package as ``predict.py``, so the package runs without
loopml installed::

    python predict.py data.csv -o predictions.csv      # the model next to predict.py
    python predict.py model.onnx data.csv               # any exported model

The ONNX model takes one input per raw feature column (float for numeric and
boolean columns, string for categorical ones). What loopml's ``SchemaCoercer``
does at training time is done here in numpy: numbers are parsed (unparseable
values and infinities become missing), booleans map ``true/yes/1`` to 1 and
``false/no/0`` to 0, categories become strings with missing values as ``""``.
The column list, roles, classes and decision threshold travel inside the model
(ONNX metadata ``loopml``) and in the package's ``edge.json``.

Examples
--------
>>> model = EdgeModel("churn-edge")  # doctest: +SKIP
>>> model.predict_records([{"age": 41, "plan": "pro"}]).labels  # doctest: +SKIP
array(['yes'], dtype=object)
"""

from __future__ import annotations

import argparse
import csv
import json
import math
import os
import sys
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TextIO

import numpy as np

try:  # inside loopml: errors are loopml errors; standalone (predict.py): plain ValueError
    from loopml.exceptions import DataError as _ErrorBase
except ImportError:  # pragma: no cover - exercised only where loopml is absent
    _ErrorBase = ValueError  # type: ignore[misc,assignment]

__all__ = [
    "METADATA_KEY",
    "EdgeError",
    "EdgeModel",
    "EdgePrediction",
    "coerce_values",
    "iter_rows",
    "main",
    "predict_file",
]

METADATA_KEY = "loopml"
MODEL_FILE = "model.onnx"
QUANTIZED_FILE = "model.int8.onnx"
META_FILE = "edge.json"
FORMAT = "loopml-edge/1"
#: Strings read as missing, as pandas and pyarrow read CSV.
NULL_STRINGS = frozenset(
    {"", "#N/A", "#N/A N/A", "#NA", "-1.#IND", "-1.#QNAN", "-NaN", "-nan", "1.#IND", "1.#QNAN",
     "<NA>", "N/A", "NA", "NULL", "NaN", "None", "n/a", "nan", "null"}
)  # fmt: skip
_TRUE = frozenset({"true", "yes", "y", "t", "1", "1.0"})
_FALSE = frozenset({"false", "no", "n", "f", "0", "0.0"})
DEFAULT_CHUNK_ROWS = 10_000


class EdgeError(_ErrorBase):  # type: ignore[valid-type,misc]
    """The edge model or its input cannot be used as given."""


@dataclass
class EdgePrediction:
    """Predicted labels (original class values) or values, and class probabilities."""

    labels: np.ndarray[Any, Any]
    proba: np.ndarray[Any, Any] | None
    classes: list[Any] | None

    def __len__(self) -> int:
        return len(self.labels)

    def columns(self) -> dict[str, np.ndarray[Any, Any]]:
        """``prediction`` and ``proba_<class>`` columns, as loopml's batch predict names them."""
        out: dict[str, np.ndarray[Any, Any]] = {"prediction": self.labels}
        if self.proba is not None and self.classes is not None:
            for j, c in enumerate(self.classes):
                out[f"proba_{c}"] = self.proba[:, j].astype(np.float64)
        return out


class EdgeModel:
    """An exported loopml model: an ``.onnx`` file or an edge package directory.

    Parameters
    ----------
    path : str or Path
        ``model.onnx`` (self-describing: metadata embedded) or a package directory.
    quantized : bool
        In a package, use ``model.int8.onnx`` instead of ``model.onnx``.
    threads : int, optional
        onnxruntime intra-op threads (default: onnxruntime's choice).
    """

    def __init__(
        self, path: str | Path, *, quantized: bool = False, threads: int | None = None
    ) -> None:
        import onnxruntime as ort

        path = Path(path)
        if path.is_dir():
            name = QUANTIZED_FILE if quantized else MODEL_FILE
            model_path = path / name
            if not model_path.exists():
                raise EdgeError(
                    f"{path} holds no {name}. Give an edge package made by `loopml export` "
                    "(with --quantize for the int8 model) or an .onnx file."
                )
        elif path.exists():
            model_path = path
        else:
            raise EdgeError(
                f"Model {path} does not exist. Give an .onnx file or a package directory."
            )
        options = ort.SessionOptions()
        options.log_severity_level = 3
        if threads:
            options.intra_op_num_threads = int(threads)
            options.inter_op_num_threads = 1
        try:
            self.session = ort.InferenceSession(
                str(model_path), options, providers=["CPUExecutionProvider"]
            )
        except Exception as exc:
            raise EdgeError(f"onnxruntime cannot load {model_path}: {exc}") from None
        self.path = model_path
        meta_text = self.session.get_modelmeta().custom_metadata_map.get(METADATA_KEY)
        if meta_text is None and path.is_dir() and (path / META_FILE).exists():
            meta_text = (path / META_FILE).read_text(encoding="utf-8")
        if meta_text is None:
            raise EdgeError(
                f"{model_path} carries no loopml metadata (key '{METADATA_KEY}'): it was not "
                "exported by `loopml export`, so its columns and classes are unknown."
            )
        self.meta: dict[str, Any] = json.loads(meta_text)
        self.inputs: list[dict[str, str]] = list(self.meta["inputs"])
        self.task: str = str(self.meta.get("task", "regression"))
        self.classes: list[Any] | None = self.meta.get("classes")
        threshold = self.meta.get("threshold")
        self.threshold: float | None = float(threshold) if threshold is not None else None
        self.outputs: dict[str, str] = dict(self.meta.get("outputs", {}))
        types = {"tensor(double)": np.float64, "tensor(float)": np.float32}
        self._dtypes = {i.name: types[i.type] for i in self.session.get_inputs() if i.type in types}

    @property
    def name(self) -> str:
        return str(self.meta.get("name", "model"))

    @property
    def columns(self) -> list[str]:
        """The raw columns the model needs, in order."""
        return [i["column"] for i in self.inputs]

    def __repr__(self) -> str:
        return f"EdgeModel({str(self.path)!r}, task={self.task!r}, columns={len(self.inputs)})"

    # -- prediction ------------------------------------------------------------
    def feed(
        self, data: Mapping[str, Any], where: str = "the input"
    ) -> dict[str, np.ndarray[Any, Any]]:
        """The onnxruntime feed for column arrays *data* (``{column: values}``)."""
        missing = [c for c in self.columns if c not in data]
        if missing:
            raise EdgeError(
                f"{where} is missing {len(missing)} column(s) the model needs: "
                f"{', '.join(repr(m) for m in missing)}. Add them (empty values are allowed)."
            )
        feed: dict[str, np.ndarray[Any, Any]] = {}
        n: int | None = None
        for spec in self.inputs:
            values = coerce_values(data[spec["column"]], spec["role"])
            if n is not None and len(values) != n:
                raise EdgeError(
                    f"Column '{spec['column']}' of {where} has {len(values)} values; "
                    f"the others have {n}."
                )
            n = len(values)
            dtype = self._dtypes.get(spec["input"])
            if dtype is not None and values.dtype != dtype:
                values = values.astype(dtype)
            feed[spec["input"]] = values.reshape(-1, 1)
        return feed

    def predict_columns(self, data: Mapping[str, Any], where: str = "the input") -> EdgePrediction:
        """Predict rows given as columns: ``{"age": [41, 35], "plan": ["pro", None]}``."""
        feed = self.feed(data, where)
        if not feed or next(iter(feed.values())).shape[0] == 0:
            empty = np.empty(0, dtype=object if self.classes else np.float64)
            return EdgePrediction(empty, None, self.classes)
        names = [o.name for o in self.session.get_outputs()]
        result = dict(zip(names, self.session.run(None, feed), strict=True))
        if self.classes is None:
            value_name = self.outputs.get("value", names[0])
            return EdgePrediction(
                np.asarray(result[value_name], dtype=np.float64).reshape(-1), None, None
            )
        proba_name = self.outputs.get("probabilities")
        proba = np.asarray(result[proba_name], dtype=np.float64) if proba_name else None
        if proba is not None and proba.ndim == 1:  # binary models may give P(class 1) only
            proba = np.column_stack([1.0 - proba, proba])
        classes = np.asarray(self.classes, dtype=object)
        if self.task == "binary" and self.threshold is not None and proba is not None:
            idx = (proba[:, 1] >= self.threshold).astype(np.int64)
        else:
            idx = (
                np.asarray(result[self.outputs.get("label", names[0])]).reshape(-1).astype(np.int64)
            )
        return EdgePrediction(classes[idx], proba, self.classes)

    def predict_records(self, records: Sequence[Mapping[str, Any]]) -> EdgePrediction:
        """Predict rows given as dicts: ``[{"age": 41, "plan": "pro"}, ...]``."""
        data = {c: [r.get(c) for r in records] for c in self.columns}
        return self.predict_columns(data, "the records")

    def predict(self, data: Any) -> EdgePrediction:
        """Predict a mapping of columns, a list of records, or a pandas DataFrame."""
        if isinstance(data, Mapping):
            return self.predict_columns(data)
        if hasattr(data, "columns") and hasattr(data, "__getitem__"):  # a DataFrame
            return self.predict_columns(
                {c: data[c].to_numpy() for c in self.columns if c in data.columns}, "the DataFrame"
            )
        return self.predict_records(list(data))


def coerce_values(values: Any, role: str) -> np.ndarray[Any, Any]:
    """One raw column → the array its ONNX input takes (what ``SchemaCoercer`` does).

    numeric → float64, unparseable and infinite values NaN; boolean → float64 1/0/NaN;
    categorical and text → str objects, missing as ``""``.
    """
    arr = values if isinstance(values, np.ndarray) else np.asarray(list(values), dtype=object)
    if arr.ndim != 1:
        arr = arr.reshape(-1)
    if role == "numeric":
        out = _to_float(arr)
        out[~np.isfinite(out)] = np.nan
        return out
    if role == "boolean":
        return _to_bool(arr)
    if role in ("categorical", "text"):
        return _to_str(arr)
    raise EdgeError(f"Columns of role '{role}' are not supported by the edge runtime.")


def _to_float(arr: np.ndarray[Any, Any]) -> np.ndarray[Any, Any]:
    if arr.dtype.kind in "fiub":
        return arr.astype(np.float64)
    try:
        return np.asarray(arr, dtype=np.float64)
    except (TypeError, ValueError):
        pass
    out = np.empty(len(arr), dtype=np.float64)
    for i, v in enumerate(arr):
        out[i] = _float_or_nan(v)
    return out


def _float_or_nan(v: Any) -> float:
    if v is None or isinstance(v, bool):
        return float(v) if isinstance(v, bool) else math.nan
    try:
        return float(v.strip() if isinstance(v, str) else v)
    except (TypeError, ValueError):
        return math.nan


def _to_bool(arr: np.ndarray[Any, Any]) -> np.ndarray[Any, Any]:
    if arr.dtype.kind in "fiub":
        return arr.astype(np.float64)
    out = np.full(len(arr), np.nan)
    for i, v in enumerate(arr):
        if _missing(v):
            continue
        if isinstance(v, bool | int | float | np.number):
            out[i] = float(v)
            continue
        s = str(v).strip().lower()
        if s in _TRUE:
            out[i] = 1.0
        elif s in _FALSE:
            out[i] = 0.0
    return out


def _to_str(arr: np.ndarray[Any, Any]) -> np.ndarray[Any, Any]:
    out = np.empty(len(arr), dtype=object)
    for i, v in enumerate(arr):
        if isinstance(v, str):
            out[i] = "" if v in NULL_STRINGS else v
        elif _missing(v):
            out[i] = ""
        else:
            out[i] = str(v)
    return out


def _missing(v: Any) -> bool:
    """None, NaN, and pandas' NA/NaT (recognised without importing pandas)."""
    if v is None or type(v).__name__ in ("NAType", "NaTType"):
        return True
    return isinstance(v, float | np.floating) and bool(np.isnan(v))


# -- files ---------------------------------------------------------------------


def iter_rows(
    source: str | Path, chunk_rows: int = DEFAULT_CHUNK_ROWS
) -> Iterator[dict[str, list[Any]]]:
    """Yield a CSV/TSV or JSON Lines file as column dicts of at most *chunk_rows* rows."""
    path = Path(source)
    if not path.is_file():
        raise EdgeError(f"File {path} does not exist. Check the path.")
    suffix = path.suffix.lower()
    if suffix in (".jsonl", ".ndjson", ".json"):
        yield from _iter_jsonl(path, chunk_rows)
    elif suffix in (".parquet", ".pq"):
        raise EdgeError(
            f"{path}: the edge runtime reads CSV and JSON Lines only (no pyarrow on the device). "
            "Convert the file to CSV."
        )
    else:
        yield from _iter_csv(path, chunk_rows)


def _iter_csv(path: Path, chunk_rows: int) -> Iterator[dict[str, list[Any]]]:
    with path.open("r", encoding="utf-8-sig", newline="") as fh:
        sample = fh.read(64 * 1024)
        fh.seek(0)
        if path.suffix.lower() in (".tsv", ".tab"):
            delimiter = "\t"
        else:
            try:
                delimiter = csv.Sniffer().sniff(sample, delimiters=",;\t|").delimiter
            except csv.Error:
                delimiter = ","
        reader = csv.reader(fh, delimiter=delimiter)
        try:
            header = [h.strip() for h in next(reader)]
        except StopIteration:
            raise EdgeError(f"{path} is empty. Give a file with a header and rows.") from None
        rows: list[list[str]] = []
        for line in reader:
            if not line:
                continue
            rows.append(line)
            if len(rows) >= chunk_rows:
                yield _columns(header, rows, path)
                rows = []
        if rows:
            yield _columns(header, rows, path)


def _columns(header: list[str], rows: list[list[str]], path: Path) -> dict[str, list[Any]]:
    width = len(header)
    for line in rows:
        if len(line) != width:
            raise EdgeError(
                f"{path}: a row has {len(line)} fields but the header has {width}: {line[:6]}"
            )
    return {name: [r[j] for r in rows] for j, name in enumerate(header)}


def _iter_jsonl(path: Path, chunk_rows: int) -> Iterator[dict[str, list[Any]]]:
    records: list[dict[str, Any]] = []
    with path.open(encoding="utf-8") as fh:
        for lineno, line in enumerate(fh, 1):
            if not line.strip():
                continue
            try:
                records.append(json.loads(line))
            except json.JSONDecodeError as exc:
                raise EdgeError(f"{path}, line {lineno}: not a JSON object ({exc}).") from None
            if len(records) >= chunk_rows:
                yield _records_to_columns(records)
                records = []
    if records:
        yield _records_to_columns(records)


def _records_to_columns(records: list[dict[str, Any]]) -> dict[str, list[Any]]:
    names: dict[str, None] = {}
    for r in records:
        names.update(dict.fromkeys(r))
    return {n: [r.get(n) for r in records] for n in names}


def predict_file(
    model: EdgeModel | str | Path,
    source: str | Path,
    output: str | Path | TextIO | None = None,
    *,
    chunk_rows: int = DEFAULT_CHUNK_ROWS,
    keep: Sequence[str] = (),
) -> int:
    """Predict every row of a CSV or JSON Lines *source*; write CSV to *output* (stdout).

    A file output is written to a temporary file and renamed into place when every
    row is done. Returns the number of rows predicted.
    """
    edge = model if isinstance(model, EdgeModel) else EdgeModel(model)
    tmp: Path | None = None
    final: Path | None = None
    if output is None:
        fh: TextIO = sys.stdout
    elif isinstance(output, str | Path):
        final = Path(output)
        final.parent.mkdir(parents=True, exist_ok=True)
        tmp = final.with_name(f".{final.name}.{os.getpid()}.tmp")
        fh = tmp.open("w", encoding="utf-8", newline="")
    else:
        fh = output
    rows = 0
    try:
        writer = csv.writer(fh, lineterminator="\n")
        header_written = False
        for chunk in iter_rows(source, chunk_rows):
            missing_keep = [k for k in keep if k not in chunk]
            if missing_keep:
                raise EdgeError(f"--keep column(s) {missing_keep} are not in {source}.")
            pred = edge.predict_columns(chunk, f"{source} (rows {rows + 1}-)")
            cols = {k: np.asarray(chunk[k], dtype=object) for k in keep} | pred.columns()
            if not header_written:
                writer.writerow(list(cols))
                header_written = True
            writer.writerows(zip(*(_text(v) for v in cols.values()), strict=True))
            rows += len(pred)
        if not header_written:
            raise EdgeError(f"{source} has no rows to predict.")
        if tmp is not None and final is not None:
            fh.close()
            os.replace(tmp, final)
    except BaseException:
        if tmp is not None:
            fh.close()
            tmp.unlink(missing_ok=True)
        raise
    return rows


def _text(values: np.ndarray[Any, Any]) -> list[str]:
    if values.dtype.kind == "f":
        return [f"{v:.8g}" if v == v else "" for v in values.tolist()]
    return ["" if v is None else str(v) for v in values.tolist()]


def main(argv: Sequence[str] | None = None) -> int:
    """``python predict.py [MODEL] DATA [-o OUT]``: the package's stand-alone command."""
    parser = argparse.ArgumentParser(
        prog="predict.py",
        description="Predict with a loopml edge model (needs only onnxruntime and numpy).",
    )
    parser.add_argument("paths", nargs="+", help="[MODEL.onnx | PACKAGE_DIR] DATA.csv|DATA.jsonl")
    parser.add_argument("-o", "--output", help="Output CSV (default: standard output).")
    parser.add_argument("--quantized", action="store_true", help="Use the int8 model.")
    parser.add_argument("--chunk-rows", type=int, default=DEFAULT_CHUNK_ROWS)
    parser.add_argument("--keep", action="append", default=[], help="Input column to copy.")
    args = parser.parse_args(argv)
    if len(args.paths) == 1:
        model_path: Path = Path(__file__).resolve().parent
        data = args.paths[0]
    elif len(args.paths) == 2:
        model_path, data = Path(args.paths[0]), args.paths[1]
    else:
        parser.error("give DATA, or MODEL and DATA")
    try:
        model = EdgeModel(model_path, quantized=args.quantized)
        n = predict_file(model, data, args.output, chunk_rows=args.chunk_rows, keep=args.keep)
    except EdgeError as exc:
        print(f"Error: {exc}", file=sys.stderr)
        return 1
    if args.output:
        print(f"{n} predictions -> {args.output}", file=sys.stderr)
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
