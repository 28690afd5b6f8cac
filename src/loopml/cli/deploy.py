"""Deployment commands: ``loopml models promote``, ``loopml export``, ``loopml edge-predict``,
and the options of ``loopml predict --workers/--scheduler``.

Registered by :mod:`loopml.cli.app`::

    models_app.command("promote")(deploy.promote_command)
    app.command("export")(deploy.export_command)
    app.command("edge-predict")(deploy.edge_predict_command)
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

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
    from loopml.gates import Gate, GateReport

#: ``loopml predict`` options for the distributed path (see serve/distributed.py).
WorkersOption = Annotated[
    int | None,
    typer.Option(
        "--workers",
        min=1,
        help="Predict on a local Dask cluster with N worker processes; writes a directory "
        "of Parquet partitions (needs loopml[dist]).",
    ),
]
SchedulerOption = Annotated[
    str | None,
    typer.Option(
        "--scheduler",
        help="Predict on an existing Dask cluster, e.g. tcp://host:8786 (workers must see "
        "the input and output paths).",
    ),
]
DEFAULT_SPEC = "loopml.yaml"


@command
def promote_command(
    name: Annotated[str, typer.Argument(help="Model name.")],
    version: Annotated[str, typer.Argument(help="Version number (3 or v3).")],
    stage: Annotated[
        str, typer.Option("--stage", help="Target stage: staging, production, archived, none.")
    ] = "production",
    gate: Annotated[
        list[str] | None,
        typer.Option(
            "--gate",
            help='KPI gate, e.g. "recall >= 0.8" or "latency_p95_ms <= 20" (repeatable).',
        ),
    ] = None,
    spec: Annotated[
        Path | None,
        typer.Option(
            "--spec",
            help="Project spec whose `kpis` are the gates (default: ./loopml.yaml if present).",
        ),
    ] = None,
    force: Annotated[
        bool,
        typer.Option("--force", help="Promote even if gates fail (the override is recorded)."),
    ] = False,
    reason: Annotated[str, typer.Option("--reason", help="Why (recorded).")] = "",
    user: Annotated[
        str | None, typer.Option("--user", help="Who (default: the login name).")
    ] = None,
    data: Annotated[
        str | None,
        typer.Option("--data", help="Rows to measure latency on (default: the test split)."),
    ] = None,
    store: StoreOption = None,
    json_out: JsonOption = False,
) -> None:
    """Move NAME@VERSION to a stage, if it passes the project's KPI gates.

    Staging and production require the gates (from --gate and the spec's `kpis`),
    checked against the version's test metrics and benchmark figures; a missing
    latency figure is measured on the test rows. Every transition is recorded.
    """
    from loopml.gates import GateError
    from loopml.registry import promote

    gates = collect_gates(gate, spec)
    try:
        result = promote(
            open_store(store),
            name,
            version,
            stage,
            gates=gates,
            force=force,
            reason=reason,
            user=user,
            data=data,
        )
    except GateError as exc:
        if exc.report is not None and not json_out:
            _print_gates(exc.report)
        elif exc.report is not None:
            print_json({"promoted": False, "error": str(exc), "gates": exc.report.to_dict()})
            raise typer.Exit(1) from None
        raise
    if json_out:
        print_json({"promoted": result.changed, **result.to_dict()})
        return
    out = console()
    if result.report is not None:
        _print_gates(result.report)
    elif result.to_stage in ("staging", "production") and result.changed:
        out.print(
            "[yellow]note:[/] no KPI gates defined (give --gate, or `kpis:` in loopml.yaml); "
            "promoted without a check."
        )
    ref = f"{result.record.name}@{result.record.version}"
    if not result.changed:
        out.print(f"{ref} is already in {result.to_stage}; nothing changed.")
        return
    if result.forced:
        out.print("[bold yellow]Forced[/] past failed gates; the override is recorded.")
    out.print(f"[bold]{ref}[/]: {result.from_stage} → [green]{result.to_stage}[/]")
    for v in result.archived:
        out.print(f"{result.record.name}@{v}: production → archived")


def collect_gates(gate: list[str] | None, spec: Path | None) -> list[Gate]:
    """Gates from ``--gate`` options plus the spec's ``kpis`` (``./loopml.yaml`` by default)."""
    from loopml.gates import gates_from_spec, parse_gates

    gates = parse_gates(list(gate or []))
    path = spec if spec is not None else Path(DEFAULT_SPEC)
    if spec is not None or path.exists():
        gates += gates_from_spec(path)
    return gates


def _print_gates(report: GateReport) -> None:
    from rich.table import Table

    table = Table(title="KPI gates", title_justify="left")
    for col in ("", "gate", "actual", "margin", "result"):
        table.add_column(col)
    for r in report.results:
        table.add_row(
            "[green]✓[/]" if r.passed else "[red]✗[/]",
            str(r.gate),
            "-" if r.actual is None else f"{r.actual:.4g}",
            "-" if r.margin is None else f"{r.margin:+.4g}",
            r.message,
        )
    console().print(table)


@command
def export_command(
    model: Annotated[str, typer.Argument(help="NAME, NAME@VERSION, NAME@stage, or a bundle dir.")],
    format: Annotated[str, typer.Option("--format", "-f", help="Export format: onnx.")] = "onnx",
    output: Annotated[
        Path | None,
        typer.Option(
            "--output",
            "-o",
            help="X.onnx: one self-describing model file; a directory: an edge package "
            "(model, schema, predict.py, README). Default: NAME-edge/.",
        ),
    ] = None,
    quantize: Annotated[
        bool, typer.Option("--quantize", help="Also write a dynamic int8 model; report its cost.")
    ] = False,
    data: Annotated[
        str | None,
        typer.Option("--data", help="Rows to check on (default: the regenerated test split)."),
    ] = None,
    tolerance: Annotated[
        float,
        typer.Option(help="Largest accepted |difference| between ONNX and the original.", min=0),
    ] = 1e-3,
    no_check: Annotated[
        bool, typer.Option("--no-check", help="Skip the comparison with the original.")
    ] = False,
    store: StoreOption = None,
    quiet: QuietOption = False,
    json_out: JsonOption = False,
) -> None:
    """Export MODEL for the edge (ONNX), checked against the original on its test rows."""
    from loopml.bundle import load_model
    from loopml.exceptions import DataError
    from loopml.serve.export import export_onnx

    if format.lower() != "onnx":
        raise DataError(f"Export format '{format}' is not supported; use --format onnx.")
    bundle = load_model(model, store=open_store(store))
    target = output if output is not None else Path(f"{bundle.name}-edge")
    err = console(stderr=True)
    from contextlib import nullcontext

    status = err.status(f"Exporting {model} to ONNX...", spinner="dots")
    with status if not (quiet or json_out) else nullcontext():
        result = export_onnx(
            bundle, target, data=data, quantize=quantize, check=not no_check, tolerance=tolerance
        )
    if json_out:
        print_json(result.to_dict())
        return
    if quiet:
        return
    out = console()
    kind = "edge package" if result.package else "ONNX model"
    out.print(
        f"{result.model} → [cyan]{result.path}[/] ({kind}, {result.size_bytes:,} bytes, "
        f"{len(result.inputs)} inputs, {result.seconds:.1f} s)"
    )
    if result.check is not None:
        c = result.check
        line = f"check: {c.summary()}"
        if c.metric and c.original_score is not None and c.onnx_score is not None:
            line += f"; {c.metric} {c.original_score:.4f} (original) vs {c.onnx_score:.4f} (ONNX)"
        out.print(line)
    q = result.quantized
    if q is not None and q.path is not None:
        cost = (
            f"; {q.metric} {q.score_before:.4f} → {q.score_after:.4f}"
            if q.metric and q.score_before is not None and q.score_after is not None
            else ""
        )
        diff = f", max |diff| vs float {q.max_abs_diff:.3g}" if q.max_abs_diff is not None else ""
        out.print(
            f"int8: [cyan]{q.path}[/] ({q.size_after:,} bytes, {q.quantized_nodes} quantised "
            f"nodes{diff}{cost})"
        )
    for note in result.notes:
        err.print(f"[yellow]note:[/] {note}")


@command
def edge_predict_command(
    model: Annotated[str, typer.Argument(help="MODEL.onnx or an edge package directory.")],
    data: Annotated[str, typer.Argument(help="CSV/TSV or JSON Lines file.")],
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="Output CSV (default: standard output).")
    ] = None,
    quantized: Annotated[
        bool, typer.Option("--quantized", help="Use the package's int8 model.")
    ] = False,
    keep: Annotated[
        list[str] | None, typer.Option("--keep", help="Input column to copy (repeatable).")
    ] = None,
    chunk_rows: Annotated[int, typer.Option(help="Rows per chunk.", min=1)] = 10_000,
    quiet: QuietOption = False,
) -> None:
    """Predict DATA with an exported model, using only onnxruntime and numpy."""
    import time

    from loopml.serve.edge import EdgeModel, predict_file

    started = time.perf_counter()
    edge = EdgeModel(model, quantized=quantized)
    n = predict_file(edge, data, output, chunk_rows=chunk_rows, keep=list(keep or []))
    if output is not None and not quiet:
        seconds = time.perf_counter() - started
        console(stderr=True).print(
            f"{n:,} predictions by {edge.name} (onnxruntime) in {seconds:.2f} s -> [cyan]{output}[/]"
        )
