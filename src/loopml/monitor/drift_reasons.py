"""The sentences of a drift report: why a column drifted or did not, with the numbers.

:func:`numeric_reason` and :func:`categorical_reason` give a column's ``reason``: the
test's verdict ("Kolmogorov-Smirnov p-value 0.003 <= 0.05") and what moved (means,
spreads, the category whose share changed most). :func:`num` and :func:`pct` format
the figures they and the data-quality issues quote.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from loopml.monitor import columns as cols
from loopml.monitor.stattests import DISPLAY_NAMES, TestResult

__all__ = ["categorical_reason", "num", "numeric_reason", "pct"]


def numeric_reason(result: TestResult, ref: dict[str, Any], cur: dict[str, Any]) -> str:
    """The verdict and how the mean, standard deviation and median moved."""
    change = (
        f"mean {num(ref['mean'])} \u2192 {num(cur['mean'])}, "
        f"std {num(ref['std'])} \u2192 {num(cur['std'])}, "
        f"median {num(ref['median'])} \u2192 {num(cur['median'])}"
    )
    return _sentence(result, change)


def categorical_reason(
    result: TestResult,
    labels: list[str],
    ref_c: Any,
    cur_c: Any,
    new: Mapping[str, int],
) -> str:
    """The verdict, the category whose share moved most, and how many are new."""
    moved = cols.biggest_share_change(labels, ref_c, cur_c)
    detail = ""
    if moved is not None:
        label, a, b = moved
        detail = f"largest change '{label}' {pct(a)} \u2192 {pct(b)} of rows"
    if new:
        detail += f"{'; ' if detail else ''}{len(new)} new categor{'y' if len(new) == 1 else 'ies'}"
    return _sentence(result, detail)


def _sentence(result: TestResult, detail: str) -> str:
    head = _verdict(result)
    if result.drifted:
        return f"Drift: {head}; {detail}." if detail else f"Drift: {head}."
    return f"No drift: {head} ({detail})." if detail else f"No drift: {head}."


def _verdict(result: TestResult) -> str:
    name = DISPLAY_NAMES[result.test]
    if result.is_p_value:
        p = num(result.p_value)
        op = (
            ("<=" if result.test == "ks" else "<")
            if result.drifted
            else (">" if result.test == "ks" else ">=")
        )
        return f"{name} p-value {p} {op} {result.threshold:g}"
    op = ">=" if result.drifted else "<"
    if result.test == "wasserstein":
        return (
            f"Wasserstein distance {num(result.score)} reference standard deviations "
            f"{op} {result.threshold:g}"
        )
    return f"{name} {num(result.score)} {op} {result.threshold:g}"


def num(value: float | None) -> str:
    """A figure in four significant digits; tiny ones (p-values) in scientific notation."""
    if value is None or not math.isfinite(value):
        return "n/a" if value is None or math.isnan(value) else str(value)
    if value != 0 and abs(value) < 1e-3:
        return f"{value:.2e}"
    return f"{value:.4g}"


def pct(share: float) -> str:
    """A share of rows as a percentage with one decimal."""
    return f"{100 * share:.1f}%"
