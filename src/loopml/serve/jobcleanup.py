"""Deleting jobs' files, and the retention sweep of :class:`~loopml.serve.jobs.JobRunner`.

A job's own files live in its folder, ``<jobs dir>/<id>/``: its upload and its
default output. Deleting a job removes that folder; an output the client placed
elsewhere (``{"path": ..., "output": ...}``) is the client's file and is left
alone, as is a ``path`` job's input. Finished jobs older than the retention are
deleted, record and folder, by :func:`delete_expired`.
"""

from __future__ import annotations

import re
import shutil
import time
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from loopml.serve.jobrecord import JobRecord
    from loopml.serve.jobstore import JobStore

__all__ = ["delete_expired", "job_folder", "remove_job_files", "remove_partials"]

_DAY = 86_400.0
_JOB_ID = re.compile(r"[0-9a-f]{32}")
#: Records deleted per transaction by a sweep.
_BATCH = 500


def job_folder(jobs_dir: Path, record: JobRecord) -> Path | None:
    """The job's own folder, if it has one (never a path a client chose)."""
    return jobs_dir / record.id if _JOB_ID.fullmatch(record.id) else None


def remove_job_files(jobs_dir: Path, record: JobRecord) -> None:
    """Remove the job's own folder (its upload and default output)."""
    folder = job_folder(jobs_dir, record)
    if folder is not None:
        shutil.rmtree(folder, ignore_errors=True)


def remove_partials(jobs_dir: Path, record: JobRecord) -> None:
    """Temporary output a server that died while writing it left in the job folder."""
    folder = job_folder(jobs_dir, record)
    output = Path(record.output_path)
    if folder is not None and output.parent == folder:
        for tmp in folder.glob(f".{output.name}.*.tmp"):
            tmp.unlink(missing_ok=True)


def delete_expired(jobstore: JobStore, jobs_dir: Path, retention_days: float) -> list[str]:
    """Delete the finished jobs older than *retention_days* (0: none); the ids deleted.

    Also removes the folders older than that whose record is gone (deleted while
    their files could not be).
    """
    if retention_days <= 0:
        return []
    cutoff = time.time() - retention_days * _DAY
    removed: list[str] = []
    while True:
        batch = jobstore.expired(cutoff, limit=_BATCH)
        jobstore.delete_finished([r.id for r in batch])
        for record in batch:
            remove_job_files(jobs_dir, record)
        removed += [r.id for r in batch]
        if len(batch) < _BATCH:
            break
    if jobs_dir.is_dir():
        old = [
            p.name
            for p in jobs_dir.iterdir()
            if _JOB_ID.fullmatch(p.name) and p.stat().st_mtime < cutoff
        ]
        for name in set(old) - jobstore.known(old):
            shutil.rmtree(jobs_dir / name, ignore_errors=True)
    return removed
