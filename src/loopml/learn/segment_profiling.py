"""Describe segments: what sets each one apart from the whole data."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from loopml.exceptions import DataError
from loopml.learn.unsupervised_features import as_frame

if TYPE_CHECKING:
    from loopml.data.schema import Schema

__all__ = ["SegmentProfiles", "segment_profiles"]


@dataclass
class SegmentProfiles:
    """What sets each segment apart.

    Attributes
    ----------
    summary : DataFrame
        One row per segment: segment, size, share, top_features (list of str),
        description (a sentence).
    features : DataFrame
        One row per (segment, feature): kind ("numeric"/"categorical"),
        segment_value (mean, or most distinctive category), overall_value (mean,
        or that category's overall share), effect (standardised mean difference, or
        Cohen's h of the category's share), lift (categorical: share in segment /
        overall share), detail (text).
    """

    summary: pd.DataFrame
    features: pd.DataFrame

    def to_dict(self) -> dict[str, Any]:
        return {
            "summary": self.summary.to_dict(orient="records"),
            "features": self.features.to_dict(orient="records"),
        }


def segment_profiles(
    X: pd.DataFrame,
    labels: Any,
    *,
    schema: Schema | None = None,
    top: int = 3,
    max_categories: int = 50,
) -> SegmentProfiles:
    """Per segment: size and share, each feature's mean (numeric) or most distinctive
    category (categorical) against the whole data, and the *top* features that
    distinguish it.

    Numeric features are compared by the standardised mean difference
    ``(segment mean - overall mean) / overall std``; categorical features by Cohen's
    h ``2 asin(sqrt(q)) - 2 asin(sqrt(p))`` of the category whose share ``q`` in the
    segment departs most from its overall share ``p``. Both are on the scale of
    standard deviations, so they rank together (|effect| ~0.2 small, ~0.8 large).
    Column roles come from *schema* (default: inferred from *X*); ids, text,
    dates and constants are left out.
    """
    from loopml.data.schema import Role, infer_schema

    frame = as_frame(X)
    lab = np.asarray(labels)
    if len(lab) != len(frame):
        raise DataError(f"X has {len(frame)} rows but labels has {len(lab)}.")
    schema = schema or infer_schema(frame)
    numeric = [c.name for c in schema.features if c.role == Role.NUMERIC and c.name in frame]
    categorical = [
        c.name
        for c in schema.features
        if c.role in (Role.CATEGORICAL, Role.BOOLEAN) and c.name in frame
    ]
    segments = np.unique(lab)
    rows: list[dict[str, Any]] = []
    for col in numeric:
        values = pd.to_numeric(frame[col], errors="coerce").to_numpy(dtype=np.float64)
        mean = float(np.nanmean(values)) if np.isfinite(values).any() else math.nan
        std = float(np.nanstd(values)) if np.isfinite(values).any() else math.nan
        for s in segments:
            seg = values[lab == s]
            m = float(np.nanmean(seg)) if np.isfinite(seg).any() else math.nan
            d = (m - mean) / std if std > 0 else 0.0
            rows.append(
                {
                    "segment": int(s),
                    "feature": col,
                    "kind": "numeric",
                    "segment_value": m,
                    "overall_value": mean,
                    "effect": d,
                    "lift": math.nan,
                    "detail": f"mean {m:.4g} vs {mean:.4g} overall ({d:+.2f} sd)",
                }
            )
    for col in categorical:
        cats = frame[col].astype("string").fillna("(missing)")
        top_values = cats.value_counts().index[:max_categories]
        cats = cats.where(cats.isin(top_values), "(other)")
        overall = cats.value_counts(normalize=True)
        table = pd.crosstab(lab, cats, normalize="index")
        for s in segments:
            q = table.loc[s].reindex(overall.index, fill_value=0.0)
            h = 2 * np.arcsin(np.sqrt(q.to_numpy())) - 2 * np.arcsin(np.sqrt(overall.to_numpy()))
            j = int(np.argmax(np.abs(h)))
            value, qj, pj = overall.index[j], float(q.iloc[j]), float(overall.iloc[j])
            rows.append(
                {
                    "segment": int(s),
                    "feature": col,
                    "kind": "categorical",
                    "segment_value": str(value),
                    "overall_value": pj,
                    "effect": float(h[j]),
                    "lift": qj / pj if pj > 0 else math.nan,
                    "detail": f"{col} = '{value}' in {qj:.0%} vs {pj:.0%} overall "
                    f"(lift {qj / pj if pj > 0 else math.nan:.2f})",
                }
            )
    features = pd.DataFrame(
        rows,
        columns=[
            "segment",
            "feature",
            "kind",
            "segment_value",
            "overall_value",
            "effect",
            "lift",
            "detail",
        ],
    )
    summary_rows = []
    n = len(lab)
    for s in segments:
        size = int((lab == s).sum())
        mine = features[features["segment"] == int(s)]
        mine = mine.reindex(
            mine["effect"].abs().sort_values(ascending=False, kind="mergesort").index
        )
        best = mine.head(top)
        name = "noise" if s < 0 else f"Segment {int(s)}"
        phrases = [_phrase(r) for r in best.itertuples()]
        summary_rows.append(
            {
                "segment": int(s),
                "size": size,
                "share": size / n,
                "top_features": best["feature"].tolist(),
                "description": f"{name} ({size / n:.0%} of rows): "
                + ("; ".join(phrases) if phrases else "no distinguishing feature"),
            }
        )
    return SegmentProfiles(pd.DataFrame(summary_rows), features)


def _phrase(row: Any) -> str:
    if row.kind == "numeric":
        level = "high" if row.effect > 0 else "low"
        return f"{level} {row.feature} ({row.effect:+.1f} sd)"
    return str(row.detail)
