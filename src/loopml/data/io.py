"""Reading data: CSV/TSV (delimiter and encoding sniffed), Parquet, JSON Lines,
DataFrames, and ``builtin:NAME`` datasets that ship with scikit-learn.

Every failure becomes a :class:`~loopml.exceptions.DataError` that names the file
and says how to fix it.
"""

from __future__ import annotations

import csv
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

from loopml.exceptions import DataError

if TYPE_CHECKING:
    import pandas as pd
    import pyarrow as pa

__all__ = ["BUILTIN_DATASETS", "describe_source", "iter_chunks", "load", "source_name"]

BUILTIN_DATASETS = ("breast_cancer", "wine", "iris", "digits", "diabetes")
_SNIFF_BYTES = 64 * 1024
_CSV_SUFFIXES = {".csv", ".tsv", ".txt", ".tab"}
_PARQUET_SUFFIXES = {".parquet", ".pq"}
_JSONL_SUFFIXES = {".jsonl", ".ndjson", ".json"}


def source_name(source: Any) -> str:
    """A short name for a source: the file's stem, the builtin's name, or 'data'."""
    if isinstance(source, str) and source.startswith("builtin:"):
        return source.split(":", 1)[1]
    if isinstance(source, str | Path):
        p = Path(source)
        return p.stem if p.suffix else p.name
    return "data"


def describe_source(source: Any) -> str:
    """How error messages name a source."""
    if isinstance(source, str | Path):
        return str(source)
    return "the DataFrame"


def load(
    source: Any,
    *,
    encoding: str | None = None,
    delimiter: str | None = None,
    nrows: int | None = None,
) -> pd.DataFrame:
    """Load a dataset as a DataFrame.

    Parameters
    ----------
    source : str, Path or DataFrame
        A CSV/TSV, Parquet or JSON Lines file, a directory of Parquet/CSV
        partitions, a DataFrame (returned as a copy), or ``"builtin:NAME"`` with
        NAME one of breast_cancer, wine, iris, digits, diabetes (column
        ``target`` holds the label).
    encoding, delimiter : str, optional
        Override the sniffed CSV encoding and delimiter.
    nrows : int, optional
        Read at most this many rows.

    Examples
    --------
    >>> df = load("builtin:iris")
    >>> df.shape
    (150, 5)
    """
    import pandas as pd

    if isinstance(source, pd.DataFrame):
        df = source.copy()
        _check_columns(df, "the DataFrame")
        return df.head(nrows) if nrows is not None else df
    if isinstance(source, str) and source.startswith("builtin:"):
        df = load_builtin(source.split(":", 1)[1])
        return df.head(nrows) if nrows is not None else df
    path = _existing_path(source)
    if path.is_dir():
        parts = _partition_files(path)
        frames = [load(p, encoding=encoding, delimiter=delimiter) for p in parts]
        df = pd.concat(frames, ignore_index=True)
        return df.head(nrows) if nrows is not None else df
    kind = _kind(path)
    if kind == "parquet":
        df = _read_parquet(path)
    elif kind == "jsonl":
        df = _read_jsonl(path)
    else:
        df = _read_csv(path, encoding=encoding, delimiter=delimiter)
    if nrows is not None:
        df = df.head(nrows)
    return df


def iter_chunks(
    source: Any,
    chunk_rows: int = 100_000,
    *,
    columns: dict[str, str] | None = None,
    encoding: str | None = None,
    delimiter: str | None = None,
) -> Iterator[pd.DataFrame]:
    """Yield *source* as DataFrames of at most *chunk_rows* rows, with bounded memory.

    *columns* maps known column names to ``"float64"`` or ``"string"`` so that
    every chunk of a CSV gets the same types, whatever its first block holds.
    """
    import pandas as pd

    if isinstance(source, pd.DataFrame) or (
        isinstance(source, str) and source.startswith("builtin:")
    ):
        df = load(source)
        for start in range(0, len(df), chunk_rows):
            yield df.iloc[start : start + chunk_rows]
        return
    path = _existing_path(source)
    if path.is_dir():
        for part in _partition_files(path):
            yield from iter_chunks(
                part, chunk_rows, columns=columns, encoding=encoding, delimiter=delimiter
            )
        return
    kind = _kind(path)
    if kind == "parquet":
        import pyarrow.parquet as pq

        try:
            pf = pq.ParquetFile(path)
        except Exception as exc:
            raise DataError(f"Cannot read {path} as Parquet: {exc}") from None
        if pf.metadata.num_rows == 0:
            raise DataError(f"{path} has no rows. Give a file with at least one data row.")
        for batch in pf.iter_batches(batch_size=chunk_rows):
            yield batch.to_pandas()
    elif kind == "jsonl":
        try:
            reader = pd.read_json(path, lines=True, chunksize=chunk_rows)
            yield from reader
        except ValueError as exc:
            raise DataError(f"Cannot read {path} as JSON Lines: {exc}") from None
    else:
        yield from _iter_csv(path, chunk_rows, columns, encoding, delimiter)


