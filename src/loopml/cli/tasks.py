"""`loopml cluster`, `loopml rules`, `loopml anomalies`: unsupervised models, stored and
predicted like any other."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Literal

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
    import pandas as pd
    from rich.console import Console

    from loopml.learn.tasks import AnomalyResult, ClusterResult, RulesResult, TaskResult

NameOption = Annotated[
    str | None, typer.Option("--name", "-n", help="Model name (default: the file's stem).")
]
ReportOption = Annotated[
    Path | None, typer.Option("--output", "-o", help="Write the HTML report here.")
]
SeedOption = Annotated[int, typer.Option(help="Random seed.")]
RowsOption = Annotated[
    Path | None,
    typer.Option(
        "--predictions",
        "-p",
        help="Also write the training rows with their results (.parquet or .csv).",
    ),
]


@command
def cluster_command(
    source: Annotated[str, typer.Argument(help="Data: file, directory, or builtin:NAME.")],
    k: Annotated[
        str, typer.Option("--k", help="Number of segments, or 'auto' (best silhouette).")
    ] = "auto",
    method: Annotated[str, typer.Option(help="kmeans, minibatch, dbscan or hdbscan.")] = "kmeans",
    k_min: Annotated[int, typer.Option(help="Smallest k tried with --k auto.", min=2)] = 2,
    k_max: Annotated[int, typer.Option(help="Largest k tried with --k auto.", min=2)] = 10,
    labels: Annotated[
        str | None,
        typer.Option(help="Column of known classes: not a feature, only to score segments."),
    ] = None,
    name: NameOption = None,
    output: ReportOption = None,
    predictions: RowsOption = None,
    seed: SeedOption = 0,
    store: StoreOption = None,
    quiet: QuietOption = False,
    json_out: JsonOption = False,
) -> None:
    """Split SOURCE's rows into segments, describe each one, and store the segmenter."""
    from loopml.learn.tasks import cluster

    k_value: Any = _parse_k(k)
    with _Status(quiet or json_out) as events:
        result = cluster(
            source,
            k=k_value,
            method=method,  # type: ignore[arg-type]
            k_range=(k_min, k_max),
            labels=labels,
            name=name,
            store=open_store(store),
            seed=seed,
            report=output,
            on_event=events,
        )
    if predictions is not None:
        _write_rows(source, predictions, {"segment": result.labels}, drop=labels)
    if json_out:
        print_json(_cluster_json(result))
    elif not quiet:
        _print_cluster(console(), result, predictions)


@command
def anomalies_command(
    source: Annotated[str, typer.Argument(help="Data: file, directory, or builtin:NAME.")],
    contamination: Annotated[
        str,
        typer.Option(help="Expected share of anomalies (e.g. 0.01), or 'auto'."),
    ] = "auto",
    method: Annotated[str, typer.Option(help="isolation_forest or lof.")] = "isolation_forest",
    labels: Annotated[
        str | None,
        typer.Option(help="Column marking known anomalies (1/true): only to evaluate."),
    ] = None,
    top: Annotated[int, typer.Option(help="Most unusual rows to explain.", min=0)] = 10,
    name: NameOption = None,
    output: ReportOption = None,
    predictions: RowsOption = None,
    seed: SeedOption = 0,
    store: StoreOption = None,
    quiet: QuietOption = False,
    json_out: JsonOption = False,
) -> None:
    """Score how unusual each row of SOURCE is, flag anomalies, and store the detector."""
    from loopml.learn.tasks import find_anomalies

    with _Status(quiet or json_out) as events:
        result = find_anomalies(
            source,
            contamination=_parse_contamination(contamination),
            method=method,  # type: ignore[arg-type]
            labels=labels,
            name=name,
            store=open_store(store),
            seed=seed,
            explain_top=max(top, 20),
            report=output,
            on_event=events,
        )
    if predictions is not None:
        _write_rows(
            source,
            predictions,
            {"anomaly_score": result.scores, "is_anomaly": result.flags},
            drop=labels,
        )
    if json_out:
        print_json(_anomaly_json(result, top))
    elif not quiet:
        _print_anomalies(console(), result, top, predictions)


