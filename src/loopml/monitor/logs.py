"""Turn an endpoint's prediction log (:meth:`Store.list_predictions`) into frames.

A log record is one request: ``inputs`` is a list of row dicts (or one dict),
``outputs`` one output per row. An output is a label or value, or a dict with
``"prediction"`` and optionally ``"proba"`` (``{class: probability}``) or
``"proba_<class>"`` keys. A request that failed is logged with outputs
``{"error": "..."}``; its rows have no prediction.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import pandas as pd

    from loopml.store.records import PredictionLogRecord

__all__ = ["inputs_frame", "is_error", "parse_since", "predictions_frame"]


def is_error(record: PredictionLogRecord) -> bool:
    """True when the request was logged as failed (outputs ``{"error": ...}``)."""
    out = record.outputs
    return isinstance(out, Mapping) and out.get("error") is not None


def _rows(record: PredictionLogRecord) -> list[Mapping[str, Any]]:
    inputs = record.inputs
    if isinstance(inputs, Mapping):
        return [inputs]
    if isinstance(inputs, list):
        return [r if isinstance(r, Mapping) else {} for r in inputs]
    return []


def _outputs(record: PredictionLogRecord, n: int) -> list[Any]:
    out = record.outputs
    if is_error(record):
        return [None] * n
    if isinstance(out, list):
        return out if len(out) == n else (out + [None] * n)[:n]
    return [out] * n if n == 1 else [None] * n


def inputs_frame(records: Iterable[PredictionLogRecord]) -> pd.DataFrame:
    """One row per logged input row (failed requests included), oldest first.

    Columns: the input fields, plus ``_at`` (request time), ``_request_id`` and
    ``_version``.
    """
    import pandas as pd

    rows: list[dict[str, Any]] = []
    for rec in sorted(records, key=lambda r: (r.at, r.id)):
        for row in _rows(rec):
            rows.append(
                {**row, "_at": rec.at, "_request_id": rec.request_id, "_version": rec.version}
            )
    return pd.DataFrame(rows)


def predictions_frame(
    records: Iterable[PredictionLogRecord], *, id_column: str = "id"
) -> pd.DataFrame:
    """One row per logged prediction: ``id``, ``at``, ``version``, ``prediction``, ``proba_*``.

    The id is the input field *id_column* when present, else the request id (with
    ``:<row>`` appended for multi-row requests). Rows of failed requests are left out.
    """
    import pandas as pd

    out: list[dict[str, Any]] = []
    for rec in sorted(records, key=lambda r: (r.at, r.id)):
        if is_error(rec):
            continue
        rows = _rows(rec)
        n = max(len(rows), 1)
        for i, value in enumerate(_outputs(rec, n)):
            row = rows[i] if i < len(rows) else {}
            if id_column in row:
                rid: Any = row[id_column]
            elif rec.request_id is not None:
                rid = rec.request_id if n == 1 else f"{rec.request_id}:{i}"
            else:
                rid = f"{rec.id}:{i}"
            entry: dict[str, Any] = {"id": rid, "at": rec.at, "version": rec.version}
            entry.update(_parse_output(value))
            out.append(entry)
    frame = pd.DataFrame(out, columns=None if out else ["id", "at", "version", "prediction"])
    return frame


def _parse_output(value: Any) -> dict[str, Any]:
    if not isinstance(value, Mapping):
        return {"prediction": value}
    entry: dict[str, Any] = {"prediction": value.get("prediction")}
    proba = value.get("proba")
    if isinstance(proba, Mapping):
        entry.update({f"proba_{k}": v for k, v in proba.items()})
    entry.update({k: v for k, v in value.items() if str(k).startswith("proba_")})
    return entry


def parse_since(text: str | None, *, now: datetime | None = None) -> datetime | None:
    """``"7d"``, ``"12h"``, ``"30m"``, ``"2w"`` before *now* (UTC), or an ISO date/time.

    Examples
    --------
    >>> from datetime import UTC, datetime
    >>> parse_since("2d", now=datetime(2024, 1, 10, tzinfo=UTC)).isoformat()
    '2024-01-08T00:00:00+00:00'
    """
    from datetime import UTC, timedelta

    from loopml.exceptions import DataError

    if text is None or text == "":
        return None
    now = now or datetime.now(UTC)
    units = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days", "w": "weeks"}
    t = text.strip().lower()
    if t[-1:] in units and t[:-1].replace(".", "", 1).isdigit():
        return now - timedelta(**{units[t[-1]]: float(t[:-1])})
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        raise DataError(
            f"--since must be a duration like 7d, 12h, 30m, 2w or an ISO date like 2024-05-01; "
            f"got {text!r}."
        ) from None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)
