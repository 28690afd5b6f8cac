"""`loopml predict`: batch predictions over a file, streamed in chunks."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

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
from loopml.cli.deploy import SchedulerOption, WorkersOption


@command
def predict_command(
    model: Annotated[
        str, typer.Argument(help="Model: NAME, NAME@VERSION, NAME@stage, or a bundle dir.")
    ],
    source: Annotated[str, typer.Argument(help="Input file or directory of partitions.")],
    output: Annotated[
        Path, typer.Option("--output", "-o", help="Output .parquet or .csv (written atomically).")
    ] = Path("predictions.parquet"),
    chunk_rows: Annotated[
        int, typer.Option(help="Rows per chunk (memory bound).", min=1)
    ] = 200_000,
    keep: Annotated[
        list[str] | None,
        typer.Option("--keep", help="Input column to copy to the output (repeatable)."),
    ] = None,
    no_proba: Annotated[bool, typer.Option("--no-proba", help="Omit class probabilities.")] = False,
    workers: WorkersOption = None,
    scheduler: SchedulerOption = None,
    store: StoreOption = None,
    quiet: QuietOption = False,
    json_out: JsonOption = False,
) -> None:
    """Predict every row of SOURCE with MODEL and write OUTPUT."""
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

    from loopml.bundle import load_model
    from loopml.serve.batch import predict_file

    out = console(stderr=True)
    bundle = load_model(model, store=open_store(store))
    total = _count_rows(source)
    progress = Progress(
        TextColumn("[bold]Predicting"),
        BarColumn(),
        TextColumn(
            "{task.completed:,}/{task.total:,} rows" if total else "{task.completed:,} rows"
        ),
        TimeElapsedColumn(),
        console=out,
        disable=quiet or json_out,
        transient=True,
    )
    with progress:
        task = progress.add_task("predict", total=total)
        if workers is not None or scheduler is not None:
            from loopml.serve.distributed import predict_distributed

            summary = predict_distributed(
                bundle,
                source,
                output,
                workers=workers,
                scheduler=scheduler,
                chunk_rows=chunk_rows,
                keep=keep,
                proba=not no_proba,
                on_progress=lambda n: progress.update(task, completed=n),
            )
        else:
            summary = predict_file(
                bundle,
                source,
                output,
                chunk_rows=chunk_rows,
                keep=keep,
                proba=not no_proba,
                on_progress=lambda n: progress.update(task, completed=n),
            )
    if json_out:
        print_json(summary.to_dict())
        return
    if quiet:
        return
    for note in summary.notes:
        out.print(f"[yellow]note:[/] {note}")
    console().print(
        f"{summary.rows:,} predictions by [bold]{summary.model}[/] in {summary.seconds:.2f} s "
        f"({summary.rows_per_second:,.0f} rows/s) -> [cyan]{summary.output}[/]"
    )


def _count_rows(source: str) -> int | None:
    """Row count for the progress bar when it is cheap to know (Parquet metadata)."""
    path = Path(source)
    if path.is_file() and path.suffix.lower() in (".parquet", ".pq"):
        import pyarrow.parquet as pq

        try:
            return int(pq.ParquetFile(path).metadata.num_rows)
        except Exception:
            return None
    return None
