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

import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from loopml.exceptions import LoopmlError
from loopml.report.html import Alert, Card, Section, Table, badge, render_page, write_html
from loopml.report.kpi import KPI as KPI
from loopml.report.kpi import check_kpis as check_kpis
from loopml.report.kpi import parse_kpi as parse_kpi
from loopml.report.markdown import markdown_html as markdown_html
from loopml.report.run_data import MAX_SUMMARY_COLUMNS as MAX_SUMMARY_COLUMNS
from loopml.report.run_data import data_section
from loopml.report.run_evaluation import LABEL_TONE, evaluation_section, fit_section
from loopml.report.run_models import leaderboard_section, model_section

if TYPE_CHECKING:
    from loopml.bundle import ModelBundle
    from loopml.evaluate.runs import FitReport
    from loopml.store import RunRecord, Store

__all__ = [
    "KPI",
    "build_run_report",
    "check_kpis",
    "markdown_html",
    "parse_kpi",
    "render_run_report",
]


# -- overview and goal ------------------------------------------------------------------------


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
        Card(
            "Chosen model",
            bundle.info.get("model") if bundle else "—",
            (None if bundle is None else bundle.ref),
            "accent",
        ),
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
        cards.append(Card("Fit", label, "train vs held-out", LABEL_TONE.get(label, "neutral")))
    if run.status != "finished":
        alerts.insert(
            0,
            Alert(
                f"The run {run.status}: {run.error or 'no error recorded'}", run.status, "danger"
            ),
        )
    return Section("Overview", cards=cards, alerts=alerts)


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
    with _timed(timings, "data"):
        try:
            rd = load_run_data(store, run.id, data=data)
        except LoopmlError as exc:
            data_error = (
                "The training data could not be reloaded, so test plots and the fit diagnosis "
                f"are missing: {exc}"
            )
    bundle = rd.bundle if rd is not None else _load_bundle(store, run)
    ev = fit = None
    ev_error = fit_error = data_error
    if rd is not None and bundle is not None and len(rd.split.test):
        with _timed(timings, "evaluate"):
            try:
                ev = evaluate(bundle, rd.split.test, target=rd.target, seed=seed)
            except LoopmlError as exc:
                ev_error = f"Evaluation failed: {exc}"
    elif rd is not None and bundle is not None:
        ev_error = "The run has no test split (its test fraction is 0)."
    if diagnosis and rd is not None and bundle is not None:
        with _timed(timings, "diagnosis"):
            try:
                fit = diagnose_split(bundle, rd.split, seed=seed)
            except (LoopmlError, ValueError) as exc:
                fit_error = f"Fit diagnosis failed: {exc}"
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
    sections.append(data_section(run, rd, data_error))
    sections.append(leaderboard_section(store, run, bundle))
    if bundle is not None:
        sections.append(model_section(bundle))
    sections.append(evaluation_section(ev, ev_error))
    sections.append(fit_section(fit, fit_error))
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


@contextmanager
def _timed(timings: dict[str, float], name: str) -> Iterator[None]:
    """Record in *timings* how long the ``with`` block took (the page's footer)."""
    t0 = time.perf_counter()
    yield
    timings[name] = time.perf_counter() - t0


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
