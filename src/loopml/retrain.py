"""Continuous iteration: retrain a challenger and promote it only if it beats the champion.

The champion is the model's production version (else its latest). A challenger
is trained on the champion's training data plus the new data (or on the new data
alone, ``include_old=False``). Both are scored on the *same* fresh holdout carved
from the new data, which neither saw; the challenger is promoted to production
only if it is better by at least ``margin`` on the champion's selection metric
and passes the KPI gates. The comparison is recorded in the store (a run of kind
``retrain``) and can be written as an HTML report.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from loopml.exceptions import DataError

if TYPE_CHECKING:
    import pandas as pd

    from loopml.bundle import ModelBundle
    from loopml.store import Store

__all__ = ["RetrainResult", "retrain"]


@dataclass
class RetrainResult:
    """The champion-versus-challenger comparison and what was decided."""

    name: str
    champion: str
    challenger: str
    metric: str
    greater_is_better: bool
    champion_score: float
    challenger_score: float
    margin: float
    promoted: bool
    reason: str
    holdout_rows: int
    run_id: int
    champion_metrics: dict[str, float | None] = field(default_factory=dict)
    challenger_metrics: dict[str, float | None] = field(default_factory=dict)
    gates: list[str] = field(default_factory=list)

    @property
    def improvement(self) -> float:
        """How much better the challenger is (positive = better), in the metric's units."""
        diff = self.challenger_score - self.champion_score
        return diff if self.greater_is_better else -diff

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "champion": self.champion,
            "challenger": self.challenger,
            "metric": self.metric,
            "champion_score": self.champion_score,
            "challenger_score": self.challenger_score,
            "improvement": self.improvement,
            "margin": self.margin,
            "promoted": self.promoted,
            "reason": self.reason,
            "holdout_rows": self.holdout_rows,
            "run_id": self.run_id,
            "champion_metrics": self.champion_metrics,
            "challenger_metrics": self.challenger_metrics,
            "gates": self.gates,
        }


def _champion(store: Store, name: str) -> Any:
    from loopml.exceptions import ModelNotFoundError

    try:
        return store.resolve(f"{name}@production")
    except ModelNotFoundError:
        return store.resolve(f"{name}@latest")


def _scores(bundle: ModelBundle, X: pd.DataFrame, y: pd.Series) -> dict[str, float | None]:
    from loopml.data.schema import Task
    from loopml.learn.supervised import encode_target, task_metrics

    y_enc = encode_target(y, bundle.schema)
    task = bundle.schema.task or Task.REGRESSION
    pred = bundle.pipeline.predict(X)
    proba = None
    if task in (Task.BINARY, Task.MULTICLASS) and hasattr(bundle.pipeline, "predict_proba"):
        proba = bundle.pipeline.predict_proba(X)
    return task_metrics(task, y_enc, pred, proba)


