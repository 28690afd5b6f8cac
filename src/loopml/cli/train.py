"""`loopml train`: fit and compare candidate models, store the best as a new version."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any

import typer

from loopml.cli._common import (
    JsonOption,
    QuietOption,
    StoreOption,
    command,
    console,
    fmt_score,
    open_store,
    print_json,
)

if TYPE_CHECKING:
    from rich.console import Console

    from loopml.learn.multilabel import MultilabelResult
    from loopml.learn.semi import SemiSupervisedResult
    from loopml.learn.supervised import TrainResult

    AnyResult = TrainResult | MultilabelResult | SemiSupervisedResult


@command
def train_command(
    source: Annotated[str, typer.Argument(help="Training data: file, directory, or builtin:NAME.")],
    target: Annotated[
        str | None, typer.Option("--target", "-t", help="Column to predict (builtin: 'target').")
    ] = None,
    name: Annotated[
        str | None, typer.Option("--name", "-n", help="Model name (default: the file's stem).")
    ] = None,
    task: Annotated[
        str | None,
        typer.Option(help="Override the task: binary, multiclass, regression, multilabel."),
    ] = None,
    models: Annotated[str | None, typer.Option(help="Comma-separated candidate models.")] = None,
    metric: Annotated[
        str | None, typer.Option(help="Selection metric, e.g. f1, recall, rmse.")
    ] = None,
    split: Annotated[str, typer.Option(help="train,valid,test fractions.")] = "0.7,0.15,0.15",
    seed: Annotated[int, typer.Option(help="Random seed (split and models).")] = 0,
    time_column: Annotated[
        str | None, typer.Option(help="Split in time order by this column.")
    ] = None,
    group_column: Annotated[
        str | None, typer.Option(help="Keep rows of a group in one split.")
    ] = None,
    time_budget: Annotated[
        float | None,
        typer.Option(help="Seconds for the whole run (AutoML search, refit, evaluation).", min=1),
    ] = None,
    trials: Annotated[
        int | None, typer.Option(help="Number of candidates to try (a trial budget).", min=1)
    ] = None,
    tune: Annotated[
        str | None, typer.Option(help="Tune the best families: grid, random or bayes.")
    ] = None,
    ensemble: Annotated[
        bool | None,
        typer.Option(
            "--ensemble/--no-ensemble",
            help="Try an ensemble of the top models (default: on with a budget).",
        ),
    ] = None,
    jobs: Annotated[
        int, typer.Option("--jobs", "-j", help="Parallel workers (-1: all cores).")
    ] = 1,
    semi_supervised: Annotated[
        bool,
        typer.Option(
            "--semi-supervised",
            help="Use rows with an empty target as unlabelled data (self-training); "
            "the result says whether it helped.",
        ),
    ] = False,
    delimiter: Annotated[
        str, typer.Option(help="Multi-label: separator of the labels in one target column.")
    ] = "|",
    threshold: Annotated[
        str | None,
        typer.Option(
            help="Binary: decision threshold stored with the model — a number, 'max f1', "
            "or a KPI such as 'recall >= 0.9' (chosen on validation predictions).",
        ),
    ] = None,
    store: StoreOption = None,
    quiet: QuietOption = False,
    json_out: JsonOption = False,
) -> None:
    """Train models on SOURCE, compare them on validation data, and store the best."""
    from loopml.learn.supervised import train

    out = console(stderr=True)
    show = not (quiet or json_out)
    events = _Progress(out) if show else None
    targets: str | list[str] | None = target
    if target and "," in target and (task == "multilabel" or target not in _header(source)):
        targets = [t.strip() for t in target.split(",") if t.strip()]
    result = train(
        source,
        targets,
        name=name,
        task=task,
        models=[m.strip() for m in models.split(",") if m.strip()] if models else None,
        metric=metric,
        split_sizes=split,
        seed=seed,
        time_column=time_column,
        group_column=group_column,
        store=open_store(store),
        on_event=events,
        time_budget=time_budget,
        n_trials=trials,
        tune=tune,
        ensemble=ensemble,
        n_jobs=jobs,
        semi_supervised=semi_supervised,
        delimiter=delimiter,
        threshold=threshold,
    )
    if events is not None:
        events.stop()
    if json_out:
        print_json(_as_json(result))
    elif not quiet:
        _print_result(console(), result)


def _header(source: str) -> list[str]:
    """Column names of a delimited file (to tell 'a,b' targets from a column named 'a,b')."""
    from pathlib import Path

    path = Path(source)
    if not path.is_file() or path.suffix.lower() not in (".csv", ".tsv", ".txt"):
        return []
    from loopml.data.io import sniff_csv

    return sniff_csv(path)[2]


class _Progress:
    """Renders training events: a status line, then a bar with time left and the best so far."""

    def __init__(self, out: Console) -> None:
        self.out = out
        self.status = out.status("Loading data...", spinner="dots")
        self.status.start()
        self.progress: Any = None
        self.task: Any = None

    def _bar(self, budget: float | None, n_trials: int | None) -> None:
        from rich.progress import BarColumn, Progress, TextColumn, TimeRemainingColumn

        self.status.stop()
        total = budget if budget else n_trials
        self.progress = Progress(
            TextColumn("[bold]Searching"),
            BarColumn(),
            TextColumn("{task.fields[trials]} trials"),
            TimeRemainingColumn() if budget else TextColumn(""),
            TextColumn("best {task.fields[best]}"),
            console=self.out,
            transient=True,
        )
        self.progress.start()
        self.task = self.progress.add_task("search", total=total, trials=0, best="-")

    def __call__(self, kind: str, payload: dict[str, Any]) -> None:
        if kind == "phase":
            phase = payload.get("phase")
            text = {
                "load": f"Loading {payload.get('source')}...",
                "schema": "Inferring the schema...",
                "split": "Splitting train / validation / test...",
                "refit": f"Refitting {payload.get('model')} on train + validation...",
                "evaluate": "Evaluating on the test split...",
            }.get(str(phase))
            if text and self.progress is None:
                self.status.update(text)
        elif kind == "trial":
            self._trial(payload)

    def _trial(self, payload: dict[str, Any]) -> None:
        trial = payload["trial"]
        metric = payload["metric"]
        budget, n_trials = payload.get("budget"), payload.get("n_trials")
        if self.progress is None and (budget or n_trials):
            self._bar(budget, n_trials)
        line = (
            f"  [green]✓[/] {trial.model:<14} valid {metric.name} {fmt_score(trial.valid_score)}"
            f"  ({trial.fit_time:.2f} s)"
            if trial.status == "complete"
            else f"  [red]✗[/] {trial.model:<14} {trial.status}: {trial.error or ''}"
        )
        if self.progress is not None:
            best = payload.get("best")
            done = payload.get("elapsed", 0.0) if budget else (trial.number + 1)
            self.progress.update(
                self.task,
                completed=min(done, budget or n_trials or done),
                trials=trial.number + 1,
                best=f"{best.model} {fmt_score(best.valid_score)}" if best is not None else "-",
            )
            if trial.status != "complete" or trial.number < 5:
                self.progress.console.print(line)
        else:
            self.out.print(line)

    def stop(self) -> None:
        if self.progress is not None:
            self.progress.stop()
        self.status.stop()


def _print_result(out: Console, result: AnyResult) -> None:
    from rich.table import Table

    split = result.split.get("rows", {})
    out.print(
        f"[bold]{result.ref}[/] — {result.task} on '{result.schema.target}', "
        f"split {split.get('train')}/{split.get('valid')}/{split.get('test')} "
        f"({result.split.get('strategy')}), {result.duration_s:.1f} s"
    )
    for note in result.notes:
        out.print(f"[yellow]note:[/] {note}")
    board = result.leaderboard
    table = Table(title=f"Leaderboard (validation {result.metric})", title_justify="left")
    for col in ("rank", "model", "valid", "train", "fit s", "predict ms/1k"):
        table.add_column(col, justify="left" if col == "model" else "right")
    for row in board.itertuples():
        valid = fmt_score(row.valid_score)
        std = getattr(row, "valid_std", None)
        if isinstance(std, float) and std == std:
            valid += f" ± {std:.3f}"
        status = str(getattr(row, "status", "complete"))
        model_name = str(row.model) + ("" if status == "complete" else f" [dim]({status})[/]")
        table.add_row(
            str(row.rank),
            model_name,
            valid,
            fmt_score(row.train_score),
            f"{row.fit_time_s:.2f}",
            fmt_score(row.predict_ms_per_1k, 2),
        )
    out.print(table)
    metrics = Table(title="Test metrics (held-out split)", title_justify="left")
    metrics.add_column("metric")
    metrics.add_column("value", justify="right")
    for key, value in result.metrics.items():
        metrics.add_row(key, fmt_score(value))
    out.print(metrics)
    out.print(
        f"Stored as [bold cyan]{result.ref}[/] (run {result.run_id}). "
        f"Predict with: loopml predict {result.name} data.csv -o predictions.parquet"
    )


def _as_json(result: AnyResult) -> dict[str, Any]:
    return {
        "name": result.name,
        "version": result.version,
        "ref": result.ref,
        "run_id": result.run_id,
        "task": str(result.task),
        "metric": result.metric,
        "best": {"model": result.best.model, "params": result.best.params},
        "leaderboard": result.leaderboard.to_dict(orient="records"),
        "valid_metrics": result.valid_metrics,
        "test_metrics": result.metrics,
        "split": result.split,
        "notes": result.notes,
        "duration_s": round(result.duration_s, 3),
    }
