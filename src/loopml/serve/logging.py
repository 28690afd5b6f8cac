"""Asynchronous prediction logging: every request is recorded without waiting for the store.

The request path only appends ``(request, outputs, latency)`` to an in-memory queue
(a few microseconds). A background thread takes what is queued every
``flush_interval`` seconds, packs it into a few numpy arrays and hands it to a writer
process (``python -m loopml.serve._logwriter``), which turns it into rows and writes
them to the store's prediction log, one transaction per batch. The costly part (a
dict per row, JSON, the insert) thus runs outside the server's GIL and at a lower
CPU priority. When the queue is full (the store is slow or down) entries are dropped
and counted, never waited for: serving comes first. A store that lives in memory, or
a writer process that cannot start or dies, is written from the thread instead.

Each request becomes one :class:`~loopml.store.PredictionLogRecord`: ``inputs`` are
the validated feature rows, ``outputs`` one ``{"prediction": ..., "proba_<class>":
...}`` object per row (the columns ``loopml predict`` writes).
"""

from __future__ import annotations

import logging
import subprocess
import sys
import threading
import time
from collections import deque
from typing import TYPE_CHECKING, Any

from loopml.serve import _logwriter

if TYPE_CHECKING:
    from loopml.serve.fastpath import Output
    from loopml.serve.inputs import Columns
    from loopml.store import Store

__all__ = ["PredictionLogger", "output_records"]

log = logging.getLogger("loopml.serve")


def output_records(output: Output, classes: list[str]) -> list[dict[str, Any]]:
    """One ``{"prediction", "proba_<class>"..., "score"}`` dict per row, JSON-ready."""
    return _logwriter.output_records(output.predictions, output.proba, classes, output.scores)


def _separate_process_ok(store: Any) -> bool:
    """Whether another process can open *store* (not an in-memory database)."""
    url = getattr(store, "url", None)
    if not isinstance(url, str) or not hasattr(store, "root"):
        return False
    from sqlalchemy.engine import make_url

    from loopml.store._engine import is_memory_sqlite

    return not is_memory_sqlite(make_url(url))


class PredictionLogger:
    """Write prediction logs to *store* without holding up requests.

    Parameters
    ----------
    store : Store
        Where the prediction log lives.
    max_queue : int, default 10000
        Requests waiting to be written at most; more are dropped (and counted).
    batch_size : int, default 512
        Requests handed to the writer at once at most.
    flush_interval : float, default 0.1
        Seconds the thread waits between hand-overs.
    process : bool or None, default None
        Write from a separate process (None: whenever another process can open
        *store*, that is unless it lives in memory).
    """

    def __init__(
        self,
        store: Store,
        *,
        max_queue: int = 10_000,
        batch_size: int = 512,
        flush_interval: float = 0.1,
        process: bool | None = None,
    ) -> None:
        self.store = store
        self.max_queue = max_queue
        self.batch_size = batch_size
        self.flush_interval = flush_interval
        self.process = _separate_process_ok(store) if process is None else process
        self.written = 0
        self.dropped = 0
        self.failed = 0
        # A deque drained on a timer: appending is atomic and wakes nobody, so a
        # request never hands the GIL to the logging thread.
        self._items: deque[_logwriter.Entry] = deque()
        self._thread: threading.Thread | None = None
        self._child: subprocess.Popen[bytes] | None = None
        self._stop = threading.Event()
        self._stopping = False
        self._busy = False

    @property
    def depth(self) -> int:
        """Requests waiting to be written."""
        return len(self._items)

    @property
    def in_process(self) -> bool:
        """Whether a writer process is taking the batches right now."""
        return self._child is not None

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
        meta = (name, int(version), time.time(), float(latency_ms), columns.n_rows, request_id)
        m = columns.matrix
        inputs: Any
        if m is not None and len(columns.matrix_names) == len(columns.data):
            inputs, names = m, columns.matrix_names  # keep one array, not the parsed batch
        else:
            inputs, names = columns, None
        self._items.append(
            (meta, inputs, names, output.predictions, output.proba, output.scores, classes)
        )
        return True

    def close(self, timeout: float = 10.0) -> None:
        """Write what is queued (up to *timeout* seconds), then stop the thread and writer."""
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
        if self.process:
            self._child = _start_writer(self.store)
        try:
            while True:
                stopping = self._stop.wait(self.flush_interval)
                self._drain()
                if stopping:
                    return
        finally:
            if self._child is not None:
                _stop_writer(self._child)
                self._child = None

    def _drain(self) -> None:
        # Only what was queued when the drain began: requests arriving during a write
        # wait for the next tick, so a busy server gets a few large transactions a
        # second instead of a stream of tiny ones (each costs ~0.3 ms of CPU).
        items = self._items
        left = len(items)
        while left:
            self._busy = True
            batch = [items.popleft() for _ in range(min(left, self.batch_size))]
            left -= len(batch)
            self._write(batch)
        self._busy = False

    def _write(self, batch: list[_logwriter.Entry]) -> None:
        try:
            packets = _logwriter.pack(batch)
        except Exception:
            self.failed += len(batch)
            log.exception("could not pack %d prediction log entries", len(batch))
            return
        child = self._child
        if child is not None:
            try:
                assert child.stdin is not None and child.stdout is not None
                _logwriter.write_frame(child.stdin, packets)
                written, failed = _logwriter.read_frame(child.stdout)
            except (EOFError, OSError, ValueError):
                log.warning(
                    "the prediction log writer process stopped (exit code %s); "
                    "writing from the server from now on",
                    child.poll(),
                )
                _stop_writer(child)
                self._child = None
            else:
                self.written += written
                self.failed += failed
                return
        try:
            self.written += _logwriter.write_packets(self.store, packets)
        except Exception:
            self.failed += len(batch)
            log.exception("could not write %d prediction log entries", len(batch))


def _start_writer(store: Store) -> subprocess.Popen[bytes] | None:
    """The writer process for *store*, ready to take batches; None if it cannot start."""
    try:
        child = subprocess.Popen(
            [sys.executable, "-m", "loopml.serve._logwriter"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
        )
    except OSError as exc:
        log.warning("could not start the prediction log writer (%s); using a thread", exc)
        return None
    assert child.stdin is not None and child.stdout is not None
    try:
        _logwriter.write_frame(child.stdin, {"url": store.url, "root": str(store.root)})
        if _logwriter.read_frame(child.stdout) == "ready":
            return child
    except (EOFError, OSError):
        pass
    log.warning(
        "the prediction log writer did not start (exit code %s); using a thread", child.poll()
    )
    _stop_writer(child)
    return None


def _stop_writer(child: subprocess.Popen[bytes], timeout: float = 10.0) -> None:
    """Close the writer's stdin (it ends after the batch in hand) and reap it."""
    for stream in (child.stdin, child.stdout):
        if stream is not None:
            try:
                stream.close()
            except OSError:
                pass
    try:
        child.wait(timeout)
    except subprocess.TimeoutExpired:
        child.kill()
        child.wait()
