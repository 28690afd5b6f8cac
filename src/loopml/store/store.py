"""The :class:`Store`: one database for projects, runs, trials, models and monitoring.

Every method is one transaction on its own session: it commits when it returns and
rolls back when anything (an error, Ctrl-C) interrupts it, so the store is never
left half-written. What comes back are frozen records, never live ORM objects.
"""

from __future__ import annotations

import atexit
import logging
import random
import shutil
import tempfile
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import AbstractContextManager, contextmanager, nullcontext
from datetime import datetime
from pathlib import Path
from types import TracebackType
from typing import Any, SupportsFloat, TypeVar

from sqlalchemy import Engine, func, select
from sqlalchemy.exc import IntegrityError, OperationalError, ProgrammingError, SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from loopml.exceptions import StoreError
from loopml.store import _monitoring, _registry, _runs
from loopml.store._engine import (
    WRITE_OPTION,
    create_store_engine,
    describe_error,
    is_memory_sqlite,
    mask_url,
    open_failure,
    resolve_url,
)
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
from loopml.store.tables import SCHEMA_VERSION, Base, MetaRow, ModelVersionRow

__all__ = ["RunHandle", "Store"]

logger = logging.getLogger("loopml.store")

T = TypeVar("T")

_ATTEMPTS = 20
# PostgreSQL serialization failure and deadlock: the transaction can simply be rerun.
_RETRYABLE_SQLSTATES = {"40001", "40P01"}
_TEMP_ROOTS: set[str] = set()


def _remove_temp_roots() -> None:
    for root in list(_TEMP_ROOTS):
        shutil.rmtree(root, ignore_errors=True)
        _TEMP_ROOTS.discard(root)


atexit.register(_remove_temp_roots)


def _error_text(exc: BaseException) -> str:
    message = str(exc)
    return f"{type(exc).__name__}: {message}" if message else type(exc).__name__


class RunHandle:
    """The run being recorded inside ``with store.start_run(...) as run:``.

    Every call writes at once, in its own transaction, so what was logged before a
    crash is kept.
    """

    def __init__(self, store: Store, run_id: int, project: str) -> None:
        self.store = store
        self.id = run_id
        self.project = project

    def __repr__(self) -> str:
        return f"RunHandle(id={self.id}, project={self.project!r})"

    def log_params(self, params: Mapping[str, Any]) -> None:
        """Merge *params* (JSON-able; numpy values are converted) into the run's params."""
        self.store._write(
            lambda s: _runs.merge_params(s, self.id, params, self.store._where), "log params"
        )

    def log_metrics(self, metrics: Mapping[str, SupportsFloat | None], *, prefix: str = "") -> None:
        """Record numeric *metrics*; a key logged again is overwritten.

        *prefix* is joined to each key with ``_`` unless it already ends in one of
        ``_ . / : -`` (``prefix="test"`` and ``prefix="test_"`` both give
        ``test_accuracy``). ``None``, NaN and infinities are stored as NULL and read back as NaN.
        """
        self.store._write(
            lambda s: _runs.log_metrics(s, self.id, metrics, prefix, self.store._where),
            "log metrics",
        )

    def set(self, **info: Any) -> None:
        """Merge *info* (split sizes, schema summary, anything JSON-able) into ``run.info``."""
        self.store._write(
            lambda s: _runs.merge_info(s, self.id, info, self.store._where), "update run info"
        )

    def log_trial(
        self,
        *,
        number: int,
        model: str,
        params: Mapping[str, Any],
        score: float | None,
        status: str = "complete",
        fit_time: float | None = None,
        predict_time: float | None = None,
        info: Mapping[str, Any] | None = None,
    ) -> TrialRecord:
        """Same as :meth:`Store.log_trial` for this run."""
        return self.store.log_trial(
            self.id,
            number=number,
            model=model,
            params=params,
            score=score,
            status=status,
            fit_time=fit_time,
            predict_time=predict_time,
            info=info,
        )

    def record(self) -> RunRecord:
        """The run as stored right now."""
        return self.store.get_run(self.id)


