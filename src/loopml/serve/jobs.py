"""Asynchronous inference: ``POST /jobs`` returns at once, a worker thread predicts.

A job's input is saved first, in its own folder under ``<store root>/jobs/<id>/``
(a JSON payload, an uploaded CSV), or is a file the server reads (``{"path": ...}``).
The job's state lives in the store (:mod:`loopml.serve.jobstore`), so a job
submitted to a server that stops is finished by the next one. The prediction itself
is :func:`loopml.serve.batch.predict_file`: chunked, validated against the schema,
written atomically (Parquet by default), with progress recorded as chunks finish.
A job that fails records its error; one interrupted three times is failed.

``DELETE /jobs/{id}`` cancels a job (a running one stops at its next chunk, and its
partial output is removed) or deletes a finished one; finished jobs older than the
retention are deleted at start and every hour (:meth:`JobRunner.sweep`). Deleting
removes the record and the job's folder (its upload and default output); an output
the client placed elsewhere (``{"path": ..., "output": ...}``) is the client's file
and is left alone, as is a ``path`` job's input (see :mod:`loopml.serve.jobcleanup`).
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from loopml.exceptions import LoopmlError
from loopml.serve.input_errors import InputError, describe
from loopml.serve.jobcleanup import delete_expired, remove_job_files, remove_partials
from loopml.serve.jobstore import FINISHED, JobRecord, JobStore

if TYPE_CHECKING:
    from loopml.serve.fastpath import Predictor

__all__ = ["JobRunner", "count_rows"]

log = logging.getLogger("loopml.serve")

#: A function giving the predictor of ``(model name, version)``.
Resolver = Callable[[str, "int | None"], "Predictor"]


class _Interrupted(Exception):
    """The server is stopping: the job goes back to the queue."""


class _Cancelled(Exception):
    """The job was cancelled (or taken over by another server) while running."""


def count_rows(path: str | Path) -> int | None:
    """Rows in a data file when cheap to know (Parquet metadata, CSV newlines)."""
    p = Path(path)
    if not p.is_file():
        return None
    suffix = p.suffix.lower()
    try:
        if suffix in (".parquet", ".pq"):
            import pyarrow.parquet as pq

            return int(pq.ParquetFile(p).metadata.num_rows)
        if suffix in (".csv", ".tsv", ".txt"):
            lines = 0
            last = b"\n"
            with p.open("rb") as fh:
                for block in iter(lambda: fh.read(1 << 20), b""):
                    lines += block.count(b"\n")
                    last = block[-1:]
            if last != b"\n":
                lines += 1
            return max(lines - 1, 0)
    except Exception:
        return None
    return None


def _pid_dead(owner: str) -> bool:
    """Whether the server that owned a job is gone (same host, process not running)."""
    host, _, rest = owner.partition(":")
    pid_text = rest.split(":", 1)[0]
    if host != socket.gethostname() or not pid_text.isdigit():
        return False  # another machine: only its heartbeat can tell
    pid = int(pid_text)
    if pid == os.getpid():
        return False  # this process (another app in it may still be running the job)
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False
    return False


class JobRunner:
    """Run queued jobs in background threads.

    Parameters
    ----------
    jobstore : JobStore
        Where jobs are recorded.
    jobs_dir : Path
        Folder of the jobs' inputs and outputs.
    resolve : callable
        ``resolve(name, version)`` gives the predictor of that model version.
    workers : int, default 1
        Jobs run at once by this server.
    poll_interval : float, default 0.5
        Seconds between looks for new jobs (submissions also wake the runner).
    stale_after : float, default 30
        A running job whose heartbeat is older than this belongs to a dead server.
    max_attempts : int, default 3
        Interruptions after which a job is failed instead of retried.
    chunk_rows : int, default 100000
        Rows per chunk, unless the job says otherwise.
    retention_days : float, default 0
        Finished jobs older than this many days are deleted (record and files) by
        :meth:`sweep`, at :meth:`start` and every *sweep_interval* seconds; 0 keeps
        them forever. Queued and running jobs are never deleted.
    sweep_interval : float, default 3600
        Seconds between two sweeps while the server runs.
    """

    def __init__(
        self,
        jobstore: JobStore,
        jobs_dir: Path,
        resolve: Resolver,
        *,
        workers: int = 1,
        poll_interval: float = 0.5,
        stale_after: float = 30.0,
        max_attempts: int = 3,
        chunk_rows: int = 100_000,
        retention_days: float = 0.0,
        sweep_interval: float = 3600.0,
    ) -> None:
        self.jobstore = jobstore
        self.jobs_dir = Path(jobs_dir)
        self.resolve = resolve
        self.workers = workers
        self.poll_interval = poll_interval
        self.stale_after = stale_after
        self.max_attempts = max_attempts
        self.chunk_rows = chunk_rows
        self.retention_days = retention_days
        self.sweep_interval = sweep_interval
        self.owner = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
        self._stop = threading.Event()
        self._wake = threading.Event()
        self._threads: list[threading.Thread] = []
        self._running: set[str] = set()
        self._lock = threading.Lock()
        self._next_sweep = 0.0
        self.completed = 0
        self.failed = 0
        self.cancelled = 0

    # -- lifecycle ------------------------------------------------------------------

    def start(self) -> None:
        self.recover()
        self._sweep_logged()
        for i in range(self.workers):
            t = threading.Thread(target=self._loop, name=f"loopml-job-{i}", daemon=True)
            t.start()
            self._threads.append(t)
        if self.workers:
            t = threading.Thread(target=self._heartbeat, name="loopml-job-heartbeat", daemon=True)
            t.start()
            self._threads.append(t)

    def stop(self, timeout: float = 10.0) -> None:
        """Stop taking jobs; running ones go back to the queue at their next chunk."""
        self._stop.set()
        self._wake.set()
        deadline = time.monotonic() + timeout
        for t in self._threads:
            t.join(max(deadline - time.monotonic(), 0.0))
        self._threads = [t for t in self._threads if t.is_alive()]

    def wake(self) -> None:
        """A job was submitted: look now."""
        self._wake.set()

    def recover(self) -> list[str]:
        """Requeue jobs left running by a server that is gone."""
        found = self.jobstore.recover(
            stale_after=self.stale_after, is_dead=_pid_dead, max_attempts=self.max_attempts
        )
        if found:
            log.info("recovered %d interrupted job(s): %s", len(found), ", ".join(found))
        for job_id in found:
            record = self.jobstore.get(job_id)
            if record is not None and record.status == "cancelled":
                remove_partials(self.jobs_dir, record)
        return found

    def job_dir(self, job_id: str) -> Path:
        return self.jobs_dir / job_id

    # -- threads --------------------------------------------------------------------

    def _loop(self) -> None:
        last_recover = time.monotonic()
        while not self._stop.is_set():
            try:
                if time.monotonic() - last_recover > self.stale_after / 2:
                    self.recover()
                    last_recover = time.monotonic()
                job = self.jobstore.claim(self.owner)
            except Exception:
                log.exception("could not read the job queue")
                job = None
            if job is None:
                self._wake.wait(self.poll_interval)
                self._wake.clear()
                continue
            self.run(job)

    def _heartbeat(self) -> None:
        while not self._stop.wait(max(min(self.stale_after / 4, self.sweep_interval), 0.05)):
            if self._running:
                try:
                    self.jobstore.heartbeat(self.owner)
                except Exception:
                    log.exception("could not record the jobs' heartbeat")
            if time.monotonic() >= self._next_sweep:
                self._sweep_logged()

    # -- cancel, delete, retention --------------------------------------------------

    def cancel(self, job_id: str) -> tuple[str, JobRecord | None]:
        """Cancel a job, or delete it when it has finished (``DELETE /jobs/{id}``).

        Returns what happened and the job after it: ``("cancelled", job)`` for a
        queued job, which will never run; ``("cancelling", job)`` for a running one,
        which stops at its next chunk; ``("deleted", job)`` for a finished one, whose
        record and files are gone; ``("missing", None)`` when there is no such job.
        """
        for _ in range(5):
            record = self.jobstore.get(job_id)
            if record is None:
                return "missing", None
            if record.status == "cancelling":
                return "cancelling", record
            if record.status in FINISHED:
                deleted = self.jobstore.delete(job_id)
                if deleted is None:
                    continue  # deleted by another request meanwhile
                remove_job_files(self.jobs_dir, deleted)
                log.info("job %s deleted", job_id)
                return "deleted", deleted
            changed = self.jobstore.cancel(job_id)
            if changed is not None:
                log.info("job %s %s", job_id, changed.status)
                if changed.status == "cancelled":
                    self.cancelled += 1
                return changed.status, changed
            # It moved on between the two looks (claimed or finished): look again.
        record = self.jobstore.get(job_id)
        return ("missing", None) if record is None else (record.status, record)

    def sweep(self) -> list[str]:
        """Delete the finished jobs older than the retention; the ids deleted."""
        self._next_sweep = time.monotonic() + self.sweep_interval
        return delete_expired(self.jobstore, self.jobs_dir, self.retention_days)

    def _sweep_logged(self) -> None:
        try:
            removed = self.sweep()
        except Exception:
            log.exception("could not delete the expired jobs")
            return
        if removed:
            log.info(
                "deleted %d finished job(s) older than %g day(s)",
                len(removed),
                self.retention_days,
            )

    # -- one job --------------------------------------------------------------------

    def run(self, job: JobRecord) -> None:
        """Run a claimed job to its end, recording success, failure or interruption."""
        with self._lock:
            self._running.add(job.id)
        try:
            result, rows = self._execute(job)
        except _Interrupted:
            if self.jobstore.requeue(job.id, self.owner):
                log.info("job %s interrupted by shutdown; requeued", job.id)
            else:
                self._stopped(job)
        except _Cancelled:
            self._stopped(job)
        except InputError as exc:
            self._fail(job, "The job's rows are not valid: " + describe(exc.errors, limit=10))
        except LoopmlError as exc:
            self._fail(job, str(exc))
        except Exception as exc:
            log.exception("job %s failed", job.id)
            self._fail(job, f"{type(exc).__name__}: {exc}")
        else:
            if self.jobstore.finish(job.id, self.owner, result, rows):
                self.completed += 1
            else:  # cancelled after its last chunk: its output goes too
                self._stopped(job, written=Path(job.output_path))
        finally:
            with self._lock:
                self._running.discard(job.id)

    def _fail(self, job: JobRecord, message: str) -> None:
        if self.jobstore.fail(job.id, self.owner, message):
            self.failed += 1
        else:
            self._stopped(job)

    def _stopped(self, job: JobRecord, written: Path | None = None) -> None:
        """The job stopped because it was cancelled, or taken over by another server."""
        if self.jobstore.cancelled(job.id, self.owner):
            self.cancelled += 1
            log.info("job %s cancelled", job.id)
        record = self.jobstore.get(job.id)
        if record is not None and record.status != "cancelled":
            log.warning(
                "job %s is %s elsewhere; this server stopped running it", job.id, record.status
            )
            return
        if written is not None:
            written.unlink(missing_ok=True)

    def _execute(self, job: JobRecord) -> tuple[dict[str, Any], int]:
        import orjson

        from loopml.serve.batch import predict_file

        predictor = self.resolve(job.model, job.version)
        options = job.options
        output = Path(job.output_path)
        keep = options.get("keep")
        total: int | None
        source: Any
        if job.input_kind == "json":
            try:
                payload = orjson.loads(Path(job.input_path).read_bytes())
            except orjson.JSONDecodeError as exc:
                raise LoopmlError(f"The job's payload is not valid JSON: {exc}") from None
            columns = predictor.parser.parse_payload(payload)
            source = predictor.parser.to_frame(columns)
            total = columns.n_rows
            keep = []
        else:
            source = job.input_path
            total = count_rows(job.input_path)
        if not self.jobstore.progress(job.id, self.owner, 0, total):
            raise _Cancelled
        last = [time.monotonic()]

        def on_progress(rows: int) -> None:
            # Raised here, between chunks, the output's temporary file is removed.
            if self._stop.is_set():
                raise _Interrupted
            if time.monotonic() - last[0] >= 0.2:
                still = self.jobstore.progress(job.id, self.owner, rows)
                last[0] = time.monotonic()
            else:
                still = self.jobstore.is_running(job.id, self.owner)
            if not still:
                raise _Cancelled

        summary = predict_file(
            predictor.bundle,
            source,
            output,
            chunk_rows=int(options.get("chunk_rows") or self.chunk_rows),
            keep=keep,
            proba=bool(options.get("proba", True)),
            on_progress=on_progress,
        )
        result = {
            "location": str(output),
            "format": output.suffix.lstrip(".").lower(),
            "rows": summary.rows,
            "seconds": round(summary.seconds, 4),
            "notes": summary.notes,
            "model": summary.model,
        }
        return result, summary.rows
