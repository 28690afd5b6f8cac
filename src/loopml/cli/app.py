"""The Typer application and its entry point."""

from __future__ import annotations

from typing import Annotated

import typer

from loopml.cli import (
    data,
    deploy,
    evaluate,
    lifecycle,
    models,
    monitor,
    predict,
    serve,
    tasks,
    train,
    tune,
)

app = typer.Typer(
    name="loopml",
    help="loopml: the machine-learning lifecycle on your machine — profile, train, "
    "compare, store, and predict.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode="rich",
)
_DATA, _DEPLOY, _WATCH, _LIFE = "Data and models", "Deployment", "Monitoring", "Lifecycle"
app.command("profile", rich_help_panel=_DATA)(data.profile_command)
app.command("train", rich_help_panel=_DATA)(train.train_command)
app.command("tune", rich_help_panel=_DATA)(tune.tune_command)
app.command("cluster", rich_help_panel=_DATA)(tasks.cluster_command)
app.command("anomalies", rich_help_panel=_DATA)(tasks.anomalies_command)
app.command("rules", rich_help_panel=_DATA)(tasks.rules_command)
app.add_typer(models.models_app, name="models", rich_help_panel=_DATA)
app.add_typer(models.runs_app, name="runs", rich_help_panel=_DATA)
_EVAL = "Evaluation"
app.command("evaluate", rich_help_panel=_EVAL)(evaluate.evaluate_command)
app.command("report", rich_help_panel=_EVAL)(evaluate.report_command)
app.command("evaluate-text", rich_help_panel=_EVAL)(evaluate.evaluate_text_command)
app.command("perplexity", rich_help_panel=_EVAL)(evaluate.perplexity_command)
app.command("predict", rich_help_panel=_DEPLOY)(predict.predict_command)
app.command("serve", rich_help_panel=_DEPLOY)(serve.serve_command)
models.models_app.command("promote")(deploy.promote_command)
app.command("export", rich_help_panel=_DEPLOY)(deploy.export_command)
app.command("edge-predict", rich_help_panel=_DEPLOY)(deploy.edge_predict_command)
app.command("monitor", rich_help_panel=_WATCH)(monitor.monitor_command)
app.add_typer(monitor.alerts_app, name="alerts", rich_help_panel=_WATCH)
app.command("retrain", rich_help_panel=_WATCH)(lifecycle.retrain_command)
app.command("watch", rich_help_panel=_WATCH)(lifecycle.watch_command)
app.command("init", rich_help_panel=_LIFE)(lifecycle.init_command)
app.command("run", rich_help_panel=_LIFE)(lifecycle.run_command)


def _version_callback(value: bool) -> None:
    if value:
        from loopml import __version__

        typer.echo(f"loopml {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: Annotated[
        bool,
        typer.Option(
            "--version", callback=_version_callback, is_eager=True, help="Show the version."
        ),
    ] = False,
) -> None:
    """loopml: the machine-learning lifecycle on your machine."""


def main(argv: list[str] | None = None) -> None:
    """Run the CLI (``argv`` defaults to ``sys.argv[1:]``)."""
    app(args=argv, prog_name="loopml")
