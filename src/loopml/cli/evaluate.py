"""`loopml evaluate`, `loopml report`, `loopml evaluate-text` and `loopml perplexity`."""

from __future__ import annotations

import math
from pathlib import Path
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
    from loopml.evaluate.evaluator import EvaluationResult

__all__ = [
    "evaluate_command",
    "evaluate_text_command",
    "perplexity_command",
    "report_command",
]


@command
def evaluate_command(
    model: Annotated[
        str, typer.Argument(help="Model: NAME, NAME@VERSION, NAME@stage, or a bundle dir.")
    ],
    source: Annotated[str, typer.Argument(help="Labelled data: file, directory, or builtin:NAME.")],
    output: Annotated[
        Path | None,
        typer.Option("--output", "-o", help="HTML report to write (e.g. eval.html)."),
    ] = None,
    target: Annotated[
        str | None,
        typer.Option("--target", "-t", help="Label column (default: the model's target)."),
    ] = None,
    threshold: Annotated[
        float | None,
        typer.Option(help="Binary models: decision threshold on the positive-class probability."),
    ] = None,
    png: Annotated[
        Path | None,
        typer.Option(
            "--png", help="Also write every plot as DIR/NAME.png (kaleido or matplotlib)."
        ),
    ] = None,
    no_importance: Annotated[
        bool, typer.Option("--no-importance", help="Skip feature importance (faster).")
    ] = False,
    store: StoreOption = None,
    quiet: QuietOption = False,
    json_out: JsonOption = False,
) -> None:
    """Score MODEL on labelled SOURCE: every metric for its task, plots, feature importance."""
    from loopml.evaluate.evaluator import evaluate
    from loopml.evaluate.plots import png_backend

    err = console(stderr=True)
    result = evaluate(
        model,
        source,
        target=target,
        store=open_store(store),
        threshold=threshold,
        importance=not no_importance,
    )
    written: dict[str, Any] = {}
    if output is not None:
        result.to_html(output)
        written["html"] = str(output)
    if png is not None:
        if png_backend() is None:
            err.print(
                "[yellow]PNG export skipped:[/] neither kaleido nor matplotlib is installed "
                "(pip install kaleido)."
            )
        else:
            written["png"] = [str(p) for p in result.save_png(png)]
    if json_out:
        print_json({**result.to_dict(), "written": written})
        return
    if quiet:
        return
    _print_evaluation(result)
    for note in result.notes:
        err.print(f"[yellow]note:[/] {note}")
    if "html" in written:
        console().print(f"Report -> [cyan]{written['html']}[/]")
    if written.get("png"):
        console().print(f"{len(written['png'])} PNG file(s) -> [cyan]{png}[/]")


def _print_evaluation(result: EvaluationResult) -> None:
    from rich.table import Table

    table = Table(
        title=f"{result.model} on {result.source} ({result.n_rows:,} rows, {result.task})",
        title_justify="left",
    )
    table.add_column("metric")
    table.add_column("value", justify="right")
    for name, value in result.metrics.items():
        table.add_row(name, fmt_score(value))
    console().print(table)


@command
def report_command(
    run_id: Annotated[int, typer.Argument(help="Run id (see `loopml runs list`).")],
    output: Annotated[Path, typer.Option("--output", "-o", help="HTML report to write.")] = Path(
        "report.html"
    ),
    data: Annotated[
        str | None,
        typer.Option(help="Training data, if the run's source moved or was a DataFrame."),
    ] = None,
    spec: Annotated[
        Path | None,
        typer.Option(help="loopml.yaml whose goal and KPIs the report shows."),
    ] = None,
    goal: Annotated[str | None, typer.Option(help="Business goal text.")] = None,
    kpi: Annotated[
        list[str] | None,
        typer.Option("--kpi", help="KPI gate such as 'recall >= 0.8' (repeatable)."),
    ] = None,
    no_diagnosis: Annotated[
        bool,
        typer.Option("--no-diagnosis", help="Skip the fit diagnosis and curves (faster)."),
    ] = False,
    store: StoreOption = None,
    quiet: QuietOption = False,
    json_out: JsonOption = False,
) -> None:
    """Write the full report of training run RUN_ID: data, leaderboard, test plots, diagnosis."""
    import time

    from loopml.report.run import render_run_report

    kpis = list(kpi or [])
    if spec is not None:
        from loopml.config import load_spec

        project = load_spec(spec)
        goal = goal or project.goal or None
        kpis = kpis or list(project.kpis)
    started = time.perf_counter()
    path = render_run_report(
        open_store(store),
        run_id,
        path=output,
        data=data,
        spec_goal=goal,
        kpis=kpis or None,
        diagnosis=not no_diagnosis,
    )
    seconds = time.perf_counter() - started
    if json_out:
        print_json({"run_id": run_id, "path": str(path), "seconds": round(seconds, 3)})
    elif not quiet:
        console().print(f"Run {run_id} report -> [cyan]{path}[/] ({seconds:.1f} s)")


