"""KPI gates: the business thresholds a model version must meet before it is deployed.

A gate is ``METRIC OP NUMBER`` (``"recall >= 0.8"``, ``"rmse<=50"``,
``"latency_p95_ms <= 20"``) with OP one of ``>=``, ``>``, ``<=``, ``<``, ``==``.
The project spec holds them as a list (``kpis: ["recall >= 0.8"]``) or a mapping
(``kpis: {recall: ">= 0.8"}``); :func:`parse_gates` reads both. A gate checked
against a version's figures gives a :class:`GateResult` whose message says by
how much it passed or failed; a figure that is missing (or NaN) fails the gate.

Examples
--------
>>> gate = Gate.parse("recall >= 0.8")
>>> gate.check({"recall": 0.74}).message
'recall 0.74 < 0.8 (short by 0.06)'
>>> [str(g) for g in parse_gates({"rmse": "<= 50", "latency_p95_ms": 20})]
['rmse <= 50', 'latency_p95_ms <= 20']
"""

from __future__ import annotations

import math
import operator
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from loopml.exceptions import DataError, LoopmlError

__all__ = [
    "Gate",
    "GateError",
    "GateReport",
    "GateResult",
    "check_gates",
    "gates_from_spec",
    "parse_gates",
]

_OPS: dict[str, Callable[[float, float], bool]] = {
    ">=": operator.ge,
    ">": operator.gt,
    "<=": operator.le,
    "<": operator.lt,
    "==": operator.eq,
}
# The opposite comparison, as a failure message shows it: "0.74 < 0.8" for a failed ">=".
_NEGATED = {">=": "<", ">": "<=", "<=": ">", "<": ">=", "==": "!="}
_GATE = re.compile(
    r"^\s*(?P<metric>[A-Za-z_][A-Za-z0-9_.\-]*)\s*(?P<op>>=|<=|==|=>|=<|>|<|=)\s*"
    r"(?P<value>[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?)\s*(?P<pct>%?)\s*$"
)
_VALUE = re.compile(r"^\s*(?P<op>>=|<=|==|>|<|=)?\s*(?P<value>[^\s%]+)\s*(?P<pct>%?)\s*$")
#: Figures where lower is better, for gates given as a bare number (``{"rmse": 50}``).
_LOWER_IS_BETTER = re.compile(
    r"(^|_)(rmse|mse|mae|mape|median_ae|log_loss|loss|error|latency.*|.*_ms|.*_s|seconds|"
    r"size.*|memory.*|.*_mb)$"
)
#: Where a tolerance is needed for ``==``: figures are floats.
_EQ_TOLERANCE = 1e-9
_FORMAT = "write METRIC OP NUMBER with OP one of >=, >, <=, <, ==, e.g. 'recall >= 0.8'"


class GateError(LoopmlError, ValueError):
    """A model version misses KPI gates it must pass (or a gate cannot be read).

    ``report`` holds the :class:`GateReport` when the refusal comes from a check.
    """

    def __init__(self, message: str, report: GateReport | None = None) -> None:
        super().__init__(message)
        self.report = report


@dataclass(frozen=True)
class GateResult:
    """One gate checked against one set of figures.

    ``margin`` is how far the figure is on the good side of the threshold
    (negative when the gate fails; None when the figure is missing).
    """

    gate: Gate
    passed: bool
    actual: float | None
    margin: float | None
    message: str

    def to_dict(self) -> dict[str, Any]:
        return {
            "gate": str(self.gate),
            "metric": self.gate.metric,
            "op": self.gate.op,
            "threshold": self.gate.threshold,
            "passed": self.passed,
            "actual": self.actual,
            "margin": self.margin,
            "message": self.message,
        }


