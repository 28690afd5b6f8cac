"""The store: what loopml remembers between commands.

Projects, runs (params, metrics, info, status), trials, model versions with
stages and their transitions, prediction logs and alerts, in one SQLAlchemy
database: a SQLite file in ``.loopml/`` by default, or any URL (PostgreSQL for
teams) via ``Store(url)`` or ``$LOOPML_STORE_URL``.

Examples
--------
>>> from loopml.store import Stage, Store
>>> store = Store.in_memory()
>>> with store.start_run("churn", params={"seed": 0}) as run:
...     run.log_metrics({"recall": 0.83})
>>> v = store.register_model("churn", run_id=run.id, path="/tmp/m", sha256="0" * 64,
...                          task="binary", metrics={"recall": 0.83})
>>> store.set_stage("churn", v.version, Stage.PRODUCTION, reason="passes KPI gates").ref
'churn@1'
>>> store.resolve("churn@production").version
1
>>> store.close()
"""

from __future__ import annotations

from loopml.exceptions import ModelNotFoundError, RunNotFoundError, StoreError
from loopml.store._monitoring import AlertNotFoundError
from loopml.store.records import (
    AlertRecord,
    ModelSummary,
    ModelVersionRecord,
    PredictionLogRecord,
    RunRecord,
    Stage,
    TransitionRecord,
    TrialRecord,
)
from loopml.store.store import RunHandle, Store

__all__ = [
    "AlertNotFoundError",
    "AlertRecord",
    "ModelNotFoundError",
    "ModelSummary",
    "ModelVersionRecord",
    "PredictionLogRecord",
    "RunHandle",
    "RunNotFoundError",
    "RunRecord",
    "Stage",
    "Store",
    "StoreError",
    "TransitionRecord",
    "TrialRecord",
]
