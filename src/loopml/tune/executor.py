"""Run candidate evaluations, in this process or in worker processes that can be stopped.

Why worker processes: a time budget is a promise, and a fit in progress (an SVM,
a forest, a boosting round on a wide matrix) cannot be interrupted from inside
Python. Each worker is a separate process that receives the data once and then
evaluates one candidate at a time; when a candidate runs past its deadline the
worker is killed (``SIGKILL``) and replaced, so the search never waits for it.

Workers start from a ``forkserver`` (not ``fork``): the parent may already have
used OpenMP (LightGBM, XGBoost, HistGradientBoosting) or hold other threads (a
Rich progress bar), and forking such a process can deadlock the child. The fork
server is started once per Python process with numpy, pandas and scikit-learn
preloaded (about 1 s, in the background while data loads); each worker then
starts in milliseconds (LightGBM and XGBoost load in a worker on first use). Every worker limits BLAS and
OpenMP to one thread and fits with ``n_jobs=1``, so ``n_workers`` workers use
``n_workers`` cores and never oversubscribe them.

Workers do not re-import the caller's ``__main__`` script (as ``spawn`` and
``forkserver`` children otherwise do), so a script without an
``if __name__ == "__main__":`` guard still works; the price is that a custom
estimator must be defined in an importable module, not in the script itself.

Progress reports (fold scores, boosting rounds, MLP epochs) travel from worker
to parent, which answers "go on" or "prune" — so Optuna's pruner decides in the
parent, with the study's storage, exactly as in a single process.

:class:`InlineExecutor` runs the same evaluations in this process, without
deadlines; it is used when there is no time budget and one job at a time.
"""

from __future__ import annotations

import os
import threading
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from loopml.learn.candidates import EvalPlan, Pruned, TrialResult, evaluate_candidate

if TYPE_CHECKING:
    from multiprocessing.connection import Connection
    from multiprocessing.process import BaseProcess

    from loopml.evaluate.scoring import Metric
    from loopml.models.catalog import ModelSpec

__all__ = ["Executor", "InlineExecutor", "Job", "ProcessExecutor", "make_executor"]

#: report(step, value) -> True to prune.
ShouldPrune = Callable[[int, float], bool]

#: While workers boot, "cheap" candidates on at most this many cells run in this process.
INLINE_MAX_CELLS = 200_000
#: ... and only with at least this many seconds left before their deadline.
INLINE_MIN_LEFT_S = 1.5

_PRELOAD = [
    "numpy",
    "pandas",
    "scipy.sparse",
    "sklearn.ensemble",
    "sklearn.linear_model",
    "sklearn.svm",
    "sklearn.neighbors",
    "sklearn.neural_network",
    "sklearn.calibration",
    "loopml.learn.candidates",
    "loopml.models.catalog",
    "loopml.models._staged",
    "loopml.tune.executor",
]


@dataclass
class Job:
    """One candidate to evaluate."""

    number: int
    spec: ModelSpec
    params: dict[str, Any]
    metric: Metric
    seed: int = 0
    phase: str = ""
    deadline: float | None = None  # time.monotonic() value
    should_prune: ShouldPrune | None = field(default=None, repr=False)
    context: Any = field(default=None, repr=False)  # the caller's bookkeeping (e.g. the trial)
    started: float = 0.0


class Executor:
    """Runs :class:`Job` s; :meth:`wait` hands back finished ones as ``(job, result)``."""

    slots: int = 1

    def set_plan(self, plan: EvalPlan) -> None:
        raise NotImplementedError

    def free(self) -> int:
        """How many more jobs can be submitted now."""
        raise NotImplementedError

    def running(self) -> int:
        raise NotImplementedError

    def submit(self, job: Job) -> None:
        raise NotImplementedError

    def wait(self, timeout: float | None = None) -> list[tuple[Job, TrialResult]]:
        raise NotImplementedError

    def cancel_all(self) -> list[tuple[Job, TrialResult]]:
        """Stop every running job (recorded as timed out)."""
        return []

    def close(self) -> None:
        pass

    def __enter__(self) -> Executor:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class InlineExecutor(Executor):
    """Evaluates jobs one at a time in this process (no deadlines: a fit runs to its end)."""

    def __init__(self, n_jobs: int = 1) -> None:
        self.slots = 1
        self.n_jobs = n_jobs
        self._plan: EvalPlan | None = None
        self._queue: list[Job] = []

    def set_plan(self, plan: EvalPlan) -> None:
        self._plan = plan

    def free(self) -> int:
        return 0 if self._queue else 1

    def running(self) -> int:
        return len(self._queue)

    def submit(self, job: Job) -> None:
        self._queue.append(job)

    def wait(self, timeout: float | None = None) -> list[tuple[Job, TrialResult]]:
        if not self._queue:
            return []
        if self._plan is None:
            raise RuntimeError("set_plan() must be called before jobs run")
        from threadpoolctl import threadpool_limits

        job = self._queue.pop(0)
        job.started = time.monotonic()
        report = _reporter(job.should_prune) if job.should_prune else None
        with threadpool_limits(limits=self.n_jobs):
            result = evaluate_candidate(
                self._plan,
                job.spec,
                job.params,
                job.metric,
                number=job.number,
                seed=job.seed,
                n_jobs=self.n_jobs,
                report=report,
                phase=job.phase,
            )
        return [(job, result)]


