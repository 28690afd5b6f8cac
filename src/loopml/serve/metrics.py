"""Prometheus metrics in the text exposition format, written by hand (no dependency).

Counters, gauges and histograms with labels, kept in plain dicts. Updates happen on
the server's event loop; values owned by other threads (the prediction logger, the
job runner) are read through callbacks when ``/metrics`` is scraped.

With ``loopml serve --workers N`` each worker still counts in its own dicts and
:mod:`loopml.serve.metrics_dir` adds the workers up.

Examples
--------
>>> m = Metrics()
>>> m.requests.inc(("/predict", "POST", "200"))
>>> 'loopml_requests_total{route="/predict",method="POST",status="200"} 1' in m.render()
True
"""

from __future__ import annotations

import math
from bisect import bisect_left
from collections.abc import Callable, Iterable, Sequence
from typing import Any

__all__ = [
    "GAUGE_MERGE",
    "LATENCY_BUCKETS",
    "Counter",
    "Gauge",
    "Histogram",
    "Metrics",
]

#: Seconds; fine-grained below 10 ms where a fast model endpoint lives.
LATENCY_BUCKETS = (
    0.0005,
    0.001,
    0.002,
    0.005,
    0.01,
    0.025,
    0.05,
    0.1,
    0.25,
    0.5,
    1.0,
    2.5,
    5.0,
    10.0,
)
BATCH_BUCKETS = (1, 2, 4, 8, 16, 32, 64, 128, 256, 1024)
CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"

Labels = tuple[str, ...]

#: How a gauge merges across worker processes: ``livesum`` / ``livemax`` add up / take
#: the largest value of the workers running now (a value such as a queue depth belongs
#: to a live process); ``sum`` / ``max`` count exited workers too (for running totals
#: exposed as gauges, which must not drop when a worker exits). The default is
#: ``livesum``; this table sets it for the gauges that ``loopml.serve.app`` declares.
GAUGE_MERGE = {
    "loopml_model_info": "livemax",  # 1 per version served by any live worker
    "loopml_prediction_log_entries": "sum",  # written/dropped/failed are totals;
    # "queued" of a worker that stopped cleanly is 0 (its log was flushed)
    "loopml_jobs_finished": "sum",
}
MERGE_MODES = ("sum", "livesum", "max", "livemax")


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def _labels(names: Sequence[str], values: Labels, extra: str = "") -> str:
    parts = [f'{n}="{_escape(str(v))}"' for n, v in zip(names, values, strict=True)]
    if extra:
        parts.append(extra)
    return "{" + ",".join(parts) + "}" if parts else ""


def _number(value: float) -> str:
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    if float(value).is_integer() and abs(value) < 1e15:
        return str(int(value))
    return repr(float(value))


class _Metric:
    kind = "untyped"

    def __init__(self, name: str, help_: str, labelnames: Sequence[str] = ()) -> None:
        self.name = name
        self.help = help_
        self.labelnames = tuple(labelnames)

    def header(self) -> list[str]:
        return [f"# HELP {self.name} {self.help}", f"# TYPE {self.name} {self.kind}"]

    def lines(self) -> list[str]:
        raise NotImplementedError

    def snapshot(self) -> dict[str, Any]:
        """The metric as JSON-ready data, for :class:`MetricsDir`."""
        return {
            "name": self.name,
            "kind": self.kind,
            "help": self.help,
            "labelnames": list(self.labelnames),
            "samples": self._samples(),
        }

    def _samples(self) -> list[Any]:
        raise NotImplementedError


class Counter(_Metric):
    """A value that only goes up (``inc``)."""

    kind = "counter"

    def __init__(self, name: str, help_: str, labelnames: Sequence[str] = ()) -> None:
        super().__init__(name, help_, labelnames)
        self.values: dict[Labels, float] = {}

    def inc(self, labels: Labels = (), amount: float = 1.0) -> None:
        self.values[labels] = self.values.get(labels, 0.0) + amount

    def get(self, labels: Labels = ()) -> float:
        return self.values.get(labels, 0.0)

    def lines(self) -> list[str]:
        return [
            f"{self.name}{_labels(self.labelnames, k)} {_number(v)}"
            for k, v in sorted(self.values.items())
        ]

    def _samples(self) -> list[Any]:
        # dict.copy() runs without giving up the GIL: safe from the snapshot thread
        # while the event loop increments, and the hot path takes no lock.
        return [[_str_labels(k), v] for k, v in self.values.copy().items()]


class Gauge(_Metric):
    """A value read when scraped: set directly, or computed by *callback*."""

    kind = "gauge"

    def __init__(
        self,
        name: str,
        help_: str,
        labelnames: Sequence[str] = (),
        callback: Callable[[], Iterable[tuple[Labels, float]]] | None = None,
        merge: str | None = None,
    ) -> None:
        super().__init__(name, help_, labelnames)
        self.values: dict[Labels, float] = {}
        self.callback = callback
        self.merge = merge or GAUGE_MERGE.get(name, "livesum")
        if self.merge not in MERGE_MODES:
            raise ValueError(
                f"The merge mode of gauge {name!r} must be one of {', '.join(MERGE_MODES)}; "
                f"got {merge!r}."
            )

    def set(self, value: float, labels: Labels = ()) -> None:
        self.values[labels] = float(value)

    def _items(self) -> dict[Labels, float]:
        items = self.values.copy()
        if self.callback is not None:
            items.update(self.callback())
        return items

    def lines(self) -> list[str]:
        return [
            f"{self.name}{_labels(self.labelnames, k)} {_number(v)}"
            for k, v in sorted(self._items().items())
        ]

    def snapshot(self) -> dict[str, Any]:
        return {**super().snapshot(), "merge": self.merge}

    def _samples(self) -> list[Any]:
        return [[_str_labels(k), float(v)] for k, v in self._items().items()]


