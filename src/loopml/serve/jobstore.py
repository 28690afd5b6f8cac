"""Asynchronous inference jobs, persisted in the store's database.

One table, ``loopml_serve_jobs``, with its own SQLAlchemy ``MetaData`` so that it
is created on demand next to the store's tables without changing the store's
schema. A job moves ``queued → running → succeeded | failed``; a server that stops
puts its running jobs back to ``queued``, and one that dies leaves them to be
recovered by the next server (its heartbeat goes stale, or its process is gone).
Claiming a job is one conditional ``UPDATE``, so several workers never run the
same job.

Cancelling is recorded here too, so that it holds across processes and restarts: a
queued job becomes ``cancelled`` at once (and is never claimed); a running one becomes
``cancelling``, which its runner sees at its next chunk, and ``cancelled`` once it
has stopped. ``succeeded``, ``failed`` and ``cancelled`` are final: only those are
ever deleted.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager, nullcontext
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import (
    JSON,
    Column,
    Connection,
    Float,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    and_,
    delete,
    func,
    select,
    update,
)

from loopml.store._engine import WRITE_OPTION

if TYPE_CHECKING:
    from loopml.store import Store

__all__ = ["FINISHED", "JOB_STATUSES", "JobRecord", "JobStore"]

JOB_STATUSES = ("queued", "running", "cancelling", "succeeded", "failed", "cancelled")
#: Final statuses: nothing runs such a job any more, so it may be deleted.
FINISHED = ("succeeded", "failed", "cancelled")

metadata = MetaData()
jobs_table = Table(
    "loopml_serve_jobs",
    metadata,
    Column("id", String(32), primary_key=True),
    Column("model", String(255), nullable=False),
    Column("version", Integer, nullable=True),
    Column("status", String(16), nullable=False, index=True),
    Column("input_kind", String(16), nullable=False),
    Column("input_path", Text, nullable=False),
    Column("output_path", Text, nullable=False),
    Column("options", JSON, nullable=False),
    Column("rows_done", Integer, nullable=False, default=0),
    Column("rows_total", Integer, nullable=True),
    Column("error", Text, nullable=True),
    Column("result", JSON, nullable=True),
    Column("attempts", Integer, nullable=False, default=0),
    Column("owner", String(255), nullable=True),
    Column("created_at", Float, nullable=False),
    Column("started_at", Float, nullable=True),
    Column("finished_at", Float, nullable=True),
    Column("heartbeat_at", Float, nullable=True),
)


def _iso(ts: float | None) -> str | None:
    return None if ts is None else datetime.fromtimestamp(ts, UTC).isoformat()


@dataclass(frozen=True)
class JobRecord:
    """One asynchronous prediction job as stored."""

    id: str
    model: str
    version: int | None
    status: str
    input_kind: str
    input_path: str
    output_path: str
    options: dict[str, Any] = field(default_factory=dict)
    rows_done: int = 0
    rows_total: int | None = None
    error: str | None = None
    result: dict[str, Any] | None = None
    attempts: int = 0
    owner: str | None = None
    created_at: float = 0.0
    started_at: float | None = None
    finished_at: float | None = None
    heartbeat_at: float | None = None

    def to_api(self) -> dict[str, Any]:
        """The job as ``GET /jobs/{id}`` shows it."""
        fraction = None
        if self.status == "succeeded":
            fraction = 1.0
        elif self.rows_total:
            fraction = round(min(self.rows_done / self.rows_total, 1.0), 4)
        result = None
        if self.result is not None:
            result = {**self.result, "url": f"/jobs/{self.id}/result"}
        return {
            "id": self.id,
            "status": self.status,
            "model": self.model,
            "version": self.version,
            "input": self.input_kind,
            "progress": {
                "rows_done": self.rows_done,
                "rows_total": self.rows_total,
                "fraction": fraction,
            },
            "result": result,
            "error": self.error,
            "attempts": self.attempts,
            "created_at": _iso(self.created_at),
            "started_at": _iso(self.started_at),
            "finished_at": _iso(self.finished_at),
        }

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def _record(row: Any) -> JobRecord:
    data = dict(row._mapping)
    data["options"] = dict(data.get("options") or {})
    return JobRecord(**data)


class JobStore:
    """Create, claim and update jobs in *store*'s database."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self.engine = store.engine
        with self._tx(write=True) as conn:
            metadata.create_all(conn, checkfirst=True)

    @contextmanager
    def _tx(self, *, write: bool = False) -> Iterator[Connection]:
        # An in-memory store is one shared connection: take its lock like the store does.
        lock = getattr(self.store, "_lock", None)
        guard: AbstractContextManager[Any] = lock if lock is not None else nullcontext()
        with guard, self.engine.connect() as conn:
            if write:
                conn = conn.execution_options(**{WRITE_OPTION: True})
            with conn.begin():
                yield conn

    @staticmethod
    def new_id() -> str:
        return uuid.uuid4().hex

    def create(
        self,
        *,
        job_id: str,
        model: str,
        version: int | None,
        input_kind: str,
        input_path: str,
        output_path: str,
        options: dict[str, Any] | None = None,
        rows_total: int | None = None,
    ) -> JobRecord:
        values = {
            "id": job_id,
            "model": model,
            "version": version,
            "status": "queued",
            "input_kind": input_kind,
            "input_path": input_path,
            "output_path": output_path,
            "options": dict(options or {}),
            "rows_done": 0,
            "rows_total": rows_total,
            "attempts": 0,
            "created_at": time.time(),
        }
        with self._tx(write=True) as conn:
            conn.execute(jobs_table.insert().values(**values))
        found = self.get(job_id)
        assert found is not None
        return found

    def get(self, job_id: str) -> JobRecord | None:
        with self._tx() as conn:
            row = conn.execute(select(jobs_table).where(jobs_table.c.id == job_id)).first()
        return None if row is None else _record(row)

    def recent(self, limit: int = 50, status: str | None = None) -> list[JobRecord]:
        query = select(jobs_table).order_by(jobs_table.c.created_at.desc()).limit(limit)
        if status is not None:
            query = query.where(jobs_table.c.status == status)
        with self._tx() as conn:
            return [_record(r) for r in conn.execute(query)]

    def counts(self) -> dict[str, int]:
        query = select(jobs_table.c.status, func.count()).group_by(jobs_table.c.status)
        with self._tx() as conn:
            return {str(s): int(n) for s, n in conn.execute(query)}

    def claim(self, owner: str) -> JobRecord | None:
        """Take the oldest queued job for *owner*; None if there is none."""
        for _ in range(5):
            with self._tx() as conn:
                row = conn.execute(
                    select(jobs_table.c.id)
                    .where(jobs_table.c.status == "queued")
                    .order_by(jobs_table.c.created_at)
                    .limit(1)
                ).first()
            if row is None:
                return None
            now = time.time()
            with self._tx(write=True) as conn:
                done = conn.execute(
                    update(jobs_table)
                    .where(and_(jobs_table.c.id == row.id, jobs_table.c.status == "queued"))
                    .values(
                        status="running",
                        owner=owner,
                        started_at=now,
                        heartbeat_at=now,
                        attempts=jobs_table.c.attempts + 1,
                        rows_done=0,
                    )
                )
            if done.rowcount == 1:
                return self.get(row.id)
        return None  # others keep taking the jobs first; try again on the next poll

    def _owned(self, job_id: str, owner: str, values: dict[str, Any]) -> bool:
        with self._tx(write=True) as conn:
            done = conn.execute(
                update(jobs_table)
                .where(
                    and_(
                        jobs_table.c.id == job_id,
                        jobs_table.c.owner == owner,
                        jobs_table.c.status == "running",
                    )
                )
                .values(**values)
            )
        return bool(done.rowcount == 1)

    def progress(
        self, job_id: str, owner: str, rows_done: int, rows_total: int | None = None
    ) -> bool:
        values: dict[str, Any] = {"rows_done": rows_done, "heartbeat_at": time.time()}
        if rows_total is not None:
            values["rows_total"] = rows_total
        return self._owned(job_id, owner, values)

    def heartbeat(self, owner: str) -> None:
        with self._tx(write=True) as conn:
            conn.execute(
                update(jobs_table)
                .where(
                    and_(
                        jobs_table.c.owner == owner,
                        jobs_table.c.status.in_(("running", "cancelling")),
                    )
                )
                .values(heartbeat_at=time.time())
            )

    def finish(self, job_id: str, owner: str, result: dict[str, Any], rows: int) -> bool:
        return self._owned(
            job_id,
            owner,
            {
                "status": "succeeded",
                "result": result,
                "rows_done": rows,
                "rows_total": rows,
                "error": None,
                "finished_at": time.time(),
            },
        )

    def fail(self, job_id: str, owner: str, error: str) -> bool:
        return self._owned(
            job_id, owner, {"status": "failed", "error": error, "finished_at": time.time()}
        )

    def requeue(self, job_id: str, owner: str) -> bool:
        """Give a running job back (the server is stopping)."""
        values = {"status": "queued", "owner": None, "started_at": None, "heartbeat_at": None}
        return self._owned(job_id, owner, values)

    def is_running(self, job_id: str, owner: str) -> bool:
        """Whether *owner* still runs the job (it was not cancelled or taken over)."""
        c = jobs_table.c
        with self._tx() as conn:
            row = conn.execute(
                select(c.id).where(and_(c.id == job_id, c.owner == owner, c.status == "running"))
            ).first()
        return row is not None

    def cancel(self, job_id: str) -> JobRecord | None:
        """Cancel a queued job at once, or ask a running one to stop.

        Returns the job as changed (``cancelled`` or ``cancelling``), or None when
        there was nothing to change: no such job, or one already stopping or finished.
        """
        c = jobs_table.c
        with self._tx(write=True) as conn:
            # One transaction: a job claimed meanwhile is caught by the second update.
            done = conn.execute(
                update(jobs_table)
                .where(and_(c.id == job_id, c.status == "queued"))
                .values(status="cancelled", owner=None, finished_at=time.time())
            ).rowcount
            if not done:
                done = conn.execute(
                    update(jobs_table)
                    .where(and_(c.id == job_id, c.status == "running"))
                    .values(status="cancelling")
                ).rowcount
        return self.get(job_id) if done else None

    def cancelled(self, job_id: str, owner: str) -> bool:
        """Record that *owner* stopped a ``cancelling`` job."""
        c = jobs_table.c
        with self._tx(write=True) as conn:
            done = conn.execute(
                update(jobs_table)
                .where(and_(c.id == job_id, c.owner == owner, c.status == "cancelling"))
                .values(status="cancelled", heartbeat_at=None, finished_at=time.time())
            )
        return bool(done.rowcount == 1)

    def delete(self, job_id: str) -> JobRecord | None:
        """Delete a finished job's record; the record deleted, or None if there was none.

        A queued, running or cancelling job is never deleted (cancel it first).
        """
        record = self.get(job_id)
        if record is None or record.status not in FINISHED:
            return None
        c = jobs_table.c
        with self._tx(write=True) as conn:
            done = conn.execute(
                delete(jobs_table).where(and_(c.id == job_id, c.status.in_(FINISHED)))
            )
        return record if done.rowcount == 1 else None

    def expired(self, before: float, limit: int = 500) -> list[JobRecord]:
        """Finished jobs that finished before the time *before*, oldest first."""
        c = jobs_table.c
        finished = func.coalesce(c.finished_at, c.created_at)
        query = (
            select(jobs_table)
            .where(and_(c.status.in_(FINISHED), finished < before))
            .order_by(finished)
            .limit(limit)
        )
        with self._tx() as conn:
            return [_record(r) for r in conn.execute(query)]

    def delete_finished(self, job_ids: list[str]) -> None:
        """Delete the records of those of *job_ids* that are finished."""
        if not job_ids:
            return
        c = jobs_table.c
        with self._tx(write=True) as conn:
            conn.execute(delete(jobs_table).where(and_(c.id.in_(job_ids), c.status.in_(FINISHED))))

    def known(self, job_ids: list[str]) -> set[str]:
        """Those of *job_ids* that have a record."""
        found: set[str] = set()
        for i in range(0, len(job_ids), 500):
            batch = job_ids[i : i + 500]
            with self._tx() as conn:
                rows = conn.execute(select(jobs_table.c.id).where(jobs_table.c.id.in_(batch)))
                found.update(str(r.id) for r in rows)
        return found

    def recover(
        self, *, stale_after: float, is_dead: Callable[[str], bool], max_attempts: int
    ) -> list[str]:
        """Requeue running jobs whose server is gone; fail those interrupted too often.

        A running job is abandoned when its owner *is_dead* or its heartbeat is older
        than *stale_after* seconds. An abandoned ``cancelling`` job is ``cancelled``.
        """
        cutoff = time.time() - stale_after
        c = jobs_table.c
        with self._tx() as conn:
            rows = conn.execute(
                select(c.id, c.status, c.owner, c.attempts, c.heartbeat_at).where(
                    c.status.in_(("running", "cancelling"))
                )
            ).all()
        recovered = []
        for r in rows:
            stale = r.heartbeat_at is None or r.heartbeat_at < cutoff
            if not stale and not is_dead(r.owner or ""):
                continue
            if r.status == "cancelling":
                values: dict[str, Any] = {"status": "cancelled", "finished_at": time.time()}
            elif r.attempts >= max_attempts:
                values = {
                    "status": "failed",
                    "error": f"The job was interrupted {r.attempts} times (the server stopped "
                    "while running it); it is not retried again. Submit it again, with "
                    "smaller chunks if the server ran out of memory.",
                    "finished_at": time.time(),
                }
            else:
                values = {"status": "queued", "owner": None, "heartbeat_at": None}
            with self._tx(write=True) as conn:
                done = conn.execute(
                    update(jobs_table)
                    .where(
                        and_(
                            jobs_table.c.id == r.id,
                            jobs_table.c.status == r.status,
                            jobs_table.c.owner == r.owner,
                        )
                    )
                    .values(**values)
                )
            if done.rowcount == 1:
                recovered.append(str(r.id))
        return recovered
