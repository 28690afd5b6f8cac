"""The run report: one self-contained HTML page per training run.

Goal and KPIs (when given), a data summary (split sizes, per-column statistics
and the correlation matrix of the training rows), the leaderboard, the chosen
model and its hyperparameters, test metrics with their plots, the fit diagnosis
with learning/validation curves and the bias-variance estimate, and the model
card. The test split and the diagnosis are recomputed from what the store
recorded (source, target, split fractions, seed), exactly as training made them.

Examples
--------
>>> from loopml.store import Store
>>> from loopml.learn.supervised import train
>>> store = Store.in_memory()
>>> run = train("builtin:iris", store=store, models=["logreg"])  # doctest: +SKIP
>>> render_run_report(store, run.run_id, path="report.html")  # doctest: +SKIP
PosixPath('report.html')
"""

from __future__ import annotations

import operator
import re
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from markupsafe import Markup, escape

from loopml.exceptions import DataError, LoopmlError
from loopml.report import figures
from loopml.report.html import (
    Alert,
    Card,
    Section,
    Table,
    Tone,
    badge,
    format_value,
    render_page,
    write_html,
)

if TYPE_CHECKING:
    from loopml.bundle import ModelBundle
    from loopml.evaluate.evaluator import EvaluationResult
    from loopml.evaluate.runs import FitReport, RunData
    from loopml.store import RunRecord, Store

__all__ = [
    "KPI",
    "build_run_report",
    "check_kpis",
    "markdown_html",
    "parse_kpi",
    "render_run_report",
]

_OPS: dict[str, Callable[[float, float], bool]] = {
    ">=": operator.ge,
    "<=": operator.le,
    ">": operator.gt,
    "<": operator.lt,
    "==": operator.eq,
}
_KPI = re.compile(r"^\s*([A-Za-z_][A-Za-z0-9_]*)\s*(>=|<=|==|>|<)\s*([-+0-9.eE]+)\s*$")
_LABEL_TONE: dict[str, Tone] = {
    "balanced": "good",
    "overfitting": "warning",
    "underfitting": "warning",
}
#: Columns listed in the data summary table.
MAX_SUMMARY_COLUMNS = 40


# -- KPIs -------------------------------------------------------------------------------------


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


# -- markdown ---------------------------------------------------------------------------------


def _inline(text: str) -> str:
    html = str(escape(text))
    html = re.sub(r"`([^`]+)`", r"<code>\1</code>", html)
    return re.sub(r"\*\*([^*]+)\*\*", r"<strong>\1</strong>", html)


def markdown_html(md: str) -> Markup:
    """The small Markdown of model cards (headings, lists, tables, bold, code) as HTML."""
    out: list[str] = []
    lines = md.splitlines()
    i = 0
    while i < len(lines):
        line = lines[i].rstrip()
        if not line.strip():
            i += 1
        elif line.startswith("#"):
            level = min(len(line) - len(line.lstrip("#")), 3)
            out.append(
                f"<h{level + 2} class='lm-md-h'>{_inline(line.lstrip('#').strip())}</h{level + 2}>"
            )
            i += 1
        elif line.lstrip().startswith(("- ", "* ")):
            items = []
            while i < len(lines) and lines[i].lstrip().startswith(("- ", "* ")):
                items.append(f"<li>{_inline(lines[i].lstrip()[2:])}</li>")
                i += 1
            out.append("<ul>" + "".join(items) + "</ul>")
        elif line.lstrip().startswith("|"):
            rows = []
            while i < len(lines) and lines[i].lstrip().startswith("|"):
                cells = [c.strip() for c in lines[i].strip().strip("|").split("|")]
                if not all(re.fullmatch(r":?-{2,}:?", c) for c in cells):
                    rows.append(cells)
                i += 1
            head, body = rows[0], rows[1:]
            html = "<div class='lm-table-wrap'><table class='lm-table'><thead><tr>"
            html += "".join(f"<th>{_inline(c)}</th>" for c in head) + "</tr></thead><tbody>"
            for r in body:
                html += "<tr>" + "".join(f"<td>{_inline(c)}</td>" for c in r) + "</tr>"
            out.append(html + "</tbody></table></div>")
        else:
            para = []
            while (
                i < len(lines)
                and lines[i].strip()
                and not lines[i].lstrip().startswith(("#", "- ", "* ", "|"))
            ):
                para.append(_inline(lines[i].strip()))
                i += 1
            out.append("<p>" + " ".join(para) + "</p>")
    return Markup("\n".join(out))


