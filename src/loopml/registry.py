"""Promotion through the model registry, guarded by the project's KPI gates.

Versions move ``none → staging → production → archived``; the store keeps one
production version per model and records every transition (who, when, why).
:func:`promote` adds the business rule: a version goes to ``staging`` or
``production`` only if it passes the KPI gates, checked against

- its stored **test metrics** (``record.metrics``: recall, rmse, ...), and
- its **benchmark figures**: ``record.info["benchmarks"]`` (e.g.
  ``{"latency_p95_ms": 4.2}``), written by whatever measured them. A latency gate
  (``latency_p50_ms``, ``latency_p95_ms``, ``latency_p99_ms``, ``latency_mean_ms``)
  whose figure is not recorded is measured here: ``bundle.predict`` is timed on
  single rows (one request = one row), for up to ``latency_rows`` rows of the
  version's test split (regenerated from the training source and split seed, or
  the rows of *data*), after a short warm-up.

A version that misses a gate is refused with a :class:`~loopml.gates.GateError`
listing each failed gate. ``force=True`` promotes it anyway and records the
override, with the failed gates, in the transition's reason.

Examples
--------
>>> from loopml.store import Store
>>> store = Store.in_memory()
>>> v = store.register_model("churn", run_id=None, path="/m", sha256="0" * 64,
...                          task="binary", metrics={"recall": 0.74})
>>> promote(store, "churn", 1, "production", gates=["recall >= 0.8"])
Traceback (most recent call last):
...
loopml.gates.GateError: Refusing to promote churn@1 to production: 1 of 1 KPI gate(s) fail...
>>> p = promote(store, "churn", 1, "production", gates=["recall >= 0.8"], force=True)
>>> store.transitions("churn")[-1].reason
'forced past failed gates: recall 0.74 < 0.8 (short by 0.06)'
>>> store.close()
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from loopml.exceptions import DataError
from loopml.gates import Gate, GateError, GateReport, check_gates, parse_gates, resolve_metric

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd

    from loopml.bundle import ModelBundle
    from loopml.store import ModelVersionRecord, Store
    from loopml.store.records import Stage

__all__ = [
    "GateError",
    "HoldoutData",
    "Promotion",
    "holdout_data",
    "measure_latency",
    "parse_version",
    "promote",
    "version_figures",
]

#: Stages a version must pass the gates to enter.
GATED_STAGES = ("staging", "production")
LATENCY_FIGURES = ("latency_p50_ms", "latency_p95_ms", "latency_p99_ms", "latency_mean_ms")
DEFAULT_LATENCY_ROWS = 300
_WARMUP = 10


@dataclass
class Promotion:
    """What :func:`promote` did."""

    record: ModelVersionRecord
    from_stage: str
    to_stage: str
    report: GateReport | None = None
    forced: bool = False
    archived: list[int] = field(default_factory=list)
    measured: dict[str, float] = field(default_factory=dict)
    reason: str = ""

    @property
    def changed(self) -> bool:
        return self.from_stage != self.to_stage

    def to_dict(self) -> dict[str, Any]:
        return {
            "model": self.record.name,
            "version": self.record.version,
            "from_stage": self.from_stage,
            "to_stage": self.to_stage,
            "changed": self.changed,
            "forced": self.forced,
            "archived_versions": self.archived,
            "gates": self.report.to_dict() if self.report is not None else None,
            "measured": self.measured,
            "reason": self.reason,
        }


@dataclass
class HoldoutData:
    """Rows to check a model on: features, the true target (when known), and their origin."""

    X: pd.DataFrame
    y: pd.Series | None
    where: str


def parse_version(version: int | str) -> int:
    """``3``, ``"3"`` or ``"v3"`` → 3."""
    match = re.fullmatch(r"\s*[vV]?(\d+)\s*", str(version))
    if match is None:
        raise DataError(f"Version {version!r} is not a version number like 3 or v3.")
    return int(match.group(1))


def promote(
    store: Store,
    name: str,
    version: int | str,
    stage: Stage | str = "production",
    *,
    gates: Iterable[Gate | str] | Mapping[str, Any] | str | None = None,
    force: bool = False,
    reason: str = "",
    user: str | None = None,
    data: Any = None,
    latency_rows: int = DEFAULT_LATENCY_ROWS,
) -> Promotion:
    """Move ``name@version`` to *stage* if it passes *gates* (always for other stages).

    Parameters
    ----------
    store : Store
    name, version
        The model version, e.g. ``"churn", 3``.
    stage : {"staging", "production", "archived", "none"}
    gates : list of "METRIC OP NUMBER", mapping, or None
        KPI gates (see :func:`loopml.gates.parse_gates`); checked when *stage* is
        staging or production. None or empty: no gates.
    force : bool
        Promote even if gates fail; the override and the failed gates are recorded
        in the transition's reason.
    reason : str
        Why (recorded with the transition).
    user : str, optional
        Who (default: the login name).
    data : path or DataFrame, optional
        Rows to measure latency on, instead of the regenerated test split.
    latency_rows : int
        Rows timed one at a time for a latency figure that is not recorded.

    Returns
    -------
    Promotion

    Raises
    ------
    GateError
        If a gate fails and *force* is false; the message lists every failed gate.
    ModelNotFoundError
        If ``name@version`` is not in the store.
    """
    from loopml.store.records import Stage as StageEnum

    version = parse_version(version)
    target = _parse_stage(stage)
    gate_list = parse_gates(gates)
    record = store.resolve(f"{name}@{version}")
    current = str(record.stage)
    report: GateReport | None = None
    measured: dict[str, float] = {}
    if gate_list and target in GATED_STAGES and current != target:
        figures, measured = version_figures(
            store, record, gate_list, data=data, latency_rows=latency_rows
        )
        report = check_gates(gate_list, figures)
    forced = report is not None and not report.passed
    if forced and not force:
        assert report is not None
        raise GateError(_refusal(record, target, report), report)
    if current == target:
        return Promotion(record, current, target, report, False, [], measured, "")
    parts = [reason.strip()] if reason.strip() else []
    if report is not None:
        if forced:
            parts.append(
                "forced past failed gates: " + "; ".join(r.message for r in report.failures)
            )
        else:
            parts.append("passed gates: " + "; ".join(r.message for r in report.results))
    why = "; ".join(parts)
    previous = [
        v.version
        for v in store.list_versions(name)
        if target == StageEnum.PRODUCTION.value
        and str(v.stage) == StageEnum.PRODUCTION.value
        and v.version != version
    ]
    moved = store.set_stage(name, version, target, reason=why, user=user)
    return Promotion(moved, current, target, report, forced, previous, measured, why)


def version_figures(
    store: Store,
    record: ModelVersionRecord,
    gates: Iterable[Gate] = (),
    *,
    data: Any = None,
    latency_rows: int = DEFAULT_LATENCY_ROWS,
) -> tuple[dict[str, Any], dict[str, float]]:
    """The figures gates are checked against, and those measured now.

    Test metrics, then ``record.info["benchmarks"]``; latency figures a gate needs
    and neither holds are measured on the version's test rows.
    """
    figures: dict[str, Any] = dict(record.metrics)
    benchmarks = record.info.get("benchmarks") or {}
    if isinstance(benchmarks, Mapping):
        figures.update(benchmarks)
    needed = [
        g.metric
        for g in gates
        if resolve_metric(g.metric, figures) is None and g.metric.lower() in LATENCY_FIGURES
    ]
    measured: dict[str, float] = {}
    if needed:
        from loopml.bundle import ModelBundle

        bundle = ModelBundle.load(record.path, expected_sha256=record.sha256)
        rows = holdout_data(bundle, data)
        measured = measure_latency(bundle, rows.X, rows=latency_rows)
        figures.update(measured)
    return figures, measured


def measure_latency(
    bundle: ModelBundle, X: pd.DataFrame, *, rows: int = DEFAULT_LATENCY_ROWS
) -> dict[str, float]:
    """Per-request latency of ``bundle.predict`` on single rows, in milliseconds.

    Times up to *rows* rows of *X* one at a time (after a warm-up of a few rows) and
    returns ``latency_p50_ms``, ``latency_p95_ms``, ``latency_p99_ms``,
    ``latency_mean_ms`` and ``latency_rows``.
    """
    import numpy as np

    if len(X) == 0:
        raise DataError("No rows to measure latency on. Pass rows with --data.")
    n = max(1, min(rows, len(X)))
    sample = X.iloc[:n]
    for i in range(min(_WARMUP, n)):
        bundle.predict(sample.iloc[i : i + 1])
    times = np.empty(n)
    for i in range(n):
        row = sample.iloc[i : i + 1]
        t0 = time.perf_counter()
        bundle.predict(row)
        times[i] = (time.perf_counter() - t0) * 1000.0
    return _percentiles(times) | {"latency_rows": float(n)}


def holdout_data(bundle: ModelBundle, data: Any = None) -> HoldoutData:
    """The rows a bundle is checked on: *data* if given, else its test split again.

    The test split is regenerated from ``bundle.info``: the training source
    (a file that must still hold the same rows, or ``builtin:NAME``), the target,
    and the split's fractions and seed. Time-ordered and grouped splits do not
    record their column, so for them pass *data*.

    Raises
    ------
    DataError
        If the split cannot be regenerated; the message says to pass *data*.
    """
    from loopml.data.io import describe_source, load

    target = bundle.schema.target
    if data is not None:
        df = load(data)
        where = describe_source(data)
        y = df[target] if target is not None and target in df.columns else None
        return HoldoutData(df.drop(columns=[target]) if y is not None else df, y, where)
    from loopml.data.split import split
    from loopml.data.validate import drop_missing_target

    source = bundle.info.get("source")
    info = bundle.info.get("split") or {}
    strategy = str(info.get("strategy", ""))
    hint = "Pass the rows to check with --data (a file with the model's columns)."
    if not source or target is None or not info:
        raise DataError(
            f"Model {bundle.name} does not record its training source and split, so its "
            f"test rows cannot be regenerated. {hint}"
        )
    if strategy not in ("random", "stratified"):
        raise DataError(
            f"Model {bundle.name} was split {strategy or 'in an unknown way'}; its test rows "
            f"cannot be regenerated from {source}. {hint}"
        )
    try:
        df = load(source)
    except DataError as exc:
        raise DataError(
            f"Cannot regenerate the test split of {bundle.name}: {exc} {hint}"
        ) from None
    if target not in df.columns:
        raise DataError(f"{source} no longer has the target column '{target}'. {hint}")
    df, _ = drop_missing_target(df, target, str(source))
    sp = split(
        df, target, sizes=tuple(info.get("sizes", (0.7, 0.15, 0.15))), seed=int(info.get("seed", 0))
    )
    expected = (info.get("rows") or {}).get("test")
    if sp.strategy != strategy or (expected is not None and int(expected) != len(sp.test)):
        raise DataError(
            f"{source} has changed since {bundle.name} was trained (its split no longer "
            f"matches: {len(sp.test)} test rows, {sp.strategy}; recorded {expected}, "
            f"{strategy}). {hint}"
        )
    where = f"the test split of {source}, seed {sp.seed}"
    return HoldoutData(sp.test.drop(columns=[target]), sp.test[target], where)


def _percentiles(times: np.ndarray[Any, Any]) -> dict[str, float]:
    import numpy as np

    return {
        "latency_p50_ms": float(np.percentile(times, 50)),
        "latency_p95_ms": float(np.percentile(times, 95)),
        "latency_p99_ms": float(np.percentile(times, 99)),
        "latency_mean_ms": float(times.mean()),
    }


def _parse_stage(stage: Any) -> str:
    from loopml.store.records import Stage as StageEnum

    try:
        return StageEnum(str(stage).strip().lower()).value
    except ValueError:
        raise DataError(
            f"Stage {stage!r} is not one of {', '.join(s.value for s in StageEnum)}."
        ) from None


def _refusal(record: ModelVersionRecord, target: str, report: GateReport) -> str:
    failed = report.failures
    lines = [
        f"Refusing to promote {record.ref} to {target}: {len(failed)} of {len(report.results)} "
        "KPI gate(s) fail:"
    ]
    lines += [f"  - {r.message}" for r in failed]
    lines.append(
        "Improve the model, or override with --force (force=True); the override is recorded "
        "with the failed gates."
    )
    return "\n".join(lines)
