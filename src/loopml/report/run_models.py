"""The model sections of the run report: the leaderboard of candidates and the chosen model."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import numpy as np
from markupsafe import Markup

from loopml.exceptions import DataError
from loopml.report.html import Alert, Card, Section, Table, badge, format_value

if TYPE_CHECKING:
    from loopml.bundle import ModelBundle
    from loopml.store import RunRecord, Store

__all__ = ["leaderboard_section", "model_section"]


def _metric_direction(name: str | None) -> bool:
    from loopml.evaluate.scoring import get_metric

    try:
        return get_metric(name).greater_is_better if name else True
    except DataError:
        return True


def leaderboard_section(store: Store, run: RunRecord, bundle: ModelBundle | None) -> Section:
    """Every candidate ranked by its validation score, the chosen one marked."""
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


def model_section(bundle: ModelBundle) -> Section:
    """The chosen model's family, hyperparameters and every setting of its estimator."""
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
