"""Plotly figure builders with one quiet house style, from precomputed numbers.

Every builder takes summaries (bin edges and counts, category counts, a matrix),
never raw rows, so a report stays small whatever the size of the data.

Examples
--------
>>> fig = histogram([0.0, 1.0, 2.0], [3, 5], x_title="age")
>>> fig.data[0].type
'bar'
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from functools import cache
from typing import Any

import numpy as np
import plotly.graph_objects as go

__all__ = [
    "ACCENT",
    "COLORWAY",
    "bar",
    "heatmap",
    "histogram",
    "template",
]

ACCENT = "#4f46e5"
#: Colour-blind-friendly qualitative palette (Okabe-Ito, accent first).
COLORWAY = ["#4f46e5", "#e69f00", "#009e73", "#cc79a7", "#56b4e9", "#d55e00", "#f0e442", "#000000"]
_DIVERGING = [
    [0.0, "#b2182b"],
    [0.25, "#ef8a62"],
    [0.5, "#f7f7f7"],
    [0.75, "#67a9cf"],
    [1.0, "#2166ac"],
]
_SEQUENTIAL = [[0.0, "#f7f7fb"], [0.5, "#9e9ac8"], [1.0, "#3f007d"]]


@cache
def template() -> go.layout.Template:
    """A small layout template (plotly's default one adds ~7 KB to every figure)."""
    return go.layout.Template(
        layout={
            "font": {
                "family": "system-ui, -apple-system, Segoe UI, Roboto, sans-serif",
                "size": 12,
            },
            "colorway": COLORWAY,
            "paper_bgcolor": "#ffffff",
            "plot_bgcolor": "#ffffff",
            "margin": {"l": 56, "r": 16, "t": 36, "b": 44},
            "xaxis": {"gridcolor": "#eef0f3", "linecolor": "#d1d5db", "zeroline": False},
            "yaxis": {"gridcolor": "#eef0f3", "linecolor": "#d1d5db", "zeroline": False},
            "hoverlabel": {"font": {"size": 12}},
            "title": {"font": {"size": 14}, "x": 0.0, "xanchor": "left"},
        }
    )


def _figure(height: int, title: str | None) -> go.Figure:
    return go.Figure(layout={"template": template(), "height": height, "title": {"text": title}})


def histogram(
    edges: Sequence[Any],
    counts: Sequence[int],
    *,
    title: str | None = None,
    x_title: str | None = None,
    y_title: str = "rows",
    height: int = 280,
    color: str = ACCENT,
) -> go.Figure:
    """Bars for precomputed bins: ``len(edges) == len(counts) + 1``.

    Edges may be numbers or ISO date strings (a time axis).
    """
    if len(edges) != len(counts) + 1:
        raise ValueError(
            f"histogram needs one more edge than counts; got {len(edges)} edges and "
            f"{len(counts)} counts."
        )
    fig = _figure(height, title)
    if edges and isinstance(edges[0], str):
        import pandas as pd

        ts = pd.to_datetime(list(edges))
        left, right = ts[:-1], ts[1:]
        x: Any = [m.isoformat() for m in left + (right - left) / 2]
        width: Any = [d.total_seconds() * 1000 for d in right - left]  # ms on a date axis
        lows, highs = list(edges[:-1]), list(edges[1:])
    else:
        e = np.asarray(edges, dtype="float64")
        x, width = list((e[:-1] + e[1:]) / 2), list(np.diff(e))
        lows, highs = [f"{v:.4g}" for v in e[:-1]], [f"{v:.4g}" for v in e[1:]]
    fig.add_bar(
        x=x,
        y=list(counts),
        width=width,
        marker={"color": color, "line": {"width": 0}},
        customdata=list(zip(lows, highs, strict=True)),
        hovertemplate="%{customdata[0]} to %{customdata[1]}<br>%{y:,} rows<extra></extra>",
    )
    fig.update_layout(bargap=0.04, xaxis_title=x_title, yaxis_title=y_title)
    return fig


def bar(
    labels: Sequence[Any],
    values: Sequence[float],
    *,
    title: str | None = None,
    horizontal: bool = False,
    x_title: str | None = None,
    y_title: str | None = None,
    height: int | None = None,
    color: str | Sequence[str] = ACCENT,
    text: Sequence[str] | None = None,
    hover: str = "%{y:,}",
) -> go.Figure:
    """Bars for category counts or scores; *horizontal* lists labels top to bottom."""
    names = [str(v) for v in labels]
    if height is None:
        height = max(220, 24 * len(names) + 80) if horizontal else 280
    fig = _figure(height, title)
    if horizontal:
        fig.add_bar(
            x=list(values),
            y=names,
            orientation="h",
            marker={"color": color},
            text=list(text) if text is not None else None,
            textposition="auto",
            hovertemplate=f"%{{y}}: {hover.replace('%{y', '%{x')}<extra></extra>",
        )
        fig.update_yaxes(autorange="reversed", automargin=True, type="category")
    else:
        fig.add_bar(
            x=names,
            y=list(values),
            marker={"color": color},
            text=list(text) if text is not None else None,
            textposition="outside",
            textangle=0,
            cliponaxis=False,
            hovertemplate=f"%{{x}}: {hover}<extra></extra>",
        )
        fig.update_xaxes(type="category", automargin=True)
    fig.update_layout(xaxis_title=x_title, yaxis_title=y_title, bargap=0.25)
    return fig


def heatmap(
    matrices: Mapping[str, Sequence[Sequence[float | None]]],
    x: Sequence[str],
    y: Sequence[str] | None = None,
    *,
    title: str | None = None,
    zmin: float = -1.0,
    zmax: float = 1.0,
    diverging: bool = True,
    height: int | None = None,
) -> go.Figure:
    """A heat map; several *matrices* (same shape) get buttons to switch between them.

    Missing values (None/NaN) are left blank. Cells show their value when the matrix is
    small enough to read.
    """
    if not matrices:
        raise ValueError("heatmap needs at least one matrix; got none.")
    y = list(x) if y is None else list(y)
    n = max(len(x), len(y))
    if height is None:
        height = int(min(900, max(320, 18 * len(y) + 160)))
    fig = _figure(height, title)
    show_text = len(x) <= 16 and len(y) <= 30
    for i, (name, values) in enumerate(matrices.items()):
        z = np.array([[np.nan if v is None else v for v in row] for row in values], dtype="float64")
        fig.add_heatmap(
            z=np.round(z, 3).tolist(),
            x=list(x),
            y=y,
            zmin=zmin,
            zmax=zmax,
            colorscale=_DIVERGING if diverging else _SEQUENTIAL,
            colorbar={"thickness": 12, "len": 0.9},
            hoverongaps=False,
            texttemplate="%{z:.2f}" if show_text else None,
            textfont={"size": 10},
            name=name,
            visible=i == 0,
            hovertemplate=f"%{{y}} \u00d7 %{{x}}<br>{name}: %{{z:.3f}}<extra></extra>",
        )
    axis = {
        "type": "category",
        "automargin": True,
        "showgrid": False,
        "tickfont": {"size": 10 if n > 30 else 11},
    }
    fig.update_xaxes(**axis, tickangle=-45 if n > 6 else 0)
    fig.update_yaxes(**axis, autorange="reversed")
    if list(x) == y:  # a square matrix gets square cells
        fig.update_yaxes(scaleanchor="x", constrain="domain")
        fig.update_xaxes(constrain="domain")
    if len(matrices) > 1:
        names = list(matrices)
        buttons = [
            {
                "label": name,
                "method": "restyle",
                "args": [{"visible": [j == i for j in range(len(names))]}],
            }
            for i, name in enumerate(names)
        ]
        fig.update_layout(
            updatemenus=[
                {
                    "type": "buttons",
                    "direction": "right",
                    "buttons": buttons,
                    "x": 1.0,
                    "xanchor": "right",
                    "y": 1.0,
                    "yanchor": "bottom",
                    "pad": {"b": 6},
                    "showactive": True,
                }
            ],
            margin={"t": 56},
        )
    return fig
