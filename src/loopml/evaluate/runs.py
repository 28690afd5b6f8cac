"""A training run's data rebuilt from the store, and the fit diagnosis of its model.

:func:`load_run_data` rebuilds a run's train/validation/test split exactly as
:func:`loopml.train` made it (same source, target, fractions, seed and strategy)
and loads its model. :func:`diagnose_split` runs the fit diagnosis, learning and
validation curves and bias-variance estimate (:mod:`loopml.evaluate.fit`) of a
stored model on such a split; :func:`diagnose_bundle` does it from the bundle
alone (``run.diagnosis``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from loopml.evaluate.evaluator import encode_labels
from loopml.exceptions import DataError

if TYPE_CHECKING:
    import plotly.graph_objects as go

    from loopml.bundle import ModelBundle
    from loopml.data.split import Split
    from loopml.evaluate.fit import BiasVariance, Curve, Diagnosis
    from loopml.store import RunRecord, Store

__all__ = ["FitReport", "RunData", "diagnose_bundle", "diagnose_split", "load_run_data"]


@dataclass
class RunData:
    """A training run's split rebuilt from its parameters, and its stored model."""

    run: RunRecord
    split: Split
    target: str
    bundle: ModelBundle | None = None
    notes: list[str] = field(default_factory=list)


_STRATEGY = re.compile(r"^(time-ordered|grouped) by '(.+)'$")


def _resplit(
    data: Any,
    source: str,
    target: str,
    sizes: Any,
    seed: int,
    strategy: str,
    expected_rows: dict[str, int] | None,
) -> tuple[Split, list[str]]:
    """Reload and split the data the way :func:`loopml.train` did."""
    from loopml.data.io import describe_source, load
    from loopml.data.split import split
    from loopml.data.validate import drop_missing_target

    if data is None:
        if source in ("", "the DataFrame") or source is None:
            raise DataError(
                "This model was trained on an in-memory DataFrame, so its data cannot be reloaded; "
                "pass the same data with data=."
            )
        data = source
    where = describe_source(data)
    df = load(data)
    if target not in df.columns:
        raise DataError(f"{where} has no column '{target}', the run's target; pass the run's data.")
    df, note = drop_missing_target(df, target, where)
    notes = [note] if note else []
    match = _STRATEGY.match(strategy or "")
    time_column = match.group(2) if match and match.group(1) == "time-ordered" else None
    group_column = match.group(2) if match and match.group(1) == "grouped" else None
    sp = split(
        df,
        target,
        sizes=tuple(sizes) if not isinstance(sizes, str) else sizes,
        seed=int(seed),
        time_column=time_column,
        group_column=group_column,
        where=where,
    )
    if expected_rows and {k: int(v) for k, v in expected_rows.items()} != sp.counts:
        notes.append(
            f"The data at {where} has changed since training: the split now has {sp.counts}, the "
            f"run had {dict(expected_rows)}. Test results below are on the new split."
        )
    return sp, notes


def load_run_data(store: Store, run_id: int, *, data: Any = None) -> RunData:
    """Rebuild run *run_id*'s split (and load its model) from what the store recorded.

    Parameters
    ----------
    data : path or DataFrame, optional
        The training data, when the run's source cannot be reloaded (an in-memory
        DataFrame) or has moved.
    """
    from loopml.bundle import load_model

    run = store.get_run(int(run_id))
    params = run.params
    for key in ("source", "target", "split", "seed"):
        if key not in params:
            raise DataError(
                f"Run {run_id} ({run.kind}) has no '{key}' parameter: it is not a training run "
                "loopml can rebuild the data of."
            )
    info_split = run.info.get("split", {})
    sp, notes = _resplit(
        data,
        str(params["source"]),
        str(params["target"]),
        params["split"],
        int(params["seed"]),
        str(info_split.get("strategy", "")),
        info_split.get("rows"),
    )
    bundle = None
    model = run.info.get("model")
    if isinstance(model, dict) and model.get("name") and model.get("version") is not None:
        try:
            bundle = load_model(f"{model['name']}@{model['version']}", store=store)
        except Exception as exc:
            notes.append(f"The run's model could not be loaded: {exc}")
    return RunData(run=run, split=sp, target=str(params["target"]), bundle=bundle, notes=notes)


