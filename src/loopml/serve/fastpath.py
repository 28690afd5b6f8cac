"""The model behind the endpoint: the bundle's pipeline, or the same maths compiled to numpy.

A loopml pipeline (``SchemaCoercer`` → ``ColumnTransformer`` → model) costs a
millisecond or more per call even for one row: pandas and scikit-learn validate,
copy and dispatch per column. For the common shapes the serving path skips that
machinery and applies the *fitted* arrays directly to the validated columns:

- numeric and boolean blocks (``SimpleImputer`` → ``StandardScaler``): fill, missing
  indicators, centre, scale;
- categorical blocks (one-hot, ordinal or target encoding): the block is evaluated
  once per known category (plus "unseen" and "missing") when the model loads, and a
  request becomes a table lookup per column;
- linear models (logistic regression, linear/ridge/lasso/elastic-net regression):
  ``X @ coef_.T + intercept_`` then scikit-learn's own ``expit``/``softmax``; any
  other estimator is called directly on the numpy matrix.

Every compiled model is checked against the pipeline on probe rows (random values
in the training ranges, missing values, unseen categories) when it loads; if any
prediction differs or a probability is off by more than 1e-9, or the pipeline has a
shape this module does not know, the endpoint uses the pipeline itself.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from itertools import repeat
from typing import Any

import numpy as np

from loopml.bundle import ModelBundle
from loopml.data.schema import Role, Task
from loopml.serve.inputs import Columns, InputParser

__all__ = ["NotCompilableError", "Output", "Predictor", "compile_pipeline", "probe_columns"]

#: Largest difference between the compiled path and the pipeline that still counts as equal.
TOLERANCE = 1e-9
_UNSEEN = "\x00loopml-unseen-category\x00"

Array = np.ndarray[Any, Any]


class NotCompilableError(Exception):
    """The pipeline has a step the compiled path does not reproduce; use the pipeline."""


@dataclass
class Output:
    """Predictions for one batch: labels (or values), class probabilities, anomaly scores."""

    predictions: Array
    proba: Array | None = None
    #: Anomaly models: each row's score (higher = more unusual).
    scores: Array | None = None

    def slice(self, start: int, stop: int) -> Output:
        return Output(
            self.predictions[start:stop],
            None if self.proba is None else self.proba[start:stop],
            None if self.scores is None else self.scores[start:stop],
        )


# -- feature blocks -------------------------------------------------------------------


@dataclass
class _NumericBlock:
    columns: list[str]
    fill: Array
    indicator: Array | None
    mean: Array | None
    scale: Array | None

    def __post_init__(self) -> None:
        self.names = tuple(self.columns)

    def __call__(self, batch: Columns) -> Array:
        n = batch.n_rows
        if batch.matrix is not None and batch.matrix_names == self.names:
            X = batch.matrix.copy()
        else:
            X = np.empty((n, len(self.columns)))
            for j, name in enumerate(self.columns):
                X[:, j] = batch.data[name]
        miss = np.isnan(X)
        if miss.any():
            rows, cols = np.nonzero(miss)
            X[rows, cols] = self.fill[cols]
        if self.indicator is not None:
            X = np.hstack([X, miss[:, self.indicator].astype(np.float64)])
        if self.mean is not None:
            X -= self.mean
        if self.scale is not None:
            X /= self.scale
        return X


@dataclass
class _TableBlock:
    """A per-column encoder, precomputed: output columns owned by each input column."""

    columns: list[str]
    width: int
    base: Array
    lookups: list[dict[Any, int]]
    tables: list[Array]  # per column: (n_values + 2, n_owned) rows for values, unseen, missing
    owned: list[Array]  # per column: indices of the output columns it determines

    def __call__(self, batch: Columns) -> Array:
        n, data = batch.n_rows, batch.data
        out = np.empty((n, self.width))
        out[:] = self.base
        for name, lookup, table, owned in zip(
            self.columns, self.lookups, self.tables, self.owned, strict=True
        ):
            values = data[name]
            unseen = len(table) - 2
            idx = np.fromiter(map(lookup.get, values, repeat(unseen)), np.intp, n)
            odd = idx == unseen
            if odd.any():  # a NaN that is not numpy's own object is still a missing value
                idx[odd & (values != values)] = unseen + 1
            out[:, owned] = table[idx]
        return out


def _dense(X: Any) -> Array:
    return np.asarray(X.toarray() if hasattr(X, "toarray") else X, dtype=np.float64)


def _numeric_block(transformer: Any, columns: list[str]) -> _NumericBlock:
    from sklearn.impute import SimpleImputer
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import StandardScaler

    steps = (
        [s for _, s in transformer.steps] if isinstance(transformer, Pipeline) else [transformer]
    )
    imputer: Any = None
    scaler: Any = None
    for step in steps:
        if type(step) is SimpleImputer and imputer is None and scaler is None:
            imputer = step
        elif type(step) is StandardScaler and scaler is None:
            scaler = step
        else:
            raise NotCompilableError(f"numeric step {type(step).__name__} is not compiled")
    d = len(columns)
    fill = np.zeros(d)
    indicator = None
    if imputer is not None:
        missing_values = imputer.missing_values
        if not (isinstance(missing_values, float) and np.isnan(missing_values)):
            raise NotCompilableError("imputer with a custom missing-value marker")
        fill = np.asarray(imputer.statistics_, dtype=np.float64)
        if fill.shape != (d,) or not np.isfinite(fill).all():
            raise NotCompilableError("imputer drops or cannot fill a column")
        if imputer.add_indicator:
            ind = imputer.indicator_
            if ind.features != "missing-only":
                raise NotCompilableError("missing indicator over all features")
            indicator = np.asarray(ind.features_, dtype=np.intp)
    width = d + (0 if indicator is None else len(indicator))
    mean = scale = None
    if scaler is not None:
        if scaler.with_mean:
            mean = np.asarray(scaler.mean_, dtype=np.float64)
        if scaler.with_std:
            scale = np.asarray(scaler.scale_, dtype=np.float64)
        for arr in (mean, scale):
            if arr is not None and arr.shape != (width,):
                raise NotCompilableError("scaler does not match the imputer's output")
    return _NumericBlock(columns, fill, indicator, mean, scale)


def _table_block(transformer: Any, columns: list[str]) -> _TableBlock:
    import pandas as pd
    from sklearn.pipeline import Pipeline

    last = transformer.steps[-1][1] if isinstance(transformer, Pipeline) else transformer
    categories = getattr(last, "categories_", None)
    if categories is None or len(categories) != len(columns):
        raise NotCompilableError(f"categorical step {type(last).__name__} is not compiled")

    def run(values: dict[str, list[Any]]) -> Array:
        frame = pd.DataFrame({c: np.array(v, dtype=object) for c, v in values.items()})
        return _dense(transformer.transform(frame.astype(object)))

    base = run({c: [np.nan] for c in columns})[0]
    width = base.shape[0]
    lookups, tables, owned_list = [], [], []
    taken = np.zeros(width, dtype=bool)
    for j, name in enumerate(columns):
        known = [str(v) for v in categories[j] if isinstance(v, str)]
        probe: list[Any] = [*known, _UNSEEN, np.nan]
        values: dict[str, list[Any]] = {c: [np.nan] * len(probe) for c in columns}
        values[name] = probe
        table = run(values)
        owned = np.flatnonzero((table != base).any(axis=0))
        if taken[owned].any():
            raise NotCompilableError("categorical encoder mixes columns")
        taken[owned] = True
        lookup: dict[Any, int] = {v: i for i, v in enumerate(known)}
        lookup[np.nan] = len(known) + 1
        lookups.append(lookup)
        tables.append(np.ascontiguousarray(table[:, owned]))
        owned_list.append(owned)
    return _TableBlock(columns, width, base, lookups, tables, owned_list)


# -- models ---------------------------------------------------------------------------


def _model_fn(est: Any, task: Task, threshold: float | None, n_classes: int) -> Callable[..., Any]:
    """``fn(X) -> (class index or value array, proba or None)`` mirroring ModelBundle.predict."""
    from scipy.special import expit
    from sklearn.linear_model import ElasticNet, Lasso, LinearRegression, LogisticRegression, Ridge
    from sklearn.utils.extmath import softmax

    kind = type(est)
    if task in (Task.BINARY, Task.MULTICLASS):
        has_proba = hasattr(est, "predict_proba")
        use_threshold = task == Task.BINARY and threshold is not None and has_proba
        cut = float(threshold) if threshold is not None else 0.5
        if kind is LogisticRegression:
            coef_t = np.ascontiguousarray(np.asarray(est.coef_, dtype=np.float64).T)
            intercept = np.asarray(est.intercept_, dtype=np.float64)
            classes = np.asarray(est.classes_).astype(np.int64)
            binary = classes.size <= 2

            def logistic(X: Array) -> tuple[Array, Array]:
                scores = X @ coef_t
                scores += intercept
                if binary:
                    scores = scores.ravel()
                    proba = np.empty((scores.shape[0], 2))
                    p = expit(scores, out=proba[:, 1])
                    np.subtract(1.0, p, out=proba[:, 0])
                    idx = classes[(scores > 0).view(np.int8)]
                else:
                    proba = softmax(scores.copy(), copy=False)
                    idx = classes[scores.argmax(axis=1)]
                if use_threshold:
                    idx = (proba[:, 1] >= cut).astype(np.int64)
                return idx, proba

            return logistic

        def classify(X: Array) -> tuple[Array, Array | None]:
            proba = est.predict_proba(X) if has_proba else None
            if use_threshold and proba is not None:
                idx = (proba[:, 1] >= cut).astype(np.int64)
            else:
                idx = np.asarray(est.predict(X)).astype(np.int64)
            return idx, proba

        return classify
    if task != Task.REGRESSION:
        raise NotCompilableError(f"task {task} is not compiled")
    if kind in (LinearRegression, Ridge, Lasso, ElasticNet) and np.ndim(est.coef_) == 1:
        coef = np.asarray(est.coef_, dtype=np.float64)
        intercept_r = float(np.asarray(est.intercept_))

        def linear(X: Array) -> tuple[Array, None]:
            return X @ coef + intercept_r, None

        return linear

    def regress(X: Array) -> tuple[Array, None]:
        return np.asarray(est.predict(X), dtype=np.float64), None

    return regress


@dataclass
class CompiledPipeline:
    """A loopml pipeline as numpy operations on validated columns."""

    blocks: list[Callable[[Columns], Array]]
    select: Array | None
    model: Callable[[Array], tuple[Array, Array | None]]
    labels: Array | None  # class values by index (classification)
    task: Task

    def features(self, batch: Columns) -> Array:
        parts = [block(batch) for block in self.blocks]
        X = parts[0] if len(parts) == 1 else np.hstack(parts)
        if self.select is not None:
            X = np.nan_to_num(X)[:, self.select]
        return X

    def predict(self, columns: Columns) -> Output:
        # Values far outside the training range may overflow to inf/NaN, as in the
        # pipeline; they come out as null, without a warning per request.
        with np.errstate(all="ignore"):
            X = self.features(columns)
            idx, proba = self.model(X)
        if self.labels is not None:
            return Output(self.labels[idx], proba)
        return Output(idx, proba)


def compile_pipeline(bundle: ModelBundle) -> CompiledPipeline:
    """Compile *bundle*'s pipeline, or raise :class:`NotCompilableError` saying why."""
    from sklearn.compose import ColumnTransformer
    from sklearn.pipeline import Pipeline

    from loopml.features.transformers import SchemaCoercer

    pipe = bundle.pipeline
    if not isinstance(pipe, Pipeline) or len(pipe.steps) != 2:
        raise NotCompilableError("the model is not a (features, model) pipeline")
    features, est = pipe.steps[0][1], pipe.steps[1][1]
    if not isinstance(features, Pipeline) or len(features.steps) not in (2, 3):
        raise NotCompilableError("the features step is not a loopml feature pipeline")
    coerce, columns = features.steps[0][1], features.steps[1][1]
    if type(coerce) is not SchemaCoercer or type(columns) is not ColumnTransformer:
        raise NotCompilableError("the features step is not SchemaCoercer + ColumnTransformer")
    roles = {name: role for name, role in coerce.columns or []}
    blocks: list[Callable[[Columns], Array]] = []
    for _name, transformer, cols in columns.transformers_:
        if isinstance(transformer, str):
            if transformer == "drop":
                continue
            raise NotCompilableError(f"column transformer '{transformer}' is not compiled")
        names = [cols] if isinstance(cols, str) else list(cols)
        kinds = {roles.get(c) for c in names}
        if kinds <= {"numeric", "boolean"}:
            blocks.append(_numeric_block(transformer, names))
        elif kinds == {"categorical"}:
            blocks.append(_table_block(transformer, names))
        else:
            raise NotCompilableError(f"columns of role {sorted(map(str, kinds))} are not compiled")
    if not blocks:
        raise NotCompilableError("no feature blocks")
    select = None
    if len(features.steps) == 3:
        sel = features.steps[2][1]
        kbest = sel.steps[-1][1] if isinstance(sel, Pipeline) else sel
        if not hasattr(kbest, "get_support"):
            raise NotCompilableError("the selection step is not compiled")
        select = np.asarray(kbest.get_support(), dtype=bool)
    task = bundle.task
    classes = bundle.classes
    labels = None
    if task in (Task.BINARY, Task.MULTICLASS):
        labels = np.empty(len(classes or []), dtype=object)
        labels[:] = list(classes or [])
    model = _model_fn(est, task, bundle.threshold, len(classes or []))
    return CompiledPipeline(blocks, select, model, labels, task)


