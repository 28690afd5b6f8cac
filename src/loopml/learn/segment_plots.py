"""Pictures of a segmentation: a 2-D projection and Plotly figures of a Segmenter."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
from sklearn.utils.validation import check_is_fitted

from loopml.learn.unsupervised_features import as_dense

if TYPE_CHECKING:
    from loopml.learn.clustering import Segmenter

__all__ = ["figures", "projection_2d"]


def projection_2d(
    Xt: Any, labels: Any = None, *, max_points: int = 5000, random_state: int = 0
) -> pd.DataFrame:
    """Rows projected on their first two principal components, for a scatter plot.

    Returns a frame with columns pc1, pc2 (and segment when *labels* are given) of
    at most *max_points* rows (a seeded sample); ``attrs["explained_variance_ratio"]``
    holds the share of variance each axis keeps.
    """
    from sklearn.decomposition import PCA

    X = as_dense(Xt, "Xt")
    n_comp = min(2, X.shape[1], len(X))
    pca = PCA(n_components=n_comp, random_state=random_state).fit(X)
    rng = np.random.default_rng(random_state)
    rows = (
        np.arange(len(X))
        if len(X) <= max_points
        else np.sort(rng.choice(len(X), max_points, replace=False))
    )
    proj = pca.transform(X[rows])
    if proj.shape[1] < 2:
        proj = np.column_stack([proj, np.zeros(len(proj))])
    out = pd.DataFrame({"pc1": proj[:, 0], "pc2": proj[:, 1]}, index=rows)
    if labels is not None:
        out["segment"] = np.asarray(labels)[rows]
    out.attrs["explained_variance_ratio"] = [float(v) for v in pca.explained_variance_ratio_]
    return out


def figures(segmenter: Segmenter, X: Any, *, max_points: int = 5000) -> dict[str, Any]:
    """Plotly figures of a fitted :class:`Segmenter` on rows *X*.

    Keys: "k_selection" (inertia and silhouette per k, when k was chosen
    automatically), "projection" (2-D PCA scatter coloured by segment), "sizes"
    (rows per segment).
    """
    import plotly.graph_objects as go
    from plotly.subplots import make_subplots

    check_is_fitted(segmenter, "labels_")
    out: dict[str, Any] = {}
    scores = segmenter.k_scores_
    if scores is not None:
        fig = make_subplots(specs=[[{"secondary_y": True}]])
        fig.add_trace(
            go.Scatter(
                x=scores["k"], y=scores["inertia"], name="inertia (elbow)", mode="lines+markers"
            )
        )
        fig.add_trace(
            go.Scatter(
                x=scores["k"], y=scores["silhouette"], name="silhouette", mode="lines+markers"
            ),
            secondary_y=True,
        )
        fig.add_vline(x=segmenter.k_, line_dash="dash", annotation_text=f"chosen k={segmenter.k_}")
        fig.update_layout(title="Choosing k", xaxis_title="k")
        fig.update_yaxes(title_text="inertia", secondary_y=False)
        fig.update_yaxes(title_text="silhouette", secondary_y=True)
        out["k_selection"] = fig
    labels = segmenter.predict(X)
    proj = projection_2d(segmenter.feature_matrix(X), labels, max_points=max_points)
    ratio = proj.attrs["explained_variance_ratio"] + [0.0, 0.0]
    fig = go.Figure()
    for s in sorted(proj["segment"].unique()):
        part = proj[proj["segment"] == s]
        fig.add_trace(
            go.Scattergl(
                x=part["pc1"],
                y=part["pc2"],
                mode="markers",
                name="noise" if s < 0 else f"segment {s}",
                marker={"size": 5, "opacity": 0.7},
            )
        )
    fig.update_layout(
        title="Segments on the first two principal components",
        xaxis_title=f"PC1 ({ratio[0]:.0%} of variance)",
        yaxis_title=f"PC2 ({ratio[1]:.0%} of variance)",
    )
    out["projection"] = fig
    seg, counts = np.unique(labels, return_counts=True)
    out["sizes"] = go.Figure(
        go.Bar(x=["noise" if s < 0 else f"segment {s}" for s in seg], y=counts),
        layout={"title": "Rows per segment", "yaxis_title": "rows"},
    )
    return out
