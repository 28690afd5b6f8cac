"""The clustering (segments) report."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from loopml.report.html import Card, Section, Table
from loopml.report.task_common import (
    columns_section,
    model_card_section,
    note_alerts,
    run_card,
    task_page,
)

if TYPE_CHECKING:
    from loopml.learn.tasks import ClusterResult

__all__ = ["MAX_SEGMENT_FEATURES", "cluster_report"]

#: Features listed per segment.
MAX_SEGMENT_FEATURES = 12


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
    cards.append(run_card(result))
    overview = Section("Overview", cards=cards, alerts=note_alerts(result.notes))
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
    return task_page(
        f"Segments: {result.name} ({result.ref})",
        result,
        "clustering",
        [overview, choose, segments, columns_section(result), model_card_section(result)],
    )


def _segment_name(segment: Any) -> str:
    return "noise" if int(segment) < 0 else f"segment {int(segment)}"
