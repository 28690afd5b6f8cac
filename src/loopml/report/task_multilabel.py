"""The multi-label classification report."""

from __future__ import annotations

from typing import TYPE_CHECKING

from loopml.report import figures
from loopml.report.html import Card, Section, Table
from loopml.report.task_common import (
    columns_section,
    metrics_table,
    model_card_section,
    note_alerts,
    run_card,
    split_rows,
    task_page,
)

if TYPE_CHECKING:
    from loopml.learn.multilabel import MultilabelResult

__all__ = ["multilabel_report"]

#: Per-label columns shown in the multi-label report.
_PER_LABEL = ("threshold", "precision", "recall", "f1", "support", "predicted", "roc_auc")


def multilabel_report(result: MultilabelResult) -> str:
    """Multi-label: the leaderboard, per-label thresholds and metrics, averaged metrics,
    Hamming loss and subset accuracy on the test split, label frequencies, the model card."""
    test = result.metrics
    cards = [
        Card("Labels", len(result.labels), f"strategy {result.strategy}", "info"),
        Card("Chosen model", result.best.model, result.ref, "accent"),
        Card(f"Test {result.metric}", test.get(result.metric), "held-out test rows", "accent"),
        Card("Hamming loss", test.get("hamming_loss"), "wrong label decisions, lower is better"),
        Card("Subset accuracy", test.get("subset_accuracy"), "rows with every label right"),
        Card("Rows", sum(result.split["rows"].values()), split_rows(result.split["rows"])),
        run_card(result),
    ]
    overview = Section("Overview", cards=cards, alerts=note_alerts(result.notes))
    board = result.leaderboard
    lb = Section(
        "Leaderboard",
        tables=[
            Table(
                ["rank", "model", f"valid {result.metric}", f"train {result.metric}", "fit s"],
                [
                    [r.rank, r.model, r.valid_score, r.train_score, r.fit_time_s]
                    for r in board.itertuples()
                ],
                caption=f"{len(board)} candidate(s) on the validation split",
            )
        ],
    )
    per = result.per_label
    shown = [c for c in _PER_LABEL if c in per.columns]
    per_table = Table.from_frame(
        per[shown].round(4),
        index=True,
        caption="Per label, test split (threshold tuned on validation)",
    )
    f1 = per["f1"].fillna(0.0)
    figs = [
        figures.bar(
            [str(x) for x in per.index],
            f1.tolist(),
            horizontal=True,
            title="F1 per label (test split)",
            hover="%{x:.3f}",
        ),
        figures.bar(
            [str(x) for x in per.index],
            per["train_share"].tolist(),
            horizontal=True,
            title="Share of training rows with each label",
            hover="%{x:.1%}",
        ),
    ]
    text = (
        f"Strategy: {result.strategy} ("
        + (
            "one binary classifier per label"
            if result.strategy == "ovr"
            else "a classifier chain: each label's model also sees the labels before it"
        )
        + "). Each label's decision threshold was tuned on the validation split to maximise "
        "its F1."
    )
    labels = Section(
        "Labels", text=text, tables=[per_table], figures=figs, figure_columns=2, stack=True
    )
    averaged = {
        k: v
        for k, v in test.items()
        if k.endswith(("_micro", "_macro", "_weighted", "_samples"))
        or k in ("hamming_loss", "subset_accuracy")
    }
    avg = Section(
        "Test metrics",
        text="micro pools every (row, label) decision; macro averages labels equally; "
        "weighted by label frequency; samples averages per row.",
        tables=[metrics_table(averaged, "Averaged over labels, test split")],
    )
    return task_page(
        f"Multi-label model: {result.name} ({result.ref})",
        result,
        "multi-label classification",
        [overview, lb, labels, avg, columns_section(result), model_card_section(result)],
    )
