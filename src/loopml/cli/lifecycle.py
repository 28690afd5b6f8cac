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