# -- the predictor --------------------------------------------------------------------


def probe_columns(parser: InputParser, n: int = 96, seed: int = 0) -> Columns:
    """Rows spanning the training ranges, with missing values and unseen categories."""
    rng = np.random.default_rng(seed)
    raw: dict[str, list[Any]] = {}
    for spec in parser.features:
        if spec.role == Role.NUMERIC:
            lo = spec.minimum if isinstance(spec.minimum, int | float) else -1.0
            hi = spec.maximum if isinstance(spec.maximum, int | float) else 1.0
            values: list[Any] = rng.uniform(lo, hi, n).tolist()
            values[:3] = [lo, hi, 0.0]
        elif spec.role == Role.BOOLEAN:
            values = rng.choice([True, False], n).tolist()
        elif spec.role == Role.CATEGORICAL:
            choices = [*map(str, spec.categories or ["a"]), "__probe_unseen__"]
            values = [choices[i] for i in rng.integers(0, len(choices), n)]
        elif spec.role == Role.DATETIME:
            values = [str(spec.minimum or "2024-01-01")] * n
        else:
            values = ["probe text"] * n
        for i in rng.choice(n, size=max(1, n // 10), replace=False).tolist():
            values[i] = None
        raw[spec.name] = values
    return parser.from_columns(raw, ("probe",))


def _agree(a: Output, b: Output, task: Task) -> str | None:
    """None when *a* and *b* agree; else what differs."""
    if task in (Task.BINARY, Task.MULTICLASS):
        if not np.array_equal(a.predictions, b.predictions):
            return "a predicted class differs"
    elif not np.allclose(
        a.predictions, b.predictions, rtol=TOLERANCE, atol=TOLERANCE, equal_nan=True
    ):
        return "a predicted value differs"
    if (a.proba is None) != (b.proba is None):
        return "probabilities are missing on one side"
    if a.proba is not None and b.proba is not None:
        if a.proba.shape != b.proba.shape:
            return "probabilities have different shapes"
        diff = float(np.nanmax(np.abs(a.proba - b.proba))) if a.proba.size else 0.0
        if diff > TOLERANCE:
            return f"probabilities differ by {diff:.2e}"
    return None


class Predictor:
    """One loaded model version ready to serve: parser, compiled path, and pipeline.

    Parameters
    ----------
    bundle : ModelBundle
        The model.
    fast : bool, default True
        Try the compiled path; it is used only if it agrees with the pipeline.
    """

    def __init__(self, bundle: ModelBundle, *, fast: bool = True) -> None:
        self.bundle = bundle
        self.parser = InputParser(bundle.schema)
        self.compiled: CompiledPipeline | None = None
        self.fast_path_note = "disabled (--no-fast-path)"
        if fast:
            self.compiled, self.fast_path_note = _try_compile(bundle, self.parser)
        task = bundle.task
        self.classes: list[str] = [str(c) for c in bundle.classes or []]
        self.threshold: float | None = None
        if task == Task.BINARY:
            self.threshold = bundle.threshold if bundle.threshold is not None else 0.5
        #: Anomaly models: rows scoring above it are flagged.
        self.score_threshold = bundle.anomaly_threshold

    @property
    def fast(self) -> bool:
        return self.compiled is not None

    @property
    def name(self) -> str:
        return self.bundle.name

    @property
    def version(self) -> int | None:
        return self.bundle.version

    @property
    def ref(self) -> str:
        return self.bundle.ref

    def predict(self, columns: Columns) -> Output:
        """Predict one validated batch."""
        if self.compiled is not None:
            return self.compiled.predict(columns)
        return self.predict_pipeline(columns)

    def predict_pipeline(self, columns: Columns) -> Output:
        """Predict with the bundle's pipeline, exactly as ``loopml predict`` does."""
        import warnings

        frame = self.parser.to_frame(columns)
        with np.errstate(all="ignore"), warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            predictions = self.bundle.predict(frame)
            proba = self.bundle.predict_proba(frame)
            scores = self.bundle.score_samples(frame) if self.bundle.task == Task.ANOMALY else None
        return Output(
            predictions, None if proba is None else proba.to_numpy(dtype=np.float64), scores
        )

    def predict_many(self, parts: Sequence[Columns]) -> list[Output]:
        """Predict several batches with one model call; one output per part."""
        out = self.predict(Columns.concat(parts))
        results, start = [], 0
        for part in parts:
            results.append(out.slice(start, start + part.n_rows))
            start += part.n_rows
        return results


def _try_compile(bundle: ModelBundle, parser: InputParser) -> tuple[CompiledPipeline | None, str]:
    import warnings

    try:
        compiled = compile_pipeline(bundle)
        probe = probe_columns(parser)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            fast = compiled.predict(probe)
            slow = Predictor(bundle, fast=False).predict_pipeline(probe)
        problem = _agree(fast, slow, bundle.task)
    except NotCompilableError as exc:
        return None, f"off: {exc}"
    except Exception as exc:  # a surprising pipeline: serve it the safe way
        return None, f"off: compiling failed ({type(exc).__name__}: {exc})"
    if problem is not None:
        return None, f"off: the compiled path disagreed with the pipeline ({problem})"
    return compiled, "on: compiled numpy path, checked against the pipeline"
