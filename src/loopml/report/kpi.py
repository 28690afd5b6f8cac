"""KPI gates of the run report: ``recall >= 0.8`` checked on the test (or validation) metrics.

Examples
--------
>>> kpi = parse_kpi("recall >= 0.8")
>>> kpi.passes(0.85), str(kpi)
(True, 'recall >= 0.8')
>>> check_kpis(["recall >= 0.8"], {"recall": 0.7})[0]["passed"]
False
"""

from __future__ import annotations

import operator
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from loopml.exceptions import DataError

__all__ = ["KPI", "check_kpis", "parse_kpi"]

_OPS: dict[str, Callable[[float, float], bool]] = {
    ">=": operator.ge,
    "<=": operator.le,
    ">": operator.gt,
    "<": operator.lt,
    "==": operator.eq,
}
_KPI = re.compile(r"^\s*([A-Za-z_][A-Za-z0-9_]*)\s*(>=|<=|==|>|<)\s*([-+0-9.eE]+)\s*$")


@dataclass(frozen=True)
class KPI:
    """A gate such as ``recall >= 0.8``; ``metric`` may carry a ``valid_``/``test_`` prefix."""

    metric: str
    op: str
    value: float

    def __str__(self) -> str:
        return f"{self.metric} {self.op} {self.value:g}"

    def passes(self, actual: float) -> bool:
        return _OPS[self.op](actual, self.value)


def parse_kpi(text: str) -> KPI:
    """Parse ``"metric >= 0.8"`` (operators ``>=``, ``>``, ``<=``, ``<``, ``==``)."""
    m = _KPI.match(text)
    if not m:
        raise DataError(
            f"KPI {text!r} must look like 'metric >= number' (operators >=, >, <=, <, ==), "
            "e.g. 'recall >= 0.8'."
        )
    try:
        value = float(m.group(3))
    except ValueError:
        raise DataError(f"KPI {text!r}: {m.group(3)!r} is not a number.") from None
    return KPI(m.group(1).lower(), m.group(2), value)


def check_kpis(
    kpis: Sequence[str | KPI], test: Mapping[str, Any], valid: Mapping[str, Any] | None = None
) -> list[dict[str, Any]]:
    """Each KPI with the measured value (test metrics unless prefixed ``valid_``) and
    ``passed`` (None when the metric was not measured)."""
    out = []
    for k in kpis:
        kpi = k if isinstance(k, KPI) else parse_kpi(k)
        name, source = kpi.metric, test
        if name.startswith("valid_"):
            name, source = name.removeprefix("valid_"), valid or {}
        elif name.startswith("test_"):
            name = name.removeprefix("test_")
        name = _canonical(name)
        actual = source.get(name)
        ok = None if actual is None else kpi.passes(float(actual))
        out.append({"kpi": str(kpi), "metric": name, "value": actual, "passed": ok})
    return out


def _canonical(name: str) -> str:
    from loopml.evaluate.scoring import get_metric

    try:
        return get_metric(name).name
    except DataError:
        return name  # e.g. specificity, mcc: measured by evaluation, unknown to selection
