"""The objects a drift report is made of: one column's test, one column's data quality,
and the report that gathers them with its verdict (:class:`DriftReport`)."""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from loopml.monitor.columns import Distribution
from loopml.monitor.stattests import DISPLAY_NAMES

__all__ = ["ColumnDrift", "ColumnQuality", "DriftReport"]


@dataclass
class ColumnDrift:
    """One column's drift test.

    ``score`` is compared with ``threshold``: a p-value (drift when below; KS also at
    equality) or a distance (drift when at or above). ``reason`` says it in a sentence.
    """

    column: str
    kind: str
    test: str
    statistic: float
    p_value: float | None
    score: float
    threshold: float
    drifted: bool
    reason: str
    n_reference: int
    n_current: int
    summary: dict[str, Any]
    distribution: Distribution

    @property
    def test_name(self) -> str:
        return DISPLAY_NAMES[self.test]

    def to_dict(self) -> dict[str, Any]:
        return {
            "column": self.column,
            "kind": self.kind,
            "test": self.test,
            "test_name": self.test_name,
            "statistic": _finite(self.statistic),
            "p_value": _finite(self.p_value),
            "score": _finite(self.score),
            "threshold": self.threshold,
            "drifted": self.drifted,
            "reason": self.reason,
            "n_reference": self.n_reference,
            "n_current": self.n_current,
            "summary": self.summary,
            "distribution": self.distribution.to_dict(),
        }


@dataclass
class ColumnQuality:
    """Data quality of one column, reference against current."""

    column: str
    kind: str
    missing_reference: float
    missing_current: float
    missing_surge: bool = False
    invalid_current: int = 0
    new_categories: dict[str, int] = field(default_factory=dict)
    new_category_rows: int = 0
    below_range: int = 0
    above_range: int = 0
    range: tuple[float, float] | None = None
    range_source: str | None = None
    out_of_range_share: float = 0.0
    issues: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {
            "column": self.column,
            "kind": self.kind,
            "missing_reference": self.missing_reference,
            "missing_current": self.missing_current,
            "missing_surge": self.missing_surge,
            "invalid_current": self.invalid_current,
            "new_categories": self.new_categories,
            "new_category_rows": self.new_category_rows,
            "below_range": self.below_range,
            "above_range": self.above_range,
            "range": list(self.range) if self.range else None,
            "range_source": self.range_source,
            "out_of_range_share": self.out_of_range_share,
            "issues": self.issues,
        }


@dataclass
class DriftReport:
    """What :func:`drift_report` found. ``dataset_drift`` is the headline verdict."""

    columns: list[ColumnDrift]
    quality: list[ColumnQuality]
    prediction: list[ColumnDrift]
    n_reference: int
    n_current: int
    drift_share: float
    method: str
    skipped: dict[str, str] = field(default_factory=dict)
    missing_columns: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    seconds: float = 0.0
    model: str | None = None

    @property
    def n_drifted(self) -> int:
        return sum(c.drifted for c in self.columns)

    @property
    def share_drifted(self) -> float:
        return self.n_drifted / len(self.columns) if self.columns else 0.0

    @property
    def dataset_drift(self) -> bool:
        """True when the share of drifted features reaches ``drift_share``."""
        return bool(self.columns) and self.share_drifted >= self.drift_share

    @property
    def drifted_columns(self) -> list[str]:
        return [c.column for c in self.columns if c.drifted]

    @property
    def prediction_drift(self) -> bool:
        return any(c.drifted for c in self.prediction)

    @property
    def quality_issues(self) -> list[str]:
        return [issue for q in self.quality for issue in q.issues]

    def __getitem__(self, column: str) -> ColumnDrift:
        for c in self.columns:
            if c.column == column:
                return c
        raise KeyError(column)

    def figures(self) -> dict[str, float]:
        """Flat numbers for alert rules: ``dataset_drift``, ``drift_share``,
        ``n_drifted``, ``prediction_drift``, ``quality_issues``, and per column
        ``drift_score.<col>``, ``drifted.<col>``, ``missing_share.<col>``,
        ``new_category_rows.<col>``, ``out_of_range_share.<col>``."""
        out: dict[str, float] = {
            "dataset_drift": float(self.dataset_drift),
            "drift_share": self.share_drifted,
            "n_drifted": float(self.n_drifted),
            "prediction_drift": float(self.prediction_drift),
            "quality_issues": float(len(self.quality_issues)),
        }
        for c in [*self.columns, *self.prediction]:
            out[f"drift_score.{c.column}"] = c.score
            out[f"drifted.{c.column}"] = float(c.drifted)
        for q in self.quality:
            out[f"missing_share.{q.column}"] = q.missing_current
            out[f"new_category_rows.{q.column}"] = float(q.new_category_rows)
            out[f"out_of_range_share.{q.column}"] = q.out_of_range_share
        return out

    def summary(self) -> str:
        """One line: the verdict and the drifted columns."""
        verdict = "Dataset drift" if self.dataset_drift else "No dataset drift"
        text = (
            f"{verdict}: {self.n_drifted} of {len(self.columns)} columns drifted "
            f"({100 * self.share_drifted:.0f}%, threshold {100 * self.drift_share:.0f}%)"
        )
        if self.drifted_columns:
            text += ": " + ", ".join(self.drifted_columns[:8])
            if len(self.drifted_columns) > 8:
                text += f" and {len(self.drifted_columns) - 8} more"
        return text + "."

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe dict (NaN and infinities become None)."""
        return {
            "dataset_drift": self.dataset_drift,
            "share_drifted": self.share_drifted,
            "n_drifted": self.n_drifted,
            "n_columns": len(self.columns),
            "drift_share": self.drift_share,
            "drifted_columns": self.drifted_columns,
            "method": self.method,
            "n_reference": self.n_reference,
            "n_current": self.n_current,
            "model": self.model,
            "seconds": self.seconds,
            "columns": [c.to_dict() for c in self.columns],
            "prediction": [c.to_dict() for c in self.prediction],
            "prediction_drift": self.prediction_drift,
            "quality": [q.to_dict() for q in self.quality],
            "quality_issues": self.quality_issues,
            "skipped": self.skipped,
            "missing_columns": self.missing_columns,
            "notes": self.notes,
        }

    def to_json(self, indent: int | None = 2) -> str:
        return json.dumps(self.to_dict(), indent=indent, allow_nan=False)

    def to_html(self, *, title: str | None = None) -> str:
        """The report as a self-contained HTML page (overlaid distributions per column)."""
        from loopml.monitor.report import render_monitor

        return render_monitor(drift=self, title=title)

    def save(self, path: str | Path, *, title: str | None = None) -> Path:
        """Write the HTML page to *path* and the JSON beside it (``.json``), atomically.

        A *path* ending in ``.json`` writes the JSON only. Returns the path written.
        """
        from loopml.monitor.report import save_monitor

        return save_monitor(path, drift=self, title=title)


def _finite(value: float | None) -> float | None:
    if value is None or not math.isfinite(value):
        return None
    return float(value)
