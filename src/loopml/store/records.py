"""What the store hands back: plain frozen dataclasses, never ORM objects.

Records outlive the database session that read them, compare by value, and can be
printed, pickled or turned into JSON (``dataclasses.asdict``) without touching the
database again. Timestamps are timezone-aware UTC.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any

__all__ = [
    "AlertRecord",
    "ModelSummary",
    "ModelVersionRecord",
    "PredictionLogRecord",
    "RunRecord",
    "Stage",
    "TransitionRecord",
    "TrialRecord",
]


class Stage(StrEnum):
    """Where a model version is in its life: registered, tried, serving, retired.

    Only one version of a model is in ``PRODUCTION`` at a time; promoting another
    archives the previous one.
    """

    NONE = "none"
    STAGING = "staging"
    PRODUCTION = "production"
    ARCHIVED = "archived"


RUN_STATUSES = ("running", "finished", "failed")
TRIAL_STATUSES = ("complete", "pruned", "failed", "timeout")


@dataclass(frozen=True)
class RunRecord:
    """One execution of a lifecycle command (``train``, ``tune``, ``retrain``...).

    ``metrics`` is the dict view of the run's metric rows; a metric stored as
    NaN/inf (which databases and JSON cannot all hold) reads back as ``nan``.
    """

    id: int
    project: str
    kind: str
    status: str
    params: dict[str, Any] = field(default_factory=dict)
    metrics: dict[str, float] = field(default_factory=dict)
    info: dict[str, Any] = field(default_factory=dict)
    started_at: datetime | None = None
    ended_at: datetime | None = None
    duration_s: float | None = None
    error: str | None = None


@dataclass(frozen=True)
class TrialRecord:
    """One candidate model evaluated inside a run (one Optuna trial, one CV fit...)."""

    id: int
    run_id: int
    number: int
    model: str
    params: dict[str, Any]
    score: float | None
    status: str
    fit_time: float | None = None
    predict_time: float | None = None
    info: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class ModelVersionRecord:
    """One registered version of a named model; its bundle lives at ``path``."""

    id: int
    name: str
    version: int
    stage: Stage
    run_id: int | None
    path: str
    sha256: str
    task: str
    metrics: dict[str, float] = field(default_factory=dict)
    info: dict[str, Any] = field(default_factory=dict)
    created_at: datetime | None = None

    @property
    def ref(self) -> str:
        """The exact reference of this version, e.g. ``"churn@3"``."""
        return f"{self.name}@{self.version}"


@dataclass(frozen=True)
class ModelSummary:
    """One line of the model list: a name and the state of its versions."""

    name: str
    n_versions: int
    latest_version: int
    production_version: int | None
    task: str
    updated_at: datetime


@dataclass(frozen=True)
class TransitionRecord:
    """A stage change of a model version: who moved it, when, and why."""

    name: str
    version: int
    from_stage: Stage
    to_stage: Stage
    user: str
    reason: str
    at: datetime


@dataclass(frozen=True)
class PredictionLogRecord:
    """One served request (or batch) of a model version, for monitoring."""

    id: int
    name: str
    version: int
    at: datetime
    latency_ms: float | None
    n_rows: int
    inputs: Any
    outputs: Any
    request_id: str | None = None


@dataclass(frozen=True)
class AlertRecord:
    """A monitoring rule that fired (drift, latency, quality...)."""

    id: int
    rule: str
    at: datetime
    severity: str
    message: str
    evidence: dict[str, Any] = field(default_factory=dict)
    resolved_at: datetime | None = None
    name: str | None = None
