"""Clustering, anomaly detection and association rules as first-class models.

:func:`cluster`, :func:`find_anomalies` and :func:`mine` carry data through the same
lifecycle as :func:`loopml.learn.supervised.train`: load, infer the schema, fit the
engine (:class:`~loopml.learn.clustering.Segmenter`,
:class:`~loopml.learn.anomaly.AnomalyDetector`, :func:`~loopml.learn.rules.mine_rules`),
evaluate, write a report, save a :class:`~loopml.bundle.ModelBundle` and register it in
the store, so ``loopml predict NAME new.csv`` assigns segments, flags anomalies or
recommends items like any other model.

Examples
--------
>>> from loopml.store import Store
>>> result = cluster("builtin:iris", k=3, store=Store.in_memory())  # doctest: +SKIP
>>> result.model.predict(new_rows)  # segment ids  # doctest: +SKIP
"""

from __future__ import annotations

import math
import time
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
import pandas as pd

from loopml.bundle import ModelBundle
from loopml.data.schema import Schema, Task
from loopml.exceptions import DataError
from loopml.learn.saving import save_bundle

if TYPE_CHECKING:
    from loopml.learn.clustering import SegmentProfiles
    from loopml.learn.rules import RuleSet
    from loopml.store import Store

__all__ = [
    "AnomalyResult",
    "ClusterResult",
    "RulesResult",
    "TaskResult",
    "cluster",
    "emit_trial",
    "find_anomalies",
    "finish",
    "model_choices",
    "save_bundle",
]

EventHandler = Callable[[str, dict[str, Any]], None]
#: Rows kept with a clustering result to draw the report's projection.
REPORT_SAMPLE_ROWS = 5000


# -- results ----------------------------------------------------------------------------------


@dataclass(kw_only=True)
class TaskResult:
    """What a task run made: the stored model version, its metrics and notes."""

    name: str
    version: int
    run_id: int
    schema: Schema
    metrics: dict[str, float | None]
    model: ModelBundle = field(repr=False)
    source: str = ""
    notes: list[str] = field(default_factory=list)
    duration_s: float = 0.0
    report_path: Path | None = None

    @property
    def ref(self) -> str:
        """The model reference, e.g. ``"segments@2"``."""
        return f"{self.name}@{self.version}"

    @property
    def task(self) -> Task:
        return self.model.task

    @property
    def leaderboard(self) -> pd.DataFrame:
        """One row: the model, its settings and its metrics."""
        row = {"rank": 1, "model": self.model.info.get("model"), **self.metrics}
        row["params"] = self.model.info.get("params", {})
        return pd.DataFrame([row])


@dataclass(kw_only=True)
class ClusterResult(TaskResult):
    """:func:`cluster`'s result: segments, their profiles and how k was chosen."""

    labels: np.ndarray[Any, Any] = field(repr=False)
    profiles: SegmentProfiles = field(repr=False)
    k_scores: pd.DataFrame | None = field(default=None, repr=False)
    sample: pd.DataFrame = field(default_factory=pd.DataFrame, repr=False)

    @property
    def leaderboard(self) -> pd.DataFrame:
        """Every k tried, best silhouette first (one row when k was fixed)."""
        if self.k_scores is None:
            return super().leaderboard
        board = self.k_scores.sort_values(["silhouette", "k"], ascending=[False, True])
        board = board.reset_index(drop=True)
        board.insert(0, "rank", range(1, len(board) + 1))
        board["chosen"] = board["k"] == int(self.metrics.get("k") or 0)
        return board


@dataclass(kw_only=True)
class AnomalyResult(TaskResult):
    """:func:`find_anomalies`' result: scores and flags of the training rows, and why the
    most unusual ones stand out."""

    scores: np.ndarray[Any, Any] = field(repr=False)
    flags: np.ndarray[Any, Any] = field(repr=False)
    threshold: float = 0.0
    top: pd.DataFrame = field(default_factory=pd.DataFrame, repr=False)
    evaluation: dict[str, float | None] | None = None


@dataclass(kw_only=True)
class RulesResult(TaskResult):
    """:func:`mine`'s result: the rules, item frequencies and the holdout check."""

    ruleset: RuleSet = field(repr=False)
    item_counts: pd.Series = field(default_factory=pd.Series, repr=False)
    holdout: dict[str, float | None] | None = None


