"""The writing half of the prediction log: batches in, rows in the store out.

:class:`~loopml.serve.logging.PredictionLogger` packs queued requests into
:class:`Packet` objects: consecutive requests with the same columns and classes
share one concatenated input matrix and one output array, so a packet of hundreds
of requests pickles in a few numpy buffers. A packet is written either in the
serving process (:func:`write_packets`) or, by default, in a child process started
with ``python -m loopml.serve._logwriter``, which reads length-prefixed pickles from
its stdin and answers each with ``(written, failed)`` on its stdout. The child does
the costly part (one dict per row, JSON encoding, the insert) outside the server's
GIL, at a lower CPU priority: serving comes first.
"""

from __future__ import annotations

import logging
import os
import pickle
import struct
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import IO, TYPE_CHECKING, Any

import numpy as np
import orjson

if TYPE_CHECKING:
    from loopml.store import Store

__all__ = [
    "Entry",
    "Packet",
    "output_records",
    "pack",
    "read_frame",
    "write_frame",
    "write_packets",
]

log = logging.getLogger("loopml.serve")

Array = np.ndarray[Any, Any]
#: ``(name, version, at, latency_ms, n_rows, request_id)`` of one request.
Meta = tuple[str, int, float, float, int, str | None]
_HEADER = struct.Struct("<Q")


@dataclass
class Packet:
    """Requests sharing their input columns and output shape, arrays concatenated."""

    meta: list[Meta]
    #: Input column names in schema order.
    names: tuple[str, ...]
    #: The numeric columns read as one matrix (their names in ``matrix_names``).
    matrix: Array | None
    matrix_names: tuple[str, ...]
    #: Every other input column, concatenated.
    columns: dict[str, Array]
    classes: list[str]
    predictions: Array
    proba: Array | None
    scores: Array | None = None


#: One queued request, as :meth:`PredictionLogger.log` keeps it: ``(meta, inputs, names,
#: predictions, proba, scores, classes)``. ``inputs`` is the request's feature matrix
#: when every column is in it (``names`` are then its columns), else its ``Columns``
#: (``names`` None). Only a few arrays stay alive per request, not the parsed batch.
Entry = tuple[Meta, Any, "tuple[str, ...] | None", Array, "Array | None", "Array | None", list[str]]


def _key(e: Entry) -> tuple[Any, ...]:
    """What entries must share to be packed together (compared, never hashed)."""
    _, inputs, names, predictions, proba, scores, classes = e
    shape: Any = names
    if names is None:
        shape = (tuple(inputs.data), inputs.matrix_names if inputs.matrix is not None else None)
    return (
        shape,
        classes,
        predictions.dtype,
        None if proba is None else proba.shape[1],
        scores is None,
    )


def pack(entries: Sequence[Entry]) -> list[Packet]:
    """Group consecutive queued requests into packets."""
    packets: list[Packet] = []
    run: list[Entry] = []
    last: Any = None
    for e in entries:
        key = _key(e)
        if run and key != last:
            packets.append(_packet(run))
            run = []
        run.append(e)
        last = key
    if run:
        packets.append(_packet(run))
    return packets


def _cat(arrays: list[Array]) -> Array:
    return arrays[0] if len(arrays) == 1 else np.concatenate(arrays)


def _packet(run: list[Entry]) -> Packet:
    _, first, names, _, proba, scores, classes = run[0]
    columns: dict[str, Array] = {}
    if names is not None:
        matrix: Array | None = _cat([e[1] for e in run])
        matrix_names = names
    else:
        matrix_names = first.matrix_names if first.matrix is not None else ()
        matrix = None if first.matrix is None else _cat([e[1].matrix for e in run])
        in_matrix = set(matrix_names)
        names = tuple(first.data)
        columns = {n: _cat([e[1].data[n] for e in run]) for n in names if n not in in_matrix}
    return Packet(
        meta=[e[0] for e in run],
        names=names,
        matrix=matrix,
        matrix_names=matrix_names,
        columns=columns,
        classes=list(classes),
        predictions=_cat([e[3] for e in run]),
        proba=None if proba is None else _cat([e[4] for e in run if e[4] is not None]),
        scores=None if scores is None else _cat([e[5] for e in run if e[5] is not None]),
    )


# -- rows ------------------------------------------------------------------------------


def _json_values(arr: Array) -> list[Any]:
    """JSON-ready values of *arr*: NaN and infinities become None."""
    values: list[Any] = arr.tolist()
    if arr.dtype.kind == "f":
        if not np.isfinite(arr).all():
            return [v if v == v and v not in (np.inf, -np.inf) else None for v in values]
        return values
    return [None if isinstance(v, float) and v != v else v for v in values]


def output_records(
    predictions: Array, proba: Array | None, classes: Sequence[str], scores: Array | None = None
) -> list[dict[str, Any]]:
    """One ``{"prediction", "proba_<class>"..., "score"}`` dict per row, JSON-ready."""
    columns: dict[str, list[Any]] = {"prediction": _json_values(predictions)}
    if proba is not None:
        for j, cls in enumerate(classes):
            columns[f"proba_{cls}"] = _json_values(proba[:, j])
    if scores is not None:
        columns["score"] = _json_values(scores)
    names = list(columns)
    return [dict(zip(names, row, strict=True)) for row in zip(*columns.values(), strict=True)]


