"""The model registry: versions, references (``name@3``), stages and their history.

Session-level operations; :class:`loopml.store.Store` owns the transactions.
"""

from __future__ import annotations

import difflib
import getpass
import re
from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from loopml.exceptions import DataError, ModelNotFoundError
from loopml.store._convert import jsonable, metrics_from_json, metrics_to_json
from loopml.store._runs import run_row
from loopml.store.records import ModelSummary, ModelVersionRecord, Stage, TransitionRecord
from loopml.store.tables import ModelVersionRow, TransitionRow, utcnow

__all__ = [
    "check_name",
    "current_user",
    "list_models",
    "list_versions",
    "parse_stage",
    "register",
    "resolve",
    "set_stage",
    "transitions",
]

# Names end up in paths (artifact_root/<name>/<version>/) and URLs (/models/<name>).
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,254}")
_VERSION = re.compile(r"[vV]?(\d+)")
_STAGES = ", ".join(stage.value for stage in Stage)


def current_user() -> str:
    """The login name, or ``"unknown"`` where there is none (some containers)."""
    try:
        return getpass.getuser()
    except (OSError, KeyError, ImportError):
        return "unknown"


def parse_stage(stage: Stage | str) -> Stage:
    try:
        return Stage(str(stage).strip().lower())
    except ValueError:
        raise DataError(f"Stage {stage!r} is not one of {_STAGES}.") from None


def check_name(name: object) -> str:
    if not isinstance(name, str) or _NAME.fullmatch(name) is None:
        raise DataError(
            f"Model name {name!r} is not valid: use 1-255 letters, digits, '.', '_' or '-', "
            "starting with a letter or digit (it becomes a folder and a URL path), "
            "e.g. 'churn' or 'churn-xgb'."
        )
    return name


def _record(row: ModelVersionRow) -> ModelVersionRecord:
    return ModelVersionRecord(
        id=row.id,
        name=row.name,
        version=row.version,
        stage=Stage(row.stage),
        run_id=row.run_id,
        path=row.path,
        sha256=row.sha256,
        task=row.task,
        metrics=metrics_from_json(row.metrics),
        info=dict(row.info or {}),
        created_at=row.created_at,
    )


def _format_versions(versions: Sequence[int]) -> str:
    """``[1, 2, 3, 5]`` -> ``"1-3, 5"``."""
    spans: list[list[int]] = []
    for version in sorted(versions):
        if spans and version == spans[-1][1] + 1:
            spans[-1][1] = version
        else:
            spans.append([version, version])
    return ", ".join(str(a) if a == b else f"{a}-{b}" for a, b in spans)


def _unknown_name(session: Session, name: str, where: str) -> ModelNotFoundError:
    names = list(
        session.scalars(select(ModelVersionRow.name).distinct().order_by(ModelVersionRow.name))
    )
    if not names:
        return ModelNotFoundError(
            f"No model named {name!r}: the store at {where} has no models yet. "
            "Train one and register it first (Store.register_model)."
        )
    close = [known for known in names if known.lower() == name.lower()]
    close += [m for m in difflib.get_close_matches(name, names, n=3, cutoff=0.6) if m not in close]
    hint = f" Did you mean {' or '.join(repr(m) for m in close)}?" if close else ""
    shown = ", ".join(names[:20]) + (f", ... ({len(names)} in all)" if len(names) > 20 else "")
    return ModelNotFoundError(
        f"No model named {name!r} in the store at {where}.{hint} Known models: {shown}."
    )


def _versions_of(session: Session, name: str) -> list[ModelVersionRow]:
    query = select(ModelVersionRow).where(ModelVersionRow.name == name)
    return list(session.scalars(query.order_by(ModelVersionRow.version)))


def register(
    session: Session,
    name: str,
    *,
    run_id: int | None,
    path: str,
    sha256: str,
    task: str,
    metrics: Mapping[str, Any],
    info: Mapping[str, Any] | None,
    where: str,
) -> ModelVersionRecord:
    check_name(name)
    if run_id is not None:
        run_id = run_row(session, run_id, where).id
    latest = session.scalar(
        select(func.max(ModelVersionRow.version)).where(ModelVersionRow.name == name)
    )
    now = utcnow()
    row = ModelVersionRow(
        name=name,
        version=(latest or 0) + 1,
        stage=Stage.NONE.value,
        run_id=run_id,
        path=str(path),
        sha256=str(sha256),
        task=str(task),
        metrics=metrics_to_json(metrics),
        info=jsonable(dict(info or {}), "info"),
        created_at=now,
        updated_at=now,
    )
    session.add(row)
    session.flush()  # a concurrent writer that took this version fails here, and retries
    return _record(row)