@command
def evaluate_text_command(
    predictions: Annotated[
        Path,
        typer.Option(
            "--predictions", "-p", help="JSONL of generated texts (or of prediction+reference)."
        ),
    ],
    references: Annotated[
        Path | None,
        typer.Option(
            "--references", "-r", help="JSONL of reference texts (matched by id or line)."
        ),
    ] = None,
    stem: Annotated[
        bool, typer.Option("--stem/--no-stem", help="Porter-stem words before matching.")
    ] = False,
    rouge_n: Annotated[
        int, typer.Option("--rouge-n", min=1, help="Report ROUGE-1 up to ROUGE-N.")
    ] = 2,
    prediction_field: Annotated[str, typer.Option(help="Field holding the prediction.")] = (
        "prediction"
    ),
    reference_field: Annotated[str, typer.Option(help="Field holding the reference.")] = (
        "reference"
    ),
    id_field: Annotated[str, typer.Option(help="Field matching the two files.")] = "id",
    ci: Annotated[
        float | None,
        typer.Option(help="Bootstrap confidence level for intervals, e.g. 0.95."),
    ] = None,
    per_sample: Annotated[
        Path | None, typer.Option(help="Write per-pair scores to this CSV.")
    ] = None,
    quiet: QuietOption = False,
    json_out: JsonOption = False,
) -> None:
    """ROUGE of generated texts against references (precision, recall, F-measure)."""
    from loopml.evaluate.text import read_text_pairs, rouge

    pairs = read_text_pairs(
        predictions,
        references,
        prediction_field=prediction_field,
        reference_field=reference_field,
        id_field=id_field,
    )
    types = [f"rouge{n}" for n in range(1, rouge_n + 1)] + ["rougeL", "rougeLsum"]
    result = rouge(
        pairs.predictions,
        pairs.references,
        rouge_types=types,
        use_stemmer=stem,
        confidence=ci,
    )
    if per_sample is not None:
        from loopml.report.html import write_text_atomic

        frame = result.per_sample.copy()
        frame.insert(0, "id", pairs.ids)
        write_text_atomic(per_sample, frame.to_csv(index=False))
    if json_out:
        print_json(result.to_dict())
        return
    if quiet:
        return
    from rich.table import Table

    table = Table(
        title=f"ROUGE over {result.n_samples:,} pairs (stemming {'on' if stem else 'off'})",
        title_justify="left",
    )
    table.add_column("type")
    for col in ("precision", "recall", "F-measure"):
        table.add_column(col, justify="right")
    if result.ci:
        table.add_column(f"F {ci:.0%} CI", justify="right")
    for name, s in result.scores.items():
        row = [name, fmt_score(s["precision"]), fmt_score(s["recall"]), fmt_score(s["fmeasure"])]
        if result.ci:
            lo, hi = result.ci[name]["fmeasure"]
            row.append(f"{lo:.4f} to {hi:.4f}")
        table.add_row(*row)
    console().print(table)


@command
def perplexity_command(
    logprobs: Annotated[
        Path | None,
        typer.Option(
            "--logprobs",
            help="JSONL: one list of token log-probabilities per line (OpenAI-style ok).",
        ),
    ] = None,
    logits: Annotated[
        Path | None,
        typer.Option("--logits", help="NPZ with arrays 'logits' and 'targets' (or 'labels')."),
    ] = None,
    field: Annotated[str, typer.Option(help="JSONL field with the log-probabilities.")] = (
        "logprobs"
    ),
    log_base: Annotated[str, typer.Option(help="Base of the log-probabilities: 'e' or '2'.")] = "e",
    ignore_index: Annotated[
        int, typer.Option(help="Target id to skip (padding/prompt tokens).")
    ] = -100,
    quiet: QuietOption = False,
    json_out: JsonOption = False,
) -> None:
    """Perplexity of a language model from token log-probabilities or from logits."""
    from loopml.evaluate.perplexity import perplexity, perplexity_from_logits
    from loopml.evaluate.text import read_logprobs
    from loopml.exceptions import DataError

    if (logprobs is None) == (logits is None):
        raise DataError("Give exactly one of --logprobs FILE.jsonl or --logits FILE.npz.")
    if logprobs is not None:
        bases = {"e": math.e, "2": 2.0, "10": 10.0}
        if log_base not in bases:
            raise DataError(f"--log-base must be 'e', '2' or '10'; got {log_base!r}.")
        result = perplexity(read_logprobs(logprobs, field=field), log_base=bases[log_base])
        source = str(logprobs)
    else:
        if logits is None:  # pragma: no cover - guarded above
            raise DataError("--logits is required.")
        arrays = _read_npz(logits)
        result = perplexity_from_logits(
            arrays["logits"], arrays["targets"], ignore_index=ignore_index
        )
        source = str(logits)
    if json_out:
        out = result.to_dict()
        out.pop("per_sequence", None)
        out.pop("per_sequence_tokens", None)
        print_json({"source": source, **out})
        return
    if quiet:
        return
    console().print(
        f"Perplexity [bold]{result.perplexity:.4g}[/] over {result.n_tokens:,} tokens in "
        f"{result.n_sequences:,} sequence(s) ({result.mean_nll:.4f} nats, "
        f"{result.bits_per_token:.4f} bits per token"
        + (f"; {result.n_skipped:,} token(s) skipped" if result.n_skipped else "")
        + ")"
    )


def _read_npz(path: Path) -> dict[str, Any]:
    import zipfile

    import numpy as np

    from loopml.exceptions import DataError

    if not path.is_file():
        raise DataError(f"File not found: {path}. Check the path.")
    try:
        with np.load(path, allow_pickle=False) as npz:
            arrays = {k: npz[k] for k in npz.files}
    except (ValueError, OSError, zipfile.BadZipFile) as exc:
        raise DataError(
            f"{path} is not a NumPy .npz file ({exc}). Save it with "
            "numpy.savez(path, logits=..., targets=...)."
        ) from None
    targets = next((arrays[k] for k in ("targets", "labels") if k in arrays), None)
    if "logits" not in arrays or targets is None:
        raise DataError(
            f"{path} must hold arrays 'logits' and 'targets' (or 'labels'); found: "
            f"{', '.join(arrays) or 'none'}."
        )
    return {"logits": arrays["logits"], "targets": targets}
