"""Micro-batching: concurrent requests share one model call.

A pipeline call costs about the same for 1 row as for 64, so when requests
overlap, the endpoint predicts them together. The batcher runs one model call at a
time in a worker thread (the event loop keeps reading requests meanwhile); whatever
arrives while a call runs forms the next batch, up to ``max_rows`` rows. An idle
server therefore adds no delay, and a busy one batches as much as its load allows.
A batch also waits up to ``max_wait_ms`` for requests that are already being read
(announced with :meth:`MicroBatcher.expect`), so that they join it.

If a combined call fails, each request of the batch is predicted alone, so that only
the request that caused the failure gets the error.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from loopml.serve.fastpath import Output, Predictor
from loopml.serve.inputs import Columns

__all__ = ["MicroBatcher"]


@dataclass
class _Item:
    predictor: Predictor
    columns: Columns
    future: asyncio.Future[Output]


class MicroBatcher:
    """Collect concurrent prediction requests into one model call.

    Parameters
    ----------
    max_rows : int, default 64
        Most rows in one model call (a single larger request is still predicted whole).
    max_wait_ms : float, default 2.0
        Longest a batch waits for requests still being read before it starts.
    on_batch : callable, optional
        Called with ``(n_requests, n_rows, seconds)`` after each model call.
    """

    def __init__(
        self,
        max_rows: int = 64,
        max_wait_ms: float = 2.0,
        on_batch: Callable[[int, int, float], None] | None = None,
    ) -> None:
        if max_rows < 1:
            raise ValueError(f"max_rows must be at least 1; got {max_rows}.")
        if max_wait_ms < 0:
            raise ValueError(f"max_wait_ms must be >= 0; got {max_wait_ms}.")
        self.max_rows = max_rows
        self.max_wait = max_wait_ms / 1000.0
        self.on_batch = on_batch
        self._pending: list[_Item] = []
        self._rows = 0
        self._expected = 0
        self._wakeup: asyncio.Event | None = None
        self._task: asyncio.Task[None] | None = None
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="loopml-predict")
        self._closed = False

    @contextmanager
    def expect(self) -> Iterator[None]:
        """Announce a request being read, so that a forming batch may wait for it."""
        self._expected += 1
        try:
            yield
        finally:
            self._expected -= 1

    async def submit(self, predictor: Predictor, columns: Columns) -> Output:
        """Predict *columns* with *predictor*, batched with concurrent requests."""
        if self._closed:
            raise RuntimeError("the batcher is closed")
        loop = asyncio.get_running_loop()
        if self._task is None or self._task.done():
            self._wakeup = asyncio.Event()
            self._task = loop.create_task(self._run())
        future: asyncio.Future[Output] = loop.create_future()
        self._pending.append(_Item(predictor, columns, future))
        self._rows += columns.n_rows
        assert self._wakeup is not None
        self._wakeup.set()
        return await future

    async def _run(self) -> None:
        assert self._wakeup is not None
        loop = asyncio.get_running_loop()
        while True:
            await self._wakeup.wait()
            self._wakeup.clear()
            while self._pending:
                await self._gather_more()
                batch = self._take()
                started = time.perf_counter()
                try:
                    results = await loop.run_in_executor(self._executor, _predict_batch, batch)
                except BaseException as exc:  # cancelled while predicting: fail the batch
                    for item in batch:
                        if not item.future.done():
                            item.future.set_exception(exc)
                    raise
                for item, result in zip(batch, results, strict=True):
                    if item.future.done():
                        continue  # the client went away
                    if isinstance(result, BaseException):
                        item.future.set_exception(result)
                    else:
                        item.future.set_result(result)
                if self.on_batch is not None:
                    rows = sum(i.columns.n_rows for i in batch)
                    self.on_batch(len(batch), rows, time.perf_counter() - started)

    async def _gather_more(self) -> None:
        """Wait (briefly) for requests already being read, while the batch has room."""
        if self.max_wait <= 0:
            return
        deadline = time.perf_counter() + self.max_wait
        while self._expected > 0 and self._rows < self.max_rows:
            left = deadline - time.perf_counter()
            if left <= 0:
                return
            await asyncio.sleep(min(left, 0.0002))

    def _take(self) -> list[_Item]:
        batch: list[_Item] = []
        rows = 0
        while self._pending:
            item = self._pending[0]
            if batch and rows + item.columns.n_rows > self.max_rows:
                break
            batch.append(self._pending.pop(0))
            rows += item.columns.n_rows
        self._rows -= rows
        return batch

    async def close(self) -> None:
        """Finish what is queued, then stop the worker thread."""
        self._closed = True
        while self._pending:
            await asyncio.sleep(0.001)
        if self._task is not None:
            self._task.cancel()
            try:
                await self._task
            except asyncio.CancelledError:
                pass
        self._executor.shutdown(wait=True)


def _predict_batch(batch: list[_Item]) -> list[Output | BaseException]:
    """Predict a batch grouped by model version (a hot reload can mix two)."""
    results: list[Output | BaseException] = []
    start = 0
    while start < len(batch):
        stop = start
        predictor = batch[start].predictor
        while stop < len(batch) and batch[stop].predictor is predictor:
            stop += 1
        group = batch[start:stop]
        results.extend(_predict_group(predictor, [i.columns for i in group]))
        start = stop
    return results


def _predict_group(predictor: Predictor, parts: list[Columns]) -> list[Any]:
    try:
        return list(predictor.predict_many(parts))
    except Exception:
        pass  # find out which request fails: predict each alone
    out: list[Any] = []
    for part in parts:
        try:
            out.append(predictor.predict(part))
        except Exception as exc:
            out.append(exc)
    return out
