"""Edge export: a loopml model as ONNX, checked against the original, optionally int8.

The whole fitted pipeline is converted with skl2onnx (LightGBM and XGBoost
through onnxmltools' converters). The ONNX model takes **one input per raw
feature column**: float for numeric and boolean columns, string for categorical
ones. loopml's ``SchemaCoercer`` (which only casts raw columns to those types) is
done by the edge runtime in numpy (:mod:`loopml.serve.edge`), so what is exported
is everything after it: imputation, encoding, scaling, selection, the model.

Where skl2onnx's own converters fall short for loopml's pipelines, this module
supplies converters for that one conversion (nothing is registered globally,
except the LightGBM/XGBoost converters, which is onnxmltools' documented way):

- ``SimpleImputer`` with ``add_indicator=True`` (missing-value indicator columns)
  and on string columns (missing categories arrive as ``""``);
- ``OneHotEncoder`` with infrequent categories (``min_frequency``), which skl2onnx
  refuses;
- ``FunctionTransformer`` of loopml's ``_nan_to_num`` (before feature selection);
- ``TransformedTargetRegressor`` with a ``StandardScaler`` target transform;
- ``HistGradientBoosting*``: skl2onnx's converter writes Python booleans into an
  integer attribute, which onnx >= 1.18 rejects; a thin wrapper casts them.

A step that cannot be exported (datetime parts, custom estimators...) is named in
an :class:`ExportError`. Every export is checked: the ONNX model (through the edge
runtime, coercion included) and the original pipeline predict the test split
(regenerated from the bundle's source and split seed, or the rows of *data*), and
the largest absolute difference of probabilities (or predicted values) is
reported; beyond *tolerance* the export fails. ``quantize=True`` adds a dynamic
int8 model (``onnxruntime.quantization.quantize_dynamic``) with its accuracy cost.

Examples
--------
>>> result = export_onnx("churn@production", "churn-edge")  # doctest: +SKIP
>>> result.check.max_abs_diff  # doctest: +SKIP
1.2e-07
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from loopml.exceptions import LoopmlError
from loopml.serve._convert import (
    _FLOAT_ROLES,
    ExportError,
    _leaves,
    _set_metadata,
    find_blocker,
    to_onnx,
)
from loopml.serve.edge import META_FILE, MODEL_FILE, QUANTIZED_FILE

if TYPE_CHECKING:
    from loopml.bundle import ModelBundle
    from loopml.registry import HoldoutData
    from loopml.store import Store

__all__ = [
    "ExportCheck",
    "ExportError",
    "ExportResult",
    "QuantizeReport",
    "export_onnx",
    "find_blocker",
    "to_onnx",
]

DEFAULT_TOLERANCE = 1e-3


@dataclass
class ExportCheck:
    """ONNX (through the edge runtime) against the original pipeline on the same rows."""

    rows: int
    where: str
    compared: str  # "probabilities" or "values"
    max_abs_diff: float
    mean_abs_diff: float
    label_agreement: float | None
    tolerance: float
    passed: bool
    metric: str | None = None
    original_score: float | None = None
    onnx_score: float | None = None

    def summary(self) -> str:
        agree = (
            f", labels agree on {self.label_agreement:.2%}"
            if self.label_agreement is not None
            else ""
        )
        return (
            f"ONNX vs original on {self.rows:,} rows ({self.where}): max |diff| of "
            f"{self.compared} {self.max_abs_diff:.3g}{agree}"
        )


@dataclass
class QuantizeReport:
    """What dynamic int8 quantisation changed and cost."""

    path: str | None
    quantized_nodes: int
    size_before: int
    size_after: int
    max_abs_diff: float | None = None
    metric: str | None = None
    score_before: float | None = None
    score_after: float | None = None
    note: str = ""

    @property
    def cost(self) -> float | None:
        """How much the metric got worse (positive = worse), None when unknown."""
        if self.score_before is None or self.score_after is None or self.metric is None:
            return None
        worse = self.score_before - self.score_after
        return -worse if self.metric == "rmse" else worse


@dataclass
class ExportResult:
    """Where the export went and how it checked out."""

    model: str
    path: str
    package: bool
    inputs: list[dict[str, str]]
    size_bytes: int
    seconds: float
    check: ExportCheck | None = None
    quantized: QuantizeReport | None = None
    notes: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        if self.quantized is not None:
            out["quantized"]["accuracy_cost"] = self.quantized.cost
        return out


# -- check and quantisation ----------------------------------------------------------


def check_export(
    bundle: ModelBundle,
    onnx_path: str | Path,
    rows: HoldoutData,
    *,
    tolerance: float = DEFAULT_TOLERANCE,
) -> ExportCheck:
    """Predict *rows* with the original pipeline and the ONNX model; compare."""
    import numpy as np

    from loopml.data.schema import Task
    from loopml.serve.edge import EdgeModel

    edge = EdgeModel(onnx_path, threads=1)
    got = edge.predict(rows.X)
    classifier = bundle.task in (Task.BINARY, Task.MULTICLASS)
    if classifier and got.proba is not None:
        expected = np.asarray(bundle.pipeline.predict_proba(rows.X), dtype=np.float64)
        compared = "probabilities"
        diff = np.abs(expected - got.proba)
        scale = 1.0
    elif classifier:
        expected = np.asarray(bundle.pipeline.predict(rows.X)).astype(np.float64)
        index = {c: i for i, c in enumerate(bundle.classes or [])}
        diff = np.abs(expected - np.asarray([index[c] for c in got.labels], dtype=np.float64))
        compared = "class indices"
        scale = 1.0
    else:
        expected = np.asarray(bundle.pipeline.predict(rows.X), dtype=np.float64)
        diff = np.abs(expected - got.labels)
        compared = "values"
        # Relative for regression: float32 carries ~7 significant digits.
        scale = max(1.0, float(np.max(np.abs(expected))) if len(expected) else 1.0)
    max_diff = float(diff.max()) if diff.size else 0.0
    agreement = None
    if classifier:
        agreement = float(np.mean(bundle.predict(rows.X) == got.labels)) if len(rows.X) else 1.0
    metric, before, after = _scores(bundle, rows, bundle.predict(rows.X), got.labels)
    return ExportCheck(
        rows=len(rows.X),
        where=rows.where,
        compared=compared,
        max_abs_diff=max_diff,
        mean_abs_diff=float(diff.mean()) if diff.size else 0.0,
        label_agreement=agreement,
        tolerance=tolerance,
        passed=bool(max_diff <= tolerance * scale),
        metric=metric,
        original_score=before,
        onnx_score=after,
    )


def quantize_model(
    bundle: ModelBundle,
    onnx_path: str | Path,
    out_path: str | Path,
    rows: HoldoutData | None,
) -> QuantizeReport:
    """Dynamic int8 quantisation of the model into *out_path*, with its accuracy cost.

    The float32 variant of the model (:func:`to_onnx` with ``float32=True``) is
    quantised with ``onnxruntime.quantization.quantize_dynamic`` (int8 weights of
    MatMul/Gemm nodes: neural networks and linear models converted to MatMul). Tree
    ensembles and ai.onnx.ml operators stay as they are; when nothing changes, no
    file is written and the report says so. The cost is measured against the
    full-precision ONNX model at *onnx_path*.
    """
    import logging

    import onnx
    from onnxruntime.quantization import QuantType, quantize_dynamic

    from loopml.serve.edge import EdgeModel

    onnx_path, out_path = Path(onnx_path), Path(out_path)
    small, meta = to_onnx(bundle, float32=True)
    source = out_path.with_name(out_path.name + ".f32")
    onnx.save(small, str(source))
    # quantize_dynamic logs a pre-processing tip through the root logger; keep it quiet.
    logging.disable(logging.WARNING)
    try:
        quantize_dynamic(str(source), str(out_path), weight_type=QuantType.QInt8)
    except Exception as exc:
        raise ExportError(f"Dynamic int8 quantisation of {bundle.name} failed: {exc}") from exc
    finally:
        logging.disable(logging.NOTSET)
        source.unlink(missing_ok=True)
    q = onnx.load(str(out_path))
    n_quantized = sum(
        n.op_type
        in ("MatMulInteger", "DynamicQuantizeMatMul", "MatMulIntegerToFloat", "ConvInteger")
        for n in q.graph.node
    )
    size_before = onnx_path.stat().st_size
    if n_quantized == 0:
        out_path.unlink(missing_ok=True)
        return QuantizeReport(
            None,
            0,
            size_before,
            size_before,
            note=(
                "nothing to quantise: this model has no MatMul/Gemm weights (tree ensembles "
                "and ai.onnx.ml operators are left as they are), so no int8 model was written"
            ),
        )
    meta["quantized"] = "dynamic int8 weights (onnxruntime.quantization.quantize_dynamic)"
    _set_metadata(q, meta)
    onnx.save(q, str(out_path))
    report = QuantizeReport(str(out_path), n_quantized, size_before, out_path.stat().st_size)
    if rows is not None and len(rows.X):
        import numpy as np

        full = EdgeModel(onnx_path, threads=1).predict(rows.X)
        int8 = EdgeModel(out_path, threads=1).predict(rows.X)
        if full.proba is not None and int8.proba is not None:
            report.max_abs_diff = float(np.max(np.abs(full.proba - int8.proba)))
        elif bundle.classes is None:
            report.max_abs_diff = float(np.max(np.abs(full.labels - int8.labels)))
        report.metric, report.score_before, report.score_after = _scores(
            bundle, rows, full.labels, int8.labels
        )
    return report


def _scores(
    bundle: ModelBundle, rows: HoldoutData, first: Any, second: Any
) -> tuple[str | None, float | None, float | None]:
    """(metric, score of *first*, score of *second*) on rows with known targets."""
    import numpy as np

    from loopml.data.schema import Task

    if rows.y is None or len(rows.X) == 0:
        return None, None, None
    y = rows.y.to_numpy()
    if bundle.task in (Task.BINARY, Task.MULTICLASS):
        labels = np.asarray([str(v) for v in y], dtype=object)

        def acc(p: Any) -> float:
            return float(np.mean(labels == np.asarray([str(v) for v in p], dtype=object)))

        return "accuracy", acc(first), acc(second)
    yf = np.asarray(y, dtype=np.float64)

    def rmse(p: Any) -> float:
        return float(np.sqrt(np.mean((yf - np.asarray(p, dtype=np.float64)) ** 2)))

    return "rmse", rmse(first), rmse(second)


# -- the export ------------------------------------------------------------------------


def export_onnx(
    model: str | ModelBundle,
    output: str | Path,
    *,
    store: Store | None = None,
    data: Any = None,
    quantize: bool = False,
    check: bool = True,
    tolerance: float = DEFAULT_TOLERANCE,
) -> ExportResult:
    """Export *model* to ONNX: a single ``.onnx`` file or an edge package directory.

    Parameters
    ----------
    model : str or ModelBundle
        ``"churn@production"``, ``"churn@3"``, a bundle directory, or a loaded bundle.
    output : path
        Ending in ``.onnx``: one self-describing model file (columns, classes and
        threshold in its metadata; ``--quantize`` adds ``NAME.int8.onnx``).
        Otherwise a package directory: ``model.onnx``, ``model.int8.onnx`` (with
        *quantize*), ``schema.json``, ``edge.json``, ``predict.py`` (the edge
        runtime, runnable with only onnxruntime and numpy), ``requirements.txt``,
        ``README.md``.
    data : path or DataFrame, optional
        Rows to check on (target column optional), instead of the regenerated test split.
    quantize : bool
        Also write a dynamic int8 model and report its accuracy cost.
    check : bool
        Compare ONNX with the original (default). Without a check nothing proves the
        export right; use only when the test rows are unavailable.
    tolerance : float
        Largest accepted |difference| of probabilities (relative to max(1, |value|) for
        regression); beyond it the export fails.

    Raises
    ------
    ExportError
        A step cannot be exported (named), or ONNX predictions differ beyond *tolerance*.
    """
    from loopml.bundle import ModelBundle, load_model

    started = time.perf_counter()
    bundle = model if isinstance(model, ModelBundle) else load_model(model, store=store)
    onx, meta = to_onnx(bundle)
    output = Path(output)
    single = output.suffix.lower() == ".onnx"
    output.parent.mkdir(parents=True, exist_ok=True)
    if not single and output.exists() and not (output / META_FILE).exists():
        raise ExportError(
            f"{output} exists and is not an edge package; give a new directory or an .onnx path."
        )
    work = Path(tempfile.mkdtemp(prefix=f".{output.name}-", dir=output.parent))
    notes: list[str] = []
    try:
        import onnx

        model_path = work / MODEL_FILE
        onnx.save(onx, str(model_path))
        rows = None
        result_check = None
        if check or quantize:
            from loopml.registry import holdout_data

            try:
                rows = holdout_data(bundle, data)
            except LoopmlError as exc:
                if check:
                    raise ExportError(f"Cannot check the export: {exc}") from None
                notes.append(f"quantisation accuracy not measured: {exc}")
        if check and rows is not None:
            result_check = check_export(bundle, model_path, rows, tolerance=tolerance)
            if not result_check.passed:
                raise ExportError(_mismatch(bundle, result_check))
            meta["check"] = asdict(result_check)
        else:
            notes.append("not checked against the original pipeline (--no-check)")
        quant = None
        if quantize:
            quant = quantize_model(bundle, model_path, work / QUANTIZED_FILE, rows)
            if quant.note:
                notes.append(quant.note)
            meta["quantized"] = {k: v for k, v in asdict(quant).items() if k != "path"}
        meta["exported_at"] = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
        _set_metadata(onx, meta)
        onnx.save(onx, str(model_path))
        if single:
            final = _place_single(work, output, quant)
        else:
            _write_package(work, bundle, meta, result_check, quant)
            final = _place_dir(work, output)
        if quant is not None and quant.path is not None:
            quant.path = str(
                output.with_name(output.stem + ".int8.onnx") if single else output / QUANTIZED_FILE
            )
    except BaseException:
        shutil.rmtree(work, ignore_errors=True)
        raise
    size = (final if single else final / MODEL_FILE).stat().st_size
    return ExportResult(
        model=bundle.ref,
        path=str(final),
        package=not single,
        inputs=meta["inputs"],
        size_bytes=size,
        seconds=time.perf_counter() - started,
        check=result_check,
        quantized=quant,
        notes=notes,
    )


def _place_single(work: Path, output: Path, quant: QuantizeReport | None) -> Path:
    if quant is not None and quant.path is not None:
        os.replace(work / QUANTIZED_FILE, output.with_name(output.stem + ".int8.onnx"))
    os.replace(work / MODEL_FILE, output)
    shutil.rmtree(work, ignore_errors=True)
    return output


def _place_dir(work: Path, output: Path) -> Path:
    old = None
    if output.exists():  # an earlier package: swap it out, then remove it
        old = output.with_name(f".{output.name}-old-{os.getpid()}")
        os.replace(output, old)
    try:
        os.replace(work, output)
    except BaseException:
        if old is not None:
            os.replace(old, output)
        raise
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)
    return output


def _write_package(
    work: Path,
    bundle: ModelBundle,
    meta: dict[str, Any],
    result_check: ExportCheck | None,
    quant: QuantizeReport | None,
) -> None:
    from loopml.serve import edge

    (work / "schema.json").write_text(bundle.schema.to_json())
    (work / META_FILE).write_text(json.dumps(meta, indent=2, default=str))
    shutil.copyfile(edge.__file__, work / "predict.py")
    (work / "requirements.txt").write_text("onnxruntime>=1.16\nnumpy>=1.24\n")
    (work / "README.md").write_text(_readme(bundle, meta, result_check, quant))


def _readme(
    bundle: ModelBundle,
    meta: dict[str, Any],
    result_check: ExportCheck | None,
    quant: QuantizeReport | None,
) -> str:
    rows = "\n".join(
        f"| `{i['column']}` | {i['role']} | `{i['input']}` | "
        f"{'float32' if i['role'] in _FLOAT_ROLES else 'string'} |"
        for i in meta["inputs"]
    )
    out = "prediction" + (
        ", " + ", ".join(f"proba_{c}" for c in meta["classes"])
        if meta.get("classes") and "probabilities" in meta["outputs"]
        else ""
    )
    lines = [
        f"# {bundle.ref}: edge package",
        "",
        f"A {meta['task']} model ({meta['model']}) exported by loopml to ONNX. It runs with "
        "onnxruntime and numpy only:",
        "",
        "```",
        "pip install -r requirements.txt",
        "python predict.py data.csv -o predictions.csv   # CSV or JSON Lines in",
        "```",
        "",
        "Or from Python, next to `predict.py`:",
        "",
        "```python",
        "from predict import EdgeModel",
        "model = EdgeModel('.')",
        f"model.predict_records([{{{', '.join(repr(i['column']) + ': ...' for i in meta['inputs'][:2])}}}])",
        "```",
        "",
        f"Output columns: {out}.",
        "",
        "## Inputs",
        "",
        "One ONNX input per column, shape `[N, 1]`. `predict.py` does the coercion loopml "
        "does at training: unparseable numbers and infinities become missing (imputed by "
        'the model), booleans read true/yes/1 and false/no/0, missing categories are `""`.',
        "",
        "| column | role | ONNX input | type |",
        "|---|---|---|---|",
        rows,
        "",
        "## Files",
        "",
        "- `model.onnx`: the whole pipeline after type coercion (imputation, encoding, "
        "scaling, model); its metadata key `loopml` repeats `edge.json`.",
    ]
    if quant is not None and quant.path is not None:
        lines.append("- `model.int8.onnx`: weights quantised to int8 (`--quantized`).")
    lines += [
        "- `schema.json`: the training schema (roles, categories and ranges seen).",
        "- `edge.json`: inputs, classes, threshold, outputs, and the export check.",
        "- `predict.py`: the edge runtime (`loopml.serve.edge`).",
        "",
        "## Check",
        "",
    ]
    if result_check is not None:
        lines.append(result_check.summary() + ".")
        if result_check.metric:
            lines.append(
                f"{result_check.metric}: original {result_check.original_score:.4f}, "
                f"ONNX {result_check.onnx_score:.4f}."
            )
    else:
        lines.append("Not checked against the original pipeline.")
    if quant is not None:
        lines.append("")
        if quant.path is None:
            lines.append(f"int8: {quant.note}.")
        else:
            lines.append(
                f"int8: {quant.quantized_nodes} quantised nodes, {quant.size_before:,} → "
                f"{quant.size_after:,} bytes"
                + (
                    f"; {quant.metric} {quant.score_before:.4f} → {quant.score_after:.4f}"
                    if quant.metric and quant.score_before is not None
                    else ""
                )
                + "."
            )
    return "\n".join(lines) + "\n"


def _mismatch(bundle: ModelBundle, c: ExportCheck) -> str:
    text = any(type(est).__name__ == "TfidfVectorizer" for _, est in _leaves(bundle.pipeline))
    hint = (
        " Text columns are tokenised by onnxruntime's own tokenizer, which can split some "
        "strings differently from scikit-learn's."
        if text
        else ""
    )
    return (
        f"The ONNX export of {bundle.ref} does not predict like the original: "
        f"{c.summary()}, above the tolerance {c.tolerance:g}.{hint} "
        "Raise --tolerance (--tolerance 0.01) to accept the difference."
    )
