"""Reports for clustering, association rules, anomaly detection, multi-label and
semi-supervised runs, in the style of the supervised run report: an overview of
headline cards, what the model found (tables and figures), the data, the model card.

:func:`render_task_report` writes the page for any of the results of
:mod:`loopml.learn.tasks`, :mod:`loopml.learn.multilabel` and :mod:`loopml.learn.semi`.

Examples
--------
>>> from loopml.learn.tasks import cluster
>>> result = cluster("customers.csv")  # doctest: +SKIP
>>> render_task_report(result, "segments.html")  # doctest: +SKIP
PosixPath('segments.html')
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from loopml.report import figures
from loopml.report.html import Alert, Card, Section, Table, Tone, badge, render_page, write_html

if TYPE_CHECKING:
    from loopml.learn.multilabel import MultilabelResult
    from loopml.learn.semi import SemiSupervisedResult
    from loopml.learn.tasks import AnomalyResult, ClusterResult, RulesResult

__all__ = [
    "anomaly_report",
    "build_task_report",
    "cluster_report",
    "multilabel_report",
    "render_task_report",
    "rules_report",
    "semi_supervised_report",
]

#: Rules listed in the rules report (the full set is in the stored model).
MAX_RULES_SHOWN = 100
#: Per-label columns shown in the multi-label report.
_PER_LABEL = ("threshold", "precision", "recall", "f1", "support", "predicted", "roc_auc")
#: Features listed per segment.
MAX_SEGMENT_FEATURES = 12


def build_task_report(result: Any) -> str:
    """The HTML page of a task result (clustering, rules, anomalies, multi-label,
    semi-supervised)."""
    from loopml.learn.tasks import AnomalyResult, ClusterResult, RulesResult

    if isinstance(result, ClusterResult):
        return cluster_report(result)
    if isinstance(result, AnomalyResult):
        return anomaly_report(result)
    if isinstance(result, RulesResult):
        return rules_report(result)
    from loopml.learn.multilabel import MultilabelResult

    if isinstance(result, MultilabelResult):
        return multilabel_report(result)
    from loopml.learn.semi import SemiSupervisedResult

    if isinstance(result, SemiSupervisedResult):
        return semi_supervised_report(result)
    raise TypeError(f"No task report for a {type(result).__name__}.")


def render_task_report(result: Any, path: str | Path) -> Path:
    """Write the report of *result* to *path* (atomically) and return the path."""
    return write_html(path, build_task_report(result))


# -- shared pieces -----------------------------------------------------------------------------


def _subtitle(result: Any, kind: str) -> str:
    trained = str(result.model.info.get("trained_at", ""))[:16].replace("T", " ")
    return f"Run {result.run_id} · {result.source or 'data'} · {kind} · {trained} UTC"


def _notes(notes: Sequence[str], title: str = "note") -> list[Alert]:
    return [Alert(n, title, "info") for n in dict.fromkeys(notes)]


def _run_card(result: Any) -> Card:
    return Card("Run time", f"{result.duration_s:.1f} s", f"run {result.run_id}")


def _model_card_section(result: Any) -> Section | None:
    from loopml.report.run import markdown_html

    card = result.model.card
    if not card:
        return None
    return Section("Model card", body=markdown_html(card), id="model-card")


def _columns_section(result: Any, extra: Sequence[Section] = ()) -> Section:
    schema = result.schema
    rows = [
        [c.name, str(c.role), c.dtype, c.missing_fraction, c.n_unique, c.note or ""]
        for c in schema.columns
    ]
    used = len(schema.features)
    table = Table(
        ["column", "role", "dtype", "missing", "distinct", "note"],
        rows,
        caption=f"{used} of {len(rows)} column(s) used as features",
    )
    section = Section("Data", text=f"Source: {result.source or 'a DataFrame'}", tables=[table])
    section.children = list(extra)
    return section


def _page(title: str, result: Any, kind: str, sections: list[Section | None]) -> str:
    return render_page(
        title, [s for s in sections if s is not None], subtitle=_subtitle(result, kind)
    )


def _metrics_table(metrics: Mapping[str, Any], caption: str) -> Table:
    return Table(["metric", "value"], [[k, v] for k, v in metrics.items()], caption)


# -- clustering ---------------------------------------------------------------------------------


def cluster_report(result: ClusterResult) -> str:
    """Segments: how k was chosen, what sets each segment apart, the segments on a 2-D
    projection, the data and the model card."""
    from loopml.learn.clustering import figures as segment_figures

    m = result.metrics
    seg = result.model.pipeline
    figs = segment_figures(seg, result.sample) if len(result.sample) else {}
    elbow = m.get("elbow_k")
    cards = [
        Card("Method", str(result.model.info.get("model")), "clustering", "info"),
        Card("Segments", m.get("k"), f"elbow at k={int(elbow)}" if elbow else None, "accent"),
        Card("Silhouette", m.get("silhouette"), "-1 to 1, higher is better", "accent"),
        Card("Calinski-Harabasz", m.get("calinski_harabasz"), "higher is better"),
        Card("Davies-Bouldin", m.get("davies_bouldin"), "lower is better"),
        Card("Rows", m.get("n_rows"), f"{int(m.get('n_noise') or 0):,} noise"),
    ]
    if m.get("adjusted_rand") is not None:
        cards.append(Card("Adjusted Rand", m["adjusted_rand"], "vs the known labels", "good"))
        cards.append(Card("NMI", m.get("normalized_mutual_info"), "vs the known labels"))
    cards.append(_run_card(result))
    overview = Section("Overview", cards=cards, alerts=_notes(result.notes))
    choose = None
    if result.k_scores is not None:
        text = (
            f"k-means was fitted for every k from {int(result.k_scores['k'].min())} to "
            f"{int(result.k_scores['k'].max())}; the k with the best silhouette (how much "
            "closer rows are to their own segment than to the next) was kept. The elbow of "
            "the inertia curve is shown for comparison."
        )
        choose = Section(
            "Choosing k",
            text=text,
            tables=[Table.from_frame(result.leaderboard.drop(columns=["rank"]).round(4))],
            figures=[figs["k_selection"]] if "k_selection" in figs else [],
            stack=True,
        )
    summary: list[dict[Any, Any]] = result.profiles.summary.to_dict(orient="records")
    rows = [
        [
            _segment_name(r["segment"]),
            r["size"],
            f"{r['share']:.1%}",
            ", ".join(r["top_features"]),
            r["description"],
        ]
        for r in summary
    ]
    children = []
    features = result.profiles.features
    for r in summary:
        part = features[features["segment"] == r["segment"]]
        part = part.reindex(part["effect"].abs().sort_values(ascending=False).index)
        part = part.head(MAX_SEGMENT_FEATURES)
        children.append(
            Section(
                _segment_name(r["segment"]).capitalize(),
                text=str(r["description"]),
                tables=[
                    Table(
                        ["feature", "in segment", "overall", "effect (sd)", "detail"],
                        [
                            [f.feature, f.segment_value, f.overall_value, f.effect, f.detail]
                            for f in part.itertuples()
                        ],
                    )
                ],
                collapsible=True,
                summary=f"{r['size']:,} rows ({r['share']:.0%})",
            )
        )
    segments = Section(
        "Segments",
        text="What sets each segment apart: numeric features by how many standard deviations "
        "the segment's mean sits from the overall mean, categories by how much more (or less) "
        "often they occur (Cohen's h, on the same scale).",
        tables=[Table(["segment", "rows", "share", "distinguished by", "description"], rows)],
        figures=[f for k, f in figs.items() if k in ("projection", "sizes")],
        children=children,
        stack=True,
    )
    return _page(
        f"Segments: {result.name} ({result.ref})",
        result,
        "clustering",
        [overview, choose, segments, _columns_section(result), _model_card_section(result)],
    )


# -- anomalies -------------------------------------------------------------------------------------


def anomaly_report(result: AnomalyResult) -> str:
    """Anomalies: the score distribution and threshold, the most unusual rows and why,
    the check against known anomalies, the data and the model card."""
    m = result.metrics
    info = result.model.info
    cards = [
        Card("Method", str(info.get("model")).replace("_", " "), "anomaly detection", "info"),
        Card("Rows", m.get("n_rows")),
        Card(
            "Flagged",
            m.get("n_flagged"),
            f"{(m.get('flagged_fraction') or 0):.2%} of rows",
            "warning" if m.get("n_flagged") else "good",
        ),
        Card("Threshold", result.threshold, "scores above it are anomalies", "accent"),
    ]
    ev = result.evaluation
    if ev is not None:
        cards += [
            Card("Recall", ev.get("recall"), "known anomalies flagged", "accent"),
            Card("Precision", ev.get("precision"), "flags that are known anomalies", "accent"),
            Card("ROC-AUC", ev.get("roc_auc"), "of the scores"),
        ]
    cards.append(_run_card(result))
    overview = Section("Overview", cards=cards, alerts=_notes(result.notes))
    counts, edges = np.histogram(result.scores, bins=min(60, max(10, len(result.scores) // 20)))
    hist = figures.histogram(
        edges.tolist(),
        counts.tolist(),
        title="Anomaly scores of the training rows",
        x_title="score (higher = more unusual)",
        height=320,
    )
    hist.add_vline(x=result.threshold, line_dash="dash", annotation_text="threshold")
    hist.update_yaxes(type="log" if counts.max() > 50 * max(1, np.median(counts)) else "linear")
    method = str(info.get("model"))
    text = (
        "Isolation Forest scores s(x) = 2^(-E[h(x)]/c(n)): rows isolated by few random "
        "splits score near 1, ordinary rows well below 0.5."
        if method == "isolation_forest"
        else "Local Outlier Factor: about 1 for a row as dense as its neighbours, higher for "
        "rows in sparser regions than their neighbours."
    )
    scores = Section("Scores", text=text, figures=[hist])
    top_rows = [
        [
            str(idx),
            r.score,
            badge("anomaly", "danger") if r.flagged else badge("normal", "neutral"),
            str(r.reason).split("): ", 1)[-1],
        ]
        for idx, r in zip(result.top.index, result.top.itertuples(), strict=True)
    ]
    top = Section(
        "Most unusual rows",
        text="Each row's most unusual features: numeric values by their robust z-score "
        "against the training median, categories by how rare they were.",
        tables=[Table(["row", "score", "flag", "why"], top_rows)],
    )
    known = None
    if ev is not None:
        known = Section(
            "Against known anomalies",
            text="The label column was left out of fitting and used only here.",
            tables=[_metrics_table(ev, "Flags (precision, recall, F1) and scores (AUCs)")],
        )
    return _page(
        f"Anomalies: {result.name} ({result.ref})",
        result,
        "anomaly detection",
        [overview, scores, top, known, _columns_section(result), _model_card_section(result)],
    )


# -- association rules ----------------------------------------------------------------------------


def rules_report(result: RulesResult) -> str:
    """Rules: the strongest rules, support against confidence, the most frequent items,
    the holdout check, the model card."""
    import plotly.graph_objects as go

    m = result.metrics
    rs = result.ruleset
    p = rs.params
    cards = [
        Card(
            "Transactions",
            m.get("n_transactions"),
            f"{m.get('mean_basket_size') or 0:.2f} items each",
        ),
        Card("Items", m.get("n_items")),
        Card("Frequent itemsets", m.get("n_itemsets"), f"support >= {p.get('min_support')}"),
        Card("Rules", m.get("n_rules"), f"confidence >= {p.get('min_confidence')}", "accent"),
        Card("Max lift", m.get("max_lift"), "1 = independent", "accent"),
    ]
    if m.get("holdout_hit_rate") is not None:
        cards.append(
            Card(
                "Holdout hit rate",
                m["holdout_hit_rate"],
                f"hidden item in the top {result.model.info['params'].get('n')}",
                "good",
            )
        )
    cards.append(_run_card(result))
    alerts = _notes(result.notes)
    if not len(rs):
        alerts.insert(
            0,
            Alert(
                "No rule meets the thresholds. Lower --min-support or --min-confidence.",
                "no rules",
                "warning",
            ),
        )
    overview = Section("Overview", cards=cards, alerts=alerts)
    shown = rs.table(MAX_RULES_SHOWN)
    columns = ["antecedents", "consequents", "support", "confidence", "lift", "leverage"]
    columns += ["conviction", "count"]
    rules_table = Table(
        ["if", "then", *columns[2:]],
        [[r[c] for c in columns] for r in shown.to_dict(orient="records")],
        caption=f"{min(len(rs), MAX_RULES_SHOWN)} of {len(rs):,} rules, by {p.get('metric')}",
    )
    figs = []
    if len(rs):
        rules = rs.rules
        fig = go.Figure(
            go.Scattergl(
                x=rules["support"],
                y=rules["confidence"],
                mode="markers",
                marker={
                    "color": rules["lift"],
                    "colorscale": "Viridis",
                    "showscale": True,
                    "colorbar": {"title": "lift"},
                    "size": 7,
                },
                text=[str(rs.rule(i)) for i in range(len(rules))],
                hovertemplate="%{text}<br>support %{x:.3f}, confidence %{y:.2f}<extra></extra>",
            ),
            layout={
                "template": figures.template(),
                "title": "Rules: support against confidence, coloured by lift",
                "xaxis_title": "support",
                "yaxis_title": "confidence",
                "height": 420,
            },
        )
        figs.append(fig)
    rules_section = Section(
        "Rules",
        text="A rule {A} -> {B}: support is the share of transactions holding A and B, "
        "confidence P(B | A), lift how many times more often B comes with A than on its own.",
        tables=[rules_table],
        figures=figs,
        stack=True,
    )
    counts = result.item_counts.head(25)
    n = max(1, int(m.get("n_transactions") or 1))
    items = Section(
        "Items",
        figures=[
            figures.bar(
                list(counts.index),
                (counts / n).tolist(),
                horizontal=True,
                title="Most frequent items (share of transactions)",
                hover="%{x:.2%}",
            )
        ],
    )
    holdout = None
    if result.holdout is not None:
        h = result.holdout
        holdout = Section(
            "Holdout check",
            text=f"Rules mined without {int(h.get('holdout_baskets') or 0):,} held-out baskets "
            "recommended items for each of them with one item hidden. The hit rate is how "
            "often the hidden item was among the recommendations; coverage how often there "
            "was any recommendation.",
            tables=[_metrics_table(h, "Leave-one-out on held-out baskets")],
        )
    return _page(
        f"Association rules: {result.name} ({result.ref})",
        result,
        "association rules",
        [overview, rules_section, items, holdout, _model_card_section(result)],
    )


# -- multi-label ---------------------------------------------------------------------------------


def multilabel_report(result: MultilabelResult) -> str:
    """Multi-label: the leaderboard, per-label thresholds and metrics, averaged metrics,
    Hamming loss and subset accuracy on the test split, label frequencies, the model card."""
    test = result.metrics
    cards = [
        Card("Labels", len(result.labels), f"strategy {result.strategy}", "info"),
        Card("Chosen model", result.best.model, result.ref, "accent"),
        Card(f"Test {result.metric}", test.get(result.metric), "held-out test rows", "accent"),
        Card("Hamming loss", test.get("hamming_loss"), "wrong label decisions, lower is better"),
        Card("Subset accuracy", test.get("subset_accuracy"), "rows with every label right"),
        Card("Rows", sum(result.split["rows"].values()), _rows(result.split["rows"])),
        _run_card(result),
    ]
    overview = Section("Overview", cards=cards, alerts=_notes(result.notes))
    board = result.leaderboard
    lb = Section(
        "Leaderboard",
        tables=[
            Table(
                ["rank", "model", f"valid {result.metric}", f"train {result.metric}", "fit s"],
                [
                    [r.rank, r.model, r.valid_score, r.train_score, r.fit_time_s]
                    for r in board.itertuples()
                ],
                caption=f"{len(board)} candidate(s) on the validation split",
            )
        ],
    )
    per = result.per_label
    shown = [c for c in _PER_LABEL if c in per.columns]
    per_table = Table.from_frame(
        per[shown].round(4),
        index=True,
        caption="Per label, test split (threshold tuned on validation)",
    )
    f1 = per["f1"].fillna(0.0)
    figs = [
        figures.bar(
            [str(x) for x in per.index],
            f1.tolist(),
            horizontal=True,
            title="F1 per label (test split)",
            hover="%{x:.3f}",
        ),
        figures.bar(
            [str(x) for x in per.index],
            per["train_share"].tolist(),
            horizontal=True,
            title="Share of training rows with each label",
            hover="%{x:.1%}",
        ),
    ]
    text = (
        f"Strategy: {result.strategy} ("
        + (
            "one binary classifier per label"
            if result.strategy == "ovr"
            else "a classifier chain: each label's model also sees the labels before it"
        )
        + "). Each label's decision threshold was tuned on the validation split to maximise "
        "its F1."
    )
    labels = Section(
        "Labels", text=text, tables=[per_table], figures=figs, figure_columns=2, stack=True
    )
    averaged = {
        k: v
        for k, v in test.items()
        if k.endswith(("_micro", "_macro", "_weighted", "_samples"))
        or k in ("hamming_loss", "subset_accuracy")
    }
    avg = Section(
        "Test metrics",
        text="micro pools every (row, label) decision; macro averages labels equally; "
        "weighted by label frequency; samples averages per row.",
        tables=[_metrics_table(averaged, "Averaged over labels, test split")],
    )
    return _page(
        f"Multi-label model: {result.name} ({result.ref})",
        result,
        "multi-label classification",
        [overview, lb, labels, avg, _columns_section(result), _model_card_section(result)],
    )


def _segment_name(segment: Any) -> str:
    return "noise" if int(segment) < 0 else f"segment {int(segment)}"


def _rows(rows: Mapping[str, Any]) -> str:
    return " / ".join(f"{k} {int(v):,}" for k, v in rows.items())


# -- semi-supervised ------------------------------------------------------------------------------


def semi_supervised_report(result: SemiSupervisedResult) -> str:
    """Semi-supervised: did the unlabelled rows help (self-training against the
    supervised-only model on the same labelled rows), how pseudo-labels were added, the
    test evaluation of the stored model, the model card."""
    c = result.comparison
    metric = result.metric
    tones: dict[str, Tone] = {"helped": "good", "hurt": "danger"}
    verdict_tone = tones.get(c["verdict"], "warning")
    cards = [
        Card("Target", str(result.schema.target), str(result.task), "info"),
        Card("Unlabelled data", c["verdict"].replace("_", " "), c["headline"], verdict_tone),
        Card(
            f"Valid {metric}",
            c["valid"]["self_training"],
            f"supervised only: {_fmt(c['valid']['supervised'])}",
            "accent",
        ),
        Card("Labelled rows", result.n_labelled, _rows(result.split["rows"])),
        Card("Unlabelled rows", result.n_unlabelled, f"{result.n_pseudo:,} pseudo-labelled"),
        Card(
            "Stored",
            "self-trained" if result.stored == "self-training" else "supervised",
            result.ref,
            "accent",
        ),
        _run_card(result),
    ]
    overview = Section(
        "Overview",
        cards=cards,
        alerts=[
            Alert(c["summary"], c["verdict"].replace("_", " "), verdict_tone),
            *_notes([n for n in result.notes if n != c["summary"]]),
        ],
    )
    rows = []
    for split_name in ("valid", "test"):
        scores = c.get(split_name) or {}
        if scores.get("supervised") is None and scores.get("self_training") is None:
            continue
        rows.append(
            [
                split_name,
                scores.get("n_rows"),
                scores.get("supervised"),
                scores.get("self_training"),
                scores.get("difference"),
                scores.get("only_self_training_right"),
                scores.get("only_supervised_right"),
            ]
        )
    comparison = Section(
        "Did the unlabelled data help?",
        text=f"Both models use the same base model ({result.model.info.get('model')}) and the "
        "same labelled "
        f"training rows; self-training also learns from the {result.n_unlabelled:,} unlabelled "
        f"rows through pseudo-labels. They are scored on the same labelled rows ({metric}).",
        tables=[
            Table(
                [
                    "rows",
                    "n",
                    "supervised only",
                    "self-training",
                    "difference",
                    "only self-training right",
                    "only supervised right",
                ],
                rows,
            )
        ],
    )
    history = result.history
    progress_figs = []
    if len(history):
        progress_figs.append(
            figures.bar(
                [str(i) for i in history["iteration"]],
                history["added"].tolist(),
                title="Pseudo-labels added per iteration",
                x_title="iteration",
                y_title="rows",
            )
        )
    progress = Section(
        "Self-training",
        text=f"Each iteration the model labels the unlabelled rows it is most sure of "
        f"(probability >= {result.params['threshold']}), at most a quota per class in "
        f"proportion to the classes it predicts, and is refitted; up to "
        f"{result.params['max_iter']} iterations. Stopped: {result.stop_reason}.",
        tables=[Table.from_frame(history.round(4))] if len(history) else [],
        figures=progress_figs,
        stack=True,
    )
    test_sections: list[Section] = []
    if result.evaluation is not None:
        test_sections = result.evaluation.sections()
    test = Section("Test evaluation", children=test_sections, id="test-evaluation")
    if result.evaluation is None:
        test.alerts = [Alert("The run has no test rows (test fraction 0).", "skipped", "info")]
    else:
        test.text = f"{result.evaluation.n_rows:,} held-out labelled rows, stored model."
    return _page(
        f"Semi-supervised model: {result.name} ({result.ref})",
        result,
        "semi-supervised classification",
        [
            overview,
            comparison,
            progress,
            test,
            _columns_section(result),
            _model_card_section(result),
        ],
    )


def _fmt(value: Any) -> str:
    from loopml.report.html import format_value

    return format_value(value)
