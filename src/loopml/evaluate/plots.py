"""Plotly figures for model evaluation, in the report's house style, and PNG export.

Classification: :func:`confusion_matrix`, :func:`roc_curves`, :func:`pr_curves`,
:func:`calibration`, :func:`threshold`. Regression: :func:`residuals`,
:func:`predicted_vs_actual`. Any model: :func:`feature_importance`,
:func:`learning_curve`, :func:`validation_curve`, :func:`bias_variance`,
:func:`leaderboard`. Builders take the numbers the evaluators already computed
(confusion counts, curve points); scatter plots subsample to a few thousand
points, so a report stays small whatever the size of the data.

:func:`export_png` writes a figure as PNG with kaleido when it is installed,
else with matplotlib (line, scatter, bar and heat-map traces), else skips.

Examples
--------
>>> fig = roc_curves({"1": {"fpr": [0, 0.2, 1], "tpr": [0, 0.8, 1]}}, {"1": 0.8})
>>> fig.data[0].type
'scatter'
"""

from __future__ import annotations

import importlib.util
import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import plotly.graph_objects as go

from loopml.report.figures import ACCENT, COLORWAY, template

if TYPE_CHECKING:
    import pandas as pd

    from loopml.evaluate.fit import BiasVariance, Curve

__all__ = [
    "MAX_POINTS",
    "bias_variance",
    "calibration",
    "calibration_bins",
    "confusion_matrix",
    "export_png",
    "feature_importance",
    "leaderboard",
    "learning_curve",
    "png_backend",
    "pr_curves",
    "predicted_vs_actual",
    "residuals",
    "roc_curves",
    "threshold",
    "validation_curve",
]

#: Scatter plots show at most this many points (a random sample above it).
MAX_POINTS = 3_000
_GREY = "#9ca3af"
_SECOND = COLORWAY[1]


def _figure(title: str | None, height: int = 380) -> go.Figure:
    return go.Figure(layout={"template": template(), "height": height, "title": {"text": title}})


def _legend(fig: go.Figure) -> None:
    fig.update_layout(
        legend={"orientation": "h", "yanchor": "bottom", "y": 1.0, "xanchor": "right", "x": 1.0},
        margin={"t": 56},
    )


def _list(a: Any) -> list[float | None]:
    arr = np.asarray(a, dtype="float64")
    return [None if not math.isfinite(v) else round(float(v), 6) for v in arr]


# -- classification -----------------------------------------------------------------------------


def confusion_matrix(
    labels: Sequence[Any], counts: Any, *, title: str | None = "Confusion matrix"
) -> go.Figure:
    """Heat map coloured by each true class's share (recall on the diagonal), counts as text."""
    c = np.asarray(counts, dtype="float64")
    rows = c.sum(axis=1, keepdims=True)
    share = np.divide(c, rows, out=np.zeros_like(c), where=rows > 0)
    names = [str(v) for v in labels]
    k = len(names)
    fig = _figure(title, height=int(min(760, max(340, 34 * k + 160))))
    fig.add_heatmap(
        z=np.round(share, 4).tolist(),
        x=names,
        y=names,
        zmin=0,
        zmax=1,
        colorscale=[[0.0, "#f7f7fb"], [0.5, "#9e9ac8"], [1.0, "#3f007d"]],
        colorbar={"thickness": 12, "len": 0.9, "title": {"text": "share"}, "tickformat": ".0%"},
        customdata=c.astype(np.int64).tolist(),
        text=[
            [f"{int(v):,}<br>{s:.0%}" for v, s in zip(r, sr, strict=True)]
            for r, sr in zip(c, share, strict=True)
        ],
        texttemplate="%{text}" if k <= 12 else None,
        hovertemplate="true %{y}, predicted %{x}<br>%{customdata:,} rows "
        "(%{z:.1%} of true %{y})<extra></extra>",
    )
    axis = {"type": "category", "automargin": True, "showgrid": False}
    fig.update_xaxes(**axis, title="predicted", side="bottom")
    fig.update_yaxes(**axis, title="true", autorange="reversed")
    return fig