def _reporter(should_prune: ShouldPrune) -> Callable[[int, float], None]:
    def report(step: int, value: float) -> None:
        if should_prune(step, value):
            raise Pruned()

    return report


# -- worker processes ------------------------------------------------------------------------


def _worker_main(conn: Connection) -> None:
    """A worker: receive the plan, then evaluate jobs until told to stop."""
    from threadpoolctl import threadpool_limits

    os.environ["OMP_NUM_THREADS"] = "1"
    threadpool_limits(limits=1)
    warnings.simplefilter("ignore")
    plan: EvalPlan | None = None
    while True:
        try:
            msg = conn.recv()
        except (EOFError, OSError):
            return
        kind = msg[0]
        if kind == "stop":
            return
        if kind == "plan":
            plan = msg[1]
            continue
        if kind != "job" or plan is None:
            continue
        _, number, spec, params, metric, seed, phase, wants_reports = msg

        def report(step: int, value: float) -> None:
            conn.send(("report", step, value))
            if conn.recv()[0] == "prune":
                raise Pruned()

        result = evaluate_candidate(
            plan,
            spec,
            params,
            metric,
            number=number,
            seed=seed,
            n_jobs=1,
            report=report if wants_reports else None,
            phase=phase,
        )
        try:
            conn.send(("result", result))
        except Exception as exc:  # e.g. an unpicklable custom estimator's output
            result.predictions = None
            result.status, result.error = "failed", f"{type(exc).__name__}: {exc}"
            conn.send(("result", result))


_local = threading.local()


def _install_main_guard() -> None:
    """Make worker processes started by this module skip importing ``__main__``."""
    import multiprocessing.spawn as spawn

    if getattr(spawn.get_preparation_data, "_loopml", False):
        return
    original = spawn.get_preparation_data

    def get_preparation_data(name: str) -> dict[str, Any]:
        data: dict[str, Any] = original(name)
        if getattr(_local, "skip_main", False):
            data.pop("init_main_from_path", None)
            data.pop("init_main_from_name", None)
        return data

    get_preparation_data._loopml = True  # type: ignore[attr-defined]
    spawn.get_preparation_data = get_preparation_data


class _Worker:
    def __init__(self, process: BaseProcess, conn: Connection) -> None:
        self.process = process
        self.conn = conn
        self.job: Job | None = None
        self.has_plan = False

    def kill(self) -> None:
        try:
            self.process.kill()
            self.process.join(timeout=5)
        except (OSError, ValueError, AssertionError):
            pass
        self.conn.close()


