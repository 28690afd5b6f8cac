"""Prediction logs and alerts, the raw material of monitoring (session-level operations)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from loopml.exceptions import DataError, LoopmlError
from loopml.store._convert import jsonable
from loopml.store.records import AlertRecord, PredictionLogRecord
from loopml.store.tables import AlertRow, PredictionLogRow, utcnow

__all__ = [
    "SEVERITIES",
    "AlertNotFoundError",
    "list_alerts",
    "list_predictions",
    "log_predictions",
    "record_alert",
    "resolve_alert",
]

SEVERITIES = ("info", "warning", "error", "critical")


class AlertNotFoundError(LoopmlError, LookupError):
    """An alert id matches no alert in the store."""


def _prediction_record(row: PredictionLogRow) -> PredictionLogRecord:
    return PredictionLogRecord(
        id=row.id,
        name=row.name,
        version=row.version,
        at=row.at,
        latency_ms=row.latency_ms,
        n_rows=row.n_rows,
        inputs=row.inputs,
        outputs=row.outputs,
        request_id=row.request_id,
    )


def log_predictions(
    session: Session,
    name: str,
    version: int,
    *,
    inputs: Any,
    outputs: Any,
    n_rows: int | None,
    latency_ms: float | None,
    request_id: str | None,
    at: datetime | None,
) -> PredictionLogRecord:
    inputs = jsonable(inputs, "inputs")
    outputs = jsonable(outputs, "outputs")
    if n_rows is None:
        n_rows = len(inputs) if isinstance(inputs, list) else 1
    row = PredictionLogRow(
        name=name,
        version=int(version),
        at=at or utcnow(),
        latency_ms=None if latency_ms is None else jsonable(float(latency_ms), "latency_ms"),
        n_rows=int(n_rows),
        inputs=inputs,
        outputs=outputs,
        request_id=request_id,
    )
    session.add(row)
    session.flush()
    return _prediction_record(row)


def list_predictions(
    session: Session,
    name: str,
    *,
    version: int | None,
    since: datetime | None,
    limit: int | None,
) -> list[PredictionLogRecord]:
    query = select(PredictionLogRow).where(PredictionLogRow.name == name)
    if version is not None:
        query = query.where(PredictionLogRow.version == version)
    if since is not None:
        query = query.where(PredictionLogRow.at >= since)
    query = query.order_by(PredictionLogRow.at.desc(), PredictionLogRow.id.desc())
    if limit is not None:
        query = query.limit(limit)
    return [_prediction_record(row) for row in session.scalars(query)]


def _alert_record(row: AlertRow) -> AlertRecord:
    return AlertRecord(
        id=row.id,
        rule=row.rule,
        at=row.at,
        severity=row.severity,
        message=row.message,
        evidence=dict(row.evidence or {}),
        resolved_at=row.resolved_at,
        name=row.name,
    )


def record_alert(
    session: Session,
    rule: str,
    *,
    severity: str,
    message: str,
    evidence: dict[str, Any] | None,
    name: str | None,
    at: datetime | None,
) -> AlertRecord:
    if severity not in SEVERITIES:
        raise DataError(f"Alert severity must be one of {', '.join(SEVERITIES)}; got {severity!r}.")
    row = AlertRow(
        rule=rule,
        name=name,
        at=at or utcnow(),
        severity=severity,
        message=message,
        evidence=jsonable(dict(evidence or {}), "evidence"),
    )
    session.add(row)
    session.flush()
    return _alert_record(row)


def list_alerts(
    session: Session,
    *,
    name: str | None,
    rule: str | None,
    unresolved: bool,
    since: datetime | None,
    limit: int | None,
) -> list[AlertRecord]:
    query = select(AlertRow)
    if name is not None:
        query = query.where(AlertRow.name == name)
    if rule is not None:
        query = query.where(AlertRow.rule == rule)
    if unresolved:
        query = query.where(AlertRow.resolved_at.is_(None))
    if since is not None:
        query = query.where(AlertRow.at >= since)
    query = query.order_by(AlertRow.at.desc(), AlertRow.id.desc())
    if limit is not None:
        query = query.limit(limit)
    return [_alert_record(row) for row in session.scalars(query)]


def resolve_alert(session: Session, alert_id: int, at: datetime | None) -> AlertRecord:
    row = session.get(AlertRow, alert_id)
    if row is None:
        raise AlertNotFoundError(
            f"No alert with id {alert_id!r}; Store.list_alerts() lists the alerts."
        )
    if row.resolved_at is None:
        row.resolved_at = at or utcnow()
    return _alert_record(row)
