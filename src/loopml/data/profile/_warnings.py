"""Data-quality warnings."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pandas as pd

from loopml.data.profile._constants import (
    HIGH_CARDINALITY,
    IMBALANCE_RATIO,
    LEAKAGE_CORRELATION,
    LEAKAGE_SCORE,
    MISSING_THRESHOLD,
    SKEW_THRESHOLD,
)
from loopml.data.schema import Task

# -- duplicates and warnings --------------------------------------------------------------------

if TYPE_CHECKING:
    from loopml.data.profile import Profile


def _count_duplicates(df: pd.DataFrame) -> int:
    hashes = pd.util.hash_pandas_object(df, index=False)
    return int(hashes.duplicated().sum())


def _warn(kind: str, column: str | None, message: str, severity: str) -> dict[str, Any]:
    return {"kind": kind, "column": column, "message": message, "severity": severity}


def _warnings(p: Profile, task: Task | None) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    t = p.target
    target = t["column"] if t else None
    for a in (t or {}).get("associations", []):
        out.extend(_leakage_warning(a, target or "", task))
    if t and t["missing"]:
        out.append(
            _warn(
                "target_missing",
                target,
                f"Target '{target}' is missing in {t['missing']:,} rows; they cannot be used "
                "for training or evaluation. Drop them or find their labels.",
                "warning",
            )
        )
    if t and t.get("imbalance_ratio") and t["imbalance_ratio"] >= IMBALANCE_RATIO:
        classes = t["classes"]
        major = max(classes, key=lambda c: c["count"])
        minor = min(classes, key=lambda c: c["count"])
        out.append(
            _warn(
                "imbalance",
                target,
                f"Target '{target}' is imbalanced: class '{major['value']}' has "
                f"{t['imbalance_ratio']:.1f} times as many rows as class '{minor['value']}' "
                f"({100 * major['share']:.1f}% vs {100 * minor['share']:.1f}%). Use a stratified "
                "split, class weights, and metrics such as balanced accuracy, F1 or PR-AUC "
                "rather than accuracy.",
                "warning",
            )
        )
    if p.duplicates:
        out.append(
            _warn(
                "duplicates",
                None,
                f"{p.duplicates:,} rows ({100 * p.duplicates / p.n_rows:.1f}%) repeat an earlier "
                "row exactly. Drop them unless they are real repeated events: copies split across "
                "train and test inflate scores.",
                "warning",
            )
        )
    for col in p.columns:
        out.extend(_column_warnings(col, p.n_rows, target))
    order = {"danger": 0, "warning": 1, "info": 2}
    out.sort(key=lambda w: order.get(w["severity"], 3))
    return out


def _leakage_warning(a: dict[str, Any], target: str, task: Task | None) -> list[dict[str, Any]]:
    col, score = a["column"], a["score"]
    if task == Task.REGRESSION:
        if score <= LEAKAGE_CORRELATION:
            return []
        if a["measure"] == "correlation":
            detail = f"Pearson r = {a['pearson']:.3f}, Spearman rho = {a['spearman']:.3f}"
        else:
            detail = f"correlation ratio eta = {score:.3f}"
    else:
        auc = a.get("auc")
        if score < LEAKAGE_SCORE and not (auc is not None and auc >= LEAKAGE_SCORE):
            return []
        if a["measure"] == "category_purity":
            detail = f"predicting each category's most common class: balanced accuracy {score:.3f}"
        else:
            detail = f"a single-feature decision stump reaches balanced accuracy {score:.3f}"
            if auc is not None:
                detail += f", AUC {auc:.3f}"
    return [
        _warn(
            "leakage",
            col,
            f"Possible leakage: column '{col}' alone predicts the target '{target}' almost "
            f"perfectly ({detail}). If it is derived from the target or only known after it, "
            "drop it before training.",
            "danger",
        )
    ]


def _column_warnings(col: dict[str, Any], n_rows: int, target: str | None) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    name, role = col["name"], col["role"]
    if role in ("empty", "constant", "id"):
        msg = col.get("note") or f"Column '{name}' has role {role}; it is not used as a feature."
        out.append(_warn(role, name, msg, "info" if role == "id" else "warning"))
        return out
    share = col["missing"] / n_rows if n_rows else 0.0
    if share > MISSING_THRESHOLD and name != target:
        out.append(
            _warn(
                "missing",
                name,
                f"Column '{name}' is {100 * share:.1f}% missing ({col['missing']:,} of "
                f"{n_rows:,} rows). Impute it (with a missing-value indicator) or drop it.",
                "warning",
            )
        )
    if role == "categorical" and col["unique"] > HIGH_CARDINALITY:
        out.append(
            _warn(
                "high_cardinality",
                name,
                f"Column '{name}' has {col['unique']:,} distinct values "
                f"({col['unique_pct']:.1f}% of non-missing rows). One-hot encoding would add as "
                "many columns: group rare values, or use frequency or target encoding.",
                "warning",
            )
        )
    skew = col.get("skew")
    if col.get("kind") == "numeric" and skew is not None and abs(skew) > SKEW_THRESHOLD:
        what = "the target" if name == target else "linear and distance-based models"
        out.append(
            _warn(
                "skew",
                name,
                f"Column '{name}' is strongly skewed (skewness {skew:.2f}); consider a log, "
                f"Yeo-Johnson or quantile transform for {what}.",
                "info",
            )
        )
    return out
