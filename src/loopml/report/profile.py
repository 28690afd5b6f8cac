"""The EDA page of a :class:`~loopml.data.profile.Profile`.

Warnings first, then the target, one expandable panel per column, and the
correlation heat maps. Everything is drawn from the profile's own numbers (bin
counts, top values, matrices), so the page is as small as the profile's JSON plus
plotly.js.
"""

from __future__ import annotations

import re
from collections import defaultdict
from typing import TYPE_CHECKING, Any

from markupsafe import Markup

from loopml.report import figures
from loopml.report.html import Alert, Card, Section, Table, Tone, badge, format_value, render_page

if TYPE_CHECKING:
    from loopml.data.profile import Profile

__all__ = ["render_profile"]

_KIND_LABELS = {
    "leakage": "leakage",
    "target_missing": "target missing",
    "imbalance": "imbalance",
    "duplicates": "duplicates",
    "empty": "empty",
    "constant": "constant",
    "id": "identifier",
    "missing": "missing values",
    "high_cardinality": "high cardinality",
    "skew": "skew",
}
_SEVERITY_TONE: dict[str, Tone] = {"danger": "danger", "warning": "warning", "info": "info"}
_ROLE_TONE: dict[str, Tone] = {
    "numeric": "info",
    "categorical": "good",
    "boolean": "good",
    "datetime": "warning",
    "text": "warning",
    "target": "accent",
}
#: Warnings of one kind beyond this many are folded into one line.
_FOLD_AFTER = 4


def render_profile(p: Profile) -> str:
    """Render *p* as a self-contained HTML page."""
    anchors = {c["name"]: _anchor(i, c["name"]) for i, c in enumerate(p.columns)}
    by_column: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for w in p.warnings:
        if w["column"] is not None:
            by_column[w["column"]].append(w)
    sections = [_overview(p), _warnings_section(p, anchors)]
    if p.target:
        sections.append(_target_section(p))
    sections.append(_columns_section(p, anchors, by_column))
    sections.append(_correlations_section(p))
    task = p.target["task"] if p.target else None
    subtitle = f"{p.n_rows:,} rows \u00d7 {p.n_columns} columns"
    if p.target:
        subtitle += f" · target '{p.target['column']}' ({task})"
    else:
        subtitle += " · no target"
    return render_page(f"Data profile: {p.name}", sections, subtitle=subtitle, footer=_footer(p))


def _anchor(i: int, name: str) -> str:
    return f"col-{i}-{re.sub(r'[^a-z0-9]+', '-', name.lower()).strip('-')}"


def _footer(p: Profile) -> str:
    if p.sampled:
        return (
            f"Correlations and target associations use a random sample of {p.sample_rows:,} of "
            f"{p.n_rows:,} rows (seed {p.seed}); counts, summaries and histograms use every row."
        )
    return "Every statistic uses all rows."


# -- overview & warnings ------------------------------------------------------------------


def _overview(p: Profile) -> Section:
    roles: dict[str, int] = defaultdict(int)
    for c in p.columns:
        roles[c["role"]] += 1
    role_text = " · ".join(f"{n} {r}" for r, n in sorted(roles.items(), key=lambda kv: -kv[1]))
    cells = p.n_rows * p.n_columns
    missing_pct = 100 * p.missing_cells / cells if cells else 0.0
    n_danger = sum(w["severity"] == "danger" for w in p.warnings)
    cards = [
        Card("Rows", p.n_rows),
        Card("Columns", p.n_columns, role_text),
        Card(
            "Missing cells",
            f"{missing_pct:.1f}%",
            f"{p.missing_cells:,} of {cells:,}",
            "warning" if missing_pct > 5 else "neutral",
        ),
        Card(
            "Duplicate rows",
            p.duplicates,
            f"{100 * p.duplicates / p.n_rows:.1f}% of rows" if p.n_rows else None,
            "warning" if p.duplicates else "good",
        ),
    ]
    if p.target:
        cards.append(
            Card("Task", p.target["task"] or "—", f"target '{p.target['column']}'", "info")
        )
    cards.append(
        Card(
            "Warnings",
            len(p.warnings),
            f"{n_danger} possible leakage" if n_danger else None,
            "danger" if n_danger else ("warning" if p.warnings else "good"),
        )
    )
    text = None
    if p.sampled:
        text = (
            f"{p.n_rows:,} rows: correlations and target associations use a random sample of "
            f"{p.sample_rows:,} rows; counts and summaries are exact."
        )
    return Section("Overview", cards=cards, text=text)