@dataclass
class FitReport:
    """Fit diagnosis with its curves and bias-variance estimate (each None when skipped)."""

    diagnosis: Diagnosis
    learning: Curve | None = None
    validation: Curve | None = None
    bias_variance: BiasVariance | None = None
    notes: list[str] = field(default_factory=list)

    @property
    def label(self) -> str:
        return self.diagnosis.label

    def figures(self) -> dict[str, go.Figure]:
        from loopml.evaluate import plots

        out: dict[str, go.Figure] = {}
        if self.learning is not None:
            out["learning_curve"] = plots.learning_curve(self.learning)
        if self.validation is not None:
            out["validation_curve"] = plots.validation_curve(self.validation)
        if self.bias_variance is not None:
            out["bias_variance"] = plots.bias_variance(self.bias_variance)
        return out

    def to_dict(self) -> dict[str, Any]:
        return {
            "diagnosis": self.diagnosis.to_dict(),
            "learning_curve": None if self.learning is None else self.learning.to_dict(),
            "validation_curve": None if self.validation is None else self.validation.to_dict(),
            "bias_variance": None if self.bias_variance is None else self.bias_variance.to_dict(),
            "notes": list(self.notes),
        }


def diagnose_split(
    bundle: ModelBundle,
    sp: Split,
    *,
    curves: bool = True,
    bias_variance: bool = True,
    seed: int = 0,
    cv: int = 5,
    time_limit: float = 15.0,
) -> FitReport:
    """Diagnose *bundle*'s model family and hyperparameters on a train/validation split.

    The stored pipeline is cloned (same features, same hyperparameters, unfitted) and
    refitted on the training rows; the test rows are not used.
    """
    from sklearn.base import clone

    from loopml.evaluate import fit

    target = bundle.schema.target or ""
    task = bundle.task
    metric = bundle.info.get("metric")
    est = clone(bundle.pipeline)
    X_train = sp.train.drop(columns=[target], errors="ignore")
    X_valid = sp.valid.drop(columns=[target], errors="ignore")
    y_train = encode_labels(sp.train[target], bundle.classes, task)
    y_valid = encode_labels(sp.valid[target], bundle.classes, task) if len(sp.valid) else None
    kwargs: dict[str, Any] = {"metric": metric, "task": str(task), "seed": seed}
    ordered = "time" in sp.strategy or "group" in sp.strategy
    if ordered and y_valid is not None:
        cv = 0  # shuffled folds would leak across time or groups: the validation rows decide
    diagnosis = fit.diagnose(
        est, X_train, y_train, X_valid if y_valid is not None else None, y_valid, cv=cv, **kwargs
    )
    report = FitReport(diagnosis)
    if ordered:
        report.notes.append(
            f"The split is {sp.strategy}: the diagnosis compares training and validation rows "
            "only; the curves use shuffled folds, which mix time periods or groups."
        )
    if curves:
        X_all = pd.concat([X_train, X_valid], ignore_index=True)
        y_all = y_train if y_valid is None else np.concatenate([y_train, y_valid])
        report.learning = fit.learning_curve(est, X_all, y_all, **kwargs)
        try:
            report.validation = fit.validation_curve(est, X_all, y_all, **kwargs)
        except DataError as exc:
            report.notes.append(str(exc))
    if bias_variance:
        try:
            report.bias_variance = fit.bias_variance(
                est,
                X_train,
                y_train,
                X_valid if y_valid is not None else None,
                y_valid,
                task=str(task),
                rounds=20,
                seed=seed,
                time_limit=time_limit,
            )
        except Exception as exc:  # a model that cannot be refitted on a bootstrap sample
            report.notes.append(f"Bias-variance estimate skipped: {type(exc).__name__}: {exc}")
    return report


def diagnose_bundle(bundle: ModelBundle, data: Any = None, **kwargs: Any) -> FitReport:
    """Diagnose the model of a training run from its bundle (``run.diagnosis``).

    The training data is reloaded from the bundle's recorded source (or *data*) and
    split as training did; keyword arguments go to :func:`diagnose_split`.
    """
    info = bundle.info
    split_info = info.get("split") or {}
    target = info.get("target") or bundle.schema.target
    if not target or "sizes" not in split_info:
        raise DataError(
            f"The bundle of {bundle.ref} does not record how its data was split; diagnose it "
            "with loopml.evaluate.fit.diagnose on your own train/validation rows."
        )
    sp, notes = _resplit(
        data,
        str(info.get("source", "")),
        str(target),
        split_info["sizes"],
        int(split_info.get("seed", 0)),
        str(split_info.get("strategy", "")),
        split_info.get("rows"),
    )
    report = diagnose_split(bundle, sp, **kwargs)
    report.notes[:0] = notes
    return report
