"""The model catalogue: model families, their search spaces and their needs.

Examples
--------
>>> from loopml.models import get_model, model_names
>>> "lightgbm" in model_names("binary")
True
>>> get_model("svm", "regression").name
'svm_rbf'
"""

from __future__ import annotations

from loopml.models.catalog import (
    ModelSpec,
    default_models,
    get_model,
    list_models,
    model_names,
    register,
    resolve_name,
    unregister,
)

__all__ = [
    "ModelSpec",
    "default_models",
    "get_model",
    "list_models",
    "model_names",
    "register",
    "resolve_name",
    "unregister",
]
