"""The semi-supervised classification report."""

from __future__ import annotations

from typing import TYPE_CHECKING

from loopml.report import figures
from loopml.report.html import Alert, Card, Section, Table, Tone, format_value
from loopml.report.task_common import (
    columns_section,
    model_card_section,
    note_alerts,
    run_card,
    split_rows,
    task_page,
)

if TYPE_CHECKING:
    from loopml.learn.semi import SemiSupervisedResult

__all__ = ["semi_supervised_report"]


def semi_supervised_report(result: SemiSupervisedResult) -> str:
    """Semi-supervised: did the unlabelled rows help (self-training against the
    supervised-only model on the same labelled rows), how pseudo-labels were added, the
    test evaluation of the stored model, the model card."""
    c = result.comparison
    metric = result.metric
    tones: dict[str, Tone] = {"helped": "good", "hurt": "danger"}
    verdict_tone = tones.get(c["verdict"], "warning")
    cards = [
        Card("Target", str(result.schema.target), str(result.task), "info"),
        Card("Unlabelled data", c["verdict"].replace("_", " "), c["headline"], verdict_tone),
        Card(
            f"Valid {metric}",
            c["valid"]["self_training"],
            f"supervised only: {format_value(c['valid']['supervised'])}",
            "accent",
        ),
        Card("Labelled rows", result.n_labelled, split_rows(result.split["rows"])),
        Card("Unlabelled rows", result.n_unlabelled, f"{result.n_pseudo:,} pseudo-labelled"),
        Card(
            "Stored",
            "self-trained" if result.stored == "self-training" else "supervised",
            result.ref,
            "accent",
        ),
        run_card(result),
    ]
    overview = Section(
        "Overview",
        cards=cards,
        alerts=[
            Alert(c["summary"], c["verdict"].replace("_", " "), verdict_tone),
            *note_alerts([n for n in result.notes if n != c["summary"]]),
        ],
    )
    rows = []
    for split_name in ("valid", "test"):
        scores = c.get(split_name) or {}
        if scores.get("supervised") is None and scores.get("self_training") is None:
            continue
        rows.append(
            [
                split_name,
                scores.get("n_rows"),
                scores.get("supervised"),
                scores.get("self_training"),
                scores.get("difference"),
                scores.get("only_self_training_right"),
                scores.get("only_supervised_right"),
            ]
        )
    comparison = Section(
        "Did the unlabelled data help?",
        text=f"Both models use the same base model ({result.model.info.get('model')}) and the "
        "same labelled "
        f"training rows; self-training also learns from the {result.n_unlabelled:,} unlabelled "
        f"rows through pseudo-labels. They are scored on the same labelled rows ({metric}).",
        tables=[
            Table(
                [
                    "rows",
                    "n",
                    "supervised only",
                    "self-training",
                    "difference",
                    "only self-training right",
                    "only supervised right",
                ],
                rows,
            )
        ],
    )
    history = result.history
    progress_figs = []
    if len(history):
        progress_figs.append(
            figures.bar(
                [str(i) for i in history["iteration"]],
                history["added"].tolist(),
                title="Pseudo-labels added per iteration",
                x_title="iteration",
                y_title="rows",
            )
        )
    progress = Section(
        "Self-training",
        text=f"Each iteration the model labels the unlabelled rows it is most sure of "
        f"(probability >= {result.params['threshold']}), at most a quota per class in "
        f"proportion to the classes it predicts, and is refitted; up to "
        f"{result.params['max_iter']} iterations. Stopped: {result.stop_reason}.",
        tables=[Table.from_frame(history.round(4))] if len(history) else [],
        figures=progress_figs,
        stack=True,
    )
    test_sections: list[Section] = []
    if result.evaluation is not None:
        test_sections = result.evaluation.sections()
    test = Section("Test evaluation", children=test_sections, id="test-evaluation")
    if result.evaluation is None:
        test.alerts = [Alert("The run has no test rows (test fraction 0).", "skipped", "info")]
    else:
        test.text = f"{result.evaluation.n_rows:,} held-out labelled rows, stored model."
    return task_page(
        f"Semi-supervised model: {result.name} ({result.ref})",
        result,
        "semi-supervised classification",
        [
            overview,
            comparison,
            progress,
            test,
            columns_section(result),
            model_card_section(result),
        ],
    )
