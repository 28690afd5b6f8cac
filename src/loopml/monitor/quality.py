"""Model quality over time, once the true labels arrive.

Logged predictions (id, time, prediction, class probabilities) are joined to the
labels by id, cut into time windows, and scored with the task's metrics
(:func:`loopml.evaluate.evaluate_classification` / ``evaluate_regression``). Each
window is compared with the test metrics recorded at deployment and checked
against KPI gates such as ``recall >= 0.80``.

Examples
--------
>>> import pandas as pd
>>> preds = pd.DataFrame({
...     "id": [1, 2, 3, 4],
...     "at": pd.to_datetime(["2024-01-01", "2024-01-01", "2024-01-02", "2024-01-02"], utc=True),
...     "prediction": [1, 0, 1, 1],
... })
>>> labels = pd.DataFrame({"id": [1, 2, 3, 4], "label": [1, 0, 0, 1]})
>>> q = quality_over_time(preds, labels, "binary", gates=["accuracy >= 0.9"], min_samples=1)
>>> [w.metrics["accuracy"] for w in q.windows]
[1.0, 0.5]
>>> q.breaches
['2024-01-02: accuracy 0.5 < 0.9 (gate accuracy >= 0.9)']
"""

from __future__ import annotations

import math
import operator
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, cast

from loopml.data.schema import Task
from loopml.exceptions import DataError

if TYPE_CHECKING:
    import pandas as pd

    from loopml.monitor.alerts import AlertRule

__all__ = ["Gate", "QualityReport", "QualityWindow", "lower_is_better", "quality_over_time"]

OPS: dict[str, Callable[[float, float], bool]] = {
    ">=": operator.ge,
    ">": operator.gt,
    "<=": operator.le,
    "<": operator.lt,
    "==": operator.eq,
    "!=": operator.ne,
}
NEGATED = {">=": "<", ">": "<=", "<=": ">", "<": ">=", "==": "!=", "!=": "=="}
_GATE = re.compile(
    r"^\s*([A-Za-z_][\w.:\-]*)\s*(>=|<=|==|!=|>|<)\s*([-+]?[\d.]+(?:e[-+]?\d+)?)\s*$"
)
_LOWER_IS_BETTER = {"rmse", "mse", "mae", "mape", "median_ae", "log_loss", "hamming_loss"}
#: Windows with fewer labelled rows are scored but not checked against the gates.
MIN_SAMPLES = 30


def lower_is_better(metric: str) -> bool:
    """scikit-learn's naming: errors and losses are lower-is-better, the rest higher."""
    return metric in _LOWER_IS_BETTER or metric.endswith(("_error", "_loss"))


@dataclass(frozen=True)
class Gate:
    """A KPI gate, e.g. ``Gate.parse("recall >= 0.80")``: the metric must satisfy it."""

    metric: str
    op: str
    value: float

    @classmethod
    def parse(cls, text: str | Gate) -> Gate:
        if isinstance(text, Gate):
            return text
        m = _GATE.match(text)
        if m is None or m.group(2) not in OPS:
            raise DataError(
                f"A gate must look like 'recall >= 0.80' (metric, one of "
                f"{' '.join(OPS)}, number); got {text!r}."
            )
        return cls(m.group(1), m.group(2), float(m.group(3)))

    def passes(self, value: float) -> bool:
        return OPS[self.op](value, self.value)

    def to_rule(self, severity: str = "error", window: str | None = None) -> AlertRule:
        """The alert rule that fires when this gate is breached."""
        from loopml.monitor.alerts import AlertRule

        return AlertRule(
            f"gate: {self}", self.metric, NEGATED[self.op], self.value, severity, window
        )

    def __str__(self) -> str:
        return f"{self.metric} {self.op} {self.value:g}"


@dataclass
class QualityWindow:
    """One time window: how many predictions, how many got labels, and their metrics."""

    start: str
    end: str
    n_predictions: int
    n_labelled: int
    metrics: dict[str, float | None] = field(default_factory=dict)
    deltas: dict[str, float | None] = field(default_factory=dict)
    breaches: list[str] = field(default_factory=list)
    gated: bool = False

    def to_dict(self) -> dict[str, Any]:
        return {
            "start": self.start,
            "end": self.end,
            "n_predictions": self.n_predictions,
            "n_labelled": self.n_labelled,
            "metrics": {k: _finite(v) for k, v in self.metrics.items()},
            "deltas": {k: _finite(v) for k, v in self.deltas.items()},
            "breaches": self.breaches,
            "gated": self.gated,
        }