class Store:
    """Where loopml remembers projects, runs, trials, model versions and monitoring data.

    Parameters
    ----------
    url : str, optional
        A SQLAlchemy URL. Default: ``$LOOPML_STORE_URL``, else a SQLite file
        ``<root>/store.db``. ``postgresql://...`` uses psycopg 3 when psycopg2 is absent.
    root : str or Path, optional
        The folder for the default database and for model bundles
        (``artifact_root = root / "models"``). Default: ``./.loopml``, created on demand.

    Raises
    ------
    StoreError
        If the database cannot be opened; the message names the URL (password masked)
        and how to fix it.

    Examples
    --------
    >>> store = Store.in_memory()
    >>> with store.start_run("iris") as run:
    ...     run.log_metrics({"accuracy": 0.95})
    >>> store.list_runs()[0].metrics
    {'accuracy': 0.95}
    >>> store.close()
    """

    def __init__(self, url: str | None = None, *, root: str | Path | None = None) -> None:
        self.root = (Path(root) if root is not None else Path.cwd() / ".loopml").absolute()
        self.artifact_root = self.root / "models"
        self._temp_root: str | None = None
        engine, parsed = create_store_engine(resolve_url(url, self.root))
        self.url: str = parsed.render_as_string(hide_password=False)
        self._where = mask_url(parsed)
        self._engine: Engine = engine
        # An in-memory database is one shared connection: one operation at a time.
        self._lock: threading.RLock | None = threading.RLock() if is_memory_sqlite(parsed) else None
        self._sessions = sessionmaker(engine, expire_on_commit=False)
        try:
            self._create_schema()
        except BaseException:
            engine.dispose()
            raise

    @classmethod
    def in_memory(cls) -> Store:
        """A throwaway store: SQLite in memory, bundles in a temporary folder.

        Both vanish on :meth:`close` (or when the interpreter exits).
        """
        root = tempfile.mkdtemp(prefix="loopml-store-")
        _TEMP_ROOTS.add(root)
        try:
            store = cls("sqlite://", root=root)
        except BaseException:
            shutil.rmtree(root, ignore_errors=True)
            _TEMP_ROOTS.discard(root)
            raise
        store._temp_root = root
        return store

    def __repr__(self) -> str:
        return f"Store({self._where!r}, root={str(self.root)!r})"

    @property
    def engine(self) -> Engine:
        """The SQLAlchemy engine, for read-only queries the methods do not cover."""
        return self._engine

    def close(self) -> None:
        """Release the database connections (and a temporary store's files)."""
        self._engine.dispose()
        if self._temp_root is not None:
            shutil.rmtree(self._temp_root, ignore_errors=True)
            _TEMP_ROOTS.discard(self._temp_root)
            self._temp_root = None

    def __enter__(self) -> Store:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    # -- transactions -------------------------------------------------------------

    def _create_schema(self) -> None:
        last: SQLAlchemyError | None = None
        for _ in range(3):  # two processes creating the tables at once: one loses, retries
            try:
                with self._engine.connect() as conn:
                    conn = conn.execution_options(**{WRITE_OPTION: True})
                    with conn.begin():
                        Base.metadata.create_all(conn)
                    with Session(conn) as session, session.begin():
                        found = session.get(MetaRow, "schema_version")
                        if found is None:
                            session.add(MetaRow(key="schema_version", value=str(SCHEMA_VERSION)))
                        elif int(found.value) > SCHEMA_VERSION:
                            raise StoreError(
                                f"The store at {self._where} has schema version {found.value}, "
                                f"written by a newer loopml; this one reads up to version "
                                f"{SCHEMA_VERSION}. Upgrade loopml: pip install -U loopml"
                            )
                return
            except (IntegrityError, ProgrammingError) as exc:
                last = exc
                time.sleep(random.uniform(0.01, 0.1))
            except SQLAlchemyError as exc:
                raise open_failure(self._engine.url, exc) from exc
        assert last is not None
        raise open_failure(self._engine.url, last) from last

    @contextmanager
    def _session(self, *, write: bool = False) -> Iterator[Session]:
        guard: AbstractContextManager[Any] = self._lock if self._lock is not None else nullcontext()
        with guard:
            session = self._sessions()
            try:
                if write:
                    session.connection(execution_options={WRITE_OPTION: True})
                yield session
                session.commit()
            except BaseException:
                session.rollback()
                raise
            finally:
                session.close()

    def _failure(self, what: str, exc: SQLAlchemyError) -> StoreError:
        return StoreError(
            f"Could not {what} in the store at {self._where}: "
            f"{describe_error(exc, self._engine.url)}. Check that the database is reachable "
            "and not locked by another program, then retry."
        )

    def _read(self, fn: Callable[[Session], T], what: str) -> T:
        try:
            with self._session() as session:
                return fn(session)
        except (OperationalError, ProgrammingError) as exc:
            raise self._failure(what, exc) from exc

    def _write(self, fn: Callable[[Session], T], what: str) -> T:
        for attempt in range(1, _ATTEMPTS + 1):
            try:
                with self._session(write=True) as session:
                    return fn(session)
            except IntegrityError as exc:
                # Concurrent writers (same version number, same project name, two
                # promotions at once): rerun the whole transaction on fresh data.
                if attempt == _ATTEMPTS:
                    raise self._failure(what, exc) from exc
            except OperationalError as exc:
                sqlstate = getattr(exc.orig, "sqlstate", None)
                if sqlstate not in _RETRYABLE_SQLSTATES or attempt == _ATTEMPTS:
                    raise self._failure(what, exc) from exc
            except ProgrammingError as exc:
                raise self._failure(what, exc) from exc
            logger.debug("retrying %s (attempt %d) after a concurrent write", what, attempt)
            time.sleep(random.uniform(0, 0.002 * attempt))
        raise AssertionError("unreachable")  # pragma: no cover

    # -- runs -----------------------------------------------------------------------

    @contextmanager
    def start_run(
        self, project: str, kind: str = "train", params: Mapping[str, Any] | None = None
    ) -> Iterator[RunHandle]:
        """Record a run of *project* for the duration of a ``with`` block.

        The run is ``"running"`` inside the block, ``"finished"`` after it, and
        ``"failed"`` (with ``error = "<type>: <message>"``) if anything escapes it,
        Ctrl-C included; the exception is then re-raised.
        """
        run_id = self._write(lambda s: _runs.create_run(s, project, kind, params), "start a run")
        handle = RunHandle(self, run_id, project)
        try:
            yield handle
        except BaseException as exc:
            try:
                self._end_run(run_id, "failed", _error_text(exc))
            except Exception:
                # Never hide the user's error behind the store's own.
                logger.exception("could not mark run %s as failed", run_id)
            raise
        self._end_run(run_id, "finished", None)

    def _end_run(self, run_id: int, status: str, error: str | None) -> None:
        self._write(lambda s: _runs.end_run(s, run_id, status, error, self._where), "end a run")

    def get_run(self, run_id: int) -> RunRecord:
        """The run with id *run_id*; :class:`~loopml.exceptions.RunNotFoundError` if none."""
        return self._read(lambda s: _runs.get_run(s, run_id, self._where), "read a run")

    def list_runs(self, project: str | None = None, limit: int | None = 50) -> list[RunRecord]:
        """Runs, newest first, of one *project* or all; at most *limit* (None: all)."""
        return self._read(lambda s: _runs.list_runs(s, project, limit), "list runs")

    # -- trials ---------------------------------------------------------------------

    def log_trial(
        self,
        run_id: int,
        *,
        number: int,
        model: str,
        params: Mapping[str, Any],
        score: float | None,
        status: str = "complete",
        fit_time: float | None = None,
        predict_time: float | None = None,
        info: Mapping[str, Any] | None = None,
    ) -> TrialRecord:
        """Record one candidate evaluation of run *run_id*.

        *status* is one of ``complete``, ``pruned``, ``failed``, ``timeout``; a NaN
        score is stored as ``None``.
        """
        return self._write(
            lambda s: _runs.log_trial(
                s,
                run_id,
                number=number,
                model=model,
                params=params,
                score=score,
                status=status,
                fit_time=fit_time,
                predict_time=predict_time,
                info=info,
                where=self._where,
            ),
            "log a trial",
        )

    def list_trials(self, run_id: int) -> list[TrialRecord]:
        """The trials of run *run_id*, by trial number."""
        return self._read(lambda s: _runs.list_trials(s, run_id, self._where), "list trials")

    # -- model registry -------------------------------------------------------------

    def register_model(
        self,
        name: str,
        *,
        run_id: int | None,
        path: str,
        sha256: str,
        task: str,
        metrics: Mapping[str, SupportsFloat | None],
        info: Mapping[str, Any] | None = None,
    ) -> ModelVersionRecord:
        """Add the next version of model *name* (1, 2, ...), in stage ``none``.

        Safe under concurrent writers: each gets a distinct version number.
        """
        return self._write(
            lambda s: _registry.register(
                s,
                name,
                run_id=run_id,
                path=path,
                sha256=sha256,
                task=task,
                metrics=metrics,
                info=info,
                where=self._where,
            ),
            f"register model {name!r}",
        )

    def resolve(self, ref: str) -> ModelVersionRecord:
        """The model version *ref* names.

        ``"name"`` and ``"name@latest"`` give the newest version, ``"name@3"`` (or
        ``"name@v3"``) version 3, ``"name@production"`` / ``@staging`` / ``@archived``
        / ``@none`` the newest version in that stage.

        Raises
        ------
        ModelNotFoundError
            Naming the close matches among known models, or the versions and stages
            that do exist.
        """
        return self._read(lambda s: _registry.resolve(s, ref, self._where), "resolve a model")

    def list_models(self) -> list[ModelSummary]:
        """One summary per model name, sorted by name."""
        return self._read(_registry.list_models, "list models")

    def list_versions(self, name: str) -> list[ModelVersionRecord]:
        """Every version of model *name*, oldest first; ModelNotFoundError if unknown."""
        return self._read(
            lambda s: _registry.list_versions(s, name, self._where), "list model versions"
        )

    def set_stage(
        self,
        name: str,
        version: int,
        stage: Stage | str,
        *,
        reason: str = "",
        user: str | None = None,
    ) -> ModelVersionRecord:
        """Move version *version* of *name* to *stage*, and record who, when and why.

        Promoting to production archives the current production version (also
        recorded): a model has at most one production version. Moving a version to
        the stage it is already in changes and records nothing.
        """
        return self._write(
            lambda s: _registry.set_stage(
                s, name, version, stage, reason=reason, user=user, where=self._where
            ),
            f"set the stage of {name}@{version}",
        )

    def transitions(self, name: str) -> list[TransitionRecord]:
        """The stage history of model *name*, oldest first."""
        return self._read(
            lambda s: _registry.transitions(s, name, self._where), "read stage transitions"
        )

    # -- monitoring -----------------------------------------------------------------

    def log_predictions(
        self,
        name: str,
        version: int,
        *,
        inputs: Any,
        outputs: Any,
        n_rows: int | None = None,
        latency_ms: float | None = None,
        request_id: str | None = None,
        at: datetime | None = None,
    ) -> PredictionLogRecord:
        """Record one request (or batch) served by ``name@version``.

        *inputs* / *outputs* are JSON-able (records, lists, numpy arrays); *n_rows*
        defaults to ``len(inputs)`` for a list, else 1; *at* defaults to now.
        """
        return self._write(
            lambda s: _monitoring.log_predictions(
                s,
                name,
                version,
                inputs=inputs,
                outputs=outputs,
                n_rows=n_rows,
                latency_ms=latency_ms,
                request_id=request_id,
                at=at,
            ),
            "log predictions",
        )

    def list_predictions(
        self,
        name: str,
        since: datetime | None = None,
        limit: int | None = None,
        *,
        version: int | None = None,
    ) -> list[PredictionLogRecord]:
        """Prediction logs of model *name* (optionally one *version*), newest first."""
        return self._read(
            lambda s: _monitoring.list_predictions(
                s, name, version=version, since=since, limit=limit
            ),
            "list predictions",
        )

    def record_alert(
        self,
        rule: str,
        *,
        severity: str,
        message: str,
        evidence: dict[str, Any] | None = None,
        name: str | None = None,
        at: datetime | None = None,
    ) -> AlertRecord:
        """Record that monitoring *rule* fired (severity: info/warning/error/critical)."""
        return self._write(
            lambda s: _monitoring.record_alert(
                s, rule, severity=severity, message=message, evidence=evidence, name=name, at=at
            ),
            "record an alert",
        )

    def list_alerts(
        self,
        *,
        name: str | None = None,
        rule: str | None = None,
        unresolved: bool = False,
        since: datetime | None = None,
        limit: int | None = None,
    ) -> list[AlertRecord]:
        """Alerts, newest first, optionally of one model *name* or *rule*."""
        return self._read(
            lambda s: _monitoring.list_alerts(
                s, name=name, rule=rule, unresolved=unresolved, since=since, limit=limit
            ),
            "list alerts",
        )

    def resolve_alert(self, alert_id: int, *, at: datetime | None = None) -> AlertRecord:
        """Mark alert *alert_id* resolved (now, or *at*); already resolved ones keep their time."""
        return self._write(lambda s: _monitoring.resolve_alert(s, alert_id, at), "resolve an alert")

    # -- convenience ----------------------------------------------------------------

    def next_version(self, name: str) -> int:
        """The version number :meth:`register_model` would give *name* now (1 if new).

        A concurrent writer may take it first; :meth:`register_model` then assigns the
        next free one, and the path recorded is still the one given.
        """
        latest = self._read(
            lambda s: s.scalar(
                select(func.max(ModelVersionRow.version)).where(ModelVersionRow.name == name)
            ),
            "read a model version",
        )
        return (latest or 0) + 1

    def model_dir(self, name: str, version: int) -> Path:
        """Where the bundle of ``name@version`` belongs: ``artifact_root/<name>/<version>``."""
        return self.artifact_root / _registry.check_name(name) / str(int(version))