# -- shared plumbing ------------------------------------------------------------------------


def _emitter(on_event: EventHandler | None) -> EventHandler:
    return on_event or (lambda kind, payload: None)


def _load(data: Any, name: str | None, suffix: str) -> tuple[pd.DataFrame, str, str]:
    """The data, how to name it in messages, and the model name (default: ``STEM-suffix``,
    so a file's segments, anomalies and rules are three models, not versions of one)."""
    from loopml.data.io import describe_source, load, source_name

    return load(data), describe_source(data), name or f"{source_name(data)}-{suffix}"


def _split_labels(
    df: pd.DataFrame, labels: str | None, where: str
) -> tuple[pd.DataFrame, pd.Series | None]:
    """Set aside a column of known classes (used to evaluate, never to fit)."""
    if labels is None:
        return df, None
    if labels not in df.columns:
        raise DataError(
            f"Label column '{labels}' is not in {where}; columns are: "
            f"{', '.join(map(str, list(df.columns)[:12]))}. Pass the right name with --labels."
        )
    return df.drop(columns=[labels]), df[labels]


def _infer(df: pd.DataFrame, task: Task, roles: dict[str, str] | None) -> tuple[Schema, list[str]]:
    from loopml.data.schema import infer_schema

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        schema = infer_schema(df, task=task, roles=roles)
    notes = [str(w.message) for w in caught if issubclass(w.category, UserWarning)]
    notes += [n for n in schema.notes if n not in notes]
    if not schema.features:
        raise DataError(
            "No usable feature columns: every column is an identifier, a constant or empty. "
            "Add feature columns or override roles (roles={...})."
        )
    return schema, notes


def _clean(metrics: dict[str, Any]) -> dict[str, float | None]:
    out: dict[str, float | None] = {}
    for k, v in metrics.items():
        if v is None:
            out[k] = None
            continue
        f = float(v)
        out[k] = f if math.isfinite(f) else None
    return out


