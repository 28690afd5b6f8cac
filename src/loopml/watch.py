"""Scheduled monitoring: monitor → alert → (optionally) retrain, on a fixed period.

Each cycle takes the rows the model served since the previous cycle (from the
endpoint's prediction log, or a file or directory you name), compares them with
the training data (drift), adds the operational figures (latency, throughput,
errors), checks the alert rules, and — with ``retrain="on_drift"`` and new
labelled data — retrains when the data has drifted. The time of the last cycle
is kept in ``.loopml/watch/<name>.json``, so a restarted watcher waits only for
the rest of the period instead of starting over.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from loopml.exceptions import DataError

if TYPE_CHECKING:
    from loopml.monitor.alerts import AlertRule, Channel
    from loopml.store import Store

__all__ = ["CycleResult", "parse_period", "run_cycle", "watch"]

#: Fewest rows a cycle needs before it tests for drift.
MIN_ROWS = 30


def parse_period(text: str | float) -> float:
    """``"1h"``, ``"30m"``, ``"45s"``, ``"1d"`` or a number of seconds → seconds."""
    if isinstance(text, int | float):
        seconds = float(text)
    else:
        units = {"s": 1, "m": 60, "h": 3600, "d": 86400}
        t = text.strip().lower()
        try:
            seconds = float(t[:-1]) * units[t[-1]] if t and t[-1] in units else float(t)
        except ValueError:
            seconds = -1.0
    if seconds <= 0:
        raise DataError(f"--every must be a period like 30s, 15m, 1h or 1d; got {text!r}.")
    return seconds


@dataclass
class CycleResult:
    """What one watch cycle saw and did."""

    at: datetime
    model: str
    rows: int
    figures: dict[str, float] = field(default_factory=dict)
    alerts: list[str] = field(default_factory=list)
    retrained: dict[str, Any] | None = None
    note: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {
            "at": self.at.isoformat(),
            "model": self.model,
            "rows": self.rows,
            "figures": self.figures,
            "alerts": self.alerts,
            "retrained": self.retrained,
            "note": self.note,
        }


def _state_path(store: Store, name: str) -> Path:
    return Path(store.root) / "watch" / f"{name}.json"


def _load_state(path: Path) -> dict[str, Any]:
    if path.exists():
        try:
            return dict(json.loads(path.read_text()))
        except (OSError, ValueError):
            return {}
    return {}


def default_rules() -> list[AlertRule]:
    from loopml.monitor.alerts import AlertRule

    return [
        AlertRule("dataset drift", "dataset_drift", ">=", 1.0, "warning"),
        AlertRule("prediction drift", "prediction_drift", ">=", 1.0, "warning"),
    ]


def run_cycle(
    store: Store,
    name: str,
    *,
    since: datetime | None,
    current: Any = None,
    rules: Sequence[AlertRule] | None = None,
    channels: Sequence[Channel] | None = None,
    retrain_data: Any = None,
    retrain_on_drift: bool = False,
    margin: float = 0.0,
) -> CycleResult:
    """One monitor → alert → retrain cycle for model *name*."""
    from loopml.bundle import load_model
    from loopml.data.io import load
    from loopml.exceptions import ModelNotFoundError
    from loopml.monitor.alerts import Alerter
    from loopml.monitor.drift import drift_report, reference_from_bundle
    from loopml.monitor.logs import inputs_frame
    from loopml.monitor.ops import ops_from_store

    now = datetime.now(UTC)
    try:
        bundle = load_model(f"{name}@production", store=store)
    except ModelNotFoundError:
        bundle = load_model(f"{name}@latest", store=store)
    ref = f"{name}@{bundle.version}"
    if current is not None:
        rows = load(current)
    else:
        rows = inputs_frame(store.list_predictions(name, since=since))
        rows = rows[[c for c in rows.columns if not str(c).startswith("_")]]
    figures: dict[str, float] = {}
    note = ""
    drifted = False
    if len(rows) >= MIN_ROWS:
        report = drift_report(
            reference_from_bundle(bundle), rows, schema=bundle.schema, model=bundle
        )
        figures.update(report.figures())
        drifted = report.dataset_drift
    else:
        note = f"{len(rows)} new row(s): fewer than {MIN_ROWS}, drift not tested this cycle."
    if current is None:
        ops = ops_from_store(store, name, since=since)
        figures.update({k: v for k, v in ops.figures().items() if v is not None})
    alerter = Alerter(store, list(rules) if rules is not None else default_rules(), channels)
    events = alerter.evaluate(figures, name=name, window_start=now)
    fired = [f"{e.rule.name}: {e.status}" for e in events if e.status in ("fired", "resolved")]
    retrained = None
    if drifted and retrain_on_drift and retrain_data is not None:
        from loopml.retrain import retrain

        retrained = retrain(name, retrain_data, store=store, margin=margin).to_dict()
    return CycleResult(now, ref, len(rows), figures, fired, retrained, note)


def watch(
    name: str,
    *,
    every: str | float = "1h",
    store: Store | None = None,
    current: Any = None,
    rules: Sequence[AlertRule] | None = None,
    channels: Sequence[Channel] | None = None,
    retrain_data: Any = None,
    retrain_on_drift: bool = False,
    margin: float = 0.0,
    max_cycles: int | None = None,
    on_cycle: Callable[[CycleResult], None] | None = None,
    sleep: Callable[[float], None] = time.sleep,
) -> list[CycleResult]:
    """Run :func:`run_cycle` every *every* until stopped (or *max_cycles* cycles).

    The last cycle's time is saved after each cycle; a restarted watcher waits
    for the remainder of the period, and looks at rows logged since that time.
    """
    from loopml._fs import atomic_write_text
    from loopml.store import Store

    store = store or Store()
    period = parse_period(every)
    state_file = _state_path(store, name)
    results: list[CycleResult] = []
    while max_cycles is None or len(results) < max_cycles:
        state = _load_state(state_file)
        last = datetime.fromisoformat(state["last"]) if state.get("last") else None
        if last is not None:
            wait = (last + timedelta(seconds=period) - datetime.now(UTC)).total_seconds()
            if wait > 0:
                sleep(wait)
        result = run_cycle(
            store,
            name,
            since=last,
            current=current,
            rules=rules,
            channels=channels,
            retrain_data=retrain_data,
            retrain_on_drift=retrain_on_drift,
            margin=margin,
        )
        results.append(result)
        state = {
            "last": result.at.isoformat(),
            "cycles": int(state.get("cycles", 0)) + 1,
            "last_result": result.to_dict(),
        }
        atomic_write_text(state_file, json.dumps(state, indent=2, default=str))
        if on_cycle is not None:
            on_cycle(result)
    return results
