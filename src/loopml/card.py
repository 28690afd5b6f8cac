"""The model card: what a model is, what it was trained on, how good it is, and its limits."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from loopml.bundle import ModelBundle

__all__ = ["render_card"]


def _fmt(value: Any) -> str:
    if value is None:
        return "n/a"
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value)


def render_card(bundle: ModelBundle, notes: list[str] | None = None) -> str:
    """Markdown model card for *bundle*."""
    info = bundle.info
    schema = bundle.schema
    split = info.get("split", {})
    rows = split.get("rows", {})
    lines = [
        f"# Model card: {info.get('name', 'model')}",
        "",
        "## What it is",
        f"- Task: **{schema.task}**, predicting `{schema.target}`",
        f"- Model: `{info.get('model')}` with parameters `{info.get('params', {})}`",
        f"- Selected by: validation {info.get('metric')}",
        f"- Trained: {info.get('trained_at', 'unknown')} (refit on {info.get('refit_on', 'train')})",
        f"- Source data: {info.get('source', 'unknown')}",
    ]
    if schema.classes:
        lines.append(f"- Classes: {', '.join(map(str, schema.classes))}")
    lines += [
        "",
        "## Data",
        f"- Split ({split.get('strategy', '?')}, seed {split.get('seed', '?')}): "
        + ", ".join(f"{k} {v} rows" for k, v in rows.items()),
        f"- Features ({len(schema.features)}): "
        + ", ".join(f"`{c.name}` ({c.role})" for c in schema.features[:40])
        + (" ..." if len(schema.features) > 40 else ""),
    ]
    excluded = [c for c in schema.columns if not c.role.is_feature]
    if excluded:
        lines.append("- Excluded: " + ", ".join(f"`{c.name}` ({c.role})" for c in excluded[:20]))
    lines += ["", "## Metrics", "", "| metric | validation | test |", "|---|---|---|"]
    valid = bundle.metrics.get("valid", {})
    test = bundle.metrics.get("test", {})
    for key in sorted(set(valid) | set(test)):
        lines.append(f"| {key} | {_fmt(valid.get(key))} | {_fmt(test.get(key))} |")
    lines += [
        "",
        "## Limits",
        "- Valid for data like the training data: numeric inputs outside the ranges seen "
        "in training, and categories not seen in training, are extrapolated or treated "
        "as unknown.",
        "- Test metrics come from a single held-out split; expect some variation on new data.",
        "- Check the data for bias before using predictions to make decisions about people.",
    ]
    if notes:
        lines += ["", "## Notes from training", *[f"- {n}" for n in notes]]
    return "\n".join(lines) + "\n"