# -- builtin datasets -------------------------------------------------------------


def load_builtin(name: str) -> pd.DataFrame:
    """Load one of scikit-learn's bundled datasets; the label is the ``target`` column."""
    import sklearn.datasets as skd

    if name not in BUILTIN_DATASETS:
        import difflib

        close = difflib.get_close_matches(name, BUILTIN_DATASETS, n=1)
        hint = f" Did you mean 'builtin:{close[0]}'?" if close else ""
        raise DataError(
            f"Unknown builtin dataset '{name}'. Available: "
            f"{', '.join('builtin:' + b for b in BUILTIN_DATASETS)}.{hint}"
        )
    bunch = getattr(skd, f"load_{name}")(as_frame=True)
    df: pd.DataFrame = bunch.frame.copy()
    df.columns = [str(c) for c in df.columns]
    names = getattr(bunch, "target_names", None)
    if name in ("breast_cancer", "wine", "iris") and names is not None:
        df["target"] = [str(names[i]) for i in df["target"]]
    return df


# -- file helpers ---------------------------------------------------------------------


def _existing_path(source: Any) -> Path:
    if not isinstance(source, str | Path):
        raise DataError(
            f"Cannot load data from a {type(source).__name__}. Give a file path, "
            "a directory of partitions, a pandas DataFrame, or 'builtin:NAME'."
        )
    path = Path(source)
    if not path.exists():
        raise DataError(f"File {path} does not exist. Check the path (relative to {Path.cwd()}).")
    if path.is_file() and path.stat().st_size == 0:
        raise DataError(f"{path} is empty (0 bytes). Give a file with a header and data rows.")
    return path


def _kind(path: Path) -> str:
    suffix = path.suffix.lower()
    if suffix in _PARQUET_SUFFIXES:
        return "parquet"
    if suffix in _JSONL_SUFFIXES:
        return "jsonl"
    if suffix in _CSV_SUFFIXES or suffix == "":
        return "csv"
    with path.open("rb") as fh:
        if fh.read(4) == b"PAR1":
            return "parquet"
    return "csv"


def _partition_files(path: Path) -> list[Path]:
    files = sorted(
        p
        for p in path.rglob("*")
        if p.is_file()
        and p.suffix.lower() in _PARQUET_SUFFIXES | _CSV_SUFFIXES | _JSONL_SUFFIXES
        and not p.name.startswith((".", "_"))
    )
    if not files:
        raise DataError(
            f"Directory {path} holds no .parquet, .csv or .jsonl files. "
            "Point at a file or a directory of partitions."
        )
    return files


def _check_columns(df: pd.DataFrame, where: str) -> None:
    cols = [str(c) for c in df.columns]
    dupes = sorted({c for c in cols if cols.count(c) > 1})
    if dupes:
        raise DataError(
            f"{where} has duplicate column names: {', '.join(repr(d) for d in dupes)}. "
            "Rename them so that every column name is unique."
        )
    if len(df.columns) == 0:
        raise DataError(f"{where} has no columns.")


def _read_parquet(path: Path) -> pd.DataFrame:
    import pyarrow.parquet as pq

    try:
        table = pq.read_table(path)
    except Exception as exc:
        raise DataError(f"Cannot read {path} as Parquet: {exc}") from None
    _check_names(table.column_names, path)
    if table.num_rows == 0:
        raise DataError(f"{path} has columns but no rows. Give a file with data rows.")
    df: pd.DataFrame = table.to_pandas()
    return df


