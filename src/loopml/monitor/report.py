"""The monitoring page: drift verdict, per-column reasons with overlaid distributions,
prediction drift, data quality, model quality over time and operations.

Built from the reports' own binned numbers, so the page stays small whatever the
size of the data; plotly.js is inlined once and the page opens offline.
"""

from __future__ import annotations

import itertools
import json
import re
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

import plotly.graph_objects as go
from markupsafe import Markup

from loopml.report import figures
from loopml.report.html import (
    Alert,
    Card,
    Section,
    Table,
    Tone,
    badge,
    format_value,
    render_page,
    write_text_atomic,
)

if TYPE_CHECKING:
    from loopml.monitor.drift import ColumnDrift, ColumnQuality, DriftReport
    from loopml.monitor.ops import OpsReport
    from loopml.monitor.quality import QualityReport

__all__ = ["monitor_dict", "render_monitor", "save_monitor"]

REFERENCE_COLOR = "#9ca3af"
CURRENT_COLOR = figures.ACCENT
#: Metrics drawn over time when present (the rest stay in the table).
_PLOTTED_METRICS = (
    "accuracy",
    "balanced_accuracy",
    "precision",
    "recall",
    "f1",
    "roc_auc",
    "r2",
    "rmse",
    "mae",
)


def monitor_dict(
    *,
    drift: DriftReport | None = None,
    quality: QualityReport | None = None,
    ops: OpsReport | None = None,
    alerts: list[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    """Everything on the page as one JSON-safe dict."""
    out: dict[str, Any] = {}
    if drift is not None:
        out["drift"] = drift.to_dict()
    if quality is not None:
        out["quality"] = quality.to_dict()
    if ops is not None:
        out["operations"] = ops.to_dict()
    if alerts is not None:
        out["alerts"] = alerts
    return out


def save_monitor(
    path: str | Path,
    *,
    drift: DriftReport | None = None,
    quality: QualityReport | None = None,
    ops: OpsReport | None = None,
    alerts: list[dict[str, Any]] | None = None,
    title: str | None = None,
) -> Path:
    """Write the HTML page to *path* and its JSON beside it, each atomically.

    A *path* ending in ``.json`` writes only the JSON. Returns *path*.
    """
    path = Path(path)
    data = monitor_dict(drift=drift, quality=quality, ops=ops, alerts=alerts)
    text = json.dumps(data, indent=2, allow_nan=False, default=str)
    if path.suffix.lower() == ".json":
        return write_text_atomic(path, text)
    html = render_monitor(drift=drift, quality=quality, ops=ops, alerts=alerts, title=title)
    write_text_atomic(path.with_suffix(".json"), text)
    return write_text_atomic(path, html)


def render_monitor(
    *,
    drift: DriftReport | None = None,
    quality: QualityReport | None = None,
    ops: OpsReport | None = None,
    alerts: list[dict[str, Any]] | None = None,
    title: str | None = None,
) -> str:
    """One self-contained HTML page with a section per report given."""
    sections: list[Section] = []
    model = drift.model if drift is not None else None
    if drift is not None:
        sections.extend(_drift_sections(drift))
    if quality is not None:
        sections.append(_quality_section(quality))
    if ops is not None:
        sections.append(_ops_section(ops))
    if alerts:
        sections.append(_alerts_section(alerts))
    if not sections:
        sections.append(Section("Nothing to show", text="No monitoring report was given."))
    subtitle = None
    if drift is not None:
        subtitle = (
            f"Reference {drift.n_reference:,} rows · current {drift.n_current:,} rows · "
            f"computed in {drift.seconds:.2f} s"
        )
    page_title = title or (f"Monitoring: {model}" if model else "Monitoring report")
    return render_page(page_title, sections, subtitle=subtitle)


# -- drift ---------------------------------------------------------------------------------


def _drift_sections(d: DriftReport) -> list[Section]:
    anchors = {c.column: _anchor("drift", i, c.column) for i, c in enumerate(d.columns)}
    sections = [_summary_section(d), _features_section(d, anchors)]
    if d.prediction:
        sections.append(_prediction_section(d))
    sections.append(_data_quality_section(d))
    return sections


def _summary_section(d: DriftReport) -> Section:
    tone: Tone = "danger" if d.dataset_drift else "good"
    cards = [
        Card(
            "Dataset drift",
            "yes" if d.dataset_drift else "no",
            f"when >= {100 * d.drift_share:.0f}% of columns drift",
            tone,
        ),
        Card(
            "Drifted columns",
            f"{d.n_drifted} / {len(d.columns)}",
            f"{100 * d.share_drifted:.0f}% of the columns tested",
            "warning" if d.n_drifted else "neutral",
        ),
        Card("Reference rows", d.n_reference),
        Card("Current rows", d.n_current),
    ]
    if d.prediction:
        cards.append(
            Card(
                "Prediction drift",
                "yes" if d.prediction_drift else "no",
                ", ".join(c.column for c in d.prediction if c.drifted) or None,
                "danger" if d.prediction_drift else "good",
            )
        )
    issues = d.quality_issues
    cards.append(Card("Data-quality issues", len(issues), tone="warning" if issues else "neutral"))
    alerts = [Alert(d.summary(), "verdict", tone)]
    alerts.extend(Alert(n, "note", "info") for n in d.notes)
    return Section("Drift summary", cards=cards, alerts=alerts, id="summary")


def _features_section(d: DriftReport, anchors: dict[str, str]) -> Section:
    ordered = sorted(d.columns, key=lambda c: (not c.drifted, c.column))
    rows = [
        [
            Markup('<a href="#{}">{}</a>').format(anchors[c.column], c.column),
            c.test_name,
            c.score,
            c.threshold,
            badge("drift", "danger") if c.drifted else badge("ok", "good"),
            c.reason,
        ]
        for c in ordered
    ]
    table = Table(["column", "test", "score", "threshold", "verdict", "reason"], rows)
    panels = [_column_panel(c, anchors[c.column]) for c in ordered]
    text = (
        "Each column is tested with the test that suits its type and the sample size "
        "(p-value tests drift below their threshold; distances at or above it). Open a "
        "column for its distributions."
    )
    if d.skipped:
        text += " Not tested: " + "; ".join(f"{k} ({v})" for k, v in list(d.skipped.items())[:20])
        text += "." if len(d.skipped) <= 20 else f"; and {len(d.skipped) - 20} more."
    return Section(
        "Feature drift",
        text=text,
        tables=[table],
        children=panels,
        filter=len(panels) > 12,
        stack=True,
        id="features",
    )


def _prediction_section(d: DriftReport) -> Section:
    anchors = {c.column: _anchor("pred", i, c.column) for i, c in enumerate(d.prediction)}
    panels = [_column_panel(c, anchors[c.column], open_=True) for c in d.prediction]
    alerts = [Alert(c.reason, c.column, "danger" if c.drifted else "good") for c in d.prediction]
    return Section(
        "Prediction drift",
        text="The model's outputs on the reference data against its outputs on the current data.",
        alerts=alerts,
        children=panels,
        id="prediction-drift",
    )


def _column_panel(c: ColumnDrift, anchor: str, open_: bool = False) -> Section:
    verdict = badge("drift", "danger") if c.drifted else badge("ok", "good")
    return Section(
        c.column,
        id=anchor,
        collapsible=True,
        open=open_,
        badges=[verdict, badge(c.kind, "info")],
        summary=f"{c.test_name}: {format_value(c.score)} (threshold {c.threshold:g})",
        text=c.reason,
        tables=[_summary_table(c)],
        figures=[overlay_figure(c)],
    )


def _summary_table(c: ColumnDrift) -> Table:
    ref, cur = c.summary["reference"], c.summary["current"]
    rows: list[list[Any]] = [["rows tested", c.n_reference, c.n_current]]
    if c.kind == "numeric":
        for key in ("mean", "std", "min", "q25", "median", "q75", "max"):
            rows.append([key, ref.get(key), cur.get(key)])
    else:
        rows.append(["distinct", ref.get("distinct"), cur.get("distinct")])
        for item in ref.get("top", [])[:5]:
            cur_share = next(
                (t["share"] for t in cur.get("top", []) if t["value"] == item["value"]), None
            )
            rows.append(
                [
                    f"'{item['value']}'",
                    f"{100 * item['share']:.1f}%",
                    "—" if cur_share is None else f"{100 * cur_share:.1f}%",
                ]
            )
    return Table(["", "reference", "current"], rows, align=["left", "right", "right"])


@cache
def _template_json() -> dict[str, Any]:
    spec: dict[str, Any] = figures.template().to_plotly_json()
    return spec


def overlay_figure(c: ColumnDrift) -> dict[str, Any]:
    """Reference and current distributions of one column, overlaid as shares of rows.

    A plain ``{"data", "layout"}`` spec: building a hundred ``go.Figure`` objects
    (validated on every update) takes seconds; this takes milliseconds.
    """
    dist = c.distribution
    ref_total = max(sum(dist.reference) + sum(dist.outside.get("reference", [])), 1)
    cur_total = max(sum(dist.current) + sum(dist.outside.get("current", [])), 1)
    if dist.other is not None:
        ref_total += dist.other[0]
        cur_total += dist.other[1]
    ref_share = [100 * v / ref_total for v in dist.reference]
    cur_share = [100 * v / cur_total for v in dist.current]
    series = (("reference", ref_share, REFERENCE_COLOR), ("current", cur_share, CURRENT_COLOR))
    axis_title = c.column
    xaxis: dict[str, Any] = {}
    if dist.edges is not None:
        e = dist.edges
        x = [(a + b) / 2 for a, b in itertools.pairwise(e)]
        width = [b - a for a, b in itertools.pairwise(e)]
        data = [
            {
                "type": "bar",
                "x": x,
                "y": share,
                "width": width,
                "name": name,
                "marker": {"color": color, "line": {"width": 0}},
                "opacity": 0.6,
                "hovertemplate": f"{name}: %{{y:.2f}}% of rows at %{{x:.4g}}<extra></extra>",
            }
            for name, share, color in series
        ]
        layout: dict[str, Any] = {"barmode": "overlay", "bargap": 0.0}
        out_ref = sum(dist.outside.get("reference", [0, 0]))
        out_cur = sum(dist.outside.get("current", [0, 0]))
        if out_ref or out_cur:
            axis_title += f" (outside the plot: reference {out_ref:,}, current {out_cur:,} rows)"
    else:
        cats = list(dist.categories or [])
        if dist.other is not None:
            cats.append("(other)")
            ref_share.append(100 * dist.other[0] / ref_total)
            cur_share.append(100 * dist.other[1] / cur_total)
        data = [
            {
                "type": "bar",
                "x": cats,
                "y": share,
                "name": name,
                "marker": {"color": color},
                "hovertemplate": f"{name}: %{{x}} %{{y:.2f}}% of rows<extra></extra>",
            }
            for name, share, color in series
        ]
        layout = {"barmode": "group", "bargap": 0.2}
        xaxis = {"type": "category", "automargin": True}
    layout.update(
        {
            "template": _template_json(),
            "height": 300,
            "title": {"text": c.column},
            "xaxis": {**xaxis, "title": {"text": axis_title}},
            "yaxis": {"title": {"text": "% of rows"}},
            "legend": {"orientation": "h", "y": -0.28, "yanchor": "top", "x": 0, "xanchor": "left"},
            "margin": {"b": 80},
        }
    )
    return {"data": data, "layout": layout}


def _data_quality_section(d: DriftReport) -> Section:
    rows = [_quality_row(q) for q in d.quality]
    table = Table(
        [
            "column",
            "kind",
            "missing (reference)",
            "missing (current)",
            "new categories",
            "rows with new categories",
            "outside training range",
            "not numbers",
        ],
        rows,
    )
    alerts = [Alert(issue, "data quality", "warning") for issue in d.quality_issues]
    if d.missing_columns:
        alerts.insert(
            0,
            Alert(
                "Missing from the current data: " + ", ".join(d.missing_columns),
                "missing columns",
                "danger",
            ),
        )
    if not alerts:
        alerts.append(Alert("No data-quality issue found.", "data quality", "good"))
    return Section(
        "Data quality",
        text="Missing values, categories not seen in training and values outside the training "
        "range (the schema's minimum and maximum, else the reference's).",
        alerts=alerts,
        tables=[table],
        id="data-quality",
    )


def _quality_row(q: ColumnQuality) -> list[Any]:
    missing_cur = f"{100 * q.missing_current:.1f}%"
    return [
        q.column,
        q.kind,
        f"{100 * q.missing_reference:.1f}%",
        badge(missing_cur, "warning") if q.missing_surge else missing_cur,
        ", ".join(list(q.new_categories)[:5]) if q.new_categories else "",
        q.new_category_rows if q.kind == "categorical" else None,
        f"{100 * q.out_of_range_share:.2f}%" if q.range is not None else None,
        q.invalid_current if q.kind == "numeric" else None,
    ]


# -- quality over time ---------------------------------------------------------------------


def _quality_section(q: QualityReport) -> Section:
    metric_names = [m for m in _PLOTTED_METRICS if m in q.overall]
    labelled = [w for w in q.windows if w.n_labelled]
    figs: list[Any] = []
    if labelled and metric_names:
        fig = go.Figure(layout={"template": figures.template(), "height": 340})
        x = [w.start for w in labelled]
        for i, m in enumerate(metric_names):
            color = figures.COLORWAY[i % len(figures.COLORWAY)]
            fig.add_scatter(
                x=x,
                y=[w.metrics.get(m) for w in labelled],
                mode="lines+markers",
                name=m,
                line={"color": color},
            )
            base = q.baseline.get(m)
            if base is not None:
                fig.add_scatter(
                    x=[x[0], x[-1]],
                    y=[base, base],
                    mode="lines",
                    name=f"{m} at deployment",
                    line={"color": color, "dash": "dash", "width": 1},
                    hoverinfo="skip",
                )
        fig.update_layout(title={"text": f"Metrics per {q.window} window"}, xaxis_title="window")
        figs.append(fig)
    cols = ["window", "predictions", "labelled", *metric_names, "breaches"]
    rows = [
        [
            w.start[:16].replace("T", " "),
            w.n_predictions,
            w.n_labelled,
            *[w.metrics.get(m) for m in metric_names],
            badge(f"{len(w.breaches)}", "danger")
            if w.breaches
            else ("" if w.gated else "not gated"),
        ]
        for w in q.windows
    ]
    cards = [
        Card("Labelled predictions", q.n_labelled, f"of {q.n_predictions:,} logged"),
        Card("Gates", len(q.gates), ", ".join(str(g) for g in q.gates) or "none given"),
        Card(
            "Breaches",
            len(q.breaches),
            tone="danger" if q.breaches else "good",
        ),
    ]
    alerts = [Alert(b, "KPI gate breached", "danger") for b in q.breaches]
    alerts.extend(Alert(n, "note", "info") for n in q.notes)
    baseline = [[k, v, q.overall.get(k)] for k, v in q.baseline.items()]
    tables: list[Any] = [Table(cols, rows)]
    if baseline:
        tables.append(Table(["metric", "at deployment (test)", "since (all windows)"], baseline))
    return Section(
        "Model quality over time",
        cards=cards,
        alerts=alerts,
        figures=figs,
        tables=tables,
        stack=True,
        id="quality",
    )


# -- operations ----------------------------------------------------------------------------


def _ops_section(o: OpsReport) -> Section:
    latest = o.windows[-1] if o.windows else None
    cards = [
        Card("Requests", o.requests, f"{o.first or ''} to {o.last or ''}"),
        Card("Rows predicted", o.rows),
        Card(
            "Error rate",
            f"{100 * o.error_rate:.2f}%",
            None if o.errors_logged else "no failures logged",
            "danger" if o.error_rate > 0 else "neutral",
        ),
    ]
    if latest is not None and latest.latency_p95_ms is not None:
        cards.append(Card("Latency p95 (latest window)", f"{latest.latency_p95_ms:.1f} ms"))
    figs: list[Any] = []
    if o.windows:
        x = [w.start for w in o.windows]
        lat = go.Figure(layout={"template": figures.template(), "height": 300})
        for key, label in (
            ("latency_p50_ms", "p50"),
            ("latency_p95_ms", "p95"),
            ("latency_p99_ms", "p99"),
        ):
            lat.add_scatter(
                x=x, y=[getattr(w, key) for w in o.windows], mode="lines+markers", name=label
            )
        lat.update_layout(title={"text": "Latency (ms)"}, yaxis_title="ms")
        thr = go.Figure(layout={"template": figures.template(), "height": 300})
        thr.add_bar(
            x=x,
            y=[w.rows_per_s for w in o.windows],
            name="rows/s",
            marker={"color": figures.ACCENT},
        )
        thr.update_layout(title={"text": f"Throughput (rows/s, per {o.window})"})
        figs = [lat, thr]
    rows = [
        [
            w.start[:16].replace("T", " "),
            w.requests,
            w.rows,
            w.rows_per_s,
            w.latency_p50_ms,
            w.latency_p95_ms,
            w.latency_p99_ms,
            f"{100 * w.error_rate:.2f}%",
        ]
        for w in o.windows
    ]
    table = Table(
        ["window", "requests", "rows", "rows/s", "p50 ms", "p95 ms", "p99 ms", "errors"], rows
    )
    return Section(
        "Operations",
        cards=cards,
        alerts=[Alert(n, "note", "info") for n in o.notes],
        figures=figs,
        figure_columns=2,
        tables=[table],
        stack=True,
        id="operations",
    )


def _alerts_section(alerts: list[dict[str, Any]]) -> Section:
    tone = {"fired": "danger", "ongoing": "warning", "resolved": "good"}
    rows = [
        [
            a.get("rule"),
            badge(str(a.get("status")), tone.get(str(a.get("status")), "neutral")),  # type: ignore[arg-type]
            a.get("value"),
            a.get("severity"),
        ]
        for a in alerts
    ]
    return Section(
        "Alerts",
        tables=[Table(["rule", "status", "value", "severity"], rows)],
        id="alerts",
    )


def _anchor(prefix: str, i: int, name: str) -> str:
    return f"{prefix}-{i}-{re.sub(r'[^a-z0-9]+', '-', name.lower()).strip('-')}"
