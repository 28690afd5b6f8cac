"""The store's database schema (SQLAlchemy 2 declarative tables).

Every table name starts with ``loopml_`` so that the store can share a database
with other tools: Optuna's RDB storage, which tuning points at the same
PostgreSQL database, has its own ``trials`` and ``studies`` tables.

Timestamps are stored in UTC (``timestamptz`` on PostgreSQL, naive UTC text on
SQLite) and always come back timezone-aware. Free-form fields use the portable
``JSON`` type; callers' values pass through :func:`loopml.store._convert.jsonable`
first, so NaN never reaches PostgreSQL.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    DateTime,
    Dialect,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Text,
    TypeDecorator,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

__all__ = [
    "SCHEMA_VERSION",
    "AlertRow",
    "Base",
    "MetaRow",
    "MetricRow",
    "ModelVersionRow",
    "PredictionLogRow",
    "ProjectRow",
    "RunRow",
    "TransitionRow",
    "TrialRow",
    "utcnow",
]

#: Bumped whenever a table changes; stored in ``loopml_meta`` so a newer layout is
#: detected instead of misread.
SCHEMA_VERSION = 1

_NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


def utcnow() -> datetime:
    """The current time, timezone-aware UTC."""
    return datetime.now(UTC)


class UTCDateTime(TypeDecorator[datetime]):
    """A timestamp stored as UTC and always read back timezone-aware (UTC)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        value = value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
        # SQLite has no time zones: keep naive UTC text, which also sorts correctly.
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class Base(DeclarativeBase):
    """Declarative base of the store's tables."""

    metadata = MetaData(naming_convention=_NAMING)


class MetaRow(Base):
    """Key/value facts about the store itself (``schema_version``)."""

    __tablename__ = "loopml_meta"

    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    value: Mapped[str] = mapped_column(String(255))


class ProjectRow(Base):
    __tablename__ = "loopml_projects"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(255), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class RunRow(Base):
    __tablename__ = "loopml_runs"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    project_id: Mapped[int] = mapped_column(
        ForeignKey("loopml_projects.id", ondelete="CASCADE"), index=True
    )
    kind: Mapped[str] = mapped_column(String(64))
    status: Mapped[str] = mapped_column(String(16))
    params: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    info: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    started_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, index=True)
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    error: Mapped[str | None] = mapped_column(Text)


class MetricRow(Base):
    """Run metrics, one row per (run, key), so that they can be queried and compared."""

    __tablename__ = "loopml_run_metrics"

    run_id: Mapped[int] = mapped_column(
        ForeignKey("loopml_runs.id", ondelete="CASCADE"), primary_key=True
    )
    key: Mapped[str] = mapped_column(String(255), primary_key=True)
    # NULL stands for NaN/inf: SQLite cannot keep NaN in a REAL column.
    value: Mapped[float | None] = mapped_column(Float)


class TrialRow(Base):
    __tablename__ = "loopml_trials"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    run_id: Mapped[int] = mapped_column(
        ForeignKey("loopml_runs.id", ondelete="CASCADE"), index=True
    )
    number: Mapped[int] = mapped_column(Integer)
    model: Mapped[str] = mapped_column(String(255))
    params: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    score: Mapped[float | None] = mapped_column(Float)
    status: Mapped[str] = mapped_column(String(16))
    fit_time: Mapped[float | None] = mapped_column(Float)
    predict_time: Mapped[float | None] = mapped_column(Float)
    info: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class ModelVersionRow(Base):
    __tablename__ = "loopml_model_versions"
    __table_args__ = (
        # Concurrent writers both computing max(version) + 1: one of them fails here
        # and retries with the next number.
        UniqueConstraint("name", "version"),
        # One production version per model, enforced by the database itself.
        Index(
            "uq_loopml_model_versions_one_production",
            "name",
            unique=True,
            sqlite_where=text("stage = 'production'"),
            postgresql_where=text("stage = 'production'"),
        ).ddl_if(dialect=("sqlite", "postgresql")),  # type: ignore[arg-type]  # tuple documented
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(255), index=True)
    version: Mapped[int] = mapped_column(Integer)
    stage: Mapped[str] = mapped_column(String(16), default="none")
    run_id: Mapped[int | None] = mapped_column(
        ForeignKey("loopml_runs.id", ondelete="SET NULL"), index=True
    )
    path: Mapped[str] = mapped_column(Text)
    sha256: Mapped[str] = mapped_column(String(64))
    task: Mapped[str] = mapped_column(String(64))
    metrics: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    info: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class TransitionRow(Base):
    __tablename__ = "loopml_stage_transitions"
    __table_args__ = (Index("ix_loopml_stage_transitions_name_at", "name", "at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    model_version_id: Mapped[int] = mapped_column(
        ForeignKey("loopml_model_versions.id", ondelete="CASCADE"), index=True
    )
    name: Mapped[str] = mapped_column(String(255))
    version: Mapped[int] = mapped_column(Integer)
    from_stage: Mapped[str] = mapped_column(String(16))
    to_stage: Mapped[str] = mapped_column(String(16))
    user: Mapped[str] = mapped_column(String(255))
    reason: Mapped[str] = mapped_column(Text, default="")
    at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class PredictionLogRow(Base):
    __tablename__ = "loopml_prediction_logs"
    __table_args__ = (Index("ix_loopml_prediction_logs_name_at", "name", "at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(255))
    version: Mapped[int] = mapped_column(Integer)
    at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    latency_ms: Mapped[float | None] = mapped_column(Float)
    n_rows: Mapped[int] = mapped_column(Integer)
    inputs: Mapped[Any] = mapped_column(JSON)
    outputs: Mapped[Any] = mapped_column(JSON)
    request_id: Mapped[str | None] = mapped_column(String(255))


class AlertRow(Base):
    __tablename__ = "loopml_alerts"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    rule: Mapped[str] = mapped_column(String(255))
    name: Mapped[str | None] = mapped_column(String(255), index=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, index=True)
    severity: Mapped[str] = mapped_column(String(16))
    message: Mapped[str] = mapped_column(Text)
    evidence: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    resolved_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
