"""Asynchronous inference jobs, persisted in the store's database.

The jobs are rows of one table (:mod:`loopml.serve.jobrecord`), created on demand
next to the store's tables. A job moves ``queued → running → succeeded | failed``; a
server that stops puts its running jobs back to ``queued``, and one that dies leaves
them to be recovered by the next server (its heartbeat goes stale, or its process is
gone). Claiming a job is one conditional ``UPDATE``, so several workers never run the
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
from typing import TYPE_CHECKING, Any

from sqlalchemy import ColumnElement, Connection, Select, and_, delete, func, select, update

from loopml.serve.jobrecord import FINISHED as FINISHED
from loopml.serve.jobrecord import JOB_STATUSES as JOB_STATUSES
from loopml.serve.jobrecord import JobRecord as JobRecord
from loopml.serve.jobrecord import jobs_table as jobs_table
from loopml.serve.jobrecord import metadata as metadata
from loopml.serve.jobrecord import record_from_row
from loopml.store._engine import WRITE_OPTION

if TYPE_CHECKING:
    from loopml.store import Store

__all__ = ["FINISHED", "JOB_STATUSES", "JobRecord", "JobStore"]


def _set(conn: Connection, *where: ColumnElement[bool], **values: Any) -> int:
    """Set *values* on the jobs that match every condition; how many did."""
    return int(conn.execute(update(jobs_table).where(and_(*where)).values(**values)).rowcount)


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

    def _update(self, *where: ColumnElement[bool], **values: Any) -> int:
        """Set *values* on the jobs that match every condition, in a transaction of its own."""
        with self._tx(write=True) as conn:
            return _set(conn, *where, **values)

    def _delete_finished(self, *where: ColumnElement[bool]) -> int:
        """Delete the finished jobs that match every condition; how many there were."""
        c = jobs_table.c
        with self._tx(write=True) as conn:
            done = conn.execute(delete(jobs_table).where(and_(*where, c.status.in_(FINISHED))))
        return int(done.rowcount)

    def _records(self, query: Select[Any]) -> list[JobRecord]:
        with self._tx() as conn:
            return [record_from_row(r) for r in conn.execute(query)]

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
        return None if row is None else record_from_row(row)

    def recent(self, limit: int = 50, status: str | None = None) -> list[JobRecord]:
        query = select(jobs_table).order_by(jobs_table.c.created_at.desc()).limit(limit)
        if status is not None:
            query = query.where(jobs_table.c.status == status)
        return self._records(query)

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
            c = jobs_table.c
            done = self._update(
                c.id == row.id,
                c.status == "queued",
                status="running",
                owner=owner,
                started_at=now,
                heartbeat_at=now,
                attempts=c.attempts + 1,
                rows_done=0,
            )
            if done == 1:
                return self.get(row.id)
        return None  # others keep taking the jobs first; try again on the next poll

    def _owned(self, job_id: str, owner: str, values: dict[str, Any]) -> bool:
        """Set *values* on the job if *owner* still runs it; whether it did."""
        c = jobs_table.c
        return self._update(c.id == job_id, c.owner == owner, c.status == "running", **values) == 1

    def progress(
        self, job_id: str, owner: str, rows_done: int, rows_total: int | None = None
    ) -> bool:
        values: dict[str, Any] = {"rows_done": rows_done, "heartbeat_at": time.time()}
        if rows_total is not None:
            values["rows_total"] = rows_total
        return self._owned(job_id, owner, values)

    def heartbeat(self, owner: str) -> None:
        c = jobs_table.c
        self._update(
            c.owner == owner, c.status.in_(("running", "cancelling")), heartbeat_at=time.time()
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
            done = _set(
                conn,
                c.id == job_id,
                c.status == "queued",
                status="cancelled",
                owner=None,
                finished_at=time.time(),
            )
            if not done:
                done = _set(conn, c.id == job_id, c.status == "running", status="cancelling")
        return self.get(job_id) if done else None

    def cancelled(self, job_id: str, owner: str) -> bool:
        """Record that *owner* stopped a ``cancelling`` job."""
        c = jobs_table.c
        done = self._update(
            c.id == job_id,
            c.owner == owner,
            c.status == "cancelling",
            status="cancelled",
            heartbeat_at=None,
            finished_at=time.time(),
        )
        return done == 1

    def delete(self, job_id: str) -> JobRecord | None:
        """Delete a finished job's record; the record deleted, or None if there was none.

        A queued, running or cancelling job is never deleted (cancel it first).
        """
        record = self.get(job_id)
        if record is None or record.status not in FINISHED:
            return None
        return record if self._delete_finished(jobs_table.c.id == job_id) == 1 else None

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
        return self._records(query)

    def delete_finished(self, job_ids: list[str]) -> None:
        """Delete the records of those of *job_ids* that are finished."""
        if not job_ids:
            return
        self._delete_finished(jobs_table.c.id.in_(job_ids))

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
            if self._update(c.id == r.id, c.status == r.status, c.owner == r.owner, **values) == 1:
                recovered.append(str(r.id))
        return recovered