def _warnings_section(p: Profile, anchors: dict[str, str]) -> Section:
    if not p.warnings:
        return Section(
            "Warnings", alerts=[Alert("No warnings: nothing unusual found.", tone="good")]
        )
    alerts: list[Alert] = []
    by_kind: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for w in p.warnings:
        by_kind[w["kind"]].append(w)
    for kind, items in by_kind.items():
        label = _KIND_LABELS.get(kind, kind)
        tone = _SEVERITY_TONE.get(items[0]["severity"], "warning")
        if len(items) > _FOLD_AFTER:
            names = [w["column"] for w in items if w["column"]]
            shown = ", ".join(f"'{n}'" for n in names[:12])
            more = f" and {len(names) - 12} more" if len(names) > 12 else ""
            alerts.append(
                Alert(
                    f"{len(items)} columns: {shown}{more}. {_fold_hint(kind)}",
                    title=label,
                    tone=tone,
                )
            )
            continue
        for w in items:
            target = anchors.get(w["column"]) if w["column"] else None
            alerts.append(Alert(w["message"], title=label, tone=tone, target=target))
    return Section("Warnings", alerts=alerts)


def _fold_hint(kind: str) -> str:
    return {
        "skew": "Consider a log, Yeo-Johnson or quantile transform for linear models.",
        "missing": "Impute them (with missing-value indicators) or drop them.",
        "high_cardinality": "Group rare values, or use frequency or target encoding.",
        "constant": "They carry no information and are excluded.",
        "empty": "They are dropped.",
        "id": "Identifiers are not used as features.",
    }.get(kind, "See each column's panel below.")


# -- target -----------------------------------------------------------------------------------


def _target_section(p: Profile) -> Section:
    t = p.target or {}
    name = t["column"]
    section = Section("Target", id="target")
    if "classes" in t:
        classes = t["classes"]
        section.cards = [
            Card("Classes", t["n_classes"]),
            Card(
                "Majority share",
                f"{100 * t.get('majority_share', 0):.1f}%",
                str(t.get("majority_class")),
            ),
            Card(
                "Imbalance ratio",
                f"{t.get('imbalance_ratio', 1):.2f}\u00d7",
                "majority / minority",
                "warning" if t.get("imbalance_ratio", 1) >= 5 else "good",
            ),
            Card("Missing", t["missing"], None, "warning" if t["missing"] else "neutral"),
        ]
        section.tables = [
            Table(
                ["class", "rows", "share"],
                [[c["value"], c["count"], f"{100 * c['share']:.1f}%"] for c in classes],
                align=["left", "right", "right"],
            )
        ]
        section.figures = [
            figures.bar(
                [c["value"] for c in classes],
                [c["count"] for c in classes],
                title=f"Class balance of '{name}'",
                text=[f"{100 * c['share']:.1f}%" for c in classes],
                horizontal=len(classes) > 12,
                y_title=None if len(classes) > 12 else "rows",
            )
        ]
    else:
        section.tables = [_stats_table(t)]
        hist = t.get("histogram")
        if hist:
            section.figures = [_histogram_figure(hist, f"Distribution of '{name}'", name)]
    assoc = [a for a in t.get("associations", []) if a.get("score") is not None][:20]
    if assoc:
        section.children.append(_association_section(assoc, t["task"]))
    return section


def _association_section(assoc: list[dict[str, Any]], task: str | None) -> Section:
    labels = [a["column"] for a in assoc]
    scores = [a["score"] for a in assoc]
    if task == "regression":
        what = (
            "max(|Pearson|, |Spearman|) for numeric features, correlation ratio η for categorical"
        )
    else:
        what = (
            "balanced accuracy of a one-feature decision stump (numeric) or of each category's "
            "most common class (categorical); 1/classes is chance"
        )
    colors = [figures.COLORWAY[5] if s >= 0.99 else figures.ACCENT for s in scores]
    fig = figures.bar(
        labels,
        scores,
        horizontal=True,
        title="How well each feature alone predicts the target",
        x_title=what if len(what) < 60 else None,
        color=colors,
        hover="%{y:.3f}",
    )
    fig.update_xaxes(range=[0, 1.0])
    if task == "regression":
        columns = ["feature", "score", "Pearson", "Spearman"]
        rows = [[a["column"], a["score"], a.get("pearson"), a.get("spearman")] for a in assoc]
    elif any(a.get("auc") is not None for a in assoc):
        columns = ["feature", "score", "AUC"]
        rows = [[a["column"], a["score"], a.get("auc")] for a in assoc]
    else:
        columns = ["feature", "score"]
        rows = [[a["column"], a["score"]] for a in assoc]
    return Section(
        "Feature-target association",
        text=f"Score: {what}. Scores near 1 mean one column alone gives the answer — check for leakage.",
        figures=[fig],
        tables=[Table(columns, rows)],
    )