def _read_jsonl(path: Path) -> pd.DataFrame:
    import pandas as pd

    try:
        df = pd.read_json(path, lines=True)
    except ValueError as exc:
        raise DataError(
            f"Cannot read {path} as JSON Lines (one JSON object per line): {exc}"
        ) from None
    if len(df) == 0:
        raise DataError(f"{path} holds no records.")
    _check_columns(df, str(path))
    return df


def _check_names(names: list[str], path: Path) -> None:
    dupes = sorted({c for c in names if names.count(c) > 1})
    if dupes:
        raise DataError(
            f"{path} has duplicate column names: {', '.join(repr(d) for d in dupes)}. "
            "Rename them so that every column name is unique."
        )


def sniff_csv(
    path: Path, encoding: str | None = None, delimiter: str | None = None
) -> tuple[str, str, list[str]]:
    """Return (encoding, delimiter, header names) of a delimited text file."""
    with path.open("rb") as fh:
        raw = fh.read(_SNIFF_BYTES)
    if encoding is None:
        encoding = _sniff_encoding(raw, path)
    text = raw.decode(encoding, errors="ignore")
    lines = text.splitlines()
    while lines and not lines[0].strip():
        lines.pop(0)
    if not lines:
        raise DataError(f"{path} holds only blank lines. Give a file with a header and rows.")
    if delimiter is None:
        delimiter = _sniff_delimiter(lines, path)
    header = next(csv.reader([lines[0]], delimiter=delimiter))
    header = [h.strip() for h in header]
    _check_names(header, path)
    if "" in header:
        pos = header.index("") + 1
        raise DataError(
            f"{path}: column {pos} of the header has no name. Give every column a name."
        )
    return encoding, delimiter, header


def _sniff_encoding(raw: bytes, path: Path) -> str:
    if raw.startswith((b"\xff\xfe", b"\xfe\xff")):
        return "utf-16"
    if raw.startswith(b"\xef\xbb\xbf"):
        return "utf-8-sig"
    if b"\x00" in raw:
        raise DataError(
            f"{path} is not readable text: it contains NUL bytes (a binary file, or UTF-16/32 "
            "without a byte-order mark). Save it as UTF-8 CSV, or pass the encoding "
            "(--encoding / encoding=...)."
        )
    # A cut at _SNIFF_BYTES can split a multi-byte character: allow 3 bytes of slack.
    for enc in ("utf-8", "cp1252"):
        try:
            raw.decode(enc)
            return enc
        except UnicodeDecodeError as exc:
            if enc == "utf-8" and exc.start >= len(raw) - 3:
                return enc
    raise DataError(
        f"{path} is neither UTF-8 nor Windows-1252 text and its encoding could not be "
        "guessed. Save it as UTF-8, or pass the encoding (--encoding / encoding=...)."
    )


def _sniff_delimiter(lines: list[str], path: Path) -> str:
    if path.suffix.lower() in (".tsv", ".tab"):
        return "\t"
    sample = "\n".join(lines[:50])
    try:
        return csv.Sniffer().sniff(sample, delimiters=",;\t|").delimiter
    except csv.Error:
        counts = {d: lines[0].count(d) for d in ",;\t|"}
        best = max(counts, key=lambda d: counts[d])
        return best if counts[best] > 0 else ","


def _csv_options(
    path: Path, encoding: str, delimiter: str, column_types: dict[str, Any] | None = None
) -> tuple[Any, Any, Any]:
    import pyarrow.csv as pacsv

    read = pacsv.ReadOptions(encoding=encoding, block_size=1 << 22)
    parse = pacsv.ParseOptions(delimiter=delimiter, newlines_in_values=False)
    convert = pacsv.ConvertOptions(
        column_types=column_types or {},
        strings_can_be_null=True,
        null_values=["", "NA", "N/A", "NaN", "nan", "null", "NULL", "None", "#N/A", "?"],
    )
    return read, parse, convert


