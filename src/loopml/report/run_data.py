"""The Data section of the run report: how the rows were split, and what the training rows hold."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from loopml.report import figures
from loopml.report.html import Alert, Card, Section, Table

if TYPE_CHECKING:
    from loopml.evaluate.runs import RunData
    from loopml.store import RunRecord

__all__ = ["MAX_SUMMARY_COLUMNS", "data_section"]

#: Columns listed in the data summary table.
MAX_SUMMARY_COLUMNS = 40


def data_section(run: RunRecord, rd: RunData | None, data_error: str | None) -> Section:
    """Split sizes, features and notes; with the training rows, their column summary,
    the target's distribution and the correlation matrix."""
    info = run.info
    split = info.get("split") or {}
    rows = split.get("rows") or {}
    total = sum(int(v) for v in rows.values()) or 1
    cards = [
        Card(name.capitalize(), int(n), f"{int(n) / total:.0%} of rows", "info")
        for name, n in rows.items()
    ]
    cards.append(Card("Split", split.get("strategy", "—"), f"seed {split.get('seed', '?')}"))
    schema = info.get("schema") or {}
    if schema.get("n_features") is not None:
        roles = ", ".join(f"{n} {r}" for r, n in (schema.get("roles") or {}).items())
        cards.append(Card("Features", schema["n_features"], roles or None))
    notes = list(info.get("notes") or []) + list(split.get("notes") or [])
    alerts = [Alert(n, "note", "info") for n in dict.fromkeys(notes)]
    section = Section(
        "Data", text=f"Source: {run.params.get('source', '?')}", cards=cards, alerts=alerts
    )
    if rd is None:
        section.alerts.append(
            Alert(data_error or "The training data could not be reloaded.", "data", "warning")
        )
        return section
    section.alerts.extend(Alert(n, "data", "warning") for n in rd.notes)
    section.children = _eda(rd)
    return section


def _eda(rd: RunData) -> list[Section]:
    from loopml.data.profile import profile

    train = rd.split.train
    schema = rd.bundle.schema if rd.bundle is not None else None
    p = profile(train, rd.target, schema=schema, name="training rows")
    rows = []
    for c in p.columns[:MAX_SUMMARY_COLUMNS]:
        rows.append(
            [
                c["name"],
                c["role"],
                c.get("missing_pct"),
                c.get("unique"),
                c.get("mean"),
                c.get("std"),
                c.get("min"),
                c.get("median"),
                c.get("max"),
            ]
        )
    caption = f"Training rows ({p.n_rows:,})"
    if len(p.columns) > MAX_SUMMARY_COLUMNS:
        caption += f"; first {MAX_SUMMARY_COLUMNS} of {len(p.columns)} columns"
    stats = Table(
        ["column", "role", "missing %", "unique", "mean", "std", "min", "median", "max"],
        rows,
        caption,
    )
    out = [
        Section(
            "Column summary",
            tables=[stats],
            collapsible=True,
            summary=f"{len(p.columns)} columns · {len(p.warnings)} warning(s)",
        )
    ]
    figs = []
    target_fig = _target_figure(p)
    if target_fig is not None:
        figs.append(target_fig)
    pearson = p.correlations.get("pearson")
    if pearson:
        spearman = p.correlations.get("spearman") or pearson
        figs.append(
            figures.heatmap(
                {"Pearson": pearson["values"], "Spearman": spearman["values"]},
                pearson["columns"],
                title="Correlation matrix (numeric columns)",
            )
        )
    if figs:
        warnings = [
            Alert(
                w["message"],
                w["kind"].replace("_", " "),
                "danger" if w["severity"] == "danger" else "warning",
            )
            for w in p.warnings
            if w["severity"] in ("danger", "warning")
        ][:8]
        out.append(Section("Target and correlations", alerts=warnings, figures=figs, stack=True))
    return out


def _target_figure(p: Any) -> Any:
    t = p.target
    if not t:
        return None
    if t.get("classes"):
        classes = t["classes"]
        return figures.bar(
            [c["value"] for c in classes],
            [c["count"] for c in classes],
            title=f"Target '{t['column']}' (training rows)",
            y_title="rows",
        )
    col = p.column(t["column"])
    hist = col.get("histogram")
    if hist and hist.get("kind") == "bins":
        return figures.histogram(
            hist["edges"],
            hist["counts"],
            title=f"Target '{t['column']}' (training rows)",
            x_title=t["column"],
        )
    return None
