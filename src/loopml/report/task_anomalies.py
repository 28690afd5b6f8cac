"""The anomaly-detection report."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from loopml.report import figures
from loopml.report.html import Card, Section, Table, badge
from loopml.report.task_common import (
    columns_section,
    metrics_table,
    model_card_section,
    note_alerts,
    run_card,
    task_page,
)

if TYPE_CHECKING:
    from loopml.learn.tasks import AnomalyResult

__all__ = ["anomaly_report"]


def anomaly_report(result: AnomalyResult) -> str:
    """Anomalies: the score distribution and threshold, the most unusual rows and why,
    the check against known anomalies, the data and the model card."""
    m = result.metrics
    info = result.model.info
    cards = [
        Card("Method", str(info.get("model")).replace("_", " "), "anomaly detection", "info"),
        Card("Rows", m.get("n_rows")),
        Card(
            "Flagged",
            m.get("n_flagged"),
            f"{(m.get('flagged_fraction') or 0):.2%} of rows",
            "warning" if m.get("n_flagged") else "good",
        ),
        Card("Threshold", result.threshold, "scores above it are anomalies", "accent"),
    ]
    ev = result.evaluation
    if ev is not None:
        cards += [
            Card("Recall", ev.get("recall"), "known anomalies flagged", "accent"),
            Card("Precision", ev.get("precision"), "flags that are known anomalies", "accent"),
            Card("ROC-AUC", ev.get("roc_auc"), "of the scores"),
        ]
    cards.append(run_card(result))
    overview = Section("Overview", cards=cards, alerts=note_alerts(result.notes))
    counts, edges = np.histogram(result.scores, bins=min(60, max(10, len(result.scores) // 20)))
    hist = figures.histogram(
        edges.tolist(),
        counts.tolist(),
        title="Anomaly scores of the training rows",
        x_title="score (higher = more unusual)",
        height=320,
    )
    hist.add_vline(x=result.threshold, line_dash="dash", annotation_text="threshold")
    hist.update_yaxes(type="log" if counts.max() > 50 * max(1, np.median(counts)) else "linear")
    method = str(info.get("model"))
    text = (
        "Isolation Forest scores s(x) = 2^(-E[h(x)]/c(n)): rows isolated by few random "
        "splits score near 1, ordinary rows well below 0.5."
        if method == "isolation_forest"
        else "Local Outlier Factor: about 1 for a row as dense as its neighbours, higher for "
        "rows in sparser regions than their neighbours."
    )
    scores = Section("Scores", text=text, figures=[hist])
    top_rows = [
        [
            str(idx),
            r.score,
            badge("anomaly", "danger") if r.flagged else badge("normal", "neutral"),
            str(r.reason).split("): ", 1)[-1],
        ]
        for idx, r in zip(result.top.index, result.top.itertuples(), strict=True)
    ]
    top = Section(
        "Most unusual rows",
        text="Each row's most unusual features: numeric values by their robust z-score "
        "against the training median, categories by how rare they were.",
        tables=[Table(["row", "score", "flag", "why"], top_rows)],
    )
    known = None
    if ev is not None:
        known = Section(
            "Against known anomalies",
            text="The label column was left out of fitting and used only here.",
            tables=[metrics_table(ev, "Flags (precision, recall, F1) and scores (AUCs)")],
        )
    return task_page(
        f"Anomalies: {result.name} ({result.ref})",
        result,
        "anomaly detection",
        [overview, scores, top, known, columns_section(result), model_card_section(result)],
    )