def _fit_quietly(fit: Callable[[], Any], notes: list[str]) -> None:
    """Run *fit*, turning library warnings (convergence, ...) into notes."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        fit()
    for w in caught:
        text = str(w.message)
        if issubclass(w.category, UserWarning | RuntimeWarning) and text not in notes:
            notes.append(text)


def emit_trial(
    emit: EventHandler, trial: Any, metric: Any, trials: Sequence[Any], started: float
) -> None:
    """A "trial" event shaped like :func:`~loopml.learn.supervised.train`'s (the CLI's
    progress printer reads it)."""
    done = [t for t in trials if t.ok]
    best = None
    if done:
        sign = -1.0 if metric.greater_is_better else 1.0
        best = min(done, key=lambda t: (sign * t.valid_score, t.number))
    emit(
        "trial",
        {
            "trial": trial,
            "metric": metric,
            "best": best,
            "elapsed": time.monotonic() - started,
            "budget": None,
            "n_trials": None,
        },
    )


def model_choices(
    models: Sequence[Any] | None, default: Sequence[str], task: Task = Task.BINARY
) -> list[tuple[str, dict[str, Any]]]:
    """(catalogue name, parameters) of each model given by name or alias (its first
    portfolio configuration) or as a :class:`~loopml.learn.candidates.Candidate`."""
    from loopml.learn.candidates import Candidate
    from loopml.models.catalog import get_model

    out: dict[tuple[str, str], tuple[str, dict[str, Any]]] = {}
    for m in models or default:
        if isinstance(m, Candidate):
            spec = get_model(m.model, task)
            spec.check_params(m.params)
            params = dict(m.params)
        else:
            spec = get_model(str(m), task)
            params = dict(spec.portfolio[0]) if spec.portfolio else {}
        out.setdefault((spec.name, repr(sorted(params.items()))), (spec.name, params))
    return list(out.values())


def _card(bundle: ModelBundle, what: str, uses: str, notes: Sequence[str]) -> str:
    """A model card for a model without a target."""
    info, schema = bundle.info, bundle.schema
    lines = [
        f"# Model card: {info.get('name', 'model')}",
        "",
        "## What it is",
        f"- Task: **{schema.task}** — {what}",
        f"- Model: `{info.get('model')}` with parameters `{info.get('params', {})}`",
        f"- Trained: {info.get('trained_at', 'unknown')} on {info.get('rows', '?')} rows "
        f"of {info.get('source', 'unknown')}",
        f"- Predicts: {uses}",
        "",
        "## Inputs",
        "- Columns: "
        + ", ".join(f"`{c.name}` ({c.role})" for c in schema.columns[:40])
        + (" ..." if len(schema.columns) > 40 else ""),
        "",
        "## Metrics (training data)",
        "",
        "| metric | value |",
        "|---|---|",
    ]
    for key, value in (bundle.metrics.get("train") or {}).items():
        lines.append(f"| {key} | {'n/a' if value is None else f'{value:.4g}'} |")
    lines += [
        "",
        "## Limits",
        "- Found without labels: the result describes structure in the training data, "
        "not a ground truth. Check it with people who know the data.",
        "- New data unlike the training data (other ranges, unseen categories) is "
        "assigned by the same rules, which may not fit it.",
    ]
    if notes:
        lines += ["", "## Notes from training", *[f"- {n}" for n in notes]]
    return "\n".join(lines) + "\n"


def _schema_summary(schema: Schema) -> dict[str, Any]:
    roles: dict[str, int] = {}
    for c in schema.columns:
        roles[str(c.role)] = roles.get(str(c.role), 0) + 1
    return {"task": str(schema.task), "roles": roles, "n_features": len(schema.features)}


# -- clustering -------------------------------------------------------------------------------


def cluster(
    data: Any,
    *,
    k: int | Literal["auto"] = "auto",
    method: Literal["kmeans", "minibatch", "dbscan", "hdbscan"] = "kmeans",
    k_range: tuple[int, int] = (2, 10),
    labels: str | None = None,
    name: str | None = None,
    roles: dict[str, str] | None = None,
    store: Store | None = None,
    seed: int = 0,
    n_jobs: int = 1,
    report: str | Path | None = None,
    on_event: EventHandler | None = None,
) -> ClusterResult:
    """Segment the rows of *data*, describe each segment, and store the segmenter.

    Parameters
    ----------
    data : path, DataFrame or "builtin:NAME"
    k : "auto" or int
        Number of segments (k-means). "auto" keeps the k in *k_range* with the best
        silhouette; the elbow of the inertia curve is reported alongside.
    method : {"kmeans", "minibatch", "dbscan", "hdbscan"}
    labels : str, optional
        A column of known classes: left out of the features and used only to score
        the segments against (adjusted Rand index, normalised mutual information).
    name : str, optional
        Model name in the store (default: the file's stem).
    roles : dict, optional
        Override inferred column roles, e.g. ``{"zip": "categorical"}``.
    report : path, optional
        Write the HTML report there.
    on_event : callable, optional
        ``on_event(kind, payload)``: "phase" ({"phase": ...}) and "done" ({"result"}).

    Returns
    -------
    ClusterResult
        ``.model.predict(rows)`` gives segment ids; ``.profiles`` describes segments.
    """
    from loopml.features.build import build_features
    from loopml.learn.clustering import Segmenter, segment_profiles
    from loopml.store import Store

    started = time.monotonic()
    emit = _emitter(on_event)
    emit("phase", {"phase": "load", "source": str(data)})
    df, where, name = _load(data, name, "segments")
    X, truth = _split_labels(df, labels, where)
    emit("phase", {"phase": "schema"})
    schema, notes = _infer(X, Task.CLUSTERING, roles)
    seg = Segmenter(
        k=k,
        method=method,
        k_range=tuple(k_range),  # type: ignore[arg-type]
        preprocessor=build_features(schema, scale=True, dense=True),
        random_state=seed,
        n_jobs=n_jobs,
    )
    params = {
        "source": where,
        "k": k,
        "method": method,
        "k_range": list(k_range),
        "labels": labels,
        "seed": seed,
    }
    store = store or Store()
    with store.start_run(name, kind="cluster", params=params) as run:
        emit("phase", {"phase": "fit", "model": method})
        _fit_quietly(lambda: seg.fit(X), notes)
        emit("phase", {"phase": "evaluate"})
        assigned = np.asarray(seg.labels_)
        metrics = _clean(
            {
                **seg.metrics_,
                "k": seg.k_,
                "elbow_k": seg.elbow_k_,
                "n_noise": seg.n_noise_,
                "n_rows": len(X),
            }
        )
        if truth is not None:
            from loopml.evaluate.clustering import ari, nmi

            known = truth.notna().to_numpy()
            metrics["adjusted_rand"] = ari(truth[known].astype(str), assigned[known])
            metrics["normalized_mutual_info"] = nmi(truth[known].astype(str), assigned[known])
        profiles = segment_profiles(X, assigned, schema=schema)
        k_scores = seg.k_scores_
        if k_scores is not None:
            # skops cannot save a DataFrame; the plain lists keep figures() working.
            setattr(seg, "k_scores_", k_scores.to_dict(orient="list"))  # noqa: B010
        run.log_metrics(metrics)
        run.set(
            segments=profiles.summary.to_dict(orient="records"),
            k_scores=None if k_scores is None else k_scores.to_dict(orient="records"),
            notes=notes,
            schema=_schema_summary(schema),
        )
        emit("phase", {"phase": "save"})
        info = {
            "model": seg.method_,
            "params": {"k": seg.k_, "method": seg.method_, "k_range": list(k_range)},
            "source": where,
            "rows": len(X),
        }
        bundle, record = save_bundle(
            store,
            run,
            name=name,
            pipeline=seg,
            schema=schema,
            metrics={"train": metrics},
            info=info,
            registry_metrics=metrics,
            card=lambda b: _card(
                b, f"{seg.k_} segments of the rows", "a segment id per row", notes
            ),
        )
    sample = X if len(X) <= REPORT_SAMPLE_ROWS else X.sample(REPORT_SAMPLE_ROWS, random_state=seed)
    result = ClusterResult(
        name=name,
        version=record.version,
        run_id=run.id,
        schema=schema,
        metrics=metrics,
        model=bundle,
        source=where,
        notes=notes,
        labels=assigned,
        profiles=profiles,
        k_scores=k_scores,
        sample=sample,
    )
    finish(result, report, started, emit)
    return result


def finish(result: Any, report: str | Path | None, started: float, emit: Any) -> None:
    """Close a task's fit: record its duration, write the report if asked, emit "done"."""
    result.duration_s = time.monotonic() - started  # the report shows the fit's time
    if report is not None:
        from loopml.report.tasks import render_task_report

        emit("phase", {"phase": "report"})
        result.report_path = render_task_report(result, report)
    emit("done", {"result": result})


# -- anomalies ---------------------------------------------------------------------------------


def find_anomalies(
    data: Any,
    *,
    contamination: float | Literal["auto"] = "auto",
    method: Literal["isolation_forest", "lof"] = "isolation_forest",
    labels: str | None = None,
    name: str | None = None,
    roles: dict[str, str] | None = None,
    store: Store | None = None,
    seed: int = 0,
    n_jobs: int = 1,
    n_estimators: int = 200,
    explain_top: int = 20,
    report: str | Path | None = None,
    on_event: EventHandler | None = None,
) -> AnomalyResult:
    """Score how unusual each row of *data* is, flag the outliers, store the detector.

    Parameters
    ----------
    contamination : "auto" or float in (0, 0.5]
        Expected share of anomalies; "auto" flags scores far out among the training
        scores (see :class:`~loopml.learn.anomaly.AnomalyDetector`).
    method : {"isolation_forest", "lof"}
    labels : str, optional
        A column marking known anomalies (1/True): left out of the features, used to
        report precision, recall, F1, ROC-AUC and PR-AUC of the scores and flags.
    explain_top : int
        The most unusual rows explained feature by feature in the result and report.

    Other parameters are as in :func:`cluster`.

    Returns
    -------
    AnomalyResult
        ``.model.predict(rows)`` gives 0/1 flags, ``.model.score_samples(rows)`` scores.
    """
    from loopml.features.build import build_features
    from loopml.learn.anomaly import AnomalyDetector
    from loopml.store import Store

    started = time.monotonic()
    emit = _emitter(on_event)
    emit("phase", {"phase": "load", "source": str(data)})
    df, where, name = _load(data, name, "anomalies")
    X, truth = _split_labels(df, labels, where)
    emit("phase", {"phase": "schema"})
    schema, notes = _infer(X, Task.ANOMALY, roles)
    det = AnomalyDetector(
        method=method,
        contamination=contamination,
        preprocessor=build_features(schema, scale=True, dense=True),
        random_state=seed,
        n_estimators=n_estimators,
        n_jobs=n_jobs,
    )
    params = {
        "source": where,
        "method": method,
        "contamination": contamination,
        "labels": labels,
        "seed": seed,
        "n_estimators": n_estimators,
    }
    store = store or Store()
    with store.start_run(name, kind="anomaly", params=params) as run:
        emit("phase", {"phase": "fit", "model": method})
        _fit_quietly(lambda: det.fit(X), notes)
        emit("phase", {"phase": "evaluate"})
        scores = np.asarray(det.scores_, dtype=np.float64)
        flags = np.asarray(det.flags_, dtype=np.int64)
        metrics = _clean(
            {
                "n_rows": len(X),
                "n_flagged": int(flags.sum()),
                "flagged_fraction": float(flags.mean()),
                "threshold": float(det.threshold_),
                "score_median": float(np.median(scores)),
                "score_max": float(scores.max()),
            }
        )
        evaluation = _anomaly_evaluation(truth, scores, flags) if truth is not None else None
        if evaluation is not None:
            metrics.update(evaluation)
        order = np.argsort(-scores, kind="stable")[: max(0, explain_top)]
        top = det.explain(X.iloc[order], only_flagged=False) if len(order) else pd.DataFrame()
        if len(top):
            top["score"] = scores[order]  # in-sample scores (LOF's differ from re-scoring)
            top["flagged"] = flags[order].astype(bool)
        run.log_metrics(metrics)
        run.set(
            top_anomalies=[
                {"row": str(i), "score": float(s), "reason": str(why)}
                for i, s, why in zip(top.index, top["score"], top["reason"], strict=True)
            ]
            if len(top)
            else [],
            notes=notes,
            schema=_schema_summary(schema),
        )
        emit("phase", {"phase": "save"})
        info = {
            "model": method,
            "params": {"method": method, "contamination": contamination},
            "source": where,
            "rows": len(X),
            "anomaly_threshold": float(det.threshold_),
        }
        bundle, record = save_bundle(
            store,
            run,
            name=name,
            pipeline=det,
            schema=schema,
            metrics={"train": metrics},
            info=info,
            registry_metrics=metrics,
            card=lambda b: _card(
                b, "how unusual each row is", "an anomaly score and a 0/1 flag per row", notes
            ),
        )
    result = AnomalyResult(
        name=name,
        version=record.version,
        run_id=run.id,
        schema=schema,
        metrics=metrics,
        model=bundle,
        source=where,
        notes=notes,
        scores=scores,
        flags=flags,
        threshold=float(det.threshold_),
        top=top,
        evaluation=evaluation,
    )
    finish(result, report, started, emit)
    return result


def _anomaly_evaluation(
    truth: pd.Series, scores: np.ndarray[Any, Any], flags: np.ndarray[Any, Any]
) -> dict[str, float | None]:
    from sklearn import metrics as skm

    known = truth.notna().to_numpy()
    raw = truth[known]
    values = {str(v).strip().lower() for v in pd.unique(raw)}
    if not values <= {"0", "1", "true", "false", "0.0", "1.0"}:
        raise DataError(
            f"Label column '{truth.name}' must mark anomalies with 1/True and normal rows "
            f"with 0/False; found {sorted(values)[:5]}."
        )
    y = raw.astype(str).str.strip().str.lower().isin(["1", "true", "1.0"]).to_numpy()
    s, f = scores[known], flags[known]
    both = bool(y.any() and (~y).any())
    out: dict[str, float | None] = {
        "precision": float(skm.precision_score(y, f, zero_division=0)),
        "recall": float(skm.recall_score(y, f, zero_division=0)),
        "f1": float(skm.f1_score(y, f, zero_division=0)),
        "roc_auc": float(skm.roc_auc_score(y, s)) if both else None,
        "pr_auc": float(skm.average_precision_score(y, s)) if both else None,
        "n_known_anomalies": float(y.sum()),
    }
    return out