# -- sections ---------------------------------------------------------------------------------


def _metric_direction(name: str | None) -> bool:
    from loopml.evaluate.scoring import get_metric

    try:
        return get_metric(name).greater_is_better if name else True
    except DataError:
        return True


def _overview(
    run: RunRecord,
    bundle: ModelBundle | None,
    test: Mapping[str, Any],
    valid: Mapping[str, Any],
    fit: FitReport | None,
    alerts: list[Alert],
) -> Section:
    params = run.params
    metric = params.get("metric")
    rows = (run.info.get("split") or {}).get("rows", {})
    cards = [
        Card("Task", params.get("task", "—"), f"target '{params.get('target', '?')}'", "info"),
        Card("Chosen model", bundle.info.get("model") if bundle else "—", _ref(bundle), "accent"),
        Card(
            f"Test {metric}", test.get(metric) if metric else None, "held-out test rows", "accent"
        ),
        Card(f"Validation {metric}", valid.get(metric) if metric else None, "selection score"),
        Card("Rows", sum(int(v) for v in rows.values()) if rows else None, _rows_text(rows)),
    ]
    if run.duration_s is not None:
        cards.append(Card("Run time", f"{run.duration_s:.1f} s", run.status))
    if fit is not None:
        label = fit.diagnosis.label
        cards.append(Card("Fit", label, "train vs held-out", _LABEL_TONE.get(label, "neutral")))
    if run.status != "finished":
        alerts.insert(
            0,
            Alert(
                f"The run {run.status}: {run.error or 'no error recorded'}", run.status, "danger"
            ),
        )
    return Section("Overview", cards=cards, alerts=alerts)


def _ref(bundle: ModelBundle | None) -> str | None:
    if bundle is None:
        return None
    return f"{bundle.name}@{bundle.version}" if bundle.version is not None else bundle.name


def _rows_text(rows: Mapping[str, Any]) -> str | None:
    if not rows:
        return None
    return " / ".join(f"{k} {int(v):,}" for k, v in rows.items())


def _goal_section(
    goal: str | None, kpis: Sequence[str] | None, test: Mapping[str, Any], valid: Mapping[str, Any]
) -> Section | None:
    if not goal and not kpis:
        return None
    section = Section("Goal and KPIs", text=goal or None, id="goal")
    if kpis:
        results = check_kpis(kpis, test, valid)
        rows = []
        for r in results:
            state = (
                badge("not measured", "neutral")
                if r["passed"] is None
                else badge("pass", "good")
                if r["passed"]
                else badge("fail", "danger")
            )
            rows.append([r["kpi"], r["value"], state])
        section.tables = [Table(["KPI", "measured (test)", "result"], rows)]
        failed = [r["kpi"] for r in results if r["passed"] is False]
        if failed:
            section.alerts = [
                Alert(
                    f"KPI gate(s) not met: {', '.join(failed)}. The model should not be "
                    "deployed as is.",
                    "gate",
                    "danger",
                )
            ]
        elif all(r["passed"] for r in results):
            section.alerts = [Alert("Every KPI gate passes on the test rows.", "gate", "good")]
    return section


def _data_section(run: RunRecord, rd: RunData | None, data_error: str | None) -> Section:
    info = run.info
    split = info.get("split") or {}
    rows = split.get("rows") or {}
    total = sum(int(v) for v in rows.values()) or 1
    cards = [
        Card(name.capitalize(), int(n), f"{int(n) / total:.0%} of rows", "info")
        for name, n in rows.items()
    ]
    cards.append(Card("Split", split.get("strategy", "—"), f"seed {split.get('seed', '?')}"))
    schema = info.get("schema") or {}
    if schema.get("n_features") is not None:
        roles = ", ".join(f"{n} {r}" for r, n in (schema.get("roles") or {}).items())
        cards.append(Card("Features", schema["n_features"], roles or None))
    notes = list(info.get("notes") or []) + list(split.get("notes") or [])
    alerts = [Alert(n, "note", "info") for n in dict.fromkeys(notes)]
    section = Section(
        "Data", text=f"Source: {run.params.get('source', '?')}", cards=cards, alerts=alerts
    )
    if rd is None:
        section.alerts.append(
            Alert(data_error or "The training data could not be reloaded.", "data", "warning")
        )
        return section
    section.alerts.extend(Alert(n, "data", "warning") for n in rd.notes)
    section.children = _eda(rd)
    return section


