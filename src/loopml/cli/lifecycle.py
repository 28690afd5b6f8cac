"""`loopml init` and `loopml run`: the whole lifecycle from one project file."""

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
    from loopml.phases import PhaseResult


@command
def init_command(
    name: Annotated[str, typer.Argument(help="Project (and model) name.")],
    source: Annotated[
        str, typer.Option(help="Data: file, directory or builtin:NAME.")
    ] = "builtin:breast_cancer",
    target: Annotated[str, typer.Option(help="Column to predict.")] = "target",
    output: Annotated[Path, typer.Option("--output", "-o", help="Spec file to write.")] = Path(
        "loopml.yaml"
    ),
    force: Annotated[bool, typer.Option("--force", help="Overwrite an existing file.")] = False,
) -> None:
    """Write a documented loopml.yaml with every phase and its options."""
    from loopml.config import starter_spec
    from loopml.exceptions import LoopmlError

    if output.exists() and not force:
        raise LoopmlError(f"{output} already exists; pass --force to overwrite it.")
    output.write_text(starter_spec(name, source, target))
    console().print(f"Wrote [cyan]{output}[/]. Edit it, then run: loopml run {output}")


_ICONS = {
    "done": "[green]✓[/]",
    "skipped": "[dim]↷[/]",
    "failed": "[red]✗[/]",
    "blocked": "[yellow]■[/]",
}


@command
def run_command(
    spec_path: Annotated[Path, typer.Argument(help="The project spec.")] = Path("loopml.yaml"),
    resume: Annotated[
        bool, typer.Option("--resume", help="Continue after the last completed phase.")
    ] = False,
    output_dir: Annotated[
        Path | None,
        typer.Option("--output-dir", help="Where reports go (default: ./reports/NAME)."),
    ] = None,
    store: StoreOption = None,
    quiet: QuietOption = False,
    json_out: JsonOption = False,
) -> None:
    """Run the lifecycle: goal → framing → data → EDA → features → models → evaluation → deployment."""
    from loopml.config import load_spec
    from loopml.phases import GateFailure, run_lifecycle

    spec = load_spec(spec_path)
    out = console()
    show = not (quiet or json_out)
    status: Any = None

    def on_phase(name: str, result: PhaseResult | None) -> None:
        nonlocal status
        if not show:
            return
        if result is None:
            status = out.status(f"[bold]{name}[/] ...", spinner="dots")
            status.start()
            return
        if status is not None:
            status.stop()
            status = None
        took = f"{result.seconds:6.1f} s" if result.status != "skipped" else "  resumed"
        detail = result.summary if result.status in ("done", "skipped") else result.error
        out.print(f" {_ICONS[result.status]} {name:<11} {took}  {detail}")

    if show:
        out.print(f"[bold]loopml run[/] {spec.name}" + (" (resuming)" if resume else ""))
    try:
        result = run_lifecycle(
            spec,
            store=open_store(store),
            resume=resume,
            workdir=output_dir or Path("reports") / spec.name,
            on_phase=on_phase,
        )
    except GateFailure:
        if status is not None:
            status.stop()
        raise
    finally:
        if status is not None:
            status.stop()
    if json_out:
        print_json(
            {
                "name": result.name,
                "run_id": result.run_id,
                "model": result.model_ref,
                "stage": result.deployed_stage,
                "report": result.report,
                "phases": [
                    {
                        "phase": p.name,
                        "status": p.status,
                        "seconds": p.seconds,
                        "summary": p.summary,
                    }
                    for p in result.phases
                ],
            }
        )
    elif show:
        out.print(
            f"Done: [bold cyan]{result.model_ref}[/] in stage {result.deployed_stage}"
            + (f"; report [cyan]{result.report}[/]" if result.report else "")
        )


