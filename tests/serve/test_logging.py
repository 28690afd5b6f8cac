"""The prediction log: packing, the writer process, and falling back to a thread."""

from __future__ import annotations

import logging
from typing import Any

import numpy as np
import pytest

from loopml.serve.fastpath import Predictor
from loopml.serve.logging import PredictionLogger, output_records
from loopml.store import Store
from tests.serve.serving_fixtures import Served, served  # noqa: F401
from tests.serve.test_app import rows_of


def _requests(s: Served, sizes: list[int]) -> list[tuple[Any, Any, list[str]]]:
    predictor = Predictor(s.bundle())
    out, start = [], 0
    for n in sizes:
        cols = predictor.parser.parse_payload({"rows": rows_of(s.X.iloc[start : start + n])})
        out.append((cols, predictor.predict(cols), list(predictor.classes)))
        start += n
    return out


def _log_all(logger: PredictionLogger, name: str, requests: list[Any], tag: str) -> None:
    for i, (cols, out, classes) in enumerate(requests):
        assert logger.log(name, 1, cols, out, classes, latency_ms=0.5 + i, request_id=f"{tag}{i}")


def _check_stored(store: Store, name: str, requests: list[Any], tag: str) -> None:
    logs = {r.request_id: r for r in store.list_predictions(name, limit=1000)}
    for i, (cols, out, classes) in enumerate(requests):
        record = logs[f"{tag}{i}"]
        assert record.n_rows == cols.n_rows and record.version == 1
        assert record.latency_ms == pytest.approx(0.5 + i)
        assert record.inputs == cols.records()
        assert record.outputs == output_records(out, classes)


def test_writer_process_stores_what_the_thread_would(
    served: dict[str, Served],  # noqa: F811
) -> None:
    # Interleaved models (numeric only; categorical with missing values) and batch
    # sizes: every request must come back exactly as the in-process conversion gives.
    cancer = _requests(served["cancer"], [1, 3, 1, 1])
    mixed = _requests(served["mixed"], [1, 7, 1, 2])
    store = Store(root=served["cancer"].store_root)
    logger = PredictionLogger(store, flush_interval=0.01)
    assert logger.process
    logger.start()
    for a, b in zip(cancer, mixed, strict=True):
        _log_all(logger, "cancer", [a], f"c{id(a)}-")
        _log_all(logger, "mixed", [b], f"m{id(b)}-")
    assert logger.flush(30)
    assert logger.in_process
    logger.close()
    assert not logger.in_process
    assert logger.written == 8 and logger.failed == 0 and logger.dropped == 0
    for reqs, name, tag in ((cancer, "cancer", "c"), (mixed, "mixed", "m")):
        for r in reqs:
            _check_stored(store, name, [r], f"{tag}{id(r)}-")
    mixed_inputs = [c.records() for c, _, _ in mixed]
    assert any(row["x1"] is None for rows in mixed_inputs for row in rows), "a NaN was logged"


def test_writer_process_death_falls_back_to_the_thread(
    served: dict[str, Served],  # noqa: F811
    caplog: pytest.LogCaptureFixture,
) -> None:
    s = served["cancer"]
    store = Store(root=s.store_root)
    reqs = _requests(s, [1, 2])
    logger = PredictionLogger(store, flush_interval=0.01)
    logger.start()
    _log_all(logger, "cancer", reqs[:1], "before-death-")
    assert logger.flush(30) and logger.in_process
    child = logger._child
    assert child is not None
    child.kill()
    child.wait()
    with caplog.at_level(logging.WARNING, logger="loopml.serve"):
        _log_all(logger, "cancer", reqs[1:], "after-death-")
        assert logger.flush(30)
    logger.close()
    assert not logger.in_process
    assert logger.written == 2 and logger.failed == 0
    assert "writer process stopped" in caplog.text
    _check_stored(store, "cancer", reqs[1:], "after-death-")


def test_memory_store_writes_from_the_thread(served: dict[str, Served]) -> None:  # noqa: F811
    store = Store.in_memory()
    try:
        reqs = _requests(served["iris"], [2, 1])
        logger = PredictionLogger(store, flush_interval=0.01)
        assert not logger.process
        logger.start()
        _log_all(logger, "iris", reqs, "mem-")
        assert logger.flush(10)
        logger.close()
        assert logger.written == 2 and not logger.in_process
        _check_stored(store, "iris", reqs, "mem-")
    finally:
        store.close()


def test_output_records_turn_non_finite_values_into_none() -> None:
    from loopml.serve.fastpath import Output

    out = Output(np.array([1.5, np.nan, np.inf]), None)
    assert output_records(out, []) == [
        {"prediction": 1.5},
        {"prediction": None},
        {"prediction": None},
    ]


def test_a_busy_server_gets_few_large_transactions(
    served: dict[str, Served],  # noqa: F811
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Requests that arrive while a batch is being written wait for the next tick:
    # writing them at once would turn a busy server's log into a stream of tiny
    # transactions (each costs ~0.3 ms of CPU), which once cost 20 % of throughput.
    import threading
    import time

    from loopml.serve import _logwriter

    sizes: list[int] = []

    def slow_write(store: Any, packets: Any) -> int:
        n = sum(len(p.meta) for p in packets)
        sizes.append(n)
        time.sleep(0.02)
        return n

    monkeypatch.setattr(_logwriter, "write_packets", slow_write)
    ((cols, out, classes),) = _requests(served["cancer"], [1])
    store = Store.in_memory()
    logger = PredictionLogger(store, flush_interval=0.05, process=False)
    logger.start()
    stop = time.monotonic() + 0.6
    sent = 0

    def produce() -> None:
        nonlocal sent
        while time.monotonic() < stop:
            logger.log("cancer", 1, cols, out, classes, latency_ms=1.0)
            sent += 1
            time.sleep(0.0005)

    producer = threading.Thread(target=produce)
    producer.start()
    producer.join()
    assert logger.flush(10)
    logger.close()
    store.close()
    assert sum(sizes) == sent == logger.written
    # One write per tick (0.6 s / 70 ms ~ 9), not one per 20 ms write (~30).
    assert len(sizes) <= 15, sizes