# -- columns ------------------------------------------------------------------------------------


def _columns_section(
    p: Profile, anchors: dict[str, str], by_column: dict[str, list[dict[str, Any]]]
) -> Section:
    rows = []
    panels = []
    for c in p.columns:
        role_badge = badge(c["role"], _ROLE_TONE.get(c["role"], "neutral"))
        warns = [
            badge(
                _KIND_LABELS.get(w["kind"], w["kind"]), _SEVERITY_TONE.get(w["severity"], "warning")
            )
            for w in by_column.get(c["name"], [])
        ]
        link = Markup('<a href="#{}">{}</a>').format(anchors[c["name"]], c["name"])
        rows.append(
            [
                link,
                role_badge,
                c["dtype"],
                f"{c['missing_pct']:.1f}%",
                c["unique"],
                _short_summary(c),
                Markup("").join(warns) if warns else "",
            ]
        )
        panels.append(_column_panel(c, anchors[c["name"]], role_badge, warns))
    table = Table(["column", "role", "dtype", "missing", "distinct", "summary", "warnings"], rows)
    return Section(
        "Columns",
        tables=[table],
        children=panels,
        filter=len(panels) > 12,
        text="Open a column for its statistics and distribution.",
    )


def _short_summary(c: dict[str, Any]) -> str:
    kind = c.get("kind")
    if kind == "numeric" and c.get("mean") is not None:
        std = f" ± {format_value(c['std'])}" if c.get("std") is not None else ""
        return f"mean {format_value(c['mean'])}{std}; range {format_value(c['min'])} to {format_value(c['max'])}"
    if kind in ("categorical", "text") and c.get("top"):
        top = c["top"][0]
        return f"most common '{_clip(top['value'])}' ({100 * top['share']:.1f}%)"
    if kind == "datetime" and c.get("min"):
        return f"{c['min'][:10]} to {c['max'][:10]}"
    if kind == "id" and c.get("examples"):
        return "e.g. " + ", ".join(_clip(v, 16) for v in c["examples"][:3])
    return ""


def _clip(value: Any, n: int = 40) -> str:
    text = format_value(value)
    return text if len(text) <= n else text[: n - 1] + "…"


def _column_panel(
    c: dict[str, Any], anchor: str, role_badge: Markup, warns: list[Markup]
) -> Section:
    figs = []
    kind = c.get("kind")
    if kind in ("numeric", "datetime") and c.get("histogram"):
        figs.append(_histogram_figure(c["histogram"], None, c["name"]))
    elif kind in ("categorical", "text") and c.get("top"):
        figs.append(_top_values_figure(c))
    if kind == "text" and c.get("length_histogram"):
        figs.append(_histogram_figure(c["length_histogram"], "Length (characters)", "characters"))
    summary = f"{c['missing_pct']:.1f}% missing · {c['unique']:,} distinct"
    return Section(
        c["name"],
        id=anchor,
        collapsible=True,
        badges=[role_badge, *warns],
        summary=summary,
        text=c.get("note") or c.get("unparsed_note"),
        tables=[_stats_table(c)],
        figures=figs,
    )


_STAT_LABELS = [
    ("count", "non-missing"),
    ("missing", "missing"),
    ("unique", "distinct"),
    ("mean", "mean"),
    ("std", "std"),
    ("min", "min"),
    ("q25", "25%"),
    ("median", "median"),
    ("q75", "75%"),
    ("max", "max"),
    ("skew", "skewness"),
    ("zeros", "zeros"),
    ("negative", "negative"),
    ("infinite", "infinite"),
    ("mode", "most common"),
    ("words_mean", "words (mean)"),
    ("unparsed", "not dates"),
    ("not_numeric", "not numbers"),
]


