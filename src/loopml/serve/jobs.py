"""Asynchronous inference: ``POST /jobs`` returns at once, a worker thread predicts.

A job's input is saved first, in its own folder under ``<store root>/jobs/<id>/``
(a JSON payload, an uploaded CSV), or is a file the server reads (``{"path": ...}``).
The job's state lives in the store (:mod:`loopml.serve.jobstore`), so a job
submitted to a server that stops is finished by the next one. The prediction itself
is :func:`loopml.serve.batch.predict_file`: chunked, validated against the schema,
written atomically (Parquet by default), with progress recorded as chunks finish.
A job that fails records its error; one interrupted three times is failed.
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
from loopml.serve.inputs import InputError
from loopml.serve.jobstore import JobRecord, JobStore

if TYPE_CHECKING:
    from loopml.serve.fastpath import Predictor

__all__ = ["JobRunner", "count_rows"]

log = logging.getLogger("loopml.serve")

#: A function giving the predictor of ``(model name, version)``.
Resolver = Callable[[str, "int | None"], "Predictor"]


class _Interrupted(Exception):
    """The server is stopping: the job goes back to the queue."""


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
    ) -> None:
        self.jobstore = jobstore
        self.jobs_dir = Path(jobs_dir)
        self.resolve = resolve
        self.workers = workers
        self.poll_interval = poll_interval
        self.stale_after = stale_after
        self.max_attempts = max_attempts
        self.chunk_rows = chunk_rows
        self.owner = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
        self._stop = threading.Event()
        self._wake = threading.Event()
        self._threads: list[threading.Thread] = []
        self._running: set[str] = set()
        self._lock = threading.Lock()
        self.completed = 0
        self.failed = 0

    # -- lifecycle ------------------------------------------------------------------

    def start(self) -> None:
        self.recover()
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
        while not self._stop.wait(max(self.stale_after / 4, 0.05)):
            if self._running:
                try:
                    self.jobstore.heartbeat(self.owner)
                except Exception:
                    log.exception("could not record the jobs' heartbeat")

    # -- one job --------------------------------------------------------------------

    def run(self, job: JobRecord) -> None:
        """Run a claimed job to its end, recording success, failure or interruption."""
        with self._lock:
            self._running.add(job.id)
        try:
            result, rows = self._execute(job)
        except _Interrupted:
            self.jobstore.requeue(job.id, self.owner)
            log.info("job %s interrupted by shutdown; requeued", job.id)
        except InputError as exc:
            self._fail(job, "The job's rows are not valid: " + _input_errors(exc))
        except LoopmlError as exc:
            self._fail(job, str(exc))
        except Exception as exc:
            log.exception("job %s failed", job.id)
            self._fail(job, f"{type(exc).__name__}: {exc}")
        else:
            self.jobstore.finish(job.id, self.owner, result, rows)
            self.completed += 1
        finally:
            with self._lock:
                self._running.discard(job.id)

    def _fail(self, job: JobRecord, message: str) -> None:
        self.failed += 1
        self.jobstore.fail(job.id, self.owner, message)

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
        self.jobstore.progress(job.id, self.owner, 0, total)
        last = [time.monotonic()]

        def on_progress(rows: int) -> None:
            if self._stop.is_set():
                raise _Interrupted
            if time.monotonic() - last[0] >= 0.2:
                self.jobstore.progress(job.id, self.owner, rows)
                last[0] = time.monotonic()

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


def _input_errors(exc: InputError, limit: int = 10) -> str:
    shown = [f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors[:limit]]
    more = len(exc.errors) - limit
    return "; ".join(shown) + (f"; and {more} more" if more > 0 else "")