def _eda(rd: RunData) -> list[Section]:
    from loopml.data.profile import profile

    train = rd.split.train
    schema = rd.bundle.schema if rd.bundle is not None else None
    p = profile(train, rd.target, schema=schema, name="training rows")
    rows = []
    for c in p.columns[:MAX_SUMMARY_COLUMNS]:
        rows.append(
            [
                c["name"],
                c["role"],
                c.get("missing_pct"),
                c.get("unique"),
                c.get("mean"),
                c.get("std"),
                c.get("min"),
                c.get("median"),
                c.get("max"),
            ]
        )
    caption = f"Training rows ({p.n_rows:,})"
    if len(p.columns) > MAX_SUMMARY_COLUMNS:
        caption += f"; first {MAX_SUMMARY_COLUMNS} of {len(p.columns)} columns"
    stats = Table(
        ["column", "role", "missing %", "unique", "mean", "std", "min", "median", "max"],
        rows,
        caption,
    )
    out = [
        Section(
            "Column summary",
            tables=[stats],
            collapsible=True,
            summary=f"{len(p.columns)} columns · {len(p.warnings)} warning(s)",
        )
    ]
    figs = []
    target_fig = _target_figure(p)
    if target_fig is not None:
        figs.append(target_fig)
    pearson = p.correlations.get("pearson")
    if pearson:
        spearman = p.correlations.get("spearman") or pearson
        figs.append(
            figures.heatmap(
                {"Pearson": pearson["values"], "Spearman": spearman["values"]},
                pearson["columns"],
                title="Correlation matrix (numeric columns)",
            )
        )
    if figs:
        warnings = [
            Alert(
                w["message"],
                w["kind"].replace("_", " "),
                "danger" if w["severity"] == "danger" else "warning",
            )
            for w in p.warnings
            if w["severity"] in ("danger", "warning")
        ][:8]
        out.append(Section("Target and correlations", alerts=warnings, figures=figs, stack=True))
    return out


def _target_figure(p: Any) -> Any:
    t = p.target
    if not t:
        return None
    if t.get("classes"):
        classes = t["classes"]
        return figures.bar(
            [c["value"] for c in classes],
            [c["count"] for c in classes],
            title=f"Target '{t['column']}' (training rows)",
            y_title="rows",
        )
    col = p.column(t["column"])
    hist = col.get("histogram")
    if hist and hist.get("kind") == "bins":
        return figures.histogram(
            hist["edges"],
            hist["counts"],
            title=f"Target '{t['column']}' (training rows)",
            x_title=t["column"],
        )
    return None


def _leaderboard_section(store: Store, run: RunRecord, bundle: ModelBundle | None) -> Section:
    trials = store.list_trials(run.id)
    metric = run.params.get("metric")
    gib = _metric_direction(metric)
    ranked = sorted(
        trials,
        key=lambda t: (
            t.score is None or not np.isfinite(t.score),
            -(t.score or 0.0) if gib else (t.score or 0.0),
        ),
    )
    chosen = bundle.info.get("model") if bundle is not None else None
    chosen_params = bundle.info.get("params") if bundle is not None else None
    marked = False
    rows = []
    for rank, t in enumerate(ranked, start=1):
        is_chosen = (
            not marked
            and t.model == chosen
            and (chosen_params is None or _same(t.params, chosen_params))
        )
        marked = marked or is_chosen
        rows.append(
            [
                rank,
                Markup("{} {}").format(t.model, badge("chosen", "accent"))
                if is_chosen
                else t.model,
                t.score,
                (t.info or {}).get("valid_std"),
                (t.info or {}).get("train_score"),
                t.fit_time,
                None if t.predict_time is None else t.predict_time * 1000,
                t.status,
                _params_text(t.params),
            ]
        )
    direction = "higher is better" if gib else "lower is better"
    columns = ["rank", "model", f"valid {metric}", "± std", f"train {metric}", "fit s"]
    columns += ["predict ms/1k", "status", "params"]
    if all(t.status == "complete" for t in ranked):  # a status column would say nothing
        columns.remove("status")
        rows = [r[:7] + r[8:] for r in rows]
    table = Table(
        columns,
        rows,
        caption=f"{len(trials)} candidate(s), ranked by validation {metric} ({direction})",
    )
    done = [t for t in ranked if t.score is not None and np.isfinite(t.score)]
    figs = []
    if done:
        from loopml.evaluate import plots

        figs.append(
            plots.leaderboard(
                [f"{i + 1}. {t.model}" for i, t in enumerate(done[:25])],
                [t.score for t in done[:25]],
                [(t.info or {}).get("valid_std") for t in done[:25]],
                metric=str(metric),
                greater_is_better=gib,
            )
        )
    failed = [t for t in trials if t.status == "failed"]
    alerts = [
        Alert(f"{t.model}: {(t.info or {}).get('error') or 'failed'}", "failed", "warning")
        for t in failed[:5]
    ]
    return Section("Leaderboard", tables=[table], figures=figs, alerts=alerts, stack=True)


