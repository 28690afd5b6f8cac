"""skl2onnx shape calculators and converters for the steps of loopml's pipelines that
skl2onnx does not convert as fitted (see :mod:`loopml.serve.export`).

They are passed to one ``convert_sklearn`` call each time (``custom_conversion_functions``),
never registered globally, so other users of skl2onnx in the process are unaffected.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
from onnx import TensorProto
from skl2onnx.common.data_types import DoubleTensorType, FloatTensorType, StringTensorType

__all__ = [
    "convert_function",
    "convert_imputer",
    "convert_onehot",
    "convert_target_scaled",
    "int_attributes",
    "shape_imputer",
    "shape_onehot",
    "shape_regressor",
    "shape_same",
]


def _width(operator: Any) -> int | None:
    total = 0
    for v in operator.inputs:
        if v.type.shape[1] is None:
            return None
        total += int(v.type.shape[1])
    return total


def _concat(scope: Any, operator: Any, container: Any) -> str:
    names = [v.full_name for v in operator.inputs]
    if len(names) == 1:
        return str(names[0])
    out = scope.get_unique_variable_name("concat")
    container.add_node(
        "Concat", names, [out], axis=1, name=scope.get_unique_operator_name("Concat")
    )
    return str(out)


def _node(
    scope: Any, container: Any, op: str, inputs: list[str], out: str | None = None, **kw: Any
) -> str:
    name = out or scope.get_unique_variable_name(op.lower())
    container.add_node(op, inputs, [name], name=scope.get_unique_operator_name(op), **kw)
    return str(name)


def _elem(operator: Any) -> int:
    """The ONNX element type of the operator's (numeric) input."""
    return (
        TensorProto.DOUBLE
        if isinstance(operator.inputs[0].type, DoubleTensorType)
        else TensorProto.FLOAT
    )


def _const(scope: Any, container: Any, kind: int, dims: list[int], values: list[Any]) -> str:
    name = scope.get_unique_variable_name("const")
    container.add_initializer(name, kind, dims, values)
    return str(name)


# -- SimpleImputer: add_indicator, and strings whose missing value is NaN --------------


def shape_imputer(operator: Any) -> None:
    op = operator.raw_operator
    width = _width(operator)
    if width is not None and op.add_indicator and getattr(op, "indicator_", None) is not None:
        width += len(op.indicator_.features_)
    kind = type(operator.inputs[0].type)
    operator.outputs[0].type = kind([operator.inputs[0].get_first_dimension(), width])


def convert_imputer(scope: Any, operator: Any, container: Any) -> None:
    """NaN (float) or ``""`` (string, the edge runtime's missing value) → the fitted statistic."""
    op = operator.raw_operator
    out = operator.outputs[0].full_name
    X = _concat(scope, operator, container)
    stats = np.asarray(op.statistics_)
    if (
        not getattr(op, "keep_empty_features", False)
        and stats.dtype.kind == "f"
        and np.isnan(stats).any()
    ):
        raise NotImplementedError(
            "SimpleImputer drops all-missing columns (keep_empty_features=False); not exported."
        )
    if isinstance(operator.inputs[0].type, StringTensorType):
        fills = [str(s) if op.fill_value is None else str(op.fill_value) for s in stats]
        fill = _const(
            scope, container, TensorProto.STRING, [1, len(fills)], [f.encode() for f in fills]
        )
        code = _node(
            scope, container, "LabelEncoder", [X], keys_strings=[""], values_int64s=[1],
            default_int64=0, op_domain="ai.onnx.ml", op_version=2,
        )  # fmt: skip
        cond = _node(scope, container, "Cast", [code], to=TensorProto.BOOL)
        _node(scope, container, "Where", [cond, fill, X], out)
        if op.add_indicator:
            raise NotImplementedError("missing indicators on string columns are not exported")
        return
    elem = _elem(operator)
    values = _const(scope, container, elem, [1, len(stats)], stats.astype(np.float64).tolist())
    isnan = _node(scope, container, "IsNaN", [X])
    features = (
        list(map(int, op.indicator_.features_))
        if op.add_indicator and getattr(op, "indicator_", None) is not None
        else []
    )
    imputed = _node(scope, container, "Where", [isnan, values, X], None if features else out)
    if features:
        idx = _const(scope, container, TensorProto.INT64, [len(features)], features)
        picked = _node(scope, container, "Gather", [isnan, idx], axis=1)
        flags = _node(scope, container, "Cast", [picked], to=elem)
        _node(scope, container, "Concat", [imputed, flags], out, axis=1)


# -- OneHotEncoder with infrequent categories ----------------------------------------


def shape_onehot(operator: Any) -> None:
    op = operator.raw_operator
    n = operator.inputs[0].get_first_dimension()
    operator.outputs[0].type = FloatTensorType([n, len(op.get_feature_names_out())])