class Histogram(_Metric):
    """Observations counted in cumulative buckets, with their sum and count."""

    kind = "histogram"

    def __init__(
        self,
        name: str,
        help_: str,
        labelnames: Sequence[str] = (),
        buckets: Sequence[float] = LATENCY_BUCKETS,
    ) -> None:
        super().__init__(name, help_, labelnames)
        self.buckets = tuple(sorted(buckets))
        self.counts: dict[Labels, list[int]] = {}
        self.sums: dict[Labels, float] = {}

    def observe(self, value: float, labels: Labels = ()) -> None:
        counts = self.counts.get(labels)
        if counts is None:
            counts = self.counts[labels] = [0] * (len(self.buckets) + 1)
            self.sums[labels] = 0.0
        counts[bisect_left(self.buckets, value)] += 1
        self.sums[labels] += value

    def count(self, labels: Labels = ()) -> int:
        return sum(self.counts.get(labels, ()))

    def lines(self) -> list[str]:
        out = []
        for labels, counts in sorted(self.counts.items()):
            running = 0
            for bound, n in zip((*self.buckets, math.inf), counts, strict=True):
                running += n
                le = f'le="{_number(bound)}"'
                out.append(f"{self.name}_bucket{_labels(self.labelnames, labels, le)} {running}")
            out.append(
                f"{self.name}_sum{_labels(self.labelnames, labels)} {_number(self.sums[labels])}"
            )
            out.append(f"{self.name}_count{_labels(self.labelnames, labels)} {running}")
        return out

    def snapshot(self) -> dict[str, Any]:
        return {**super().snapshot(), "buckets": list(self.buckets)}

    def _samples(self) -> list[Any]:
        # observe() adds the counts before the sum; a snapshot taken in between misses
        # one observation's sum, never a key.
        sums = self.sums.copy()
        return [
            [_str_labels(k), list(counts), sums.get(k, 0.0)]
            for k, counts in self.counts.copy().items()
        ]


class Metrics:
    """The endpoint's metrics. ``render()`` gives the ``/metrics`` page."""

    def __init__(self) -> None:
        self.requests = Counter(
            "loopml_requests_total", "HTTP requests answered.", ("route", "method", "status")
        )
        self.latency = Histogram(
            "loopml_request_duration_seconds",
            "Time from request start to response, by route.",
            ("route",),
        )
        self.errors = Counter(
            "loopml_request_errors_total",
            "Requests answered with an error, by route and kind "
            "(validation, json_invalid, too_large, unauthorized, internal...).",
            ("route", "kind"),
        )
        self.rows = Counter(
            "loopml_rows_predicted_total", "Rows predicted by /predict.", ("model",)
        )
        self.unseen = Counter(
            "loopml_unseen_categories_total",
            "Values in categories not seen at training (predicted as unknown).",
            ("column",),
        )
        self.batch_rows = Histogram(
            "loopml_batch_rows",
            "Rows per model call when requests are micro-batched.",
            buckets=BATCH_BUCKETS,
        )
        self.batch_requests = Histogram(
            "loopml_batch_requests",
            "Requests per model call when requests are micro-batched.",
            buckets=BATCH_BUCKETS,
        )
        self.reloads = Counter(
            "loopml_model_reloads_total", "Model versions loaded by hot reload.", ("result",)
        )
        self._metrics: list[_Metric] = [
            self.requests,
            self.latency,
            self.errors,
            self.rows,
            self.unseen,
            self.batch_rows,
            self.batch_requests,
            self.reloads,
        ]

    def add(self, metric: _Metric) -> None:
        """Add another metric (a gauge read from a callback, usually)."""
        self._metrics.append(metric)

    def on_batch(self, n_requests: int, n_rows: int, seconds: float) -> None:
        self.batch_requests.observe(n_requests)
        self.batch_rows.observe(n_rows)

    def render(self) -> str:
        return _render(self._metrics)

    def snapshot(self) -> list[dict[str, Any]]:
        """Every metric as JSON-ready data (callbacks read now)."""
        return [metric.snapshot() for metric in self._metrics]


def _render(metrics: Iterable[_Metric]) -> str:
    lines: list[str] = []
    for metric in metrics:
        body = metric.lines()
        if body or metric.kind != "histogram":
            lines.extend(metric.header())
            lines.extend(body)
    return "\n".join(lines) + "\n"


def _str_labels(labels: Labels) -> list[str]:
    # Label values are rendered with str(); stored so, (1,) and ("1",) merge.
    return [str(v) for v in labels]