@command
def rules_command(
    source: Annotated[str, typer.Argument(help="Baskets: long, one-hot or delimited file.")],
    min_support: Annotated[
        float, typer.Option(help="Keep itemsets in at least this share of transactions.")
    ] = 0.01,
    min_confidence: Annotated[
        float, typer.Option(help="Keep rules A -> B with P(B | A) at least this.")
    ] = 0.3,
    algorithm: Annotated[str, typer.Option(help="fpgrowth or apriori.")] = "fpgrowth",
    max_len: Annotated[int | None, typer.Option(help="Longest itemset mined.", min=1)] = None,
    min_lift: Annotated[float | None, typer.Option(help="Keep rules with this lift.")] = None,
    metric: Annotated[
        str, typer.Option(help="Rank rules by lift, confidence, support, leverage, conviction.")
    ] = "lift",
    transaction_col: Annotated[
        str | None, typer.Option(help="Long layout: the transaction id column.")
    ] = None,
    item_col: Annotated[str | None, typer.Option(help="Long layout: the item column.")] = None,
    basket_col: Annotated[
        str | None, typer.Option(help="One row per basket: the column of joined items.")
    ] = None,
    delimiter: Annotated[str, typer.Option(help="Separator of items in --basket-col.")] = "|",
    recommendations: Annotated[
        int, typer.Option("--recommendations", help="Items the model recommends per basket.", min=1)
    ] = 5,
    holdout: Annotated[
        float, typer.Option(help="Share of baskets held out to check recommendations (0: off).")
    ] = 0.2,
    show: Annotated[int, typer.Option(help="Rules to print.", min=0)] = 15,
    save_rules: Annotated[
        Path | None, typer.Option(help="Write every rule to .json, .parquet or .csv.")
    ] = None,
    name: NameOption = None,
    output: ReportOption = None,
    seed: SeedOption = 0,
    store: StoreOption = None,
    quiet: QuietOption = False,
    json_out: JsonOption = False,
) -> None:
    """Mine association rules from SOURCE's baskets and store a recommender."""
    from loopml.learn.basket_task import mine

    with _Status(quiet or json_out) as events:
        result = mine(
            source,
            min_support=min_support,
            min_confidence=min_confidence,
            algorithm=algorithm,  # type: ignore[arg-type]
            max_len=max_len,
            min_lift=min_lift,
            metric=metric,  # type: ignore[arg-type]
            transaction_col=transaction_col,
            item_col=item_col,
            basket_col=basket_col,
            delimiter=delimiter,
            n_recommendations=recommendations,
            holdout=holdout,
            name=name,
            store=open_store(store),
            seed=seed,
            report=output,
            on_event=events,
        )
    if save_rules is not None:
        _save_rules(result, save_rules)
    if json_out:
        print_json(_rules_json(result, show))
    elif not quiet:
        _print_rules(console(), result, show, save_rules)


# -- parsing and writing -----------------------------------------------------------------------


def _parse_k(text: str) -> int | Literal["auto"]:
    from loopml.exceptions import DataError

    if text.strip().lower() == "auto":
        return "auto"
    try:
        return int(text)
    except ValueError:
        raise DataError(
            f"--k must be 'auto' or a whole number of segments; got {text!r}."
        ) from None


def _parse_contamination(text: str) -> float | Literal["auto"]:
    from loopml.exceptions import DataError

    if text.strip().lower() == "auto":
        return "auto"
    try:
        return float(text)
    except ValueError:
        raise DataError(
            f"--contamination must be 'auto' or a share such as 0.01; got {text!r}."
        ) from None


_PHASE_TEXT = {
    "load": "Loading {source}...",
    "schema": "Inferring the schema...",
    "fit": "Fitting {model}...",
    "evaluate": "Evaluating...",
    "save": "Saving and registering the model...",
    "report": "Writing the report...",
}