def _diagonal(fig: go.Figure, x: Sequence[float], y: Sequence[float], name: str) -> None:
    fig.add_scatter(
        x=list(x),
        y=list(y),
        mode="lines",
        name=name,
        line={"color": _GREY, "dash": "dash", "width": 1},
        hoverinfo="skip",
    )


def roc_curves(
    curves: Mapping[Any, Mapping[str, Any]],
    aucs: Mapping[Any, float | None] | None = None,
    *,
    title: str | None = "ROC curve",
) -> go.Figure:
    """ROC curves (``{label: {"fpr", "tpr"}}``), one per class, with the chance diagonal."""
    fig = _figure(title, 400)
    for i, (label, pts) in enumerate(curves.items()):
        auc = (aucs or {}).get(label)
        name = f"{label} (AUC {auc:.3f})" if auc is not None else str(label)
        fig.add_scatter(
            x=_list(pts["fpr"]),
            y=_list(pts["tpr"]),
            mode="lines",
            name=name,
            line={"color": COLORWAY[i % len(COLORWAY)], "width": 2, "shape": "hv"},
            hovertemplate="FPR %{x:.3f}<br>TPR %{y:.3f}<extra>" + str(label) + "</extra>",
        )
    _diagonal(fig, [0, 1], [0, 1], "chance")
    fig.update_xaxes(title="false positive rate", range=[0, 1], constrain="domain")
    fig.update_yaxes(title="true positive rate (recall)", range=[0, 1.02], scaleanchor="x")
    _legend(fig)
    return fig


def pr_curves(
    curves: Mapping[Any, Mapping[str, Any]],
    aps: Mapping[Any, float | None] | None = None,
    prevalence: Mapping[Any, float] | None = None,
    *,
    title: str | None = "Precision-recall curve",
) -> go.Figure:
    """Precision-recall curves (``{label: {"precision", "recall"}}``), with the prevalence
    line when there is one class."""
    fig = _figure(title, 400)
    for i, (label, pts) in enumerate(curves.items()):
        ap = (aps or {}).get(label)
        color = COLORWAY[i % len(COLORWAY)]
        fig.add_scatter(
            x=_list(pts["recall"]),
            y=_list(pts["precision"]),
            mode="lines",
            name=f"{label} (AP {ap:.3f})" if ap is not None else str(label),
            line={"color": color, "width": 2, "shape": "vh"},
            hovertemplate="recall %{x:.3f}<br>precision %{y:.3f}<extra>" + str(label) + "</extra>",
        )
        if prevalence and label in prevalence and len(curves) == 1:
            p = float(prevalence[label])
            _diagonal(fig, [0, 1], [p, p], f"no skill ({p:.2f})")
    fig.update_xaxes(title="recall", range=[0, 1])
    fig.update_yaxes(title="precision", range=[0, 1.02])
    _legend(fig)
    return fig


def calibration_bins(y_true: Any, prob: Any, n_bins: int = 10) -> dict[str, list[float]]:
    """Equal-width bins of predicted probability: mean prediction, observed rate, rows."""
    y = np.asarray(y_true, dtype="float64")
    p = np.clip(np.asarray(prob, dtype="float64"), 0.0, 1.0)
    idx = np.minimum((p * n_bins).astype(np.int64), n_bins - 1)
    n = np.bincount(idx, minlength=n_bins)
    sum_p = np.bincount(idx, weights=p, minlength=n_bins)
    sum_y = np.bincount(idx, weights=y, minlength=n_bins)
    keep = n > 0
    return {
        "predicted": list(sum_p[keep] / n[keep]),
        "observed": list(sum_y[keep] / n[keep]),
        "rows": [int(v) for v in n[keep]],
    }