class ProcessExecutor(Executor):
    """Evaluates up to *n_workers* jobs at once in worker processes; enforces deadlines.

    Workers are started in a background thread as soon as the executor is made,
    so the fork server's start-up overlaps with loading and splitting the data.
    :meth:`submit` never blocks: a job waits in a queue until a worker is free,
    and its deadline counts from submission, so a slow start cannot break a budget.
    While the workers boot, "cheap" candidates on small data run in this process.
    """

    def __init__(self, n_workers: int = 1, *, on_idle: Callable[[], None] | None = None) -> None:
        import multiprocessing as mp

        self.slots = max(1, int(n_workers))
        if "forkserver" in mp.get_all_start_methods():
            self._ctx: Any = mp.get_context("forkserver")
            self._ctx.set_forkserver_preload(_PRELOAD)
        else:  # Windows: no fork server; each worker imports what it needs
            self._ctx = mp.get_context("spawn")
        self._workers: list[_Worker] = []
        self._plan: EvalPlan | None = None
        self._lock = threading.Lock()
        self._inline: list[tuple[Job, TrialResult]] = []
        self._pending: list[Job] = []
        self._on_idle = on_idle
        self._closed = False
        self._starter = threading.Thread(target=self._start_all, daemon=True)
        self._starter.start()

    def _start_one(self) -> _Worker:
        parent, child = self._ctx.Pipe(duplex=True)
        proc = self._ctx.Process(target=_worker_main, args=(child,), daemon=True)
        _install_main_guard()
        _local.skip_main = True
        try:
            proc.start()
        finally:
            _local.skip_main = False
        child.close()
        return _Worker(proc, parent)

    def _start_all(self) -> None:
        for _ in range(self.slots):
            if self._closed:
                return
            worker = self._start_one()
            with self._lock:
                if self._closed:  # closed while the fork server booted: never used
                    worker.kill()
                    return
                self._workers.append(worker)

    def _booting(self) -> bool:
        with self._lock:
            return not self._workers and self._starter.is_alive()

    def _live(self) -> list[_Worker]:
        with self._lock:
            return list(self._workers)

    def _inline_ok(self, job: Job) -> bool:
        """While the workers boot, cheap candidates on small data run here instead."""
        plan = self._plan
        if plan is None or job.spec.cost != "cheap":
            return False
        if job.deadline is not None and job.deadline - time.monotonic() < INLINE_MIN_LEFT_S:
            return False  # too close to the end to run something that cannot be stopped
        return plan.X.shape[0] * max(plan.X.shape[1], 1) <= INLINE_MAX_CELLS

    def set_plan(self, plan: EvalPlan) -> None:
        self._plan = plan  # sent to each worker with its first job

    def _send_plan(self, worker: _Worker) -> None:
        if self._plan is not None and not worker.has_plan:
            worker.conn.send(("plan", self._plan))
            worker.has_plan = True

    def free(self) -> int:
        if self._booting() and not self._pending:
            return 0 if self._inline else 1
        return max(0, self.slots - self.running())

    def running(self) -> int:
        busy = sum(1 for w in self._live() if w.job is not None)
        return busy + len(self._inline) + len(self._pending)

    def submit(self, job: Job) -> None:
        job.started = time.monotonic()
        if self._booting() and not self._pending and self._inline_ok(job):
            assert self._plan is not None
            inline = InlineExecutor(1)
            inline.set_plan(self._plan)
            inline.submit(job)
            self._inline.extend(inline.wait())
            return
        self._pending.append(job)
        self._assign()

    def _assign(self) -> None:
        """Hand queued jobs to idle workers (starting replacements for killed ones)."""
        while self._pending:
            workers = self._live()
            idle = [w for w in workers if w.job is None]
            if not idle:
                if len(workers) >= self.slots or self._starter.is_alive():
                    return
                worker = self._start_one()
                with self._lock:
                    self._workers.append(worker)
                idle = [worker]
            worker, job = idle[0], self._pending.pop(0)
            self._send_plan(worker)
            worker.conn.send(
                (
                    "job",
                    job.number,
                    job.spec,
                    job.params,
                    job.metric,
                    job.seed,
                    job.phase,
                    job.should_prune is not None,
                )
            )
            worker.job = job

    def wait(self, timeout: float | None = None) -> list[tuple[Job, TrialResult]]:
        """Block until some job finishes, a deadline passes, or *timeout* seconds elapse."""
        from multiprocessing.connection import wait as wait_conns

        if self._inline:
            inline, self._inline = self._inline, []
            return inline
        limit = time.monotonic() + timeout if timeout is not None else None
        done: list[tuple[Job, TrialResult]] = []
        while not done:
            self._assign()
            busy = [w for w in self._live() if w.job is not None]
            if not busy and not self._pending:
                break
            if busy and self._on_idle is not None:
                idle, self._on_idle = self._on_idle, None
                idle()  # the parent has nothing else to do while workers compute
            now = time.monotonic()
            jobs = [w.job for w in busy if w.job is not None] + self._pending
            ends = [j.deadline for j in jobs if j.deadline is not None]
            if limit is not None:
                ends.append(limit)
            wait_for = max(0.0, min(ends) - now) if ends else None
            if self._pending:  # poll: a worker may come up meanwhile
                wait_for = 0.05 if wait_for is None else min(wait_for, 0.05)
            ready = wait_conns([w.conn for w in busy], timeout=wait_for) if busy else []
            if not busy and wait_for:
                time.sleep(wait_for)
            for w in busy:
                if w.conn in ready and w.job is not None:
                    finished = self._handle(w)
                    if finished is not None:
                        done.append(finished)
            now = time.monotonic()
            for w in busy:
                job = w.job
                if job is not None and job.deadline is not None and now >= job.deadline:
                    done.append((job, self._timeout(w, job)))
            for job in [j for j in self._pending if j.deadline is not None and now >= j.deadline]:
                self._pending.remove(job)
                done.append((job, _timed_out(job, "no worker was free before its deadline")))
            if limit is not None and time.monotonic() >= limit:
                break
        return done

    def _handle(self, w: _Worker) -> tuple[Job, TrialResult] | None:
        job = w.job
        assert job is not None
        try:
            msg = w.conn.recv()
        except (EOFError, OSError) as exc:
            return job, self._crashed(w, job, f"the worker process died ({type(exc).__name__})")
        if msg[0] == "report":
            prune = bool(job.should_prune and job.should_prune(msg[1], msg[2]))
            try:
                w.conn.send(("prune",) if prune else ("go",))
            except (OSError, BrokenPipeError):
                return job, self._crashed(w, job, "the worker process died")
            return None
        if msg[0] == "result":
            w.job = None
            return job, msg[1]
        return None

    def _timeout(self, w: _Worker, job: Job) -> TrialResult:
        self._replace(w)
        return _timed_out(job, "time limit")

    def _crashed(self, w: _Worker, job: Job, why: str) -> TrialResult:
        elapsed = time.monotonic() - job.started
        code = w.process.exitcode
        self._replace(w)
        detail = f"{why}; exit code {code}" if code is not None else why
        return TrialResult(
            job.number,
            job.spec.name,
            dict(job.params),
            None,
            None,
            elapsed,
            None,
            status="failed",
            error=f"WorkerError: {detail} (out of memory?)",
            phase=job.phase,
            elapsed=elapsed,
        )

    def _replace(self, w: _Worker) -> None:
        w.job = None
        w.kill()
        with self._lock:
            self._workers.remove(w)

    def cancel_all(self) -> list[tuple[Job, TrialResult]]:
        out = [(job, _timed_out(job, "the search ended")) for job in self._pending]
        self._pending = []
        for w in self._live():
            if w.job is not None:
                job = w.job
                out.append((job, self._timeout(w, job)))
        return out

    def close(self) -> None:
        # The starter thread may still wait for the fork server: do not wait for it;
        # it discards any worker it starts after this.
        with self._lock:
            self._closed = True
        self._pending = []
        workers = self._live()
        for w in workers:
            if w.job is None:
                try:
                    w.conn.send(("stop",))
                except (OSError, BrokenPipeError):
                    pass
        deadline = time.monotonic() + 1.0
        for w in workers:
            w.process.join(timeout=max(0.0, deadline - time.monotonic()))
            if w.process.is_alive():
                w.kill()
            else:
                w.conn.close()
        with self._lock:
            self._workers = []


def _timed_out(job: Job, why: str) -> TrialResult:
    elapsed = time.monotonic() - job.started if job.started else 0.0
    return TrialResult(
        job.number,
        job.spec.name,
        dict(job.params),
        None,
        None,
        elapsed,
        None,
        status="timeout",
        error=f"stopped after {elapsed:.1f} s ({why})",
        phase=job.phase,
        elapsed=elapsed,
    )


def make_executor(
    n_jobs: int, *, processes: bool, on_idle: Callable[[], None] | None = None
) -> Executor:
    """Worker processes when a deadline must be kept or jobs run in parallel, else inline."""
    n = effective_jobs(n_jobs)
    if processes or n > 1:
        return ProcessExecutor(n, on_idle=on_idle)
    return InlineExecutor(1)


def effective_jobs(n_jobs: int | None) -> int:
    """``n_jobs`` as a count of cores: -1 (or None) means all of them."""
    cores = os.cpu_count() or 1
    if n_jobs is None or n_jobs < 0:
        return max(1, cores + 1 + (n_jobs or -1))
    return max(1, min(int(n_jobs), cores * 4))
