"""Semi-supervised classification: learn from rows whose target is missing.

:func:`train_semi_supervised` runs self-training (:class:`PseudoLabelClassifier`, in
:mod:`loopml.learn.pseudo_label`) through the lifecycle and compares it with the
supervised-only model on the same labelled validation rows, so the report can say
plainly whether the unlabelled data helped.

Examples
--------
>>> from loopml.store import Store
>>> result = train_semi_supervised("leads.csv", "converted", store=Store.in_memory())  # doctest: +SKIP
>>> result.comparison["verdict"]  # doctest: +SKIP
'helped'
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
import pandas as pd

from loopml.data.schema import Schema, Task
from loopml.exceptions import DataError
from loopml.learn.pseudo_label import PseudoLabelClassifier
from loopml.learn.result import FitResult
from loopml.learn.semi_compare import VERDICTS as VERDICTS
from loopml.learn.semi_compare import (
    PairFitter,
    compare,
    metrics_of,
    score_trial,
    sentences,
    verdict_of,
)

if TYPE_CHECKING:
    from loopml.evaluate.evaluator import EvaluationResult
    from loopml.evaluate.scoring import Metric
    from loopml.learn.candidates import Candidate, TrialResult
    from loopml.learn.prepare import EventHandler
    from loopml.store import Store

__all__ = ["PseudoLabelClassifier", "SemiSupervisedResult", "train_semi_supervised"]


# -- the result --------------------------------------------------------------------------------------


@dataclass
class SemiSupervisedResult(FitResult):
    """What :func:`train_semi_supervised` made; shaped like
    :class:`~loopml.learn.supervised.TrainResult` (same CLI output), plus the comparison
    with the supervised-only model."""

    comparison: dict[str, Any] = field(default_factory=dict)
    history: pd.DataFrame = field(default_factory=pd.DataFrame, repr=False)
    n_labelled: int = 0
    n_unlabelled: int = 0
    n_pseudo: int = 0
    stop_reason: str = ""
    stored: str = "self-training"
    params: dict[str, Any] = field(default_factory=dict)
    self_trained: Any = field(default=None, repr=False)
    baseline: Any = field(default=None, repr=False)
    evaluation: EvaluationResult | None = field(default=None, repr=False)
    notes: list[str] = field(default_factory=list)
    duration_s: float = 0.0
    validation: str = "validation split"
    source: str = ""
    report_path: Path | None = None

    @property
    def task(self) -> Task:
        return self.schema.task or Task.BINARY

    @property
    def helped(self) -> bool:
        """Whether self-training beat the supervised-only model on validation."""
        return bool(self.comparison.get("verdict") == "helped")

    def _selection_metric(self) -> Metric:
        from loopml.evaluate.scoring import get_metric

        return get_metric(self.metric, str(self.task))


# -- training ------------------------------------------------------------------------------------------


def train_semi_supervised(
    data: Any,
    target: str | None = None,
    *,
    threshold: float = 0.9,
    max_iter: int = 10,
    balance: Literal["predicted", "none"] = "predicted",
    models: Sequence[str | Candidate] | None = None,
    metric: str | None = None,
    name: str | None = None,
    task: Task | str | None = None,
    split_sizes: tuple[float, float, float] | str = (0.7, 0.15, 0.15),
    seed: int = 0,
    roles: dict[str, str] | None = None,
    store: Store | None = None,
    n_jobs: int = 1,
    on_event: EventHandler | None = None,
    report: str | Path | None = None,
) -> SemiSupervisedResult:
    """Train a classifier on labelled rows plus pseudo-labelled unlabelled rows, compare
    it with the supervised-only model, and store the better one.

    Rows whose *target* is missing are the unlabelled rows. The labelled rows are split
    into train / validation / test (stratified); the unlabelled rows join training only.
    For each base model two candidates are fitted on the same labelled training rows:
    supervised only, and self-training (:class:`PseudoLabelClassifier`) that also uses
    the unlabelled rows. Both are scored on the same labelled validation rows; the
    verdict (helped / hurt / no difference) and a plain sentence go into the result and
    the report. The stored model is the self-trained one unless it scored worse, then the
    supervised-only one; both are refitted on train + validation rows first.

    Parameters
    ----------
    data : path, DataFrame
    target : str
        The class column; missing values mark unlabelled rows.
    threshold, max_iter, balance
        As in :class:`PseudoLabelClassifier`.
    models : list of str or Candidate, optional
        Base classifiers from the catalogue (default: logreg), by name (their first
        portfolio configuration) or as Candidates. Each must have ``predict_proba``.
    metric : str, optional
        Selection metric (default as in :func:`~loopml.learn.supervised.train`).
    name, task, split_sizes, seed, roles, store, n_jobs, on_event
        As in :func:`~loopml.learn.supervised.train`.
    report : path, optional
        Write the HTML report there.
    """
    from loopml.data.split import split
    from loopml.data.validate import check_target
    from loopml.evaluate.scoring import default_metric, get_metric
    from loopml.learn.prepare import encode_target, load_data
    from loopml.learn.result import best_trial, record_outcome
    from loopml.learn.tasks import emit_trial, model_choices
    from loopml.store import Store

    started = time.monotonic()
    emit = on_event or (lambda kind, payload: None)
    df, where, name = load_data(data, name, emit)
    if target is None:
        raise DataError(
            f"No target given for {where}. Pass the class column with --target; rows where "
            "it is empty are the unlabelled rows."
        )
    check_target(df, target, where)
    df[target] = _integral(df[target])
    unlabelled = df[target].isna().to_numpy()
    notes: list[str] = []
    if not unlabelled.any():
        notes.append(
            f"Every row of {where} has a value in '{target}': there is no unlabelled row, so "
            "self-training can only add nothing."
        )
    emit("phase", {"phase": "schema"})
    schema = _schema(df, target, task, roles, notes, where)
    emit("phase", {"phase": "split"})
    sp = split(
        df.loc[~unlabelled].reset_index(drop=True),
        target,
        sizes=split_sizes,
        seed=seed,
        where=where,
    )
    notes.extend(sp.notes)
    if not len(sp.valid):
        raise DataError(
            "Semi-supervised training compares self-training with the supervised-only model "
            f"on labelled validation rows; the split {list(sp.sizes)} leaves none. Give a "
            "validation fraction, e.g. --split 0.7,0.15,0.15."
        )
    X_unl = df.loc[unlabelled].drop(columns=[target]).reset_index(drop=True)
    y_tr, y_va, y_te = (encode_target(f[target], schema) for f in (sp.train, sp.valid, sp.test))
    X_tr, X_va, X_te = (f.drop(columns=[target]) for f in (sp.train, sp.valid, sp.test))
    task_ = schema.task or Task.BINARY
    chosen = get_metric(metric, str(task_)) if metric else default_metric(str(task_), y_tr)
    settings = {"threshold": threshold, "max_iter": max_iter, "balance": balance}
    store = store or Store()
    params = {
        "source": where,
        "target": target,
        "task": str(task_),
        "metric": chosen.name,
        "semi_supervised": True,
        **settings,
        "models": [str(getattr(m, "model", m)) for m in models or ["logreg"]],
        "seed": seed,
        "split": list(sp.sizes),
        "n_unlabelled": int(unlabelled.sum()),
    }
    fit = PairFitter(schema, seed, n_jobs, settings, X_unl)
    with store.start_run(name, kind="train", params=params) as run:
        split_info = {**sp.info(), "unlabelled": int(unlabelled.sum())}
        run.set(split=split_info, notes=notes)
        trials: list[TrialResult] = []
        pairs: dict[int, tuple[str, dict[str, Any], Any, Any]] = {}
        choices = model_choices(models, ["logreg"], task_)
        for i, (model, model_params) in enumerate(choices):
            emit("phase", {"phase": "fit", "model": model, "index": i, "total": len(choices)})
            sup, semi, spec_name, times = fit.both(model, model_params, X_tr, y_tr)
            for est, kind, secs in zip(
                (sup, semi), ("supervised only", "self-training"), times, strict=True
            ):
                trial = score_trial(
                    len(trials),
                    spec_name,
                    kind,
                    est,
                    secs,
                    (X_tr, y_tr),
                    (X_va, y_va),
                    chosen,
                    task_,
                )
                trials.append(trial)
                emit_trial(emit, trial, chosen, trials, started)
                run.log_trial(**trial.store_record(phase=kind))
            pairs[trials[-1].number] = (spec_name, model_params, sup, semi)
        semi_trials = [t for t in trials if t.phase == "self-training" and t.ok]
        if not semi_trials:
            raise DataError("No self-training candidate could be scored on the validation rows.")
        best_semi = best_trial(semi_trials, chosen)
        model_name, model_params, sup, semi = pairs[best_semi.number]
        emit("phase", {"phase": "evaluate"})
        comparison: dict[str, Any] = {
            "metric": chosen.name,
            "valid": compare(sup, semi, X_va, y_va, chosen, task_),
        }
        verdict = verdict_of(comparison["valid"], chosen)
        emit("phase", {"phase": "refit", "model": model_name})
        X_fit = pd.concat([X_tr, X_va], ignore_index=True)
        y_fit = np.concatenate([y_tr, y_va])
        sup_final, semi_final, _, _ = fit.both(model_name, model_params, X_fit, y_fit)
        comparison["test"] = (
            compare(sup_final, semi_final, X_te, y_te, chosen, task_) if len(X_te) else None
        )
        keep_semi = verdict != "hurt"
        final = semi_final.estimator_ if keep_semi else sup_final
        # Each model's supervised-only trial comes right before its self-training one.
        best = best_semi if keep_semi else trials[best_semi.number - 1]
        comparison.update(
            verdict=verdict,
            **sentences(verdict, comparison, chosen.name, semi.history_, keep_semi),
        )
        notes.append(comparison["summary"])
        valid_metrics = metrics_of(semi if keep_semi else sup, X_va, y_va, task_)
        test_metrics = metrics_of(final, X_te, y_te, task_) if len(X_te) else {}
        record_outcome(
            run, trials, chosen, best, valid_metrics, test_metrics, comparison=comparison
        )
        from loopml.learn.saving import save_bundle

        n_pseudo = int((semi_final.labeled_iter_ > 0).sum())
        info = {
            "model": model_name,
            "params": model_params,
            "metric": chosen.name,
            "refit_on": "train+valid" + (f" + {n_pseudo} pseudo-labelled" if keep_semi else ""),
            "source": where,
            "split": split_info,
            "semi_supervised": {
                **settings,
                "stored": "self-training" if keep_semi else "supervised only",
                "n_unlabelled": int(unlabelled.sum()),
                "n_pseudo": n_pseudo,
                "verdict": verdict,
                "stop": semi_final.termination_condition_,
            },
        }
        bundle, record = save_bundle(
            store,
            run,
            name=name,
            pipeline=final,
            schema=schema,
            metrics={"valid": valid_metrics, "test": test_metrics},
            info=info,
            notes=notes,
            registry_metrics=test_metrics,
        )
    evaluation = None
    if len(sp.test):
        from loopml.evaluate.evaluator import evaluate

        evaluation = evaluate(bundle, sp.test, target=target, importance=False, seed=seed)
    result = SemiSupervisedResult(
        name=name,
        version=record.version,
        run_id=run.id,
        schema=schema,
        split=split_info,
        metric=chosen.name,
        trials=trials,
        best=best,
        metrics=test_metrics,
        valid_metrics=valid_metrics,
        model=bundle,
        comparison=comparison,
        history=pd.DataFrame(
            semi_final.history_,
            columns=["iteration", "added", "pseudo_labelled", "unlabelled", "mean_confidence"],
        ),
        n_labelled=int((~unlabelled).sum()),
        n_unlabelled=int(unlabelled.sum()),
        n_pseudo=n_pseudo,
        stop_reason=str(semi_final.termination_condition_).replace("_", " "),
        stored="self-training" if keep_semi else "supervised only",
        params=settings,
        self_trained=semi_final,
        baseline=sup_final,
        evaluation=evaluation,
        notes=notes,
        source=where,
    )
    from loopml.learn.tasks import finish

    finish(result, report, started, emit)
    return result


def _integral(y: pd.Series) -> pd.Series:
    """A float column of whole numbers with gaps (integers plus NaN) back to integers, so
    classes read 0, 1 and not 0.0, 1.0."""
    if pd.api.types.is_float_dtype(y):
        present = y.dropna()
        if len(present) and bool((present % 1 == 0).all()):
            return y.astype("Int64")
    return y


def _schema(
    df: pd.DataFrame,
    target: str,
    task: Task | str | None,
    roles: dict[str, str] | None,
    notes: list[str],
    where: str,
) -> Schema:
    from loopml.learn.prepare import infer_noting

    schema = infer_noting(df, target, task=Task(task) if task else None, roles=roles, notes=notes)
    if schema.task not in (Task.BINARY, Task.MULTICLASS):
        raise DataError(
            f"Semi-supervised training is for classification; target '{target}' in {where} "
            f"is a {schema.task} target. Pass --task binary or --task multiclass if it holds "
            "classes."
        )
    return schema