def _input_records(p: Packet) -> list[dict[str, Any]]:
    lists: dict[str, list[Any]] = {}
    if p.matrix is not None:
        # The parser only builds the matrix from finite values, so no NaN check.
        by_column = p.matrix.T.tolist()
        lists.update(zip(p.matrix_names, by_column, strict=True))
    for n, arr in p.columns.items():
        lists[n] = _json_values(arr)
    names = list(p.names)
    return [
        dict(zip(names, row, strict=True)) for row in zip(*(lists[n] for n in names), strict=True)
    ]


def _split(rows: list[Any], meta: list[Meta]) -> list[list[Any]]:
    out, start = [], 0
    for m in meta:
        out.append(rows[start : start + m[4]])
        start += m[4]
    return out


# -- the store -------------------------------------------------------------------------

_SQLITE_INSERT = (
    "INSERT INTO loopml_prediction_logs "
    "(name, version, at, latency_ms, n_rows, inputs, outputs, request_id) "
    "VALUES (?, ?, ?, ?, ?, ?, ?, ?)"
)


def write_packets(store: Store, packets: Sequence[Packet]) -> int:
    """Write every request in *packets* to *store* in one transaction; the count written.

    On SQLite the rows go straight to the driver (JSON encoded by orjson, timestamps
    as the naive-UTC text the store reads back): several times less Python per row
    than the generic path. Other databases get a SQLAlchemy insert into the store's
    own table.
    """
    rows: list[tuple[Meta, list[Any], list[Any]]] = []
    for p in packets:
        inputs = _split(_input_records(p), p.meta)
        outputs = _split(output_records(p.predictions, p.proba, p.classes, p.scores), p.meta)
        rows.extend(zip(p.meta, inputs, outputs, strict=True))
    if not rows:
        return 0
    if store.engine.dialect.name == "sqlite":
        dumps = orjson.dumps
        params = [
            (
                name,
                version,
                _naive_utc(at),
                latency,
                n,
                dumps(i).decode(),
                dumps(o).decode(),
                rid,
            )
            for (name, version, at, latency, n, rid), i, o in rows
        ]
        store._write(
            lambda s: s.connection().exec_driver_sql(_SQLITE_INSERT, params), "log predictions"
        )
    else:
        from sqlalchemy import insert

        from loopml.store.tables import PredictionLogRow

        table: Any = PredictionLogRow.__table__
        dicts = [
            {
                "name": name,
                "version": version,
                "at": datetime.fromtimestamp(at, UTC),
                "latency_ms": latency,
                "n_rows": n,
                "inputs": i,
                "outputs": o,
                "request_id": rid,
            }
            for (name, version, at, latency, n, rid), i, o in rows
        ]
        store._write(lambda s: s.execute(insert(table), dicts), "log predictions")
    return len(rows)


def _naive_utc(at: float) -> str:
    """*at* as the naive-UTC text SQLite rows hold (isoformat is ~10x faster than strftime)."""
    return datetime.fromtimestamp(at, UTC).replace(tzinfo=None).isoformat(" ", "microseconds")


# -- the pipe --------------------------------------------------------------------------


def write_frame(stream: IO[bytes], obj: Any) -> None:
    """Send *obj* as one length-prefixed pickle."""
    data = pickle.dumps(obj, protocol=pickle.HIGHEST_PROTOCOL)
    stream.write(_HEADER.pack(len(data)) + data)
    stream.flush()


def read_frame(stream: IO[bytes]) -> Any:
    """The next object :func:`write_frame` sent; EOFError when the pipe closed."""
    header = stream.read(_HEADER.size)
    if len(header) < _HEADER.size:
        raise EOFError
    (size,) = _HEADER.unpack(header)
    data = stream.read(size)
    if len(data) < size:
        raise EOFError
    return pickle.loads(data)


def _lower_priority() -> None:
    """Serving comes first: the writer runs niced, so a busy CPU goes to the server."""
    if hasattr(os, "nice"):
        try:
            os.nice(10)
        except OSError:  # pragma: no cover - not allowed here; run at normal priority
            pass


def main() -> None:
    """The child process: open the store named by the first frame, then write batches.

    Each frame after the first is a list of packets, answered by ``(written,
    failed)``. The process ends when its stdin closes (the server stopped or died).
    """
    import signal

    logging.basicConfig(format="%(levelname)s: loopml prediction log: %(message)s")
    # Ctrl-C and a stop signal sent to the whole process group are the server's to
    # handle: the writer ends when the server closes the pipe, after the last batch.
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, signal.SIG_IGN)
    _lower_priority()
    stdin, stdout = sys.stdin.buffer, sys.stdout.buffer
    sys.stdout = sys.stderr  # nothing else may write to the answer pipe

    from loopml.store import Store

    try:
        opening = read_frame(stdin)
        store = Store(opening["url"], root=opening["root"])
    except EOFError:
        return
    write_frame(stdout, "ready")
    while True:
        try:
            packets = read_frame(stdin)
        except EOFError:
            break
        n = sum(len(p.meta) for p in packets)
        try:
            answer = (write_packets(store, packets), 0)
        except Exception:
            log.exception("could not write %d prediction log entries", n)
            answer = (0, n)
        try:
            write_frame(stdout, answer)
        except (BrokenPipeError, OSError):
            break
    store.close()


if __name__ == "__main__":
    main()
