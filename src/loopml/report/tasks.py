"""Reports for clustering, association rules, anomaly detection, multi-label and
semi-supervised runs, in the style of the supervised run report: an overview of
headline cards, what the model found (tables and figures), the data, the model card.

:func:`render_task_report` writes the page for any of the results of
:mod:`loopml.learn.tasks`, :mod:`loopml.learn.multilabel` and :mod:`loopml.learn.semi`.

Examples
--------
>>> from loopml.learn.tasks import cluster
>>> result = cluster("customers.csv")  # doctest: +SKIP
>>> render_task_report(result, "segments.html")  # doctest: +SKIP
PosixPath('segments.html')
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from loopml.report.html import write_html
from loopml.report.task_anomalies import anomaly_report
from loopml.report.task_clusters import MAX_SEGMENT_FEATURES as MAX_SEGMENT_FEATURES
from loopml.report.task_clusters import cluster_report
from loopml.report.task_multilabel import multilabel_report
from loopml.report.task_rules import MAX_RULES_SHOWN as MAX_RULES_SHOWN
from loopml.report.task_rules import rules_report
from loopml.report.task_semi import semi_supervised_report

__all__ = [
    "anomaly_report",
    "build_task_report",
    "cluster_report",
    "multilabel_report",
    "render_task_report",
    "rules_report",
    "semi_supervised_report",
]


def build_task_report(result: Any) -> str:
    """The HTML page of a task result (clustering, rules, anomalies, multi-label,
    semi-supervised)."""
    from loopml.learn.tasks import AnomalyResult, ClusterResult, RulesResult

    if isinstance(result, ClusterResult):
        return cluster_report(result)
    if isinstance(result, AnomalyResult):
        return anomaly_report(result)
    if isinstance(result, RulesResult):
        return rules_report(result)
    from loopml.learn.multilabel import MultilabelResult

    if isinstance(result, MultilabelResult):
        return multilabel_report(result)
    from loopml.learn.semi import SemiSupervisedResult

    if isinstance(result, SemiSupervisedResult):
        return semi_supervised_report(result)
    raise TypeError(f"No task report for a {type(result).__name__}.")


def render_task_report(result: Any, path: str | Path) -> Path:
    """Write the report of *result* to *path* (atomically) and return the path."""
    return write_html(path, build_task_report(result))
