"""loopml: a local machine-learning lifecycle platform.

Load data, profile it, train and compare models, store them with their lineage,
and predict in batch, from Python or from the ``loopml`` command. Heavy
libraries (pandas, scikit-learn, plotting) load only when first used, so that
``import loopml`` stays fast.

Examples
--------
>>> import loopml
>>> df = loopml.load("builtin:iris")
>>> result = loopml.train(df, target="target", name="iris", store=loopml.Store.in_memory())
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from loopml.exceptions import (
    DataError,
    LoopmlError,
    MissingDependencyError,
    ModelNotFoundError,
    RunNotFoundError,
    SchemaMismatchError,
    StoreError,
)

__version__ = "0.1.0"

# public name -> module that defines it; loaded on first attribute access.
_LAZY: dict[str, str] = {
    "load": "loopml.data.io",
    "iter_chunks": "loopml.data.io",
    "Schema": "loopml.data.schema",
    "Role": "loopml.data.schema",
    "Task": "loopml.data.schema",
    "infer_schema": "loopml.data.schema",
    "Split": "loopml.data.split",
    "split": "loopml.data.split",
    "profile": "loopml.data.profile",
    "Profile": "loopml.data.profile",
    "build_features": "loopml.features.build",
    "Store": "loopml.store",
    "ModelBundle": "loopml.bundle",
    "load_model": "loopml.bundle",
    "train": "loopml.learn.supervised",
    "TrainResult": "loopml.learn.supervised",
    "predict_file": "loopml.serve.batch",
    "ProjectSpec": "loopml.config",
    "load_spec": "loopml.config",
    "run_lifecycle": "loopml.phases",
    "retrain": "loopml.retrain",
    "watch": "loopml.watch",
    "promote": "loopml.registry",
    "GateError": "loopml.gates",
    "drift_report": "loopml.monitor.drift",
    "export_onnx": "loopml.serve.export",
    "cluster": "loopml.learn.tasks",
    "find_anomalies": "loopml.learn.tasks",
    "mine_rules": "loopml.learn.basket_task",
    "tune_model": "loopml.tune",
}
#: public name -> the defining module's name for it, where they differ.
_RENAMED = {"mine_rules": "mine"}
# Submodules reachable as attributes after a bare ``import loopml``.
_SUBMODULES = ("evaluate", "metrics", "monitor")

__all__ = [
    "DataError",
    "GateError",
    "LoopmlError",
    "MissingDependencyError",
    "ModelBundle",
    "ModelNotFoundError",
    "Profile",
    "ProjectSpec",
    "Role",
    "RunNotFoundError",
    "Schema",
    "SchemaMismatchError",
    "Split",
    "Store",
    "StoreError",
    "Task",
    "TrainResult",
    "__version__",
    "build_features",
    "cluster",
    "drift_report",
    "evaluate",
    "export_onnx",
    "find_anomalies",
    "infer_schema",
    "iter_chunks",
    "load",
    "load_model",
    "load_spec",
    "metrics",
    "mine_rules",
    "monitor",
    "predict_file",
    "profile",
    "promote",
    "retrain",
    "run_lifecycle",
    "split",
    "train",
    "tune_model",
    "watch",
]


def __getattr__(name: str) -> Any:
    if name in _SUBMODULES:
        return importlib.import_module(f"loopml.{name}")
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'loopml' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), _RENAMED.get(name, name))
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(__all__)


if TYPE_CHECKING:
    from loopml import evaluate, metrics, monitor
    from loopml.bundle import ModelBundle, load_model
    from loopml.config import ProjectSpec, load_spec
    from loopml.data.io import iter_chunks, load
    from loopml.data.profile import Profile, profile
    from loopml.data.schema import Role, Schema, Task, infer_schema
    from loopml.data.split import Split, split
    from loopml.features.build import build_features
    from loopml.gates import GateError
    from loopml.learn.basket_task import mine as mine_rules
    from loopml.learn.supervised import TrainResult, train
    from loopml.learn.tasks import cluster, find_anomalies
    from loopml.monitor.drift import drift_report
    from loopml.phases import run_lifecycle
    from loopml.registry import promote
    from loopml.retrain import retrain
    from loopml.serve.batch import predict_file
    from loopml.serve.export import export_onnx
    from loopml.store import Store
    from loopml.tune import tune_model
    from loopml.watch import watch
