"""The association-rules report."""

from __future__ import annotations

from typing import TYPE_CHECKING

from loopml.report import figures
from loopml.report.html import Alert, Card, Section, Table
from loopml.report.task_common import (
    metrics_table,
    model_card_section,
    note_alerts,
    run_card,
    task_page,
)

if TYPE_CHECKING:
    from loopml.learn.tasks import RulesResult

__all__ = ["MAX_RULES_SHOWN", "rules_report"]

#: Rules listed in the rules report (the full set is in the stored model).
MAX_RULES_SHOWN = 100


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
    cards.append(run_card(result))
    alerts = note_alerts(result.notes)
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
            tables=[metrics_table(h, "Leave-one-out on held-out baskets")],
        )
    return task_page(
        f"Association rules: {result.name} ({result.ref})",
        result,
        "association rules",
        [overview, rules_section, items, holdout, model_card_section(result)],
    )
