"""loopml.monitor: data drift, prediction drift, data quality, model quality over time,
operational figures, and alerts.

Submodules load on first use, so ``import loopml.monitor`` stays cheap.

Examples
--------
>>> from loopml.monitor import drift_report
>>> import pandas as pd
>>> report = drift_report(pd.DataFrame({"x": [1.0, 2.0, 3.0]}), pd.DataFrame({"x": [1.0, 2.0, 3.5]}))
>>> report.dataset_drift
False
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

_LAZY: dict[str, str] = {
    "ColumnDrift": "loopml.monitor.drift",
    "ColumnQuality": "loopml.monitor.drift",
    "DriftReport": "loopml.monitor.drift",
    "drift_report": "loopml.monitor.drift",
    "reference_from_bundle": "loopml.monitor.drift",
    "Gate": "loopml.monitor.quality",
    "QualityReport": "loopml.monitor.quality",
    "QualityWindow": "loopml.monitor.quality",
    "quality_over_time": "loopml.monitor.quality",
    "OpsReport": "loopml.monitor.ops",
    "OpsWindow": "loopml.monitor.ops",
    "ops_from_store": "loopml.monitor.ops",
    "ops_summary": "loopml.monitor.ops",
    "AlertEvent": "loopml.monitor.alerts",
    "AlertRule": "loopml.monitor.alerts",
    "Alerter": "loopml.monitor.alerts",
    "FileChannel": "loopml.monitor.alerts",
    "LogChannel": "loopml.monitor.alerts",
    "WebhookChannel": "loopml.monitor.alerts",
    "inputs_frame": "loopml.monitor.logs",
    "predictions_frame": "loopml.monitor.logs",
    "render_monitor": "loopml.monitor.report",
    "save_monitor": "loopml.monitor.report",
}

__all__ = [
    "AlertEvent",
    "AlertRule",
    "Alerter",
    "ColumnDrift",
    "ColumnQuality",
    "DriftReport",
    "FileChannel",
    "Gate",
    "LogChannel",
    "OpsReport",
    "OpsWindow",
    "QualityReport",
    "QualityWindow",
    "WebhookChannel",
    "drift_report",
    "inputs_frame",
    "ops_from_store",
    "ops_summary",
    "predictions_frame",
    "quality_over_time",
    "reference_from_bundle",
    "render_monitor",
    "save_monitor",
]


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'loopml.monitor' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(__all__) | {"stattests"})


if TYPE_CHECKING:
    from loopml.monitor.alerts import (
        Alerter,
        AlertEvent,
        AlertRule,
        FileChannel,
        LogChannel,
        WebhookChannel,
    )
    from loopml.monitor.drift import (
        ColumnDrift,
        ColumnQuality,
        DriftReport,
        drift_report,
        reference_from_bundle,
    )
    from loopml.monitor.logs import inputs_frame, predictions_frame
    from loopml.monitor.ops import OpsReport, OpsWindow, ops_from_store, ops_summary
    from loopml.monitor.quality import Gate, QualityReport, QualityWindow, quality_over_time
    from loopml.monitor.report import render_monitor, save_monitor