def _same(a: Mapping[str, Any], b: Mapping[str, Any]) -> bool:
    return {k: str(v) for k, v in a.items()} == {k: str(v) for k, v in b.items()}


def _params_text(params: Mapping[str, Any]) -> str:
    text = ", ".join(f"{k}={format_value(v)}" for k, v in params.items())
    return text if len(text) <= 120 else text[:117] + "..."


def _model_section(bundle: ModelBundle) -> Section:
    from loopml.evaluate.fit import final_estimator

    info = bundle.info
    params = info.get("params") or {}
    rows: list[list[Any]] = [[k, v] for k, v in params.items()] or [["(defaults)", "—"]]
    final, _ = final_estimator(bundle.pipeline)
    settings = {
        k: v
        for k, v in (final.get_params(deep=False) if hasattr(final, "get_params") else {}).items()
        if isinstance(v, int | float | str | bool) or v is None
    }
    cards = [
        Card("Family", info.get("model", "—"), type(final).__name__, "accent"),
        Card("Selected by", info.get("metric", "?"), "validation score"),
        Card("Refit on", str(info.get("refit_on", "train")).replace("+", " + "), "rows"),
        Card("Version", bundle.version, bundle.name),
    ]
    return Section(
        "Chosen model",
        cards=cards,
        tables=[Table(["hyperparameter", "value"], rows, "Chosen hyperparameters")],
        children=[
            Section(
                f"All {type(final).__name__} settings",
                tables=[Table(["setting", "value"], [[k, v] for k, v in settings.items()])],
                collapsible=True,
                summary=f"{len(settings)} settings",
            )
        ],
    )


def _evaluation_section(ev: EvaluationResult | None, error: str | None) -> Section:
    section = Section("Test evaluation", id="test-evaluation")
    if ev is None:
        section.alerts = [Alert(error or "No test rows to evaluate on.", "skipped", "warning")]
        return section
    section.text = (
        f"{ev.n_rows:,} held-out test rows the model never saw during training or selection."
    )
    section.children = ev.sections()
    return section


def _fit_section(fit: FitReport | None, error: str | None) -> Section:
    section = Section("Fit diagnosis", id="fit-diagnosis")
    if fit is None:
        section.alerts = [Alert(error or "Fit diagnosis was skipped.", "skipped", "warning")]
        return section
    d = fit.diagnosis
    e = d.evidence
    section.badges = [badge(d.label, _LABEL_TONE.get(d.label, "neutral"))]
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


# -- the page ---------------------------------------------------------------------------------