def _read_csv(path: Path, *, encoding: str | None, delimiter: str | None) -> pd.DataFrame:
    import pyarrow as pa
    import pyarrow.csv as pacsv

    enc, delim, header = sniff_csv(path, encoding, delimiter)
    read, parse, convert = _csv_options(path, enc, delim)
    try:
        table = pacsv.read_csv(
            path, read_options=read, parse_options=parse, convert_options=convert
        )
    except pa.ArrowInvalid as exc:
        raise _csv_error(path, exc, len(header)) from None
    except UnicodeDecodeError:
        raise DataError(
            f"{path} could not be decoded as {enc}. Pass the file's encoding "
            "(--encoding / encoding=...), or save it as UTF-8."
        ) from None
    if table.num_rows == 0:
        raise DataError(
            f"{path} has a header ({', '.join(header[:5])}{'...' if len(header) > 5 else ''}) "
            "but no data rows. Give a file with at least one data row."
        )
    return _table_to_frame(table)


def _table_to_frame(table: pa.Table) -> pd.DataFrame:
    import pyarrow as pa

    # Columns pyarrow could only type as null (all empty) come back as object NaN.
    df: pd.DataFrame = table.to_pandas()
    for name, typ in zip(table.column_names, table.schema.types, strict=True):
        if pa.types.is_null(typ):
            df[name] = df[name].astype("float64")
    return df


def _csv_error(path: Path, exc: Exception, n_header: int) -> DataError:
    msg = str(exc)
    if "Expected" in msg and "columns" in msg:
        detail = msg.split("CSV parse error:", 1)[-1].strip()
        return DataError(
            f"{path} has ragged rows: the header has {n_header} columns but a row does not "
            f"({detail}). Fix or remove that row, or quote fields that contain the delimiter."
        )
    if "invalid UTF8" in msg or "decode" in msg.lower():
        return DataError(
            f"{path} is not valid text in the sniffed encoding. Pass the file's encoding "
            "(--encoding / encoding=...), or save it as UTF-8."
        )
    return DataError(f"Cannot parse {path} as delimited text: {msg}")


def _iter_csv(
    path: Path,
    chunk_rows: int,
    columns: dict[str, str] | None,
    encoding: str | None,
    delimiter: str | None,
) -> Iterator[pd.DataFrame]:
    import pyarrow as pa
    import pyarrow.csv as pacsv

    enc, delim, header = sniff_csv(path, encoding, delimiter)
    types: dict[str, Any] = {}
    for name, kind in (columns or {}).items():
        if name in header:
            types[name] = pa.float64() if kind == "float64" else pa.string()
    read, parse, convert = _csv_options(path, enc, delim, types)
    # Unknown columns come as strings so a late odd value cannot break the stream.
    for name in header:
        if name not in types:
            types[name] = pa.string()
    convert.column_types = types
    try:
        reader = pacsv.open_csv(
            path, read_options=read, parse_options=parse, convert_options=convert
        )
        pending: list[pa.RecordBatch] = []
        n_pending = 0
        any_rows = False
        for batch in reader:
            pending.append(batch)
            n_pending += batch.num_rows
            while n_pending >= chunk_rows:
                table = pa.Table.from_batches(pending)
                yield table.slice(0, chunk_rows).to_pandas()
                rest = table.slice(chunk_rows)
                pending = rest.to_batches()
                n_pending = rest.num_rows
                any_rows = True
        if n_pending:
            any_rows = True
            yield pa.Table.from_batches(pending).to_pandas()
    except pa.ArrowInvalid as exc:
        # A bad float in a column typed float64: say which column and value.
        raise _chunk_type_error(path, exc, header) from None
    if not any_rows:
        raise DataError(f"{path} has a header but no data rows.")


def _chunk_type_error(path: Path, exc: Exception, header: list[str]) -> DataError:
    import re

    msg = str(exc)
    found = re.search(r"In CSV column #(\d+): .*?invalid value '(.*)'", msg)
    if found:
        col = header[int(found.group(1))]
        return DataError(
            f"{path}: column '{col}' must be numeric, as it was in training; found the "
            f"value {found.group(2)!r}. Fix the value, or leave it empty (missing values "
            "are imputed)."
        )
    return _csv_error(path, exc, len(header))