@dataclass
class QualityReport:
    """Per-window metrics against the deployment baseline, and the gates they breached."""

    task: str
    window: str
    windows: list[QualityWindow]
    baseline: dict[str, float | None]
    gates: list[Gate]
    overall: dict[str, float | None]
    n_predictions: int
    n_labelled: int
    n_labels_unmatched: int
    min_samples: int
    notes: list[str] = field(default_factory=list)

    @property
    def breaches(self) -> list[str]:
        """Every breach, as ``"<window start>: <what>"``."""
        return [f"{_day(w.start)}: {b}" for w in self.windows for b in w.breaches]

    @property
    def latest(self) -> QualityWindow | None:
        """The most recent window with enough labels to be gated (else with any labels)."""
        for want_gated in (True, False):
            for w in reversed(self.windows):
                if w.n_labelled and (w.gated or not want_gated):
                    return w
        return None

    def figures(self) -> dict[str, float]:
        """The latest window's metrics, ``<metric>_delta`` against the baseline,
        ``labelled_rows`` and ``quality_breaches`` (for alert rules)."""
        w = self.latest
        if w is None:
            return {}
        out: dict[str, float] = {
            "labelled_rows": float(w.n_labelled),
            "quality_breaches": float(len(w.breaches)),
        }
        out.update({k: v for k, v in w.metrics.items() if v is not None and _is_number(v)})
        out.update(
            {f"{k}_delta": v for k, v in w.deltas.items() if v is not None and _is_number(v)}
        )
        return out

    def to_dict(self) -> dict[str, Any]:
        return {
            "task": self.task,
            "window": self.window,
            "n_predictions": self.n_predictions,
            "n_labelled": self.n_labelled,
            "n_labels_unmatched": self.n_labels_unmatched,
            "min_samples": self.min_samples,
            "baseline": {k: _finite(v) for k, v in self.baseline.items()},
            "overall": {k: _finite(v) for k, v in self.overall.items()},
            "gates": [str(g) for g in self.gates],
            "breaches": self.breaches,
            "windows": [w.to_dict() for w in self.windows],
            "notes": self.notes,
        }


def quality_over_time(
    predictions: pd.DataFrame,
    labels: pd.DataFrame,
    task: Task | str,
    *,
    window: str = "1D",
    baseline_metrics: Mapping[str, float | None] | None = None,
    gates: Sequence[str | Gate] | None = None,
    tolerance: float | None = None,
    classes: Sequence[Any] | None = None,
    id_column: str = "id",
    label_column: str = "label",
    time_column: str = "at",
    min_samples: int = MIN_SAMPLES,
) -> QualityReport:
    """Score logged predictions against labels that arrived later, per time window.

    Parameters
    ----------
    predictions : DataFrame
        Columns ``id``, ``at`` (time) and ``prediction``; for classifiers optionally
        ``proba_<class>`` (enables ROC-AUC and log loss).
    labels : DataFrame
        Columns *id_column* and *label_column* (the true outcome).
    task : Task or str
        ``binary``, ``multiclass`` or ``regression``.
    window : str, default "1D"
        pandas frequency of the windows ("1h", "1D", "7D", "W"...).
    baseline_metrics : dict, optional
        Metrics at deployment, e.g. ``bundle.metrics["test"]``; each window reports
        its difference from them.
    gates : list of str or Gate, optional
        KPI gates, e.g. ``["recall >= 0.80", "rmse <= 12"]``.
    tolerance : float, optional
        Also gate every baseline metric: it may worsen by at most this much.
    classes : list, optional
        The model's classes (column order of the probabilities).
    min_samples : int, default 30
        Windows with fewer labelled rows are scored but not gated.

    Raises
    ------
    DataError
        If a required column is missing, or the task is not supervised.
    """
    import pandas as pd

    task = Task(task)
    if task not in (Task.BINARY, Task.MULTICLASS, Task.REGRESSION):
        raise DataError(
            f"Quality over time needs a supervised task (binary, multiclass, regression); "
            f"got {task}."
        )
    for frame, needed, what in (
        (predictions, ("id", time_column, "prediction"), "predictions"),
        (labels, (id_column, label_column), "labels"),
    ):
        missing = [c for c in needed if c not in frame.columns]
        if missing:
            raise DataError(
                f"The {what} have no column {', '.join(repr(c) for c in missing)} "
                f"(columns: {', '.join(map(str, list(frame.columns)[:12]))}). "
                + (
                    "Pass --id-column / --label-column to name them."
                    if what == "labels"
                    else "Give id, at and prediction columns."
                )
            )
    gate_list = [Gate.parse(g) for g in gates or []]
    baseline = {k: v for k, v in (baseline_metrics or {}).items() if _is_number(v)}
    if tolerance is not None:
        for metric, value in baseline.items():
            v = float(value or 0.0)
            op, bound = ("<=", v + tolerance) if lower_is_better(metric) else (">=", v - tolerance)
            gate_list.append(Gate(metric, op, round(bound, 10)))

    notes: list[str] = []
    preds = predictions.copy()
    preds["_key"] = preds["id"].astype(str)
    preds["_at"] = pd.to_datetime(preds[time_column], utc=True)
    preds = preds.sort_values("_at").drop_duplicates("_key", keep="last")
    lab = labels[[id_column, label_column]].copy()
    lab["_key"] = lab[id_column].astype(str)
    lab = lab.drop_duplicates("_key", keep="last")
    joined = preds.merge(lab[["_key", label_column]], on="_key", how="left")
    joined = joined.rename(columns={label_column: "_label"})
    n_unmatched = int((~lab["_key"].isin(preds["_key"])).sum())
    if n_unmatched:
        notes.append(f"{n_unmatched:,} label(s) match no logged prediction by id and are ignored.")
    labelled = joined["_label"].notna()

    scorer = _scorer(task, classes, joined, notes)
    windows: list[QualityWindow] = []
    offset = pd.tseries.frequencies.to_offset(window)
    for start, group in joined.groupby(pd.Grouper(key="_at", freq=offset)):
        if group.empty:
            continue
        done = group[group["_label"].notna()]
        w = QualityWindow(
            start=pd.Timestamp(cast(Any, start)).isoformat(),
            end=(pd.Timestamp(cast(Any, start)) + offset).isoformat(),
            n_predictions=len(group),
            n_labelled=len(done),
        )
        if len(done):
            w.metrics = scorer(done)
            w.deltas = {
                k: (w.metrics[k] - v) if _is_number(w.metrics.get(k)) and v is not None else None  # type: ignore[operator]
                for k, v in baseline.items()
                if k in w.metrics
            }
            w.gated = len(done) >= min_samples
            if w.gated:
                w.breaches = _breaches(w.metrics, gate_list)
        windows.append(w)
    overall = scorer(joined[labelled]) if labelled.any() else {}
    unknown = sorted({g.metric for g in gate_list} - set(overall)) if overall else []
    if unknown:
        notes.append(f"Gate metric(s) {', '.join(unknown)} are not computed for {task} models.")
    if labelled.any() and not any(w.gated for w in windows):
        notes.append(
            f"No window has {min_samples} labelled rows, so no gate was checked; use a longer "
            "window or lower min_samples."
        )
    return QualityReport(
        task=str(task),
        window=window,
        windows=windows,
        baseline=dict(baseline),
        gates=gate_list,
        overall=overall,
        n_predictions=len(joined),
        n_labelled=int(labelled.sum()),
        n_labels_unmatched=n_unmatched,
        min_samples=min_samples,
        notes=notes,
    )