def calibration(
    y_codes: Any,
    proba: Any,
    classes: Sequence[Any],
    *,
    n_bins: int = 10,
    max_classes: int = 6,
    title: str | None = "Calibration (reliability)",
) -> go.Figure:
    """Observed frequency against mean predicted probability per bin (one-vs-rest per class).

    Binary: the positive class ``classes[1]`` only. A calibrated model follows the diagonal.
    """
    y = np.asarray(y_codes, dtype=np.int64)
    P = np.asarray(proba, dtype="float64")
    if P.ndim == 1:
        P = np.column_stack([1 - P, P])
    shown = [1] if len(classes) == 2 else list(range(min(len(classes), max_classes)))
    fig = _figure(title, 400)
    for i, c in enumerate(shown):
        b = calibration_bins(y == c, P[:, c], n_bins)
        fig.add_scatter(
            x=b["predicted"],
            y=b["observed"],
            mode="lines+markers",
            name=str(classes[c]),
            customdata=b["rows"],
            marker={"size": [max(5.0, min(16.0, 3 * math.log1p(r))) for r in b["rows"]]},
            line={"color": COLORWAY[i % len(COLORWAY)], "width": 2},
            hovertemplate="predicted %{x:.2f}<br>observed %{y:.2f}<br>%{customdata:,} rows"
            f"<extra>{classes[c]}</extra>",
        )
    _diagonal(fig, [0, 1], [0, 1], "perfectly calibrated")
    fig.update_xaxes(title="mean predicted probability", range=[0, 1])
    fig.update_yaxes(title="observed frequency", range=[0, 1.02])
    _legend(fig)
    return fig


def threshold(
    curve: pd.DataFrame,
    *,
    current: float | None = 0.5,
    metrics: Sequence[str] = ("precision", "recall", "f1", "predicted_positive_rate"),
    title: str | None = "Metrics by decision threshold",
    max_points: int = 400,
) -> go.Figure:
    """Metrics against the threshold on the positive-class probability (from
    :func:`loopml.evaluate.threshold.threshold_curve`), with the current threshold marked."""
    df = curve.sort_values("threshold")
    df = df[np.isfinite(df["threshold"])]
    if len(df) > max_points:
        take = np.unique(np.linspace(0, len(df) - 1, max_points).round().astype(int))
        df = df.iloc[take]
    fig = _figure(title, 380)
    for i, name in enumerate(m for m in metrics if m in df.columns):
        fig.add_scatter(
            x=_list(df["threshold"]),
            y=_list(df[name]),
            mode="lines",
            name=name.replace("_", " "),
            line={"color": COLORWAY[i % len(COLORWAY)], "width": 2, "shape": "hv"},
            hovertemplate="threshold %{x:.3f}<br>" + name + " %{y:.3f}<extra></extra>",
        )
    if current is not None:
        fig.add_vline(
            x=float(current),
            line={"color": _GREY, "dash": "dot", "width": 1},
            annotation_text=f"threshold {current:g}",
            annotation_position="top left",
        )
    fig.update_xaxes(title="threshold on the positive-class probability", range=[0, 1])
    fig.update_yaxes(title="value", range=[0, 1.02])
    _legend(fig)
    return fig


# -- regression ---------------------------------------------------------------------------------


def _subsample(n: int, max_points: int, seed: int) -> np.ndarray[Any, Any]:
    if n <= max_points:
        return np.arange(n)
    return np.sort(np.random.RandomState(seed).choice(n, max_points, replace=False))


def residuals(
    y_true: Any,
    y_pred: Any,
    *,
    title: str | None = "Residuals vs predicted",
    max_points: int = MAX_POINTS,
    seed: int = 0,
) -> go.Figure:
    """Residuals (actual - predicted) against the prediction; a pattern means missed signal."""
    yt = np.asarray(y_true, dtype="float64")
    yp = np.asarray(y_pred, dtype="float64")
    idx = _subsample(len(yt), max_points, seed)
    res = yt[idx] - yp[idx]
    fig = _figure(title, 380)
    fig.add_scatter(
        x=_list(yp[idx]),
        y=_list(res),
        mode="markers",
        name="rows",
        marker={"color": ACCENT, "size": 5, "opacity": 0.55},
        hovertemplate="predicted %{x:.4g}<br>residual %{y:.4g}<extra></extra>",
    )
    fig.add_hline(y=0, line={"color": _GREY, "dash": "dash", "width": 1})
    fig.update_xaxes(title="predicted")
    fig.update_yaxes(title="residual (actual - predicted)")
    if len(idx) < len(yt):
        fig.update_layout(title={"text": f"{title} ({len(idx):,} of {len(yt):,} rows)"})
    return fig