def _stats_table(c: dict[str, Any]) -> Table:
    rows: list[list[Any]] = []
    for key, label in _STAT_LABELS:
        if key not in c or c[key] is None:
            continue
        if key in ("zeros", "negative", "infinite", "unparsed", "not_numeric") and not c[key]:
            continue
        value = c[key]
        if key == "missing" and "missing_pct" in c:
            value = f"{value:,} ({c['missing_pct']:.1f}%)"
        elif key in ("mode",):
            value = _clip(value)
        rows.append([label, value])
    if c.get("kind") == "text" and c.get("length"):
        rows.append(["length (mean)", c["length"]["mean"]])
        rows.append(["length (max)", c["length"]["max"]])
    if c.get("other_count"):
        rows.append(["other values (rows)", c["other_count"]])
    if c.get("kind") == "id" and c.get("examples"):
        rows.append(["examples", ", ".join(_clip(v, 20) for v in c["examples"])])
    return Table(["statistic", "value"], rows, align=["left", "right"])


def _histogram_figure(hist: dict[str, Any], title: str | None, x_title: str) -> Any:
    if hist["kind"] == "discrete":
        fig = figures.bar(
            hist["values"], hist["counts"], title=title, x_title=x_title, y_title="rows"
        )
        fig.update_xaxes(type="linear" if len(hist["values"]) > 12 else "category")
        return fig
    return figures.histogram(hist["edges"], hist["counts"], title=title, x_title=x_title)


def _top_values_figure(c: dict[str, Any]) -> Any:
    top = c["top"]
    labels = [_clip(t["value"], 30) for t in top]
    # Distinct labels: a clipped label could collide with another.
    seen: dict[str, int] = {}
    for i, label in enumerate(labels):
        seen[label] = seen.get(label, 0) + 1
        if seen[label] > 1:
            labels[i] = f"{label} ({seen[label]})"
    title = "Most common values"
    if c.get("other_count"):
        shown = sum(t["count"] for t in top)
        title += f" ({len(top)} of {c['unique']:,}, {100 * shown / c['count']:.0f}% of rows)"
    return figures.bar(labels, [t["count"] for t in top], horizontal=True, title=title)


# -- correlations ---------------------------------------------------------------------------------


def _correlations_section(p: Profile) -> Section:
    corr = p.correlations
    section = Section("Correlations", id="correlations")
    children = []
    if corr.get("pearson"):
        m = corr["pearson"]
        fig = figures.heatmap(
            {"Pearson": m["values"], "Spearman": corr["spearman"]["values"]},
            m["columns"],
            title="Numeric columns",
        )
        pairs = [
            [pr["a"], pr["b"], pr["pearson"], pr["spearman"]] for pr in corr.get("top_pairs", [])
        ]
        children.append(
            Section(
                "Numeric: Pearson and Spearman",
                text="Pearson measures linear association; Spearman, any monotone one (on ranks).",
                figures=[fig],
                tables=[
                    Table(["column", "column", "Pearson", "Spearman"], pairs, "Strongest pairs")
                ]
                if pairs
                else [],
                stack=True,
            )
        )
    if corr.get("categorical"):
        m = corr["categorical"]
        children.append(
            Section(
                "Categorical: Cramér's V",
                text="Bias-corrected Cramér's V from the contingency table: 0 = independent, 1 = "
                "one column determines the other.",
                stack=True,
                figures=[
                    figures.heatmap(
                        {"Cramér's V": m["values"]}, m["columns"], zmin=0, diverging=False
                    )
                ],
            )
        )
    if corr.get("correlation_ratio"):
        m = corr["correlation_ratio"]
        children.append(
            Section(
                "Numeric vs categorical: correlation ratio",
                text="η: the share of a numeric column's spread explained by the categories "
                "(square root of R²); 0 = none, 1 = all.",
                figures=[_ratio_heatmap(m)],
                stack=True,
            )
        )
    if not children:
        section.text = "Fewer than two numeric or categorical columns: no correlations to show."
    elif corr.get("truncated"):
        section.text = "Only the first columns are shown: this table has many columns."
    section.children = children
    return section


def _ratio_heatmap(m: dict[str, Any]) -> Any:
    """Categorical columns as rows: usually few, so the map stays a readable strip."""
    values = [list(col) for col in zip(*m["values"], strict=True)]
    height = max(240, 26 * len(m["columns"]) + 190)
    return figures.heatmap(
        {"η": values}, m["rows"], m["columns"], zmin=0, diverging=False, height=height
    )