class _Status:
    """A live status line fed by the task's phase events (silent when *quiet*)."""

    def __init__(self, quiet: bool) -> None:
        self.quiet = quiet
        self.status: Any = None

    def __enter__(self) -> Any:
        if self.quiet:
            return None
        self.status = console(stderr=True).status("Starting...", spinner="dots")
        self.status.start()
        return self

    def __call__(self, kind: str, payload: dict[str, Any]) -> None:
        text = _PHASE_TEXT.get(str(payload.get("phase"))) if kind == "phase" else None
        if text and self.status is not None:
            self.status.update(text.format(**{k: str(v) for k, v in payload.items()}))

    def __exit__(self, *exc: object) -> None:
        if self.status is not None:
            self.status.stop()


def _write_rows(source: str, path: Path, columns: dict[str, Any], drop: str | None) -> None:
    """The training rows (as read) with result columns, written atomically."""
    from loopml._fs import atomic_file
    from loopml.data.io import load
    from loopml.exceptions import DataError

    suffix = path.suffix.lower()
    if suffix not in (".csv", ".parquet", ".pq"):
        raise DataError(f"--predictions must end in .parquet or .csv; got '{path.name}'.")
    frame = load(source)
    for col, values in columns.items():
        frame[col] = values
    with atomic_file(path) as tmp:
        if suffix == ".csv":
            frame.to_csv(tmp, index=False)
        else:
            frame.to_parquet(tmp, index=False)


def _save_rules(result: RulesResult, path: Path) -> None:
    from loopml._fs import atomic_file

    if path.suffix.lower() == ".csv":
        with atomic_file(path) as tmp:
            result.ruleset.table().to_csv(tmp, index=False)
    else:
        result.ruleset.save(path)


# -- output ----------------------------------------------------------------------------------------


def _footer(out: Console, result: TaskResult, verb: str) -> None:
    for note in result.notes:
        out.print(f"[yellow]note:[/] {note}")
    if result.report_path is not None:
        out.print(f"Report: [cyan]{result.report_path}[/]")
    out.print(
        f"Stored as [bold cyan]{result.ref}[/] (run {result.run_id}). {verb} with: "
        f"loopml predict {result.name} new.csv -o predictions.parquet"
    )


def _print_cluster(out: Console, result: ClusterResult, rows: Path | None) -> None:
    from rich.table import Table

    m = result.metrics
    elbow_k = m.get("elbow_k")
    elbow = f"; elbow at k={int(elbow_k)}" if elbow_k is not None else ""
    chosen = "chosen by silhouette" if result.k_scores is not None else "given"
    out.print(
        f"[bold]{result.ref}[/] — {int(m.get('k') or 0)} segments of {int(m.get('n_rows') or 0):,} "
        f"rows ({result.model.info.get('model')}, k {chosen}{elbow}), {result.duration_s:.1f} s"
    )
    table = Table(title="Segments", title_justify="left")
    for col in ("segment", "rows", "share", "what sets it apart"):
        table.add_column(
            col, justify="left" if col in ("segment", "what sets it apart") else "right"
        )
    for r in result.profiles.summary.to_dict(orient="records"):
        text = str(r["description"]).split(": ", 1)[-1]
        seg = int(r["segment"])
        table.add_row(
            "noise" if seg < 0 else str(seg), f"{int(r['size']):,}", f"{r['share']:.1%}", text
        )
    out.print(table)
    scores = Table(title="Segmentation quality", title_justify="left")
    scores.add_column("metric")
    scores.add_column("value", justify="right")
    for key in (
        "silhouette",
        "calinski_harabasz",
        "davies_bouldin",
        "adjusted_rand",
        "normalized_mutual_info",
    ):
        if key in m:
            scores.add_row(key, fmt_score(m[key]))
    out.print(scores)
    if rows is not None:
        out.print(f"Rows with their segment: [cyan]{rows}[/]")
    _footer(out, result, "Assign new rows")


