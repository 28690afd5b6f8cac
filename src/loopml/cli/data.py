"""`loopml profile`: exploratory data analysis as an HTML + JSON report."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from loopml.cli._common import JsonOption, QuietOption, command, console, print_json


@command
def profile_command(
    source: Annotated[
        str, typer.Argument(help="CSV/Parquet/JSONL file, directory, or builtin:NAME.")
    ],
    output: Annotated[
        Path, typer.Option("--output", "-o", help="HTML report path; JSON is written beside it.")
    ] = Path("eda.html"),
    target: Annotated[
        str | None, typer.Option("--target", "-t", help="Target column (class balance, leakage).")
    ] = None,
    quiet: QuietOption = False,
    json_out: JsonOption = False,
) -> None:
    """Profile a dataset: statistics, distributions, correlations, target balance, warnings."""
    from loopml.data.profile import profile

    out = console()
    if target is None and source.startswith("builtin:"):
        target = "target"
    with out.status(f"Profiling {source}...", spinner="dots") if not quiet else _null():
        prof = profile(source, target)
        html_path, json_path = prof.save(output)
    if json_out:
        print_json({"html": str(html_path), "json": str(json_path), **prof.to_dict()})
        return
    if quiet:
        return
    out.print(
        f"[bold]{prof.name}[/]: {prof.n_rows:,} rows x {prof.n_columns} columns, "
        f"{prof.duplicates:,} duplicate rows"
    )
    for w in prof.warnings[:15]:
        out.print(f"  [yellow]![/] {w['message']}")
    if len(prof.warnings) > 15:
        out.print(f"  ... and {len(prof.warnings) - 15} more warnings in the report")
    out.print(f"Report: [cyan]{html_path}[/] (data: {json_path})")


class _null:
    def __enter__(self) -> None:
        return None

    def __exit__(self, *exc: object) -> None:
        return None