def predicted_vs_actual(
    y_true: Any,
    y_pred: Any,
    *,
    title: str | None = "Predicted vs actual",
    max_points: int = MAX_POINTS,
    seed: int = 0,
) -> go.Figure:
    """Predicted against actual values; perfect predictions lie on the diagonal."""
    yt = np.asarray(y_true, dtype="float64")
    yp = np.asarray(y_pred, dtype="float64")
    idx = _subsample(len(yt), max_points, seed)
    lo = float(min(yt.min(), yp.min())) if len(yt) else 0.0
    hi = float(max(yt.max(), yp.max())) if len(yt) else 1.0
    fig = _figure(title, 380)
    fig.add_scatter(
        x=_list(yt[idx]),
        y=_list(yp[idx]),
        mode="markers",
        name="rows",
        marker={"color": ACCENT, "size": 5, "opacity": 0.55},
        hovertemplate="actual %{x:.4g}<br>predicted %{y:.4g}<extra></extra>",
    )
    _diagonal(fig, [lo, hi], [lo, hi], "perfect")
    fig.update_xaxes(title="actual")
    fig.update_yaxes(title="predicted")
    fig.update_layout(showlegend=False)
    return fig


# -- any model ----------------------------------------------------------------------------------


def feature_importance(
    names: Sequence[str],
    values: Sequence[float],
    errors: Sequence[float] | None = None,
    *,
    title: str | None = "Feature importance",
    x_title: str = "importance",
    top: int = 20,
) -> go.Figure:
    """Horizontal bars, largest absolute importance first (at most *top*)."""
    v = np.asarray(values, dtype="float64")
    order = np.argsort(-np.abs(np.nan_to_num(v)), kind="stable")[:top]
    labels = [str(names[i]) for i in order]
    fig = _figure(title, max(240, 22 * len(labels) + 100))
    err = None
    if errors is not None:
        e = np.asarray(errors, dtype="float64")
        err = {"type": "data", "array": _list(e[order]), "color": _GREY, "thickness": 1}
    fig.add_bar(
        x=_list(v[order]),
        y=labels,
        orientation="h",
        marker={"color": [ACCENT if v[i] >= 0 else _SECOND for i in order]},
        error_x=err,
        hovertemplate="%{y}: %{x:.4g}<extra></extra>",
    )
    fig.update_yaxes(autorange="reversed", automargin=True, type="category")
    fig.update_xaxes(title=x_title)
    return fig


def _band(
    fig: go.Figure,
    x: list[Any],
    mean: list[float | None],
    std: list[float | None],
    name: str,
    color: str,
) -> None:
    m = np.array([np.nan if v is None else v for v in mean], dtype="float64")
    s = np.array([0.0 if v is None else v for v in std], dtype="float64")
    fig.add_scatter(
        x=x + x[::-1],
        y=_list(m + s) + _list((m - s)[::-1]),
        fill="toself",
        mode="lines",
        fillcolor=color,
        opacity=0.15,
        line={"width": 0},
        hoverinfo="skip",
        showlegend=False,
        name=f"{name} ± std",
    )
    fig.add_scatter(
        x=x,
        y=_list(m),
        mode="lines+markers",
        name=name,
        line={"color": color, "width": 2},
        hovertemplate="%{x}<br>" + name + " %{y:.4g}<extra></extra>",
    )


def _curve(c: Curve, title: str | None, x_title: str) -> go.Figure:
    fig = _figure(title, 360)
    x = [str(v) if not isinstance(v, int | float) else v for v in c.x]
    _band(fig, x, c.train_mean, c.train_std, "training", ACCENT)
    _band(fig, x, c.valid_mean, c.valid_std, "cross-validated", _SECOND)
    direction = "higher is better" if c.greater_is_better else "lower is better"
    fig.update_yaxes(title=f"{c.metric} ({direction})")
    fig.update_xaxes(title=x_title, type="log" if c.log_x else None)
    if c.current is not None:
        fig.add_vline(
            x=float(c.current),
            line={"color": _GREY, "dash": "dot", "width": 1},
            annotation_text=f"current {c.current:g}",
            annotation_position="top left",
        )
    _legend(fig)
    return fig