def _pick(rows: list[ModelVersionRow], ref: str, name: str, selector: str) -> ModelVersionRow:
    key = selector.strip().lower()
    if key in ("", "latest") and (key or "@" not in ref):
        return rows[-1]
    number = _VERSION.fullmatch(key)
    if number is not None:
        version = int(number.group(1))
        for row in rows:
            if row.version == version:
                return row
        raise ModelNotFoundError(
            f"Model {name!r} has no version {version}; its versions are "
            f"{_format_versions([r.version for r in rows])} (latest: {rows[-1].version}). "
            f"Use '{name}@latest' for the newest."
        )
    if key in {stage.value for stage in Stage}:
        staged = [row for row in rows if row.stage == key]
        if staged:
            return staged[-1]
        now = ", ".join(f"v{row.version} {row.stage}" for row in rows[-10:])
        raise ModelNotFoundError(
            f"Model {name!r} has no version in stage {key!r}; its stages now: {now}. "
            f"Move one there with Store.set_stage({name!r}, <version>, {key!r})."
        )
    raise ModelNotFoundError(
        f"Cannot read {selector!r} in model reference {ref!r}: after '@' write a version "
        f"number (e.g. '{name}@3'), 'latest', or a stage: {_STAGES}."
    )


def resolve(session: Session, ref: str, where: str) -> ModelVersionRecord:
    """The version *ref* names: ``name``, ``name@3``, ``name@latest``, ``name@production``."""
    if not isinstance(ref, str) or not ref.partition("@")[0].strip():
        raise ModelNotFoundError(
            f"Model reference {ref!r} has no model name; write 'name', 'name@3', "
            "'name@latest' or 'name@production'."
        )
    name, _, selector = ref.partition("@")
    name = name.strip()
    rows = _versions_of(session, name)
    if not rows:
        raise _unknown_name(session, name, where)
    return _record(_pick(rows, ref, name, selector))


def list_versions(session: Session, name: str, where: str) -> list[ModelVersionRecord]:
    rows = _versions_of(session, name)
    if not rows:
        raise _unknown_name(session, name, where)
    return [_record(row) for row in rows]


def list_models(session: Session) -> list[ModelSummary]:
    rows = session.execute(
        select(
            ModelVersionRow.name,
            ModelVersionRow.version,
            ModelVersionRow.stage,
            ModelVersionRow.task,
            ModelVersionRow.updated_at,
        ).order_by(ModelVersionRow.name, ModelVersionRow.version)
    ).tuples()
    grouped: dict[str, list[tuple[str, int, str, str, Any]]] = {}
    for row in rows:
        grouped.setdefault(row[0], []).append(row)
    summaries = []
    for name, versions in grouped.items():
        production = [v for _, v, stage, _, _ in versions if stage == Stage.PRODUCTION.value]
        summaries.append(
            ModelSummary(
                name=name,
                n_versions=len(versions),
                latest_version=versions[-1][1],
                production_version=production[-1] if production else None,
                task=versions[-1][3],
                updated_at=max(updated for *_, updated in versions),
            )
        )
    return summaries


def _transition(
    row: ModelVersionRow, from_stage: str, to_stage: str, user: str, reason: str
) -> TransitionRow:
    return TransitionRow(
        model_version_id=row.id,
        name=row.name,
        version=row.version,
        from_stage=from_stage,
        to_stage=to_stage,
        user=user,
        reason=reason,
        at=utcnow(),
    )


def set_stage(
    session: Session,
    name: str,
    version: int,
    stage: Stage | str,
    *,
    reason: str,
    user: str | None,
    where: str,
) -> ModelVersionRecord:
    target = parse_stage(stage)
    rows = _versions_of(session, name)
    if not rows:
        raise _unknown_name(session, name, where)
    row = _pick(rows, f"{name}@{version}", name, str(version))
    if row.stage == target.value:
        return _record(row)
    who = user or current_user()
    if target is Stage.PRODUCTION:
        for previous in rows:
            if previous.stage == Stage.PRODUCTION.value and previous.id != row.id:
                why = f"replaced in production by version {row.version}"
                session.add(_transition(previous, previous.stage, Stage.ARCHIVED.value, who, why))
                previous.stage = Stage.ARCHIVED.value
                previous.updated_at = utcnow()
        # Archive first: the database allows one production row per name at any moment.
        session.flush()
    session.add(_transition(row, row.stage, target.value, who, reason))
    row.stage = target.value
    row.updated_at = utcnow()
    session.flush()
    return _record(row)


def transitions(session: Session, name: str, where: str) -> list[TransitionRecord]:
    rows = session.scalars(
        select(TransitionRow)
        .where(TransitionRow.name == name)
        .order_by(TransitionRow.at, TransitionRow.id)
    ).all()
    if (
        not rows
        and session.scalar(
            select(func.count()).select_from(ModelVersionRow).where(ModelVersionRow.name == name)
        )
        == 0
    ):
        raise _unknown_name(session, name, where)
    return [
        TransitionRecord(
            name=row.name,
            version=row.version,
            from_stage=Stage(row.from_stage),
            to_stage=Stage(row.to_stage),
            user=row.user,
            reason=row.reason,
            at=row.at,
        )
        for row in rows
    ]
