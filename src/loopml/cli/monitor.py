"""`loopml monitor` (drift, data quality, model quality, operations, alerts) and
`loopml alerts list|resolve`."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from loopml.cli._common import (
    JsonOption,
    QuietOption,
    StoreOption,
    command,
    console,
    open_store,
    print_json,
)

if TYPE_CHECKING:
    import pandas as pd

    from loopml.bundle import ModelBundle
    from loopml.monitor.alerts import AlertEvent, AlertRule
    from loopml.monitor.quality import QualityReport
    from loopml.store import Store
    from loopml.store.records import PredictionLogRecord

alerts_app = typer.Typer(help="List and resolve monitoring alerts.", no_args_is_help=True)

#: Rules used when no --alert is given.
DEFAULT_RULES = ("dataset_drift >= 1", "prediction_drift >= 1")


@command
def monitor_command(
    model: Annotated[
        str, typer.Argument(help="Model: NAME, NAME@VERSION, NAME@stage, or a bundle dir.")
    ],
    current: Annotated[
        str | None,
        typer.Option("--current", "-c", help="Current data: CSV, Parquet or JSON Lines file."),
    ] = None,
    from_log: Annotated[
        bool,
        typer.Option(
            "--from-log",
            help="Use the model's prediction log (the default when --current is not given).",
        ),
    ] = False,
    reference: Annotated[
        str | None,
        typer.Option(
            "--reference", "-r", help="Reference data file (default: the model's training rows)."
        ),
    ] = None,
    since: Annotated[
        str | None,
        typer.Option("--since", help="Log period: 7d, 12h, 30m, 2w or an ISO date (default: all)."),
    ] = None,
    labels: Annotated[
        str | None,
        typer.Option("--labels", help="True outcomes, joined to the predictions by id."),
    ] = None,
    id_column: Annotated[
        str, typer.Option("--id-column", help="Column that joins labels to predictions.")
    ] = "id",
    label_column: Annotated[
        str | None,
        typer.Option(
            "--label-column", help="Outcome column of --labels (default: the model's target)."
        ),
    ] = None,
    time_column: Annotated[
        str | None,
        typer.Option(
            "--time-column", help="With --current and --labels: the column holding each row's time."
        ),
    ] = None,
    window: Annotated[
        str, typer.Option("--window", help="Time window for quality and operations: 1h, 1D, 7D...")
    ] = "1D",
    gate: Annotated[
        list[str] | None,
        typer.Option("--gate", help="KPI gate, e.g. 'recall >= 0.80' (repeatable)."),
    ] = None,
    tolerance: Annotated[
        float | None,
        typer.Option(
            "--tolerance", help="Also alert when a test metric worsens by more than this.", min=0
        ),
    ] = None,
    output: Annotated[
        Path,
        typer.Option("--output", "-o", help="HTML report (JSON written beside it), atomically."),
    ] = Path("drift.html"),
    method: Annotated[
        str,
        typer.Option(
            "--method",
            help="Drift test: auto, ks, chisquare, z, wasserstein, jensenshannon or psi.",
        ),
    ] = "auto",
    threshold: Annotated[
        float | None,
        typer.Option(
            "--threshold", help="Drift threshold for every column (default: the test's own)."
        ),
    ] = None,
    drift_share: Annotated[
        float,
        typer.Option(
            "--drift-share", help="Share of drifted columns that means dataset drift.", min=0.0
        ),
    ] = 0.5,
    alert: Annotated[
        list[str] | None,
        typer.Option(
            "--alert",
            help="Alert rule on a monitored figure, e.g. 'drift_share >= 0.3' or "
            "'critical: latency_p95_ms > 200' (repeatable; default: dataset and prediction drift).",
        ),
    ] = None,
    webhook: Annotated[
        list[str] | None,
        typer.Option("--webhook", help="POST alerts as JSON to this URL (repeatable)."),
    ] = None,
    alert_file: Annotated[
        Path | None, typer.Option("--alert-file", help="Append alerts to this JSON-lines file.")
    ] = None,
    store: StoreOption = None,
    quiet: QuietOption = False,
    json_out: JsonOption = False,
) -> None:
    """Check a model's data for drift and its quality once labels arrive; write a report.

    Compares the current data (--current FILE, or the prediction log) with the
    training data, test by test; with --labels, scores the logged predictions per
    time window against the test metrics at deployment and the --gate KPIs.
    """
    from loopml.bundle import load_model
    from loopml.data.io import load
    from loopml.exceptions import DataError
    from loopml.monitor.drift import drift_report, reference_from_bundle
    from loopml.monitor.logs import inputs_frame, parse_since
    from loopml.monitor.ops import ops_summary
    from loopml.monitor.report import monitor_dict, save_monitor

    if current is not None and from_log:
        raise DataError("Give --current FILE or --from-log, not both.")
    st = open_store(store)
    bundle = load_model(model, store=st)
    ref_frame = load(reference) if reference else reference_from_bundle(bundle)
    records: list[PredictionLogRecord] | None = None
    if current is not None:
        cur_frame = load(current)
    else:
        records = _log_records(st, bundle, parse_since(since), model, since)
        cur_frame = inputs_frame(records)
        cur_frame = cur_frame[[c for c in cur_frame.columns if not str(c).startswith("_")]]
    drift = drift_report(
        ref_frame,
        cur_frame,
        schema=bundle.schema,
        method=method,
        threshold=threshold,
        drift_share=drift_share,
        model=bundle,
    )
    ops = ops_summary(records, window=window) if records is not None else None
    quality = None
    if labels is not None:
        quality = _quality(
            bundle,
            load(labels),
            records,
            cur_frame if current else None,
            id_column,
            label_column,
            time_column,
            window,
            gate,
            tolerance,
        )
    figures: dict[str, float] = {**drift.figures()}
    if ops is not None:
        figures.update(ops.figures())
    if quality is not None:
        figures.update(quality.figures())
    events = _alert(st, bundle, figures, alert, quality, webhook, alert_file, window)
    alert_rows = [_event_dict(e) for e in events]
    written = save_monitor(output, drift=drift, quality=quality, ops=ops, alerts=alert_rows)
    if json_out:
        print_json(
            {
                "output": str(written),
                **monitor_dict(drift=drift, quality=quality, ops=ops, alerts=alert_rows),
            }
        )
        return
    if not quiet:
        _print_summary(drift, quality, ops, events, written)


def _log_records(
    st: Store, bundle: ModelBundle, since_dt: Any, model: str, since: str | None
) -> list[PredictionLogRecord]:
    from loopml.exceptions import DataError

    records = st.list_predictions(bundle.name, since=since_dt, version=bundle.version)
    if not records:
        period = f" since {since}" if since else ""
        raise DataError(
            f"No predictions of {model} (version {bundle.version}) are logged{period}. Serve the "
            "model so that requests are logged, widen --since, or give --current FILE."
        )
    return records


def _quality(
    bundle: ModelBundle,
    labels: pd.DataFrame,
    records: list[PredictionLogRecord] | None,
    current: pd.DataFrame | None,
    id_column: str,
    label_column: str | None,
    time_column: str | None,
    window: str,
    gates: list[str] | None,
    tolerance: float | None,
) -> QualityReport:
    import pandas as pd

    from loopml.exceptions import DataError
    from loopml.monitor.logs import predictions_frame
    from loopml.monitor.quality import quality_over_time

    if records is not None:
        preds = predictions_frame(records, id_column=id_column)
    else:
        if current is None or id_column not in current.columns:
            raise DataError(
                f"--labels with --current needs an id column in the current data to join on; "
                f"'{id_column}' is not one. Pass --id-column."
            )
        preds = pd.DataFrame({"id": current[id_column].to_numpy()})
        if time_column is not None:
            if time_column not in current.columns:
                raise DataError(f"--time-column '{time_column}' is not a column of --current.")
            preds["at"] = pd.to_datetime(current[time_column], utc=True).to_numpy()
        else:
            preds["at"] = pd.Timestamp.now(tz="UTC")
        preds["prediction"] = bundle.predict(current)
        proba = bundle.predict_proba(current)
        if proba is not None:
            for c in proba.columns:
                preds[f"proba_{c}"] = proba[c].to_numpy()
    target = bundle.schema.target
    if label_column is None:
        label_column = target if target and target in labels.columns else "label"
    return quality_over_time(
        preds,
        labels,
        bundle.task,
        window=window,
        baseline_metrics=bundle.metrics.get("test"),
        gates=gates,
        tolerance=tolerance,
        classes=bundle.classes,
        id_column=id_column,
        label_column=label_column,
    )


def _alert(
    st: Store,
    bundle: ModelBundle,
    figures: dict[str, float],
    alert: list[str] | None,
    quality: QualityReport | None,
    webhook: list[str] | None,
    alert_file: Path | None,
    window: str,
) -> list[AlertEvent]:
    from loopml.monitor.alerts import Alerter, AlertRule, Channel, FileChannel, WebhookChannel

    rules: list[AlertRule] = [
        AlertRule.parse(text, window=window) for text in (alert or DEFAULT_RULES)
    ]
    if quality is not None:
        rules.extend(g.to_rule(window=window) for g in quality.gates)
    channels: list[Channel] = [WebhookChannel(url) for url in webhook or []]
    if alert_file is not None:
        channels.append(FileChannel(alert_file))
    return Alerter(st, rules, channels).evaluate(figures, name=bundle.name)


def _event_dict(e: AlertEvent) -> dict[str, Any]:
    return {
        "rule": e.rule.name,
        "metric": e.rule.metric,
        "status": e.status,
        "value": e.value,
        "severity": e.rule.severity,
        "alert_id": e.alert.id if e.alert is not None else None,
        "delivered": e.delivered,
    }


def _print_summary(
    drift: Any, quality: QualityReport | None, ops: Any, events: list[AlertEvent], written: Path
) -> None:
    from rich.table import Table

    out = console()
    style = "bold red" if drift.dataset_drift else "bold green"
    out.print(f"[{style}]{drift.summary()}[/]")
    if drift.columns:
        table = Table(title_justify="left", show_edge=False)
        for col in ("column", "test", "score", "threshold", "drift"):
            table.add_column(col)
        for c in sorted(drift.columns, key=lambda c: (not c.drifted, c.column))[:15]:
            table.add_row(
                c.column,
                c.test,
                f"{c.score:.4g}",
                f"{c.threshold:g}",
                "[red]yes[/]" if c.drifted else "no",
            )
        out.print(table)
    for c in drift.prediction:
        out.print(f"prediction drift ({c.column}): {c.reason}")
    for issue in drift.quality_issues[:10]:
        out.print(f"[yellow]data quality:[/] {issue}")
    if quality is not None:
        out.print(
            f"quality: {quality.n_labelled:,} of {quality.n_predictions:,} predictions labelled, "
            f"{len(quality.windows)} window(s), {len(quality.breaches)} gate breach(es)"
        )
        for b in quality.breaches[:10]:
            out.print(f"[red]breach:[/] {b}")
        for note in quality.notes:
            out.print(f"[yellow]note:[/] {note}")
    if ops is not None and ops.windows:
        w = ops.windows[-1]
        p95 = f"{w.latency_p95_ms:.1f} ms" if w.latency_p95_ms is not None else "-"
        out.print(
            f"operations: {ops.requests:,} requests, {ops.rows:,} rows, error rate "
            f"{100 * ops.error_rate:.2f}%, latest p95 {p95}"
        )
    for e in events:
        if e.status in ("fired", "resolved"):
            colour = "red" if e.status == "fired" else "green"
            out.print(f"[{colour}]alert {e.status}:[/] {e.rule.name} (value {e.value:g})")
    out.print(f"Report: [cyan]{written}[/] (+ {written.with_suffix('.json').name})")


# -- loopml alerts --------------------------------------------------------------------------


@alerts_app.command("list")
@command
def list_alerts(
    name: Annotated[str | None, typer.Argument(help="Only this model's alerts.")] = None,
    rule: Annotated[str | None, typer.Option("--rule", help="Only this rule's alerts.")] = None,
    all_: Annotated[bool, typer.Option("--all", help="Include resolved alerts.")] = False,
    limit: Annotated[int, typer.Option("--limit", help="At most this many.", min=1)] = 50,
    store: StoreOption = None,
    json_out: JsonOption = False,
) -> None:
    """List alerts, newest first (open ones only unless --all)."""
    from dataclasses import asdict

    from rich.table import Table

    alerts = open_store(store).list_alerts(name=name, rule=rule, unresolved=not all_, limit=limit)
    if json_out:
        print_json([asdict(a) for a in alerts])
        return
    out = console()
    if not alerts:
        out.print("No open alerts." if not all_ else "No alerts recorded.")
        return
    table = Table(title="Alerts", title_justify="left")
    for col in ("id", "at", "model", "rule", "severity", "message", "resolved"):
        table.add_column(col)
    for a in alerts:
        table.add_row(
            str(a.id),
            f"{a.at:%Y-%m-%d %H:%M}",
            a.name or "-",
            a.rule,
            a.severity,
            a.message,
            f"{a.resolved_at:%Y-%m-%d %H:%M}" if a.resolved_at else "-",
        )
    out.print(table)


@alerts_app.command("resolve")
@command
def resolve_alerts(
    ids: Annotated[list[int], typer.Argument(help="Alert id(s) to mark resolved.")],
    store: StoreOption = None,
    json_out: JsonOption = False,
) -> None:
    """Mark alerts resolved (already resolved ones keep their time)."""
    from dataclasses import asdict

    st = open_store(store)
    resolved = [st.resolve_alert(i) for i in ids]
    if json_out:
        print_json([asdict(a) for a in resolved])
        return
    for a in resolved:
        console().print(f"Resolved alert {a.id} ({a.rule}).")