def learning_curve(c: Curve, *, title: str | None = "Learning curve") -> go.Figure:
    """Training and cross-validated score against training rows, ± one std over folds."""
    return _curve(c, title, "training rows")


def validation_curve(c: Curve, *, title: str | None = None) -> go.Figure:
    """Training and cross-validated score against one hyperparameter, current value marked."""
    return _curve(c, title or f"Validation curve: {c.param}", c.param)


def bias_variance(bv: BiasVariance, *, title: str | None = None) -> go.Figure:
    """The expected loss split into its parts, as one stacked horizontal bar."""
    if bv.task == "regression":
        parts = {"bias²": bv.bias, "variance": bv.variance, "noise": bv.noise or 0.0}
    else:
        parts = {"bias": bv.bias, "variance (net)": bv.net_variance or 0.0}
    fig = _figure(title or f"Bias-variance decomposition ({bv.loss})", 220)
    for i, (name, value) in enumerate(parts.items()):
        fig.add_bar(
            x=[round(float(value), 6)],
            y=["expected loss"],
            orientation="h",
            name=name,
            marker={"color": COLORWAY[i % len(COLORWAY)]},
            hovertemplate=f"{name}: %{{x:.4g}}<extra></extra>",
        )
    fig.update_layout(barmode="relative")
    fig.update_xaxes(title=bv.loss)
    fig.update_yaxes(showticklabels=False)
    _legend(fig)
    return fig


def leaderboard(
    models: Sequence[str],
    scores: Sequence[float | None],
    stds: Sequence[float | None] | None = None,
    *,
    metric: str,
    greater_is_better: bool = True,
    title: str | None = "Validation score by candidate",
) -> go.Figure:
    """Each candidate's validation score (± std over folds), best first as given."""
    vals = [np.nan if s is None else float(s) for s in scores]
    err = None
    if stds is not None and any(s is not None for s in stds):
        err = {
            "type": "data",
            "array": [0.0 if s is None else float(s) for s in stds],
            "color": _GREY,
        }
    colors = [ACCENT if i == 0 else "#a5b4fc" for i in range(len(models))]
    fig = _figure(title, max(220, 26 * len(models) + 110))
    fig.add_bar(
        x=vals,
        y=[str(m) for m in models],
        orientation="h",
        marker={"color": colors},
        error_x=err,
        hovertemplate="%{y}: %{x:.4g}<extra></extra>",
    )
    direction = "higher is better" if greater_is_better else "lower is better"
    fig.update_xaxes(title=f"validation {metric} ({direction})")
    fig.update_yaxes(autorange="reversed", automargin=True, type="category")
    return fig


# -- PNG export ---------------------------------------------------------------------------------


def png_backend() -> str | None:
    """``"kaleido"`` or ``"matplotlib"``: what :func:`export_png` would use (None: neither)."""
    if importlib.util.find_spec("kaleido") is not None:
        return "kaleido"
    if importlib.util.find_spec("matplotlib") is not None:
        return "matplotlib"
    return None


def export_png(
    fig: go.Figure, path: str | Path, *, width: int = 900, scale: float = 2.0
) -> Path | None:
    """Write *fig* as a PNG; returns the path, or None when no backend is installed.

    kaleido renders the figure exactly as the browser does. Without it, matplotlib
    redraws the figure's line, scatter, bar and heat-map traces (a plainer picture,
    same data). With neither, nothing is written: install one with
    ``pip install kaleido``.
    """
    path = Path(path)
    backend = png_backend()
    if backend is None:
        return None
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp.png")
    try:
        if backend == "kaleido":
            height = fig.layout.height or 450
            fig.write_image(str(tmp), format="png", width=width, height=height, scale=scale)
        else:
            _matplotlib_png(fig, tmp, width=width, scale=scale)
        tmp.replace(path)
    finally:
        tmp.unlink(missing_ok=True)
    return path