def _print_anomalies(out: Console, result: AnomalyResult, top: int, rows: Path | None) -> None:
    from rich.table import Table

    m = result.metrics
    out.print(
        f"[bold]{result.ref}[/] — {int(m.get('n_flagged') or 0):,} of {int(m.get('n_rows') or 0):,} "
        f"rows flagged ({(m.get('flagged_fraction') or 0):.2%}), score threshold "
        f"{result.threshold:.4g} ({result.model.info.get('model')}), {result.duration_s:.1f} s"
    )
    if top and len(result.top):
        table = Table(
            title=f"Most unusual rows (top {min(top, len(result.top))})", title_justify="left"
        )
        for col in ("row", "score", "flag", "why"):
            table.add_column(col, justify="right" if col == "score" else "left")
        for idx, r in zip(result.top.index[:top], result.top.head(top).itertuples(), strict=True):
            why = str(r.reason).split("): ", 1)[-1]
            table.add_row(str(idx), f"{r.score:.4f}", "anomaly" if r.flagged else "", why)
        out.print(table)
    if result.evaluation is not None:
        ev = Table(title="Against the known anomalies", title_justify="left")
        ev.add_column("metric")
        ev.add_column("value", justify="right")
        for key, value in result.evaluation.items():
            ev.add_row(key, fmt_score(value))
        out.print(ev)
    if rows is not None:
        out.print(f"Rows with their score and flag: [cyan]{rows}[/]")
    _footer(out, result, "Flag new rows")


def _print_rules(out: Console, result: RulesResult, show: int, saved: Path | None) -> None:
    from rich.table import Table

    m = result.metrics
    p = result.ruleset.params
    out.print(
        f"[bold]{result.ref}[/] — {int(m.get('n_rules') or 0):,} rules from "
        f"{int(m.get('n_itemsets') or 0):,} frequent itemsets in "
        f"{int(m.get('n_transactions') or 0):,} transactions ({p.get('algorithm')}, support >= "
        f"{p.get('min_support')}, confidence >= {p.get('min_confidence')}), "
        f"{result.duration_s:.1f} s"
    )
    if show and len(result.ruleset):
        table = Table(title=f"Top rules by {p.get('metric')}", title_justify="left")
        for col in ("if", "then", "support", "confidence", "lift"):
            table.add_column(col, justify="left" if col in ("if", "then") else "right")
        for r in result.ruleset.table(show).itertuples():
            table.add_row(
                str(r.antecedents),
                str(r.consequents),
                f"{r.support:.4f}",
                f"{r.confidence:.3f}",
                f"{r.lift:.3f}",
            )
        out.print(table)
    if m.get("holdout_hit_rate") is not None:
        out.print(
            f"Holdout: the hidden item was among the recommendations for "
            f"{m['holdout_hit_rate']:.1%} of {int(m.get('holdout_baskets') or 0):,} held-out "
            f"baskets (some recommendation for {(m.get('holdout_coverage') or 0):.1%})."
        )
    if saved is not None:
        out.print(f"Rules written to [cyan]{saved}[/]")
    _footer(out, result, "Recommend for baskets")


def _base_json(result: TaskResult) -> dict[str, Any]:
    return {
        "name": result.name,
        "version": result.version,
        "ref": result.ref,
        "run_id": result.run_id,
        "task": str(result.task),
        "metrics": result.metrics,
        "notes": result.notes,
        "report": None if result.report_path is None else str(result.report_path),
        "duration_s": round(result.duration_s, 3),
    }


def _records(frame: pd.DataFrame) -> list[dict[str, Any]]:
    from loopml.evaluate._checks import jsonable

    out: list[dict[str, Any]] = jsonable(frame.to_dict(orient="records"))
    return out


def _cluster_json(result: ClusterResult) -> dict[str, Any]:
    return {
        **_base_json(result),
        "segments": _records(result.profiles.summary),
        "k_scores": None if result.k_scores is None else _records(result.k_scores),
    }


def _anomaly_json(result: AnomalyResult, top: int) -> dict[str, Any]:
    top_rows = result.top.head(top).reset_index()
    top_rows["row"] = top_rows["row"].astype(str)
    return {
        **_base_json(result),
        "threshold": result.threshold,
        "top": _records(top_rows),
        "evaluation": result.evaluation,
    }


def _rules_json(result: RulesResult, show: int) -> dict[str, Any]:
    return {
        **_base_json(result),
        "rules": _records(result.ruleset.table(show or None)),
        "holdout": result.holdout,
    }
