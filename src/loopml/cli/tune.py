"""`loopml tune NAME@VERSION`: retune a stored model's family; register it if it is better."""

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

    from loopml.tune.model import TuneResult


@command
def tune_command(
    ref: Annotated[str, typer.Argument(help="Stored model to retune, e.g. churn@3.")],
    search: Annotated[
        str, typer.Option(help="grid (every combination), random, or bayes (TPE).")
    ] = "bayes",
    param: Annotated[
        list[str] | None,
        typer.Option(
            "--param",
            "-p",
            help="Search space entry: C=0.1,1,10 (values), alpha=0.001:10:log (float range), "
            "max_depth=2:12 (integer range). Repeat for several; default: the model's space.",
        ),
    ] = None,
    trials: Annotated[
        int | None, typer.Option("--trials", help="Trials to run (default: the grid, or 20).")
    ] = None,
    time_budget: Annotated[
        float | None, typer.Option("--time-budget", help="Seconds for the whole job.")
    ] = None,
    data: Annotated[
        str | None, typer.Option(help="Data to tune on (default: the version's training data).")
    ] = None,
    metric: Annotated[
        str | None, typer.Option(help="Selection metric (default: the version's).")
    ] = None,
    resume: Annotated[
        bool, typer.Option("--resume", help="Continue (or join) the stored study.")
    ] = False,
    study: Annotated[
        str | None, typer.Option(help="Study name (default: loopml-tune:NAME@VERSION).")
    ] = None,
    model: Annotated[
        str | None, typer.Option(help="Family to tune when the version is an ensemble.")
    ] = None,
    seed: Annotated[int, typer.Option(help="Random seed (folds, models, sampler).")] = 0,
    jobs: Annotated[int, typer.Option("--jobs", "-j", help="Cores to use (-1: all).")] = 1,
    store: StoreOption = None,
    quiet: QuietOption = False,
    json_out: JsonOption = False,
) -> None:
    """Tune the model family of REF on its training data; store a new version if it wins."""
    from loopml.tune.model import tune_model

    show = not (quiet or json_out)
    progress = _Progress(console(stderr=True), trials, time_budget) if show else None
    try:
        result = tune_model(
            ref,
            search=search,
            params=param or None,
            n_trials=trials,
            time_budget=time_budget,
            data=data,
            store=open_store(store),
            metric=metric,
            resume=resume,
            study_name=study,
            model=model,
            seed=seed,
            n_jobs=jobs,
            on_event=progress,
        )
    finally:
        if progress is not None:
            progress.stop()
    if json_out:
        print_json(_as_json(result))
    elif not quiet:
        _print_result(console(), result)


class _Progress:
    """A progress bar (time left or trials done) with the best score so far."""

    def __init__(self, out: Console, trials: int | None, budget: float | None) -> None:
        from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

        self.out = out
        self.budget = budget
        self.progress = Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            TextColumn("{task.fields[info]}"),
            TimeElapsedColumn(),
            console=out,
            transient=True,
        )
        self.task = self.progress.add_task("Loading...", total=budget or trials, info="")
        self.progress.start()
        self.done = 0

    def __call__(self, kind: str, payload: dict[str, Any]) -> None:
        if kind == "phase":
            self.progress.update(self.task, description=_phase_text(payload))
        elif kind == "trial":
            trial, metric, best = payload["trial"], payload["metric"], payload.get("best")
            self.done += 1
            completed = payload.get("elapsed") if self.budget else self.done
            left = ""
            if self.budget:
                left = f"{max(self.budget - float(payload.get('elapsed') or 0.0), 0):.0f} s left, "
            info = f"{left}best {metric.name} {fmt_score(best.valid_score if best else None)}"
            self.progress.update(self.task, completed=completed, info=info)
            mark = "[green]✓[/]" if trial.status == "complete" else "[yellow]·[/]"
            self.out.print(
                f"  {mark} trial {trial.number:>3} {trial.status:<8} "
                f"{metric.name} {fmt_score(trial.valid_score)}  {_short(trial.params)}"
            )

    def stop(self) -> None:
        self.progress.stop()


def _phase_text(payload: dict[str, Any]) -> str:
    phase = payload.get("phase")
    return {
        "load": f"Loading {payload.get('source')}...",
        "baseline": f"Re-scoring the stored {payload.get('model')}...",
        "tune": f"Tuning {payload.get('model')} ({payload.get('search')})...",
        "refit": "Refitting the best trial on train + validation...",
        "evaluate": "Evaluating on the test split...",
    }.get(str(phase), f"{phase}...")


def _short(params: dict[str, Any]) -> str:
    parts = []
    for k, v in params.items():
        parts.append(f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}")
    text = ", ".join(parts)
    return text if len(text) <= 70 else text[:67] + "..."


def _print_result(out: Console, result: TuneResult) -> None:
    from rich.table import Table

    out.print(
        f"[bold]{result.ref}[/] — {result.model}, {result.search} search, study "
        f"'{result.study_name}' ({result.n_study_trials} trials in all), "
        f"{result.duration_s:.1f} s"
    )
    table = Table(title=f"Leaderboard (validation {result.metric})", title_justify="left")
    for col in ("rank", "trial", "valid", "train", "fit s", "status", "params"):
        table.add_column(col, justify="left" if col in ("params", "status") else "right")
    for row in result.leaderboard.to_dict(orient="records"):
        valid = fmt_score(row["valid_score"])
        std = row.get("valid_std")
        if isinstance(std, float) and std == std:
            valid += f" ± {std:.3f}"
        table.add_row(
            str(row["rank"]),
            "stored" if row["trial"] == -1 else str(row["trial"]),
            valid,
            fmt_score(row["train_score"]),
            f"{float(row['fit_time_s']):.2f}",
            str(row["status"]),
            _short(dict(row["params"] or {})),
        )
    out.print(table)
    if result.improved and result.new_ref:
        out.print(
            f"Best trial beats {result.ref} ({fmt_score(result.baseline.valid_score)} → "
            f"{fmt_score(result.best_score)}): stored as [bold cyan]{result.new_ref}[/]."
        )
    for note in result.notes:
        out.print(f"[yellow]note:[/] {note}")


def _as_json(result: TuneResult) -> dict[str, Any]:
    return {
        "ref": result.ref,
        "model": result.model,
        "search": result.search,
        "study": result.study_name,
        "metric": result.metric,
        "baseline_score": result.baseline.valid_score,
        "best_score": result.best_score,
        "best_params": result.best_params,
        "improved": result.improved,
        "new_ref": result.new_ref,
        "study_trials": result.n_study_trials,
        "leaderboard": result.leaderboard.drop(columns=["phase"], errors="ignore").to_dict(
            orient="records"
        ),
        "test_metrics": result.test_metrics,
        "notes": result.notes,
        "duration_s": round(result.duration_s, 3),
    }