@dataclass(frozen=True)
class Gate:
    """``metric op threshold``, e.g. ``Gate("recall", ">=", 0.8)``."""

    metric: str
    op: str
    threshold: float

    def __post_init__(self) -> None:
        if self.op not in _OPS:
            raise GateError(
                f"Gate operator {self.op!r} is not one of {', '.join(_OPS)} ({_FORMAT})."
            )
        if not math.isfinite(self.threshold):
            raise GateError(
                f"Gate '{self.metric} {self.op} {self.threshold}' needs a finite number."
            )

    def __str__(self) -> str:
        return f"{self.metric} {self.op} {_fmt(self.threshold)}"

    @classmethod
    def parse(cls, text: str) -> Gate:
        """Read ``"recall >= 0.8"``; ``=`` means ``==`` and ``80%`` means ``0.8``."""
        match = _GATE.match(str(text))
        if match is None:
            raise GateError(f"KPI gate {text!r} is not understood: {_FORMAT}.")
        op = {"=>": ">=", "=<": "<=", "=": "=="}.get(match["op"], match["op"])
        value = float(match["value"]) / (100.0 if match["pct"] else 1.0)
        return cls(match["metric"], op, value)

    @property
    def lower_is_better(self) -> bool:
        return self.op in ("<=", "<")

    def check(self, metrics: Mapping[str, Any]) -> GateResult:
        """Check the gate against *metrics* (``{"recall": 0.74, ...}``)."""
        key = resolve_metric(self.metric, metrics)
        raw = metrics.get(key) if key is not None else None
        actual = _as_float(raw)
        if actual is None or math.isnan(actual):
            have = ", ".join(sorted(str(k) for k in metrics)) or "none"
            why = "is NaN" if actual is not None else "is not recorded for this version"
            return GateResult(
                self,
                False,
                None,
                None,
                f"{self.metric} {why}, so '{self}' cannot pass (figures recorded: {have}).",
            )
        passed = bool(_OPS[self.op](actual, self.threshold))
        if self.op == "==":
            passed = math.isclose(actual, self.threshold, rel_tol=1e-9, abs_tol=_EQ_TOLERANCE)
            margin = -abs(actual - self.threshold)
        elif self.op in (">=", ">"):
            margin = actual - self.threshold
        else:
            margin = self.threshold - actual
        shown = self.metric if key == self.metric else f"{self.metric} ({key})"
        if passed:
            extra = f" (by {_fmt(abs(margin))})" if self.op != "==" else ""
            message = f"{shown} {_fmt(actual)} {self.op} {_fmt(self.threshold)}{extra}"
        else:
            word = {">=": "short by", ">": "short by", "<=": "over by", "<": "over by"}.get(
                self.op, "off by"
            )
            message = (
                f"{shown} {_fmt(actual)} {_NEGATED[self.op]} {_fmt(self.threshold)} "
                f"({word} {_fmt(abs(margin))})"
            )
        return GateResult(self, passed, actual, margin, message)


@dataclass(frozen=True)
class GateReport:
    """Every gate's result for one set of figures."""

    results: list[GateResult] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        return all(r.passed for r in self.results)

    @property
    def failures(self) -> list[GateResult]:
        return [r for r in self.results if not r.passed]

    def summary(self) -> str:
        """One line: ``"2/3 gates pass; failed: recall 0.74 < 0.8 (short by 0.06)"``."""
        n = len(self.results)
        ok = n - len(self.failures)
        if not self.failures:
            return f"{ok}/{n} gates pass"
        return f"{ok}/{n} gates pass; failed: " + "; ".join(r.message for r in self.failures)

    def to_dict(self) -> dict[str, Any]:
        return {"passed": self.passed, "results": [r.to_dict() for r in self.results]}


def parse_gates(spec: Any) -> list[Gate]:
    """Gates from a string, a list of strings, or a mapping ``{metric: "OP NUMBER"}``.

    Parameters
    ----------
    spec : str, list, dict or None
        ``"recall >= 0.8"``; ``["recall >= 0.8", "latency_p95_ms <= 20"]``;
        ``{"recall": ">= 0.8", "rmse": 50}`` (a bare number means ``<=`` for figures
        where lower is better (errors, losses, latency, sizes) and ``>=`` otherwise).
        List items may also be mappings ``{"metric": ..., "op": ..., "value": ...}``.

    Raises
    ------
    GateError
        Naming the entry that cannot be read and the expected form.
    """
    if spec is None:
        return []
    if isinstance(spec, Gate):
        return [spec]
    if isinstance(spec, str):
        # "recall >= 0.8; rmse <= 50" or "recall >= 0.8, rmse <= 50"
        return [Gate.parse(p) for p in re.split(r"[;\n]|,\s*(?=[A-Za-z_])", spec) if p.strip()]
    if isinstance(spec, Mapping):
        return [_from_pair(str(k), v) for k, v in spec.items()]
    if isinstance(spec, Iterable):
        gates: list[Gate] = []
        for item in spec:
            if isinstance(item, Gate):
                gates.append(item)
            elif isinstance(item, Mapping) and "metric" in item:
                op = str(item.get("op", item.get("operator", "")))
                value = item.get("value", item.get("threshold"))
                gates.append(_from_pair(str(item["metric"]), f"{op} {value}".strip()))
            elif isinstance(item, Mapping):
                gates.extend(parse_gates(item))
            else:
                gates.extend(parse_gates(str(item)))
        return gates
    raise GateError(
        f"KPI gates must be a list or a mapping; got {type(spec).__name__} ({_FORMAT})."
    )


