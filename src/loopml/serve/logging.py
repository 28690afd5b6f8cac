"""Asynchronous prediction logging: every request is recorded without waiting for the store.

The request path only appends ``(request, outputs, latency)`` to an in-memory queue
(a few microseconds). A background thread turns entries into rows and writes them to
the store's prediction log in batches, one transaction per batch, so that logging
costs the endpoint almost nothing. When the queue is full (the store is slow or
down) entries are dropped and counted, never waited for: serving comes first.

Each request becomes one :class:`~loopml.store.PredictionLogRecord`: ``inputs`` are
the validated feature rows, ``outputs`` one ``{"prediction": ..., "proba_<class>":
...}`` object per row (the columns ``loopml predict`` writes).
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import numpy as np
import orjson

if TYPE_CHECKING:
    from loopml.serve.fastpath import Output
    from loopml.serve.inputs import Columns
    from loopml.store import Store

__all__ = ["PredictionLogger", "output_records"]

log = logging.getLogger("loopml.serve")


@dataclass
class _Entry:
    name: str
    version: int
    columns: Columns
    output: Output
    classes: list[str]
    latency_ms: float
    request_id: str | None
    at: float


def output_records(output: Output, classes: list[str]) -> list[dict[str, Any]]:
    """One ``{"prediction", "proba_<class>"...}`` dict per row, JSON-ready."""
    preds = output.predictions
    values = preds.tolist()
    if preds.dtype.kind == "f":
        values = [None if v != v or v in (float("inf"), float("-inf")) else v for v in values]
    columns: dict[str, list[Any]] = {"prediction": values}
    if output.proba is not None:
        proba = np.where(np.isfinite(output.proba), output.proba, np.nan)
        for j, cls in enumerate(classes):
            columns[f"proba_{cls}"] = [None if v != v else v for v in proba[:, j].tolist()]
    names = list(columns)
    return [dict(zip(names, row, strict=True)) for row in zip(*columns.values(), strict=True)]


class PredictionLogger:
    """Write prediction logs to *store* from a background thread.

    Parameters
    ----------
    store : Store
        Where the prediction log lives.
    max_queue : int, default 10000
        Requests waiting to be written at most; more are dropped (and counted).
    batch_size : int, default 64
        Requests written per transaction at most (small batches keep each hold of
        the GIL short, so the event loop is never kept waiting for long).
    flush_interval : float, default 0.1
        Seconds the thread waits to fill a batch before writing what it has.
    """

    def __init__(
        self,
        store: Store,
        *,
        max_queue: int = 10_000,
        batch_size: int = 64,
        flush_interval: float = 0.1,
    ) -> None:
        self.store = store
        self.max_queue = max_queue
        self.batch_size = batch_size
        self.flush_interval = flush_interval
        self.written = 0
        self.dropped = 0
        self.failed = 0
        # A deque drained on a timer: appending is atomic and wakes nobody, so a
        # request never hands the GIL to the logging thread.
        self._items: deque[_Entry] = deque()
        self._thread: threading.Thread | None = None
        self._stop = threading.Event()
        self._stopping = False
        self._busy = False

    @property
    def depth(self) -> int:
        """Requests waiting to be written."""
        return len(self._items)

    def start(self) -> None:
        if self._thread is None:
            self._thread = threading.Thread(
                target=self._run, name="loopml-prediction-log", daemon=True
            )
            self._thread.start()

    def log(
        self,
        name: str,
        version: int,
        columns: Columns,
        output: Output,
        classes: list[str],
        *,
        latency_ms: float,
        request_id: str | None = None,
    ) -> bool:
        """Queue one request for the log; False (and counted) if the queue is full."""
        if self._stopping or len(self._items) >= self.max_queue:
            self.dropped += 1
            return False
        self._items.append(
            _Entry(name, version, columns, output, classes, latency_ms, request_id, time.time())
        )
        return True

    def close(self, timeout: float = 10.0) -> None:
        """Write what is queued (up to *timeout* seconds), then stop the thread."""
        self._stopping = True
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None

    def flush(self, timeout: float = 10.0) -> bool:
        """Wait until everything queued so far is written (for tests and shutdown)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if not self._items and not self._busy:
                return True
            time.sleep(0.01)
        return False

    def _run(self) -> None:
        while True:
            stopping = self._stop.wait(self.flush_interval)
            self._drain()
            if stopping:
                return

    def _drain(self) -> None:
        items = self._items
        while items:
            self._busy = True
            batch: list[_Entry] = []
            while items and len(batch) < self.batch_size:
                batch.append(items.popleft())
            self._write(batch)
        self._busy = False

    def _write(self, batch: list[_Entry]) -> None:
        try:
            inputs = _input_records(batch)
            outputs = _output_records(batch)
            _writer(self.store)(batch, inputs, outputs)
            self.written += len(batch)
        except Exception:
            self.failed += len(batch)
            log.exception("could not write %d prediction log entries", len(batch))