def convert_onehot(scope: Any, operator: Any, container: Any) -> None:
    """Frequent categories one column each, in order; then one column for infrequent ones
    (which also takes unknown values), as scikit-learn lays them out."""
    op = operator.raw_operator
    if getattr(op, "drop_idx_", None) is not None:
        raise NotImplementedError("OneHotEncoder(drop=...) is not exported")
    X = _concat(scope, operator, container)
    string_input = isinstance(operator.inputs[0].type, StringTensorType)
    infrequent_all = getattr(op, "infrequent_categories_", None)
    parts = []
    for j, cats in enumerate(op.categories_):
        infrequent = infrequent_all[j] if infrequent_all is not None else None
        rare = set() if infrequent is None else set(np.asarray(infrequent).tolist())
        frequent = [c for c in np.asarray(cats).tolist() if c not in rare]
        width = len(frequent) + (1 if rare else 0)
        j_idx = _const(scope, container, TensorProto.INT64, [1], [j])
        column = _node(scope, container, "Gather", [X, j_idx], axis=1)
        keys: dict[str, Any] = (
            {"keys_strings": [str(c) for c in frequent]}
            if string_input
            else {"keys_floats": [float(c) for c in frequent]}
        )
        code = _node(
            scope, container, "LabelEncoder", [column], values_int64s=list(range(len(frequent))),
            default_int64=len(frequent) if rare else -1, op_domain="ai.onnx.ml", op_version=2,
            **keys,
        )  # fmt: skip
        positions = _const(scope, container, TensorProto.INT64, [1, width], list(range(width)))
        hit = _node(scope, container, "Equal", [code, positions])
        parts.append(_node(scope, container, "Cast", [hit], to=TensorProto.FLOAT))
    out = operator.outputs[0].full_name
    if len(parts) == 1:
        _node(scope, container, "Identity", parts, out)
    else:
        _node(scope, container, "Concat", parts, out, axis=1)


# -- FunctionTransformer: identity, or loopml's _nan_to_num -------------------------


def shape_same(operator: Any) -> None:
    kind = type(operator.inputs[0].type)
    operator.outputs[0].type = kind([operator.inputs[0].get_first_dimension(), _width(operator)])


def convert_function(scope: Any, operator: Any, container: Any) -> None:
    from loopml.features.build import _nan_to_num

    op = operator.raw_operator
    out = operator.outputs[0].full_name
    X = _concat(scope, operator, container)
    if op.func is None:
        _node(scope, container, "Identity", [X], out)
    elif op.func is _nan_to_num:
        zero = _const(scope, container, _elem(operator), [1], [0.0])
        isnan = _node(scope, container, "IsNaN", [X])
        _node(scope, container, "Where", [isnan, zero, X], out)
    else:
        raise NotImplementedError(f"FunctionTransformer({op.func!r}) cannot be exported")


# -- TransformedTargetRegressor(transformer=StandardScaler) --------------------------


def shape_regressor(operator: Any) -> None:
    kind = type(operator.inputs[0].type)
    operator.outputs[0].type = kind([operator.inputs[0].get_first_dimension(), 1])


def convert_target_scaled(scope: Any, operator: Any, container: Any) -> None:
    """The inner regressor's prediction times the target scaler's scale, plus its mean."""
    from skl2onnx.algebra.onnx_operator import OnnxSubEstimator
    from skl2onnx.algebra.onnx_ops import OnnxAdd, OnnxIdentity, OnnxMul

    op = operator.raw_operator
    opv = container.target_opset
    pred = OnnxSubEstimator(op.regressor_, operator.inputs[0], op_version=opv)
    scaler = op.transformer_
    outs = [operator.outputs[0]]
    if scaler is None:
        OnnxIdentity(pred, op_version=opv, output_names=outs).add_to(scope, container)
        return
    scale = np.asarray(getattr(scaler, "scale_", None) if scaler.with_std else [1.0])
    mean = np.asarray(getattr(scaler, "mean_", None) if scaler.with_mean else [0.0])
    dtype = np.float64 if _elem(operator) == TensorProto.DOUBLE else np.float32
    scaled = OnnxMul(pred, scale.astype(dtype).reshape(1, -1), op_version=opv)
    OnnxAdd(scaled, mean.astype(dtype).reshape(1, -1), op_version=opv, output_names=outs).add_to(
        scope, container
    )


# -- converters that write Python booleans into integer attributes -----------------------


class _IntAttributes:
    """A container proxy that turns booleans in list attributes into 0/1 (onnx >= 1.18)."""

    def __init__(self, container: Any) -> None:
        self._container = container

    def __getattr__(self, name: str) -> Any:
        return getattr(self._container, name)

    def add_node(self, op_type: str, inputs: Any, outputs: Any, *args: Any, **attrs: Any) -> Any:
        for key, value in attrs.items():
            if isinstance(value, list) and any(isinstance(v, bool | np.bool_) for v in value):
                attrs[key] = [int(v) for v in value]
        return self._container.add_node(op_type, inputs, outputs, *args, **attrs)


def int_attributes(alias: str) -> Callable[[Any, Any, Any], None]:
    """skl2onnx's registered converter for *alias*, fed a container that fixes booleans."""
    from skl2onnx.common._registration import get_converter

    original = get_converter(alias)

    def convert(scope: Any, operator: Any, container: Any) -> None:
        original(scope, operator, _IntAttributes(container))

    return convert