def build_run_report(
    store: Store,
    run_id: int,
    *,
    data: Any = None,
    spec_goal: str | None = None,
    kpis: Sequence[str] | None = None,
    diagnosis: bool = True,
    seed: int = 0,
) -> str:
    """The run report's HTML (see :func:`render_run_report`)."""
    from loopml.evaluate.evaluator import evaluate
    from loopml.evaluate.runs import diagnose_split, load_run_data

    run = store.get_run(int(run_id))
    if kpis:
        for k in kpis:
            parse_kpi(k)  # fail fast on a malformed gate
    timings: dict[str, float] = {}
    alerts: list[Alert] = []
    rd = None
    data_error = None
    t0 = time.perf_counter()
    try:
        rd = load_run_data(store, run.id, data=data)
    except LoopmlError as exc:
        data_error = (
            "The training data could not be reloaded, so test plots and the fit diagnosis "
            f"are missing: {exc}"
        )
    timings["data"] = time.perf_counter() - t0
    bundle = rd.bundle if rd is not None else _load_bundle(store, run)
    ev = fit = None
    ev_error = fit_error = data_error
    if rd is not None and bundle is not None and len(rd.split.test):
        t0 = time.perf_counter()
        try:
            ev = evaluate(bundle, rd.split.test, target=rd.target, seed=seed)
        except LoopmlError as exc:
            ev_error = f"Evaluation failed: {exc}"
        timings["evaluate"] = time.perf_counter() - t0
    elif rd is not None and bundle is not None:
        ev_error = "The run has no test split (its test fraction is 0)."
    if diagnosis and rd is not None and bundle is not None:
        t0 = time.perf_counter()
        try:
            fit = diagnose_split(bundle, rd.split, seed=seed)
        except (LoopmlError, ValueError) as exc:
            fit_error = f"Fit diagnosis failed: {exc}"
        timings["diagnosis"] = time.perf_counter() - t0
    elif not diagnosis:
        fit_error = "Fit diagnosis was not requested."
    if bundle is None:
        alerts.append(
            Alert(
                "This run has no stored model: only its data and leaderboard are shown.",
                "no model",
                "warning",
            )
        )
        ev_error = fit_error = "The run has no stored model."

    test = ev.metrics if ev is not None else _prefixed(run.metrics, "test_")
    valid = _prefixed(run.metrics, "valid_")
    sections = [_overview(run, bundle, test, valid, fit, alerts)]
    goal = _goal_section(spec_goal, kpis, test, valid)
    if goal is not None:
        sections.append(goal)
    sections.append(_data_section(run, rd, data_error))
    sections.append(_leaderboard_section(store, run, bundle))
    if bundle is not None:
        sections.append(_model_section(bundle))
    sections.append(_evaluation_section(ev, ev_error))
    sections.append(_fit_section(fit, fit_error))
    if bundle is not None and bundle.card:
        sections.append(Section("Model card", body=markdown_html(bundle.card), id="model-card"))
    started = run.started_at.strftime("%Y-%m-%d %H:%M UTC") if run.started_at else "?"
    subtitle = f"Run {run.id} · {run.project} · {run.kind} · {run.status} · {started}"
    footer = (
        "Sections took " + ", ".join(f"{k} {v:.1f} s" for k, v in timings.items()) + "."
        if timings
        else None
    )
    return render_page(
        f"Run report: {run.project} (run {run.id})", sections, subtitle=subtitle, footer=footer
    )


def _load_bundle(store: Store, run: RunRecord) -> ModelBundle | None:
    from loopml.bundle import load_model

    model = run.info.get("model")
    if not isinstance(model, dict) or model.get("version") is None:
        return None
    try:
        return load_model(f"{model['name']}@{model['version']}", store=store)
    except LoopmlError:
        return None


def _prefixed(metrics: Mapping[str, float], prefix: str) -> dict[str, float | None]:
    return {
        k.removeprefix(prefix): (v if np.isfinite(v) else None)
        for k, v in metrics.items()
        if k.startswith(prefix)
    }


def render_run_report(
    store: Store,
    run_id: int,
    *,
    path: str | Path,
    data: Any = None,
    spec_goal: str | None = None,
    kpis: Sequence[str] | None = None,
    diagnosis: bool = True,
    seed: int = 0,
) -> Path:
    """Write the run report of *run_id* to *path* (atomically) and return the path.

    Parameters
    ----------
    store : Store
        Where the run, its trials and its model are recorded.
    path : path
        The HTML file to write.
    data : path or DataFrame, optional
        The training data, when the run's source cannot be reloaded (an in-memory
        DataFrame) or has moved.
    spec_goal : str, optional
        The business goal (``goal:`` of ``loopml.yaml``).
    kpis : list of str, optional
        KPI gates such as ``"recall >= 0.8"``, checked on the test metrics
        (``valid_recall >= 0.8`` checks the validation ones).
    diagnosis : bool, default True
        Run the fit diagnosis, learning/validation curves and bias-variance
        estimate (a few seconds on small data).
    """
    html = build_run_report(
        store, run_id, data=data, spec_goal=spec_goal, kpis=kpis, diagnosis=diagnosis, seed=seed
    )
    return write_html(path, html)