def _runs(batch: list[_Entry], key: Any) -> list[list[_Entry]]:
    """Consecutive entries with the same key, so each run converts as one array."""
    runs: list[list[_Entry]] = []
    last: Any = object()
    for e in batch:
        k = key(e)
        if k is None or k != last or not runs:
            runs.append([e])
        else:
            runs[-1].append(e)
        last = k
    return runs


def _split(items: list[Any], batch: list[_Entry]) -> list[list[Any]]:
    out, start = [], 0
    for e in batch:
        n = e.columns.n_rows
        out.append(items[start : start + n])
        start += n
    return out


def _input_records(batch: list[_Entry]) -> list[list[dict[str, Any]]]:
    """Each entry's rows as dicts; clean numeric batches are converted in one go."""

    def key(e: _Entry) -> Any:
        c = e.columns
        whole = c.matrix is not None and len(c.matrix_names) == len(c.data)
        return c.matrix_names if whole else None

    out: list[list[dict[str, Any]]] = []
    for run in _runs(batch, key):
        names = run[0].columns.matrix_names
        if key(run[0]) is None:
            out.extend(e.columns.records() for e in run)
            continue
        matrices = [e.columns.matrix for e in run if e.columns.matrix is not None]
        values = np.concatenate(matrices).tolist() if len(matrices) > 1 else matrices[0].tolist()
        records = [dict(zip(names, row, strict=True)) for row in values]  # finite by construction
        out.extend(_split(records, run))
    return out


def _output_records(batch: list[_Entry]) -> list[list[dict[str, Any]]]:
    def key(e: _Entry) -> Any:
        o = e.output
        return (tuple(e.classes), o.predictions.dtype.kind, o.proba is None)

    out: list[list[dict[str, Any]]] = []
    for run in _runs(batch, key):
        if len(run) == 1:
            out.append(output_records(run[0].output, run[0].classes))
            continue
        from loopml.serve.fastpath import Output

        proba = (
            None
            if run[0].output.proba is None
            else np.concatenate([e.output.proba for e in run if e.output.proba is not None])
        )
        merged = Output(np.concatenate([e.output.predictions for e in run]), proba)
        out.extend(_split(output_records(merged, run[0].classes), run))
    return out


Records = list[list[dict[str, Any]]]
Writer = Any
_WRITERS: dict[int, Writer] = {}
_SQLITE_INSERT = (
    "INSERT INTO loopml_prediction_logs "
    "(name, version, at, latency_ms, n_rows, inputs, outputs, request_id) "
    "VALUES (?, ?, ?, ?, ?, ?, ?, ?)"
)


def _writer(store: Store) -> Writer:
    """A function writing one batch of entries to *store* in one transaction.

    On SQLite the rows go straight to the driver (JSON encoded by orjson, timestamps
    as the naive-UTC text the store reads back): several times less Python per row
    than the generic path, which matters because the writer shares the GIL with the
    event loop. Other databases get a SQLAlchemy insert into the store's own table.
    """
    found = _WRITERS.get(id(store.engine))
    if found is not None:
        return found
    dumps = orjson.dumps

    if store.engine.dialect.name == "sqlite":

        def write(batch: list[_Entry], inputs: Records, outputs: Records) -> None:
            rows = [
                (
                    e.name,
                    int(e.version),
                    datetime.fromtimestamp(e.at, UTC).strftime("%Y-%m-%d %H:%M:%S.%f"),
                    float(e.latency_ms),
                    e.columns.n_rows,
                    dumps(i).decode(),
                    dumps(o).decode(),
                    e.request_id,
                )
                for e, i, o in zip(batch, inputs, outputs, strict=True)
            ]
            store._write(
                lambda s: s.connection().exec_driver_sql(_SQLITE_INSERT, rows), "log predictions"
            )

    else:
        from sqlalchemy import insert

        from loopml.store.tables import PredictionLogRow

        table: Any = PredictionLogRow.__table__

        def write(batch: list[_Entry], inputs: Records, outputs: Records) -> None:
            rows = [
                {
                    "name": e.name,
                    "version": int(e.version),
                    "at": datetime.fromtimestamp(e.at, UTC),
                    "latency_ms": float(e.latency_ms),
                    "n_rows": e.columns.n_rows,
                    "inputs": i,
                    "outputs": o,
                    "request_id": e.request_id,
                }
                for e, i, o in zip(batch, inputs, outputs, strict=True)
            ]
            store._write(lambda s: s.execute(insert(table), rows), "log predictions")

    _WRITERS[id(store.engine)] = write
    return write