def check_gates(gates: Iterable[Gate | str], metrics: Mapping[str, Any]) -> GateReport:
    """Check every gate against *metrics*."""
    return GateReport([gate.check(metrics) for gate in parse_gates(list(gates))])


def gates_from_spec(path: str | Path) -> list[Gate]:
    """The KPI gates of a project spec file (``loopml.yaml``): its ``kpis`` key.

    Tolerant of the spec's shape: ``kpis`` (or ``gates``) at the top level or under
    ``project``/``goal``/``goals``, as a list or a mapping. A spec without one has no
    gates (an empty list).

    Raises
    ------
    GateError
        If the file cannot be read as YAML or a gate cannot be parsed.
    """
    import yaml

    path = Path(path)
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise GateError(f"Spec file {path} does not exist. Check the --spec path.") from None
    except (OSError, yaml.YAMLError) as exc:
        raise GateError(f"Cannot read the spec {path} as YAML: {exc}") from None
    if not isinstance(data, Mapping):
        return []
    for holder in (data, data.get("project"), data.get("goal"), data.get("goals")):
        if isinstance(holder, Mapping):
            for key in ("kpis", "kpi", "gates"):
                if holder.get(key) is not None:
                    try:
                        return parse_gates(holder[key])
                    except GateError as exc:
                        raise GateError(f"{path}, key '{key}': {exc}") from None
    return []


def resolve_metric(name: str, metrics: Mapping[str, Any]) -> str | None:
    """The key of *metrics* a gate on *name* reads: exact, without ``test_``, or an alias."""
    if name in metrics:
        return name
    candidates = [name.lower()]
    for prefix in ("test_", "test."):
        if candidates[0].startswith(prefix):
            candidates.append(candidates[0][len(prefix) :])
    try:
        from loopml.evaluate.scoring import get_metric

        candidates += [get_metric(c).name for c in list(candidates)]
    except DataError:
        pass
    lowered = {str(k).lower(): str(k) for k in metrics}
    for c in candidates:
        if c in lowered:
            return lowered[c]
    return None


def _from_pair(metric: str, value: Any) -> Gate:
    if isinstance(value, bool):
        raise GateError(f"KPI gate for {metric!r} must be a number or 'OP NUMBER'; got {value!r}.")
    if isinstance(value, int | float):
        op = "<=" if _LOWER_IS_BETTER.search(metric.lower()) else ">="
        return Gate(metric, op, float(value))
    match = _VALUE.match(str(value))
    if match is None:
        raise GateError(f"KPI gate {metric}: {value!r} is not understood: {_FORMAT}.")
    if match["op"] is None:
        try:
            return _from_pair(metric, float(match["value"]) / (100.0 if match["pct"] else 1.0))
        except ValueError:
            raise GateError(f"KPI gate {metric}: {value!r} is not understood: {_FORMAT}.") from None
    return Gate.parse(f"{metric} {value}")


def _as_float(value: Any) -> float | None:
    if value is None or isinstance(value, bool | str):
        return None
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


def _fmt(x: float) -> str:
    """Short, stable number text: 0.74, 0.8, 20, 1234.568, 1.2e-05."""
    if x == 0:
        return "0"
    if abs(x) >= 1e6 or abs(x) < 1e-3:
        return f"{x:.3g}"
    text = f"{x:.4f}".rstrip("0").rstrip(".")
    return text if text not in ("", "-0") else "0"
