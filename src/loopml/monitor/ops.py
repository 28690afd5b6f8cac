"""Operational monitoring from an endpoint's prediction log.

Per time window: requests, rows, throughput, latency percentiles (p50, p95, p99)
and error rate. A request counts as an error when it was logged with outputs
``{"error": ...}``; an endpoint that does not log its failures shows an error rate
of 0, and the report says so.

Examples
--------
>>> from loopml.store import Store
>>> store = Store.in_memory()
>>> for ms in (10.0, 20.0, 30.0):
...     _ = store.log_predictions("m", 1, inputs=[{"x": 1}], outputs=[0], latency_ms=ms)
>>> ops = ops_summary(store.list_predictions("m"), window="1D")
>>> ops.windows[-1].latency_p50_ms
20.0
>>> store.close()
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any, cast

from loopml.monitor.logs import is_error

if TYPE_CHECKING:
    from loopml.store import Store
    from loopml.store.records import PredictionLogRecord

__all__ = ["OpsReport", "OpsWindow", "ops_from_store", "ops_summary"]


@dataclass
class OpsWindow:
    """One time window of served traffic."""

    start: str
    end: str
    requests: int
    rows: int
    errors: int
    requests_per_s: float
    rows_per_s: float
    latency_p50_ms: float | None
    latency_p95_ms: float | None
    latency_p99_ms: float | None
    latency_max_ms: float | None

    @property
    def error_rate(self) -> float:
        return self.errors / self.requests if self.requests else 0.0

    def to_dict(self) -> dict[str, Any]:
        return {
            "start": self.start,
            "end": self.end,
            "requests": self.requests,
            "rows": self.rows,
            "errors": self.errors,
            "error_rate": self.error_rate,
            "requests_per_s": self.requests_per_s,
            "rows_per_s": self.rows_per_s,
            "latency_p50_ms": self.latency_p50_ms,
            "latency_p95_ms": self.latency_p95_ms,
            "latency_p99_ms": self.latency_p99_ms,
            "latency_max_ms": self.latency_max_ms,
        }


@dataclass
class OpsReport:
    """Traffic, latency and errors per window, plus totals."""

    window: str
    windows: list[OpsWindow]
    requests: int
    rows: int
    errors: int
    errors_logged: bool
    first: str | None
    last: str | None
    notes: list[str] = field(default_factory=list)

    @property
    def error_rate(self) -> float:
        return self.errors / self.requests if self.requests else 0.0

    def figures(self) -> dict[str, float]:
        """The latest window's figures for alert rules: ``requests``, ``rows``,
        ``throughput_rps`` (rows/s), ``requests_per_s``, ``latency_p50_ms``,
        ``latency_p95_ms``, ``latency_p99_ms``, ``error_rate``."""
        if not self.windows:
            return {}
        w = self.windows[-1]
        out = {
            "requests": float(w.requests),
            "rows": float(w.rows),
            "throughput_rps": w.rows_per_s,
            "requests_per_s": w.requests_per_s,
            "error_rate": w.error_rate,
        }
        for key in ("latency_p50_ms", "latency_p95_ms", "latency_p99_ms"):
            value = getattr(w, key)
            if value is not None:
                out[key] = float(value)
        return out

    def to_dict(self) -> dict[str, Any]:
        return {
            "window": self.window,
            "requests": self.requests,
            "rows": self.rows,
            "errors": self.errors,
            "error_rate": self.error_rate,
            "errors_logged": self.errors_logged,
            "first": self.first,
            "last": self.last,
            "windows": [w.to_dict() for w in self.windows],
            "notes": self.notes,
        }


def ops_summary(records: Iterable[PredictionLogRecord], *, window: str = "1h") -> OpsReport:
    """Summarise prediction-log *records* per *window* (a pandas frequency: "5min", "1h", "1D").

    Throughput is averaged over the whole window (the last, unfinished window reads low).
    """
    import numpy as np
    import pandas as pd

    rows = [
        {
            "at": r.at,
            "latency": np.nan if r.latency_ms is None else float(r.latency_ms),
            "rows": int(r.n_rows),
            "error": is_error(r),
        }
        for r in records
    ]
    notes: list[str] = []
    offset = pd.tseries.frequencies.to_offset(window)
    if not rows:
        notes.append("The prediction log is empty for this period.")
        return OpsReport(window, [], 0, 0, 0, False, None, None, notes)
    df = pd.DataFrame(rows)
    df["at"] = pd.to_datetime(df["at"], utc=True)
    seconds = _fixed_seconds(window)
    windows: list[OpsWindow] = []
    for start, g in df.groupby(pd.Grouper(key="at", freq=offset)):
        if g.empty:
            continue
        begin = pd.Timestamp(cast(Any, start))
        end = begin + offset
        span = seconds if seconds is not None else (end - begin).total_seconds()
        lat = g["latency"].dropna().to_numpy()
        q = np.percentile(lat, [50, 95, 99]) if lat.size else None
        windows.append(
            OpsWindow(
                start=begin.isoformat(),
                end=end.isoformat(),
                requests=len(g),
                rows=int(g["rows"].sum()),
                errors=int(g["error"].sum()),
                requests_per_s=len(g) / span,
                rows_per_s=float(g["rows"].sum()) / span,
                latency_p50_ms=None if q is None else float(q[0]),
                latency_p95_ms=None if q is None else float(q[1]),
                latency_p99_ms=None if q is None else float(q[2]),
                latency_max_ms=None if not lat.size else float(lat.max()),
            )
        )
    errors = int(df["error"].sum())
    if not errors:
        notes.append(
            "No request in the log is marked as failed: either none failed or the endpoint "
            "does not log failures, so the error rate reads 0."
        )
    if df["latency"].isna().all():
        notes.append("No request in the log has a latency; latency percentiles are empty.")
    return OpsReport(
        window=window,
        windows=windows,
        requests=len(df),
        rows=int(df["rows"].sum()),
        errors=errors,
        errors_logged=errors > 0,
        first=df["at"].min().isoformat(),
        last=df["at"].max().isoformat(),
        notes=notes,
    )


def ops_from_store(
    store: Store,
    name: str,
    *,
    since: datetime | None = None,
    version: int | None = None,
    window: str = "1h",
) -> OpsReport:
    """:func:`ops_summary` of model *name*'s prediction log (optionally one version)."""
    return ops_summary(store.list_predictions(name, since=since, version=version), window=window)


def _fixed_seconds(window: str) -> float | None:
    """Length of a fixed window ("5min", "1h", "1D") in seconds; None for "W", "MS"..."""
    import pandas as pd

    try:
        return float(pd.Timedelta(window).total_seconds())
    except (ValueError, TypeError):
        return None
