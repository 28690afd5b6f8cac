"""Runs, their params/metrics/info, and the trials inside them (session-level operations).

Each function works inside a session that :class:`loopml.store.Store` opens, commits
and rolls back; none of them commits on its own.
"""

from __future__ import annotations

import math
import operator
from collections.abc import Iterable, Mapping
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from loopml.exceptions import DataError, RunNotFoundError
from loopml.store._convert import jsonable, metric_value
from loopml.store.records import TRIAL_STATUSES, RunRecord, TrialRecord
from loopml.store.tables import MetricRow, ProjectRow, RunRow, TrialRow, utcnow

__all__ = [
    "create_run",
    "end_run",
    "get_run",
    "list_runs",
    "list_trials",
    "log_metrics",
    "log_trial",
    "merge_info",
    "merge_params",
    "metric_key",
    "run_row",
]

_SEPARATORS = "_./:-"


def _check_text(value: object, what: str, example: str) -> str:
    if not isinstance(value, str) or not value.strip():
        raise DataError(f"{what} must be a non-empty string; got {value!r}. Example: {example!r}.")
    if len(value) > 255:
        raise DataError(f"{what} is {len(value)} characters long; the limit is 255.")
    return value


def metric_key(key: object, prefix: str) -> str:
    """*prefix* + *key*, with ``_`` between them unless *prefix* ends in a separator."""
    name = str(key)
    if not prefix:
        return name
    joiner = "" if prefix[-1] in _SEPARATORS else "_"
    return f"{prefix}{joiner}{name}"


def _project_id(session: Session, name: str) -> int:
    found = session.scalar(select(ProjectRow.id).where(ProjectRow.name == name))
    if found is not None:
        return found
    # A concurrent writer creating the same project makes this flush fail with an
    # IntegrityError; the store retries the whole operation, which then finds it.
    project = ProjectRow(name=name, created_at=utcnow())
    session.add(project)
    session.flush()
    return project.id


def create_run(session: Session, project: str, kind: str, params: Mapping[str, Any] | None) -> int:
    _check_text(project, "The project name", "churn")
    _check_text(kind, "The run kind", "train")
    row = RunRow(
        project_id=_project_id(session, project),
        kind=kind,
        status="running",
        params=jsonable(dict(params or {}), "params"),
        info={},
        started_at=utcnow(),
    )
    session.add(row)
    session.flush()
    return row.id


def _missing_run(session: Session, run_id: int, where: str) -> RunNotFoundError:
    newest = session.scalar(select(func.max(RunRow.id)))
    if newest is None:
        hint = "the store has no runs yet"
    else:
        hint = f"the newest run is {newest}; Store.list_runs() lists them"
    return RunNotFoundError(f"No run with id {run_id!r} in the store at {where}: {hint}.")


def run_row(session: Session, run_id: int, where: str) -> RunRow:
    """The run's row, or :class:`RunNotFoundError` naming the newest run."""
    try:
        if isinstance(run_id, bool):
            raise TypeError
        run_id = operator.index(run_id)  # numpy integers too
    except TypeError:
        raise RunNotFoundError(
            f"Run ids are integers; got {type(run_id).__name__} {run_id!r}."
        ) from None
    row = session.get(RunRow, run_id)
    if row is None:
        raise _missing_run(session, run_id, where)
    return row


def end_run(session: Session, run_id: int, status: str, error: str | None, where: str) -> None:
    row = run_row(session, run_id, where)
    row.status = status
    row.ended_at = utcnow()
    row.error = error


def merge_params(session: Session, run_id: int, params: Mapping[str, Any], where: str) -> None:
    row = run_row(session, run_id, where)
    row.params = {**(row.params or {}), **jsonable(dict(params), "params")}


def merge_info(session: Session, run_id: int, info: Mapping[str, Any], where: str) -> None:
    row = run_row(session, run_id, where)
    row.info = {**(row.info or {}), **jsonable(dict(info), "info")}