def retrain(
    name: str,
    data: Any,
    *,
    store: Store | None = None,
    include_old: bool = True,
    holdout: float = 0.25,
    margin: float = 0.0,
    gates: Any = None,
    promote: bool = True,
    seed: int = 0,
    **train_options: Any,
) -> RetrainResult:
    """Train a challenger for model *name* on new *data* and promote it if it wins.

    Parameters
    ----------
    name : str
        The stored model.
    data : path or DataFrame
        New labelled rows (with the champion's target column).
    include_old : bool, default True
        Train on the champion's original training data plus the new rows.
    holdout : float, default 0.25
        Share of the new rows kept aside to compare champion and challenger.
    margin : float, default 0.0
        How much better (in metric units) the challenger must be.
    gates : KPI gates, optional
        ``["recall >= 0.8", ...]``; the challenger must pass them on the holdout.
    promote : bool, default True
        Promote a winning challenger to production (else only report).
    **train_options
        Passed to :func:`loopml.train` (models, time_budget, ...).
    """
    import pandas as pd

    from loopml.bundle import ModelBundle
    from loopml.data.io import describe_source, load
    from loopml.data.split import split
    from loopml.evaluate.scoring import get_metric
    from loopml.gates import check_gates, parse_gates
    from loopml.learn.supervised import train
    from loopml.store import Store

    store = store or Store()
    champ_record = _champion(store, name)
    champion = ModelBundle.load(champ_record.path, expected_sha256=champ_record.sha256)
    target = champion.schema.target
    if not target:
        raise DataError(f"Model {champ_record.ref} has no target; only supervised models retrain.")
    new = load(data)
    where = describe_source(data)
    if target not in new.columns:
        raise DataError(
            f"The new data ({where}) has no target column '{target}'; retraining needs labels."
        )
    new = new.dropna(subset=[target]).reset_index(drop=True)
    parts = split(new, target, sizes=(1 - holdout, 0.0, holdout), seed=seed, where=where)
    fresh, hold = parts.train, parts.test
    frames = [fresh]
    if include_old:
        source = champion.info.get("source")
        if source and source != "the DataFrame":
            old = load(source)
            frames.insert(0, old[[c for c in old.columns if c in fresh.columns]])
    training = pd.concat(frames, ignore_index=True)

    metric = get_metric(str(champion.info.get("metric") or "accuracy"))
    X_hold, y_hold = hold.drop(columns=[target]), hold[target]
    champ_metrics = _scores(champion, X_hold, y_hold)
    params = {
        "champion": champ_record.ref,
        "data": where,
        "include_old": include_old,
        "holdout": holdout,
        "margin": margin,
        "metric": metric.name,
    }
    with store.start_run(name, kind="retrain", params=params) as run:
        challenger_run = train(
            training,
            target,
            name=name,
            metric=metric.name,
            seed=seed,
            store=store,
            task=str(champion.schema.task) if champion.schema.task else None,
            **train_options,
        )
        challenger = challenger_run.model
        chall_metrics = _scores(challenger, X_hold, y_hold)
        c_score = champ_metrics.get(metric.name)
        n_score = chall_metrics.get(metric.name)
        if c_score is None or n_score is None:
            raise DataError(
                f"Metric '{metric.name}' cannot be computed on the holdout ({len(hold)} rows); "
                "give more new rows."
            )
        diff = (n_score - c_score) if metric.greater_is_better else (c_score - n_score)
        gate_report = check_gates(parse_gates(gates), chall_metrics)
        if diff < margin or (diff == 0 and margin == 0):
            decision, why = (
                False,
                (
                    f"challenger {metric.name} {n_score:.4f} vs champion {c_score:.4f}: "
                    f"not better by the required margin {margin:g}"
                ),
            )
        elif not gate_report.passed:
            decision, why = False, f"challenger misses KPI gates: {gate_report.summary()}"
        else:
            decision, why = (
                promote,
                (
                    f"challenger {metric.name} {n_score:.4f} beats champion {c_score:.4f} "
                    f"by {diff:.4f} on {len(hold)} fresh holdout rows"
                ),
            )
        if decision:
            store.set_stage(name, challenger_run.version, "production", reason=f"retrain: {why}")
        run.log_metrics(
            {k: v for k, v in champ_metrics.items() if v is not None}, prefix="champion_"
        )
        run.log_metrics(
            {k: v for k, v in chall_metrics.items() if v is not None}, prefix="challenger_"
        )
        run.set(decision={"promoted": decision, "reason": why, "challenger": challenger_run.ref})
    return RetrainResult(
        name=name,
        champion=champ_record.ref,
        challenger=challenger_run.ref,
        metric=metric.name,
        greater_is_better=metric.greater_is_better,
        champion_score=float(c_score),
        challenger_score=float(n_score),
        margin=margin,
        promoted=decision,
        reason=why,
        holdout_rows=len(hold),
        run_id=run.id,
        champion_metrics=champ_metrics,
        challenger_metrics=chall_metrics,
        gates=[r.message for r in gate_report.results],
    )


def write_report(result: RetrainResult, path: str | Path) -> Path:
    """A one-page HTML comparison of champion and challenger."""
    from loopml.report import Section, render_page, write_html

    rows = []
    for key in sorted(set(result.champion_metrics) | set(result.challenger_metrics)):
        rows.append(
            {
                "metric": key,
                "champion": result.champion_metrics.get(key),
                "challenger": result.challenger_metrics.get(key),
            }
        )
    verdict = "promoted to production" if result.promoted else "not promoted"
    html = render_page(
        f"Retraining {result.name}: {result.challenger} {verdict}",
        [
            Section("Decision", text=result.reason),
            Section(f"Holdout comparison ({result.holdout_rows} fresh rows)", tables=[rows]),
        ],
        subtitle=f"champion {result.champion} vs challenger {result.challenger}",
    )
    return write_html(path, html)