def _matplotlib_png(fig: go.Figure, path: Path, *, width: int, scale: float) -> None:
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    height = fig.layout.height or 450
    dpi = 100 * scale
    mfig, ax = plt.subplots(figsize=(width / 100, height / 100), dpi=dpi)
    heat = False
    try:
        for i, tr in enumerate(fig.data):
            color = _trace_color(tr, COLORWAY[i % len(COLORWAY)])
            if tr.type == "heatmap":
                z = np.array(tr.z, dtype="float64")
                im = ax.imshow(z, cmap="Purples", aspect="auto")
                if tr.x is not None:
                    ax.set_xticks(range(len(tr.x)), [str(v) for v in tr.x], rotation=45, ha="right")
                if tr.y is not None:
                    ax.set_yticks(range(len(tr.y)), [str(v) for v in tr.y])
                mfig.colorbar(im, ax=ax)
                text = tr.text
                if text is not None and z.size <= 144:
                    for (r, c), v in np.ndenumerate(z):
                        label = str(text[r][c]).replace("<br>", "\n")
                        ax.text(
                            c,
                            r,
                            label,
                            ha="center",
                            va="center",
                            fontsize=8,
                            color="white" if v > 0.5 else "black",
                        )
                heat = True
            elif tr.type == "bar":
                x = list(tr.x) if tr.x is not None else []
                y = list(tr.y) if tr.y is not None else []
                if tr.orientation == "h":
                    ax.barh(
                        [str(v) for v in y],
                        [np.nan if v is None else v for v in x],
                        color=color,
                        label=tr.name,
                    )
                    ax.invert_yaxis()
                else:
                    ax.bar(
                        [str(v) for v in x],
                        [np.nan if v is None else v for v in y],
                        color=color,
                        label=tr.name,
                    )
            elif tr.type == "scatter":
                xs = np.array([np.nan if v is None else v for v in (tr.x or [])], dtype="float64")
                ys = np.array([np.nan if v is None else v for v in (tr.y or [])], dtype="float64")
                if tr.fill == "toself":
                    ax.fill(xs, ys, color=color, alpha=0.15, linewidth=0)
                elif tr.mode and "lines" not in tr.mode:
                    ax.scatter(xs, ys, s=8, color=color, alpha=0.6, label=tr.name)
                else:
                    dashed = tr.line is not None and tr.line.dash in ("dash", "dot")
                    ax.plot(xs, ys, color=color, linestyle="--" if dashed else "-", label=tr.name)
        title = fig.layout.title.text if fig.layout.title else None
        if title:
            ax.set_title(title, loc="left", fontsize=11)
        if fig.layout.xaxis.title and fig.layout.xaxis.title.text:
            ax.set_xlabel(fig.layout.xaxis.title.text)
        if fig.layout.yaxis.title and fig.layout.yaxis.title.text:
            ax.set_ylabel(fig.layout.yaxis.title.text)
        if fig.layout.xaxis.type == "log":
            ax.set_xscale("log")
        if fig.layout.yaxis.autorange == "reversed" and not any(
            t.type in ("heatmap", "bar") for t in fig.data
        ):
            ax.invert_yaxis()
        if (
            any(t.name and t.type == "scatter" and t.fill != "toself" for t in fig.data)
            and len(fig.data) > 1
        ):
            ax.legend(fontsize=8, frameon=False)
        ax.grid(alpha=0.0 if heat else 0.3)
        mfig.tight_layout()
        mfig.savefig(path, format="png")
    finally:
        plt.close(mfig)


def _trace_color(tr: Any, default: str) -> Any:
    for part in (getattr(tr, "marker", None), getattr(tr, "line", None)):
        c = getattr(part, "color", None) if part is not None else None
        if isinstance(c, str):
            return c
        if isinstance(c, list | tuple) and c and all(isinstance(v, str) for v in c):
            return list(c)
    return default