def log_metrics(
    session: Session, run_id: int, metrics: Mapping[Any, Any], prefix: str, where: str
) -> None:
    run_id = run_row(session, run_id, where).id
    values = {
        metric_key(key, prefix): metric_value(metric_key(key, prefix), v)
        for key, v in metrics.items()
    }
    if not values:
        return
    existing = {
        row.key: row
        for row in session.scalars(
            select(MetricRow).where(MetricRow.run_id == run_id, MetricRow.key.in_(list(values)))
        )
    }
    for key, value in values.items():
        if key in existing:
            existing[key].value = value
        else:
            session.add(MetricRow(run_id=run_id, key=key, value=value))


def _records(session: Session, rows: Iterable[tuple[RunRow, str]]) -> list[RunRecord]:
    pairs = list(rows)
    ids = [run.id for run, _ in pairs]
    metrics: dict[int, dict[str, float]] = {run_id: {} for run_id in ids}
    if ids:
        for metric in session.scalars(
            select(MetricRow).where(MetricRow.run_id.in_(ids)).order_by(MetricRow.key)
        ):
            value = math.nan if metric.value is None else float(metric.value)
            metrics[metric.run_id][metric.key] = value
    records = []
    for run, project in pairs:
        duration = None
        if run.ended_at is not None and run.started_at is not None:
            duration = (run.ended_at - run.started_at).total_seconds()
        records.append(
            RunRecord(
                id=run.id,
                project=project,
                kind=run.kind,
                status=run.status,
                params=dict(run.params or {}),
                metrics=metrics[run.id],
                info=dict(run.info or {}),
                started_at=run.started_at,
                ended_at=run.ended_at,
                duration_s=duration,
                error=run.error,
            )
        )
    return records


def _runs_query() -> Any:
    return select(RunRow, ProjectRow.name).join(ProjectRow, RunRow.project_id == ProjectRow.id)


def get_run(session: Session, run_id: int, where: str) -> RunRecord:
    run_id = run_row(session, run_id, where).id
    pairs = session.execute(_runs_query().where(RunRow.id == run_id)).tuples()
    return _records(session, pairs)[0]


def list_runs(session: Session, project: str | None, limit: int | None) -> list[RunRecord]:
    query = _runs_query().order_by(RunRow.started_at.desc(), RunRow.id.desc())
    if project is not None:
        query = query.where(ProjectRow.name == project)
    if limit is not None:
        query = query.limit(limit)
    return _records(session, session.execute(query).tuples())


def _optional_float(value: Any, what: str) -> float | None:
    if value is None:
        return None
    return metric_value(what, value)


def _trial_record(row: TrialRow) -> TrialRecord:
    return TrialRecord(
        id=row.id,
        run_id=row.run_id,
        number=row.number,
        model=row.model,
        params=dict(row.params or {}),
        score=row.score,
        status=row.status,
        fit_time=row.fit_time,
        predict_time=row.predict_time,
        info=dict(row.info or {}),
    )


def log_trial(
    session: Session,
    run_id: int,
    *,
    number: int,
    model: str,
    params: Mapping[str, Any],
    score: Any,
    status: str,
    fit_time: Any,
    predict_time: Any,
    info: Mapping[str, Any] | None,
    where: str,
) -> TrialRecord:
    run_id = run_row(session, run_id, where).id
    if status not in TRIAL_STATUSES:
        raise DataError(f"Trial status must be one of {', '.join(TRIAL_STATUSES)}; got {status!r}.")
    _check_text(model, "The trial's model name", "random_forest")
    row = TrialRow(
        run_id=run_id,
        number=int(number),
        model=model,
        params=jsonable(dict(params), "trial params"),
        score=_optional_float(score, "score"),
        status=status,
        fit_time=_optional_float(fit_time, "fit_time"),
        predict_time=_optional_float(predict_time, "predict_time"),
        info=jsonable(dict(info or {}), "trial info"),
        created_at=utcnow(),
    )
    session.add(row)
    session.flush()
    return _trial_record(row)


def list_trials(session: Session, run_id: int, where: str) -> list[TrialRecord]:
    run_id = run_row(session, run_id, where).id
    rows = session.scalars(
        select(TrialRow).where(TrialRow.run_id == run_id).order_by(TrialRow.number, TrialRow.id)
    )
    return [_trial_record(row) for row in rows]