def _breaches(metrics: Mapping[str, float | None], gates: Sequence[Gate]) -> list[str]:
    out = []
    for gate in gates:
        value = metrics.get(gate.metric)
        if _is_number(value) and not gate.passes(float(value)):  # type: ignore[arg-type]
            out.append(f"{gate.metric} {value:.4g} {NEGATED[gate.op]} {gate.value:g} (gate {gate})")
    return out


def _scorer(
    task: Task, classes: Sequence[Any] | None, joined: pd.DataFrame, notes: list[str]
) -> Callable[[pd.DataFrame], dict[str, float | None]]:
    import numpy as np

    from loopml.evaluate import evaluate_classification, evaluate_regression

    if task == Task.REGRESSION:

        def score_regression(df: pd.DataFrame) -> dict[str, float | None]:
            y = df["_label"].astype("float64").to_numpy()
            p = df["prediction"].astype("float64").to_numpy()
            return dict(evaluate_regression(y, p).metrics)

        return score_regression

    known = list(classes) if classes is not None else _observed_classes(joined)
    lookup = {_text(c): c for c in known}
    proba_cols = [f"proba_{c}" for c in known]
    has_proba = all(c in joined.columns for c in proba_cols) and len(known) >= 2
    unknown = (
        sorted(
            {_text(v) for v in joined["_label"].dropna()}
            | {_text(v) for v in joined["prediction"].dropna()}
        )
        if known
        else []
    )
    unknown = [u for u in unknown if u not in lookup]
    if unknown:
        notes.append(
            f"Rows with labels or predictions outside the model's classes ({', '.join(unknown[:5])}) "
            "are ignored."
        )

    def score_classes(df: pd.DataFrame) -> dict[str, float | None]:
        y = df["_label"].map(_text).map(lookup)
        p = df["prediction"].map(_text).map(lookup)
        keep = (y.notna() & p.notna()).to_numpy()
        if not keep.any():
            return {}
        proba = None
        if has_proba:
            proba = df.loc[keep, proba_cols].astype("float64").to_numpy()
            if np.isnan(proba).any():
                proba = None
        report = evaluate_classification(y[keep].tolist(), p[keep].tolist(), proba, classes=known)
        return dict(report.metrics)

    return score_classes


def _observed_classes(joined: pd.DataFrame) -> list[Any]:
    values = set(joined["_label"].dropna().tolist()) | set(joined["prediction"].dropna().tolist())
    try:
        return sorted(values)
    except TypeError:
        return sorted({str(v) for v in values})


def _text(value: Any) -> str:
    """A label as text: ``1``, ``1.0`` and ``"1"`` are one class (a CSV with gaps reads floats)."""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if hasattr(value, "item") and not isinstance(value, str):
        return _text(value.item())
    return str(value)


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def _finite(value: float | None) -> float | None:
    return float(value) if value is not None and _is_number(value) else None


def _day(iso: str) -> str:
    return iso[:10] if iso.endswith(("T00:00:00+00:00", "T00:00:00")) else iso
