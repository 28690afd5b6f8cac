"""Several worker processes, one ``/metrics`` page: snapshots in a shared directory.

With ``loopml serve --workers N`` each worker process still counts in its own dicts
(a request pays nothing more), and :class:`MetricsDir` adds the workers up the way
prometheus_client's multiprocess mode does: every worker writes a snapshot of its
metrics to ``$LOOPML_METRICS_DIR/<pid>-<id>.json`` each second (from a thread) and
when it stops, and ``/metrics`` merges all the snapshots into one page. Counters and
histograms are summed over every worker that ever ran, exited ones included, so they
never go backwards when a worker restarts; gauges merge as their ``merge`` mode says
(see :data:`~loopml.serve.metrics.GAUGE_MERGE`). The other workers' figures on a page
are at most one snapshot interval old.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import threading
import time
from collections.abc import AsyncIterator, Callable, Iterable, Mapping
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from pathlib import Path
from typing import Any

from loopml.serve.metrics import (
    MERGE_MODES,
    Counter,
    Gauge,
    Histogram,
    Metrics,
    _Metric,
    _render,
)

__all__ = ["ENV_METRICS_DIR", "MetricsDir", "render_merged"]

log = logging.getLogger("loopml.serve")

#: Set by ``loopml serve --workers N``: the directory where workers share snapshots.
ENV_METRICS_DIR = "LOOPML_METRICS_DIR"


def render_merged(snapshots: Iterable[Mapping[str, Any]]) -> str:
    """One ``/metrics`` page from the snapshots of several workers.

    Parameters
    ----------
    snapshots : iterable of dict
        As written by :meth:`MetricsDir.snapshot`: ``{"live": bool, "metrics": [...]}``.
        ``live`` is false for a worker that has exited.

    Counters, and histograms' buckets, sums and counts, are summed over all snapshots;
    gauges merge by their mode (:data:`GAUGE_MERGE`). A metric keeps the help, labels
    and buckets of its first snapshot; a sample that disagrees with them (a worker of
    another loopml version) is left out. A ``loopml_workers`` gauge counts the workers.

    Examples
    --------
    >>> a, b = Metrics(), Metrics()
    >>> a.rows.inc(("churn@1",), 3)
    >>> b.rows.inc(("churn@1",), 4)
    >>> page = render_merged([{"live": True, "metrics": m.snapshot()} for m in (a, b)])
    >>> 'loopml_rows_predicted_total{model="churn@1"} 7' in page
    True
    """
    merged: dict[str, _Metric] = {}
    workers = {"live": 0, "exited": 0}
    for snap in snapshots:
        live = bool(snap.get("live"))
        workers["live" if live else "exited"] += 1
        for data in snap.get("metrics", ()):
            metric = merged.get(data["name"])
            if metric is None:
                metric = merged[data["name"]] = _empty(data)
            if metric.kind == data["kind"] and metric.labelnames == tuple(data["labelnames"]):
                _add(metric, data, live)
    count = Gauge(
        "loopml_workers",
        "Server worker processes whose metrics this page adds up (exited: counters kept).",
        ("state",),
    )
    count.values = {(state,): float(n) for state, n in workers.items()}
    return _render([*merged.values(), count])


def _empty(data: Mapping[str, Any]) -> _Metric:
    name, help_, labelnames = data["name"], data["help"], data["labelnames"]
    if data["kind"] == "counter":
        return Counter(name, help_, labelnames)
    if data["kind"] == "histogram":
        return Histogram(name, help_, labelnames, buckets=data["buckets"])
    merge = data.get("merge")
    return Gauge(name, help_, labelnames, merge=merge if merge in MERGE_MODES else None)


def _add(metric: _Metric, data: Mapping[str, Any], live: bool) -> None:
    if isinstance(metric, Counter):
        for labels, value in data["samples"]:
            key = tuple(labels)
            metric.values[key] = metric.values.get(key, 0.0) + value
    elif isinstance(metric, Histogram):
        if tuple(data["buckets"]) != metric.buckets:
            return
        for labels, counts, total in data["samples"]:
            key = tuple(labels)
            if len(counts) != len(metric.buckets) + 1:
                continue
            mine = metric.counts.setdefault(key, [0] * len(counts))
            metric.counts[key] = [x + y for x, y in zip(mine, counts, strict=True)]
            metric.sums[key] = metric.sums.get(key, 0.0) + total
    elif isinstance(metric, Gauge):
        mode = metric.merge
        if mode.startswith("live") and not live:
            return
        combine: Callable[[float, float], float] = max if mode.endswith("max") else _plus
        for labels, value in data["samples"]:
            key = tuple(labels)
            old = metric.values.get(key)
            metric.values[key] = value if old is None else combine(old, value)


def _plus(a: float, b: float) -> float:
    return a + b


class MetricsDir:
    """Share one worker's metrics with the others through snapshot files.

    A thread writes :meth:`snapshot` to ``<directory>/<pid>-<id>.json`` every
    *interval* seconds (temp file + ``os.replace``, so a reader never sees half a
    file); :meth:`render` writes a fresh one and merges every file in the directory.
    The request path is untouched: metrics stay plain dict increments. The random
    ``<id>`` keeps a later process that reuses a pid from overwriting the counters of
    the one that exited.

    Parameters
    ----------
    metrics : Metrics
        This worker's metrics.
    directory : str or Path
        An existing directory shared by the workers (``loopml serve --workers N``
        makes one and removes it at exit).
    interval : float, default 1.0
        Seconds between snapshots: how old the other workers' figures on a page can be.
    stale_after : float, optional
        A snapshot not rewritten for this long comes from a worker that died without
        saying so (default: ``max(5, 5 * interval)`` seconds); its gauges marked
        ``live*`` stop counting, its counters go on counting.

    Examples
    --------
    >>> import tempfile
    >>> m = Metrics()
    >>> m.requests.inc(("/predict", "POST", "200"))
    >>> with tempfile.TemporaryDirectory() as directory:
    ...     'loopml_workers{state="live"} 1' in MetricsDir(m, directory).render()
    True
    """

    def __init__(
        self,
        metrics: Metrics,
        directory: str | Path,
        *,
        interval: float = 1.0,
        stale_after: float | None = None,
    ) -> None:
        self.metrics = metrics
        self.directory = Path(directory)
        self.interval = interval
        self.stale_after = max(5.0, 5 * interval) if stale_after is None else stale_after
        self.path = self.directory / f"{os.getpid()}-{os.urandom(4).hex()}.json"
        self._lock = threading.Lock()  # the thread and a scrape may write at once
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._live = True
        self._failed = False

    @classmethod
    def from_env(cls, metrics: Metrics) -> MetricsDir | None:
        """Sharing in ``$LOOPML_METRICS_DIR``, or None where it is not set (one worker)."""
        directory = os.environ.get(ENV_METRICS_DIR)
        return cls(metrics, directory) if directory else None

    def snapshot(self) -> dict[str, Any]:
        """This worker's metrics now, with its pid, the time, and whether it runs."""
        return {
            "pid": os.getpid(),
            "time": time.time(),
            "live": self._live,
            "metrics": self.metrics.snapshot(),
        }

    def write(self) -> dict[str, Any]:
        """Write a fresh snapshot (atomically) and return it."""
        snap = self.snapshot()
        data = json.dumps(snap, separators=(",", ":")).encode()
        tmp = self.path.with_suffix(".tmp")
        with self._lock:
            try:
                tmp.write_bytes(data)
                os.replace(tmp, self.path)
                self._failed = False
            except OSError as exc:
                if not self._failed:  # once, not every second
                    _log.warning("cannot share this worker's metrics in %s: %s", self.path, exc)
                self._failed = True
        return snap

    def read(self) -> list[dict[str, Any]]:
        """A fresh snapshot of this worker, then those of the others (live or exited)."""
        snaps = [self.write()]
        now = time.time()
        for path in sorted(self.directory.glob("*.json")):
            if path == self.path:
                continue
            try:
                snap = json.loads(path.read_bytes())
                fresh = now - float(snap["time"]) <= self.stale_after
            except (OSError, ValueError, KeyError, TypeError):
                continue  # removed meanwhile, or not a snapshot
            snap["live"] = bool(snap.get("live")) and fresh
            snaps.append(snap)
        return snaps

    def render(self) -> str:
        """The ``/metrics`` page for all the workers (reads files: call off the loop)."""
        return render_merged(self.read())

    def start(self) -> None:
        """Write snapshots every *interval* seconds from a daemon thread."""
        if self._thread is not None:
            return
        self.write()
        self._thread = threading.Thread(target=self._run, name="loopml-metrics", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Stop the thread and write a last snapshot, marked exited."""
        if self._thread is None:
            return
        self._stop.set()
        self._thread.join()
        self._live = False
        self.write()

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            try:
                self.write()
            except Exception:  # a failing gauge callback must not end the snapshots
                _log.exception("cannot snapshot this worker's metrics")

    def lifespan(
        self, inner: Callable[[Any], AbstractAsyncContextManager[Any]]
    ) -> Callable[[Any], AbstractAsyncContextManager[Any]]:
        """Wrap an ASGI lifespan: snapshots start after startup, the last one after shutdown."""

        @asynccontextmanager
        async def lifespan(app: Any) -> AsyncIterator[Any]:
            try:
                async with inner(app) as value:
                    self.start()
                    yield value
            finally:  # after the app's shutdown, so the last figures (log flushed) count
                await asyncio.to_thread(self.stop)

        return lifespan


_log = logging.getLogger("loopml.serve")
