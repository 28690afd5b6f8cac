"""Pieces shared by the task reports: the page frame and subtitle, notes, the run-time card,
the data and model-card sections."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from loopml.report.html import Alert, Card, Section, Table, render_page

__all__ = [
    "columns_section",
    "metrics_table",
    "model_card_section",
    "note_alerts",
    "run_card",
    "split_rows",
    "subtitle",
    "task_page",
]


def subtitle(result: Any, kind: str) -> str:
    trained = str(result.model.info.get("trained_at", ""))[:16].replace("T", " ")
    return f"Run {result.run_id} · {result.source or 'data'} · {kind} · {trained} UTC"


def note_alerts(notes: Sequence[str], title: str = "note") -> list[Alert]:
    return [Alert(n, title, "info") for n in dict.fromkeys(notes)]


def run_card(result: Any) -> Card:
    return Card("Run time", f"{result.duration_s:.1f} s", f"run {result.run_id}")


def model_card_section(result: Any) -> Section | None:
    from loopml.report.run import markdown_html

    card = result.model.card
    if not card:
        return None
    return Section("Model card", body=markdown_html(card), id="model-card")


def columns_section(result: Any, extra: Sequence[Section] = ()) -> Section:
    schema = result.schema
    rows = [
        [c.name, str(c.role), c.dtype, c.missing_fraction, c.n_unique, c.note or ""]
        for c in schema.columns
    ]
    used = len(schema.features)
    table = Table(
        ["column", "role", "dtype", "missing", "distinct", "note"],
        rows,
        caption=f"{used} of {len(rows)} column(s) used as features",
    )
    section = Section("Data", text=f"Source: {result.source or 'a DataFrame'}", tables=[table])
    section.children = list(extra)
    return section


def task_page(title: str, result: Any, kind: str, sections: list[Section | None]) -> str:
    return render_page(
        title, [s for s in sections if s is not None], subtitle=subtitle(result, kind)
    )


def metrics_table(metrics: Mapping[str, Any], caption: str) -> Table:
    return Table(["metric", "value"], [[k, v] for k, v in metrics.items()], caption)


def split_rows(rows: Mapping[str, Any]) -> str:
    return " / ".join(f"{k} {int(v):,}" for k, v in rows.items())