@command
def retrain_command(
    name: Annotated[str, typer.Argument(help="The stored model to retrain.")],
    data: Annotated[str, typer.Option("--data", help="New labelled data (file or directory).")],
    margin: Annotated[
        float, typer.Option(help="How much better the challenger must be (metric units).")
    ] = 0.0,
    gate: Annotated[
        list[str] | None,
        typer.Option("--gate", help="KPI gate, e.g. 'recall >= 0.8' (repeatable)."),
    ] = None,
    new_only: Annotated[
        bool, typer.Option("--new-only", help="Train on the new data alone, not old + new.")
    ] = False,
    holdout: Annotated[float, typer.Option(help="Share of new rows held out to compare.")] = 0.25,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Compare but never promote.")] = False,
    report: Annotated[
        Path | None, typer.Option("--report", "-o", help="Write the comparison as HTML.")
    ] = None,
    store: StoreOption = None,
    quiet: QuietOption = False,
    json_out: JsonOption = False,
) -> None:
    """Train a challenger on old + new data; promote it only if it beats the champion."""
    from loopml.retrain import retrain, write_report

    with (
        console(stderr=True).status("Retraining...", spinner="dots")
        if not (quiet or json_out)
        else _Quiet()
    ):
        result = retrain(
            name,
            data,
            store=open_store(store),
            include_old=not new_only,
            holdout=holdout,
            margin=margin,
            gates=gate,
            promote=not dry_run,
        )
    if report is not None:
        write_report(result, report)
    if json_out:
        print_json(result.to_dict())
        return
    if quiet:
        return
    out = console()
    verdict = "[green]promoted to production[/]" if result.promoted else "[yellow]not promoted[/]"
    out.print(f"{result.challenger} {verdict}: {result.reason}.")
    out.print(
        f"  {result.metric}: champion {result.champion} {result.champion_score:.4f}, "
        f"challenger {result.challenger_score:.4f} ({result.holdout_rows} holdout rows)"
    )


class _Quiet:
    def __enter__(self) -> None:
        return None

    def __exit__(self, *exc: object) -> None:
        return None


@command
def watch_command(
    name: Annotated[str, typer.Argument(help="The stored model to watch.")],
    every: Annotated[str, typer.Option(help="Period: 30s, 15m, 1h, 1d.")] = "1h",
    current: Annotated[
        str | None,
        typer.Option(help="Read new rows from this file/directory instead of the prediction log."),
    ] = None,
    alert: Annotated[
        list[str] | None,
        typer.Option(help="Alert rule, e.g. 'critical: latency_p95_ms > 200' (repeatable)."),
    ] = None,
    webhook: Annotated[
        list[str] | None, typer.Option(help="Send alerts to this URL as JSON (repeatable).")
    ] = None,
    alert_file: Annotated[
        Path | None, typer.Option(help="Append alerts to this JSON-lines file.")
    ] = None,
    retrain_data: Annotated[
        str | None, typer.Option(help="New labelled data used to retrain on drift.")
    ] = None,
    margin: Annotated[float, typer.Option(help="Retraining: required improvement.")] = 0.0,
    cycles: Annotated[
        int | None, typer.Option(help="Stop after this many cycles (default: run until Ctrl-C).")
    ] = None,
    store: StoreOption = None,
    quiet: QuietOption = False,
    json_out: JsonOption = False,
) -> None:
    """Monitor a model on a schedule: drift and ops figures → alerts → optional retraining."""
    from loopml.monitor.alerts import AlertRule, FileChannel, LogChannel, WebhookChannel
    from loopml.watch import CycleResult, default_rules, parse_period, watch

    parse_period(every)
    rules = [AlertRule.parse(a) for a in alert] if alert else default_rules()
    channels: list[Any] = [LogChannel()]
    channels += [WebhookChannel(url) for url in webhook or []]
    if alert_file is not None:
        channels.append(FileChannel(alert_file))
    out = console()

    def show(result: CycleResult) -> None:
        if json_out:
            print_json(result.to_dict())
        elif not quiet:
            drift = result.figures.get("drift_share")
            shown = f"drift share {drift:.0%}" if drift is not None else result.note
            alerts = "; ".join(result.alerts) or "no new alerts"
            out.print(
                f"{result.at:%Y-%m-%d %H:%M:%S} {result.model}: {result.rows} rows, {shown}; {alerts}"
            )
            if result.retrained:
                out.print(f"  retrained: {result.retrained['reason']}")

    if not (quiet or json_out):
        out.print(f"Watching [bold]{name}[/] every {every} (Ctrl-C to stop)")
    watch(
        name,
        every=every,
        store=open_store(store),
        current=current,
        rules=rules,
        channels=channels,
        retrain_data=retrain_data,
        retrain_on_drift=retrain_data is not None,
        margin=margin,
        max_cycles=cycles,
        on_cycle=show,
    )
