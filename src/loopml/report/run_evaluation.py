"""The evaluation sections of the run report: test metrics and the fit diagnosis."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from markupsafe import Markup

from loopml.report.html import Alert, Section, Table, Tone, badge, format_value

if TYPE_CHECKING:
    from loopml.evaluate.evaluator import EvaluationResult
    from loopml.evaluate.runs import FitReport

__all__ = ["LABEL_TONE", "evaluation_section", "fit_section"]

#: The badge colour of each fit diagnosis.
LABEL_TONE: dict[str, Tone] = {
    "balanced": "good",
    "overfitting": "warning",
    "underfitting": "warning",
}


def evaluation_section(ev: EvaluationResult | None, error: str | None) -> Section:
    """The metrics and plots of the chosen model on the held-out test rows."""
    section = Section("Test evaluation", id="test-evaluation")
    if ev is None:
        section.alerts = [Alert(error or "No test rows to evaluate on.", "skipped", "warning")]
        return section
    section.text = (
        f"{ev.n_rows:,} held-out test rows the model never saw during training or selection."
    )
    section.children = ev.sections()
    return section


def fit_section(fit: FitReport | None, error: str | None) -> Section:
    """Over- or underfitting, with its evidence, remedies, curves and bias-variance."""
    section = Section("Fit diagnosis", id="fit-diagnosis")
    if fit is None:
        section.alerts = [Alert(error or "Fit diagnosis was skipped.", "skipped", "warning")]
        return section
    d = fit.diagnosis
    e = d.evidence
    section.badges = [badge(d.label, LABEL_TONE.get(d.label, "neutral"))]
    section.text = d.summary
    section.alerts = [Alert(n, "note", "info") for n in d.notes + fit.notes]
    evidence = [
        ["training score", e["train_score"]],
        ["validation score", e["valid_score"]],
        ["cross-validation (mean ± std)", _pm(e["cv_mean"], e["cv_std"], e["cv_folds"])],
        ["held-out score (used)", e["held_out_score"]],
        ["gap (train - held-out)", e["gap"]],
        ["dummy baseline", e["baseline_score"]],
        [f"reference ({e['reference_model'] or 'none'})", e["reference_score"]],
        ["skill: train / held-out / reference", _skills(e)],
    ]
    t = e["thresholds"]
    caption = (
        f"{d.metric} ({'higher' if d.greater_is_better else 'lower'} is better). Thresholds "
        f"in skill units (0 = dummy, 1 = perfect): overfitting when the gap > "
        f"{t['overfit_gap']}, underfitting when the "
        f"reference beats the training skill by > {t['underfit_margin']}."
    )
    remedies = Markup("<p><strong>What would help</strong></p><ul>{}</ul>").format(
        Markup("").join(Markup("<li>{}</li>").format(r) for r in d.remedies)
    )
    section.children.append(
        Section("Evidence", body=remedies, tables=[Table(["measure", "value"], evidence, caption)])
    )
    figs = list(fit.figures().values())
    texts = []
    if fit.learning is not None:
        texts.append(
            "Learning curve: a gap that narrows as rows are added means more data helps; "
            "curves that meet early at a poor score mean a more flexible model or better "
            "features would."
        )
    if fit.validation is not None:
        texts.append(
            f"Validation curve: the score as {fit.validation.param} changes (dotted line: "
            "the chosen value)."
        )
    if fit.bias_variance is not None:
        texts.append(fit.bias_variance.reading)
    if figs:
        section.children.append(
            Section(
                "Curves and bias-variance",
                body=Markup("").join(Markup("<p class='lm-text'>{}</p>").format(t) for t in texts),
                figures=figs,
                figure_columns=2,
            )
        )
    return section


def _pm(mean: float | None, std: float | None, folds: int) -> str:
    if mean is None:
        return "—"
    return f"{format_value(mean)} ± {format_value(std or 0.0)} ({folds} folds)"


def _skills(e: Mapping[str, Any]) -> str:
    parts = [e.get("train_skill"), e.get("held_out_skill"), e.get("reference_skill")]
    return " / ".join("—" if v is None else f"{v:.2f}" for v in parts)
