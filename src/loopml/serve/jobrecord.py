"""The job record: the ``loopml_serve_jobs`` table and :class:`JobRecord`, one row of it.

The table has its own SQLAlchemy ``MetaData`` so that it is created on demand next
to the store's tables without changing the store's schema; :mod:`loopml.serve.jobstore`
reads and writes it. A job moves ``queued → running → succeeded | failed``, or is
cancelled on the way (``cancelling`` while its runner stops, then ``cancelled``).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import JSON, Column, Float, Integer, MetaData, String, Table, Text

__all__ = [
    "FINISHED",
    "JOB_STATUSES",
    "JobRecord",
    "jobs_table",
    "metadata",
    "record_from_row",
]

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


def record_from_row(row: Any) -> JobRecord:
    """The :class:`JobRecord` of a row of :data:`jobs_table`."""
    data = dict(row._mapping)
    data["options"] = dict(data.get("options") or {})
    return JobRecord(**data)
