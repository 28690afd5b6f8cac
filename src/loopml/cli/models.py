"""`loopml models ...` and `loopml runs ...`: what the store holds."""

from __future__ import annotations

from typing import Annotated

import typer

from loopml.cli._common import (
    JsonOption,
    StoreOption,
    command,
    console,
    fmt_score,
    open_store,
    print_json,
)

models_app = typer.Typer(
    help="List and inspect stored models and their versions.", no_args_is_help=True
)
runs_app = typer.Typer(help="List and inspect recorded runs.", no_args_is_help=True)


@models_app.command("list")
@command
def list_models(store: StoreOption = None, json_out: JsonOption = False) -> None:
    """List every model in the store with its latest and production versions."""
    from dataclasses import asdict

    from rich.table import Table

    summaries = open_store(store).list_models()
    if json_out:
        print_json([asdict(s) for s in summaries])
        return
    out = console()
    if not summaries:
        out.print("The store holds no models yet. Train one with: loopml train DATA --target COL")
        return
    table = Table(title="Models", title_justify="left")
    for col in ("name", "task", "versions", "latest", "production", "updated"):
        table.add_column(col)
    for s in summaries:
        table.add_row(
            s.name,
            str(s.task),
            str(s.n_versions),
            str(s.latest_version),
            str(s.production_version or "-"),
            f"{s.updated_at:%Y-%m-%d %H:%M}",
        )
    out.print(table)


@models_app.command("show")
@command
def show_model(
    ref: Annotated[str, typer.Argument(help="NAME (all versions), NAME@VERSION or NAME@stage.")],
    store: StoreOption = None,
    json_out: JsonOption = False,
) -> None:
    """Show a model's versions, or one version's metrics and card."""
    from dataclasses import asdict

    from rich.markdown import Markdown
    from rich.table import Table

    from loopml.bundle import ModelBundle

    st = open_store(store)
    out = console()
    if "@" not in ref:
        versions = st.list_versions(ref) if ref else []
        if not versions:
            st.resolve(ref)  # raises with suggestions
        if json_out:
            print_json([asdict(v) for v in versions])
            return
        table = Table(title=f"Versions of {ref}", title_justify="left")
        for col in ("version", "stage", "task", "key metrics", "created", "run"):
            table.add_column(col)
        for v in versions:
            keys = list(v.metrics.items())[:3]
            table.add_row(
                str(v.version),
                str(v.stage),
                v.task,
                ", ".join(f"{k} {fmt_score(x, 3)}" for k, x in keys),
                f"{v.created_at:%Y-%m-%d %H:%M}",
                str(v.run_id),
            )
        out.print(table)
        return
    record = st.resolve(ref)
    if json_out:
        print_json(asdict(record))
        return
    bundle = ModelBundle.load(record.path, expected_sha256=record.sha256)
    out.print(f"[bold]{record.ref}[/] stage {record.stage} — {record.path}")
    out.print(Markdown(bundle.card))


@runs_app.command("list")
@command
def list_runs(
    project: Annotated[str | None, typer.Argument(help="Only runs of this project/model.")] = None,
    limit: Annotated[int, typer.Option(help="How many runs to show.")] = 20,
    store: StoreOption = None,
    json_out: JsonOption = False,
) -> None:
    """List recent runs, newest first."""
    from dataclasses import asdict

    from rich.table import Table

    runs = open_store(store).list_runs(project, limit=limit)
    if json_out:
        print_json([asdict(r) for r in runs])
        return
    table = Table(title="Runs", title_justify="left")
    for col in ("id", "project", "kind", "status", "started", "duration s", "error"):
        table.add_column(col)
    styles = {"finished": "green", "failed": "red", "running": "yellow"}
    for r in runs:
        table.add_row(
            str(r.id),
            r.project,
            r.kind,
            f"[{styles.get(r.status, 'white')}]{r.status}[/]",
            f"{r.started_at:%Y-%m-%d %H:%M:%S}",
            f"{r.duration_s:.1f}" if r.duration_s is not None else "-",
            (r.error or "")[:60],
        )
    console().print(table)


@runs_app.command("show")
@command
def show_run(
    run_id: Annotated[int, typer.Argument(help="Run id (see `loopml runs list`).")],
    store: StoreOption = None,
) -> None:
    """Show one run's parameters, metrics and information as JSON."""
    from dataclasses import asdict

    st = open_store(store)
    run = st.get_run(run_id)
    data = asdict(run)
    data["trials"] = [asdict(t) for t in st.list_trials(run_id)]
    print_json(data)
