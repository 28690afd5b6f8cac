"""Conversion of a loopml pipeline to ONNX, and what blocks it (see :mod:`loopml.serve.export`)."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from loopml.exceptions import LoopmlError, require
from loopml.serve.edge import FORMAT, METADATA_KEY

if TYPE_CHECKING:
    import onnx

    from loopml.bundle import ModelBundle

__all__ = ["ExportError", "find_blocker", "to_onnx"]

#: ONNX opsets written: widely supported by onnxruntime builds from 1.14 on.
TARGET_OPSET = {"": 17, "ai.onnx.ml": 3}
_FLOAT_ROLES = ("numeric", "boolean")
_STRING_ROLES = ("categorical", "text")


class ExportError(LoopmlError, ValueError):
    """The model cannot be exported, or the exported model does not predict like it."""


# -- conversion --------------------------------------------------------------------


def to_onnx(
    bundle: ModelBundle, *, float32: bool = False
) -> tuple[onnx.ModelProto, dict[str, Any]]:
    """Convert a bundle's pipeline; return the ONNX model and the loopml metadata.

    Numeric inputs and features are float64, as in scikit-learn (tree ensembles get
    float32 just before them, as they compare float32 values anyway), unless
    *float32*: then everything is float32 (smaller, and what int8 quantisation needs).

    The metadata (also embedded in the model under the ``loopml`` key) lists the
    inputs (``column``, ONNX ``input`` name, ``role``), task, classes, threshold and
    output names.

    Raises
    ------
    ExportError
        Naming the pipeline step that blocks the export.
    MissingDependencyError
        If skl2onnx / onnx are not installed (``pip install 'loopml[edge]'``).
    """
    require("skl2onnx", "edge", "ONNX export")
    require("onnxruntime", "edge", "ONNX export")
    import numpy as np
    from sklearn.pipeline import Pipeline

    from loopml.data.schema import Task

    pipeline = bundle.pipeline
    features, model = _split_pipeline(bundle)
    coercer = features.steps[0][1]
    columns: list[list[str]] = [list(c) for c in (coercer.columns or [])]
    blocker = find_blocker(bundle.pipeline)
    if blocker is not None:
        raise ExportError(f"Cannot export {bundle.ref} to ONNX: {blocker}")
    for name, role in columns:
        if role not in _FLOAT_ROLES + _STRING_ROLES:
            raise ExportError(
                f"Cannot export {bundle.ref} to ONNX: step 'features/coerce' gives column "
                f"'{name}' the role '{role}', which has no ONNX input type. Retrain with the "
                f"column as numeric or categorical (roles={{'{name}': 'numeric'}}), or drop it."
            )
    _register_boosters()
    from skl2onnx import convert_sklearn
    from skl2onnx.common.data_types import DoubleTensorType, FloatTensorType, StringTensorType

    steps = list(features.steps[1:])
    number = FloatTensorType if float32 else DoubleTensorType
    if _tree_model(model) and not float32:
        # Features are computed in float64, as scikit-learn does; tree ensembles compare
        # float32 values (ai.onnx.ml TreeEnsemble* take float), so cast just before them.
        from skl2onnx.sklapi import CastTransformer

        steps.append(("float32", CastTransformer(dtype=np.float32)))
    post = Pipeline([*steps, ("model", model)])
    initial = [
        (name, number([None, 1]) if role in _FLOAT_ROLES else StringTensorType([None, 1]))
        for name, role in columns
    ]
    classifier = bundle.task in (Task.BINARY, Task.MULTICLASS)
    options: dict[int, dict[str, Any]] = {}
    if classifier:
        options[id(model)] = {"zipmap": False}
    for _path, est in _leaves(features):
        if type(est).__name__ == "TfidfVectorizer":
            # "C": onnxruntime's StringNormalizer fails where en_US.UTF-8 is not installed.
            options[id(est)] = {"locale": "C"}
    conversion, shapes = _custom_converters()
    try:
        onx = convert_sklearn(
            post,
            initial_types=initial,
            options=options or None,
            target_opset=TARGET_OPSET,
            custom_conversion_functions=conversion,
            custom_shape_calculators=shapes,
        )
    except ExportError:
        raise
    except Exception as exc:
        raise ExportError(
            f"Cannot export {bundle.ref} to ONNX: the converter failed on the pipeline "
            f"(steps: {', '.join(_step_names(pipeline))}): {type(exc).__name__}: "
            f"{str(exc).strip().splitlines()[0][:400] if str(exc).strip() else ''}"
        ) from exc
    graph_inputs = [i.name for i in onx.graph.input]
    outputs = [o.name for o in onx.graph.output]
    meta: dict[str, Any] = {
        "format": FORMAT,
        "name": bundle.name,
        "version": bundle.version,
        "task": str(bundle.task),
        "classes": [_plain(c) for c in bundle.classes] if classifier and bundle.classes else None,
        "threshold": bundle.threshold if bundle.task == Task.BINARY else None,
        "inputs": [
            {"column": name, "input": inp, "role": role}
            for (name, role), inp in zip(columns, graph_inputs, strict=True)
        ],
        "outputs": (
            {"label": outputs[0], "probabilities": outputs[1]}
            if classifier and len(outputs) > 1 and bundle._has_proba()
            else ({"label": outputs[0]} if classifier else {"value": outputs[0]})
        ),
        "model": type(model).__name__,
        "precision": "float32" if float32 else "float64",
        "opset": TARGET_OPSET,
    }
    _set_metadata(onx, meta)
    return onx, meta


def _tree_model(model: Any) -> bool:
    inner = getattr(model, "regressor_", model)
    module = type(inner).__module__
    return module.startswith(("lightgbm", "xgboost", "sklearn.tree", "sklearn.ensemble"))


def find_blocker(pipeline: Any) -> str | None:
    """The first step of a fitted pipeline no ONNX converter handles, explained; else None."""
    _register_boosters()
    for path, est in _leaves(pipeline):
        why = _unsupported(est)
        if why is not None:
            return f"step '{path}' ({type(est).__name__}) {why}"
    return None


def _unsupported(est: Any) -> str | None:
    from sklearn.preprocessing import FunctionTransformer

    from loopml.features.transformers import DateTimeFeatures, SchemaCoercer

    if isinstance(est, SchemaCoercer):
        return None
    if isinstance(est, DateTimeFeatures):
        return (
            "turns datetime columns into parts, which has no ONNX converter. Retrain "
            "without the datetime column(s), or give them as numbers (e.g. a timestamp) "
            "with roles={'COLUMN': 'numeric'}."
        )
    if isinstance(est, FunctionTransformer):
        from loopml.features.build import _nan_to_num

        if est.func in (None, _nan_to_num):
            return None
        return f"applies the Python function {getattr(est.func, '__name__', est.func)!r}, which ONNX cannot run."
    if type(est).__name__ == "TransformedTargetRegressor":
        from sklearn.preprocessing import StandardScaler

        if est.transformer_ is not None and not isinstance(est.transformer_, StandardScaler):
            return "transforms the target with something other than StandardScaler, which the exporter does not convert."
        if est.func is not None:
            return "transforms the target with a Python function, which ONNX cannot run."
        return _unsupported(est.regressor_)
    from skl2onnx._supported_operators import sklearn_operator_name_map

    if type(est) in sklearn_operator_name_map:
        return None
    return (
        "has no ONNX converter (skl2onnx/onnxmltools). Choose a supported model family "
        "(linear, hgb, random_forest, lightgbm, xgboost, mlp...) to export."
    )


def _leaves(est: Any, prefix: str = "") -> list[tuple[str, Any]]:
    from sklearn.compose import ColumnTransformer
    from sklearn.pipeline import Pipeline

    if isinstance(est, Pipeline):
        out: list[tuple[str, Any]] = []
        for name, step in est.steps:
            if step is None or step == "passthrough":
                continue
            out += _leaves(step, f"{prefix}{name}/")
        return out
    if isinstance(est, ColumnTransformer):
        out = []
        for name, trans, _cols in getattr(est, "transformers_", est.transformers):
            if isinstance(trans, str):  # "drop" / "passthrough"
                continue
            out += _leaves(trans, f"{prefix}{name}/")
        return out
    return [(prefix.rstrip("/"), est)]


def _step_names(pipeline: Any) -> list[str]:
    return [f"{path} ({type(est).__name__})" for path, est in _leaves(pipeline)]


def _split_pipeline(bundle: ModelBundle) -> tuple[Any, Any]:
    from sklearn.pipeline import Pipeline

    from loopml.features.transformers import SchemaCoercer

    pipe = bundle.pipeline
    steps = dict(pipe.steps) if isinstance(pipe, Pipeline) else {}
    features = steps.get("features")
    model = steps.get("model")
    if (
        not isinstance(features, Pipeline)
        or model is None
        or not isinstance(features.steps[0][1], SchemaCoercer)
    ):
        raise ExportError(
            f"Cannot export {bundle.ref} to ONNX: its pipeline is not loopml's "
            "Pipeline([('features', Pipeline([('coerce', SchemaCoercer), ...])), ('model', ...)]) "
            f"(steps: {', '.join(_step_names(pipe))})."
        )
    return features, model


def _set_metadata(onx: onnx.ModelProto, meta: dict[str, Any]) -> None:
    for prop in list(onx.metadata_props):
        if prop.key == METADATA_KEY:
            onx.metadata_props.remove(prop)
    entry = onx.metadata_props.add()
    entry.key = METADATA_KEY
    entry.value = json.dumps(meta, default=str)
    onx.producer_name = "loopml"
    onx.doc_string = f"loopml model {meta.get('name')}@{meta.get('version')} ({meta.get('task')})"


_BOOSTERS_DONE = False


def _register_boosters() -> None:
    """Register onnxmltools' LightGBM and XGBoost converters with skl2onnx (once)."""
    global _BOOSTERS_DONE
    if _BOOSTERS_DONE:
        return
    from skl2onnx import update_registered_converter
    from skl2onnx.common.shape_calculator import (
        calculate_linear_classifier_output_shapes,
        calculate_linear_regressor_output_shapes,
    )

    options = {"nocl": [True, False], "zipmap": [True, False, "columns"]}
    try:
        import lightgbm as lgb
        from onnxmltools.convert.lightgbm.operator_converters.LightGbm import convert_lightgbm

        update_registered_converter(
            lgb.LGBMClassifier,
            "LightGbmLGBMClassifier",
            calculate_linear_classifier_output_shapes,
            convert_lightgbm,
            options=options,
        )
        update_registered_converter(
            lgb.LGBMRegressor,
            "LightGbmLGBMRegressor",
            calculate_linear_regressor_output_shapes,
            convert_lightgbm,
            options={"split": None},
        )
    except ImportError:
        pass
    try:
        import xgboost as xgb
        from onnxmltools.convert.xgboost.operator_converters.XGBoost import convert_xgboost

        update_registered_converter(
            xgb.XGBClassifier,
            "XGBoostXGBClassifier",
            calculate_linear_classifier_output_shapes,
            convert_xgboost,
            options=options,
        )
        update_registered_converter(
            xgb.XGBRegressor,
            "XGBoostXGBRegressor",
            calculate_linear_regressor_output_shapes,
            convert_xgboost,
        )
    except ImportError:
        pass
    _BOOSTERS_DONE = True


def _custom_converters() -> tuple[dict[type, Any], dict[type, Any]]:
    from sklearn.compose import TransformedTargetRegressor
    from sklearn.ensemble import HistGradientBoostingClassifier, HistGradientBoostingRegressor
    from sklearn.impute import SimpleImputer
    from sklearn.preprocessing import FunctionTransformer, OneHotEncoder

    from loopml.serve import _onnx_converters as conv

    conversion = {
        SimpleImputer: conv.convert_imputer,
        OneHotEncoder: conv.convert_onehot,
        FunctionTransformer: conv.convert_function,
        TransformedTargetRegressor: conv.convert_target_scaled,
        HistGradientBoostingClassifier: conv.int_attributes(
            "SklearnHistGradientBoostingClassifier"
        ),
        HistGradientBoostingRegressor: conv.int_attributes("SklearnHistGradientBoostingRegressor"),
    }
    shapes = {
        SimpleImputer: conv.shape_imputer,
        OneHotEncoder: conv.shape_onehot,
        FunctionTransformer: conv.shape_same,
        TransformedTargetRegressor: conv.shape_regressor,
    }
    return conversion, shapes


def _plain(value: Any) -> Any:
    if hasattr(value, "item"):
        return value.item()
    return value
