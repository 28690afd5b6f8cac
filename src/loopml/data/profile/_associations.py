"""Correlation matrices, target associations and leakage checks."""

from __future__ import annotations

import math
import warnings
from typing import Any

import numpy as np
import pandas as pd

from loopml.data.profile._constants import (
    _MIN_ROWS_FOR_LEAKAGE,
    MAX_CATEGORICAL_COLUMNS,
    MAX_CATEGORIES,
    MAX_CORRELATION_COLUMNS,
)
from loopml.data.profile._stats import _as_float
from loopml.data.schema import Role, Task

# -- correlations ---------------------------------------------------------------------------


def _matrix(names: list[str], values: np.ndarray) -> dict[str, Any]:
    return {"columns": names, "values": np.round(values, 4).tolist()}


def _pearson(x: np.ndarray) -> np.ndarray:
    if not np.isnan(x).any():
        centred = x - x.mean(axis=0)
        norms = np.sqrt((centred**2).sum(axis=0))
        with np.errstate(invalid="ignore", divide="ignore"):
            c = (centred.T @ centred) / np.outer(norms, norms)
        c[:, norms == 0] = np.nan
        c[norms == 0, :] = np.nan
        np.fill_diagonal(c, np.where(norms == 0, np.nan, 1.0))
        return np.asarray(np.clip(c, -1.0, 1.0), dtype="float64")
    # Pairwise-complete Pearson (as pandas' DataFrame.corr) with matrix products:
    # every sum below runs over the rows where both columns of a pair are present.
    valid = (~np.isnan(x)).astype("float64")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # an all-missing column
        centred = np.where(valid > 0, x - np.nanmean(x, axis=0), 0.0)
    n = valid.T @ valid
    sx = centred.T @ valid  # sx[i, j]: sum of column i over rows where i and j are present
    sxx = (centred**2).T @ valid
    sxy = centred.T @ centred
    with np.errstate(invalid="ignore", divide="ignore"):
        cov = n * sxy - sx * sx.T
        var = (n * sxx - sx**2) * (n * sxx - sx**2).T
        c = cov / np.sqrt(var)
    c[(n < 3) | ~(var > 0)] = np.nan
    return np.asarray(np.clip(c, -1.0, 1.0), dtype="float64")


def _rank(v: np.ndarray) -> np.ndarray:
    """Average ranks (1-based, ties share their mean rank); NaN stays NaN."""
    out = np.full(v.shape, np.nan)
    mask = ~np.isnan(v)
    _, inverse, counts = np.unique(v[mask], return_inverse=True, return_counts=True)
    ends = np.cumsum(counts)
    out[mask] = (ends - (counts - 1) / 2.0)[inverse]
    return out


def _ranks(x: np.ndarray) -> np.ndarray:
    return np.column_stack([_rank(x[:, j]) for j in range(x.shape[1])])


def _codes(s: pd.Series) -> np.ndarray:
    """Integer codes of the most frequent categories; rarer ones pooled; -1 for missing."""
    codes, uniques = pd.factorize(s, use_na_sentinel=True)
    codes = np.asarray(codes, dtype="int64")
    if len(uniques) > MAX_CATEGORIES:
        freq = np.bincount(codes[codes >= 0], minlength=len(uniques))
        keep = np.argsort(-freq, kind="stable")[:MAX_CATEGORIES]
        remap = np.full(len(uniques), MAX_CATEGORIES, dtype="int64")
        remap[keep] = np.arange(MAX_CATEGORIES)
        codes = np.where(codes >= 0, remap[np.maximum(codes, 0)], -1)
    return codes


def cramers_v(a: np.ndarray, b: np.ndarray) -> float | None:
    """Bias-corrected Cramér's V (Bergsma 2013) between two code arrays (-1 = missing)."""
    mask = (a >= 0) & (b >= 0)
    a, b = a[mask], b[mask]
    n = a.size
    if n < 2:
        return None
    _, a = np.unique(a, return_inverse=True)
    _, b = np.unique(b, return_inverse=True)
    r, k = int(a.max()) + 1, int(b.max()) + 1
    if r < 2 or k < 2:
        return None
    table = np.bincount(a * k + b, minlength=r * k).reshape(r, k).astype("float64")
    expected = np.outer(table.sum(axis=1), table.sum(axis=0)) / n
    chi2 = float(((table - expected) ** 2 / expected).sum())
    phi2 = max(0.0, chi2 / n - (k - 1) * (r - 1) / (n - 1))
    r_corr = r - (r - 1) ** 2 / (n - 1)
    k_corr = k - (k - 1) ** 2 / (n - 1)
    denom = min(k_corr - 1, r_corr - 1)
    if denom <= 0:
        return None
    return float(min(1.0, math.sqrt(phi2 / denom)))


def correlation_ratio(x: np.ndarray, codes: np.ndarray) -> float | None:
    """η: how much of the variance of numeric *x* the categories explain (sqrt of R²)."""
    mask = np.isfinite(x) & (codes >= 0)
    x, c = x[mask], codes[mask]
    if x.size < 2:
        return None
    total = float(((x - x.mean()) ** 2).sum())
    if total == 0:
        return None
    sums = np.bincount(c, weights=x)
    counts = np.bincount(c)
    seen = counts > 0
    between = float((sums[seen] ** 2 / counts[seen]).sum() - x.sum() ** 2 / x.size)
    return float(math.sqrt(min(1.0, max(0.0, between / total))))


def _correlations(
    numeric: dict[str, np.ndarray], categorical: dict[str, pd.Series]
) -> dict[str, Any]:
    out: dict[str, Any] = {"pearson": None, "spearman": None, "categorical": None}
    out["correlation_ratio"] = None
    out["top_pairs"] = []
    num_names = list(numeric)[:MAX_CORRELATION_COLUMNS]
    out["truncated"] = len(numeric) > MAX_CORRELATION_COLUMNS or (
        len(categorical) > MAX_CATEGORICAL_COLUMNS
    )
    if len(num_names) >= 2:
        x = np.column_stack([numeric[c] for c in num_names])
        x[~np.isfinite(x)] = np.nan
        pearson, spearman = _pearson(x), _pearson(_ranks(x))
        out["pearson"] = _matrix(num_names, pearson)
        out["spearman"] = _matrix(num_names, spearman)
        pairs = []
        for i in range(len(num_names)):
            for j in range(i + 1, len(num_names)):
                if np.isfinite(pearson[i, j]):
                    pairs.append((abs(pearson[i, j]), i, j))
        pairs.sort(reverse=True)
        out["top_pairs"] = [
            {
                "a": num_names[i],
                "b": num_names[j],
                "pearson": round(float(pearson[i, j]), 4),
                "spearman": round(float(spearman[i, j]), 4),
            }
            for _, i, j in pairs[:10]
        ]
    cat_names = list(categorical)[:MAX_CATEGORICAL_COLUMNS]
    codes = {c: _codes(categorical[c]) for c in cat_names}
    if len(cat_names) >= 2:
        v = np.eye(len(cat_names))
        for i, a in enumerate(cat_names):
            for j in range(i + 1, len(cat_names)):
                val = cramers_v(codes[a], codes[cat_names[j]])
                v[i, j] = v[j, i] = np.nan if val is None else val
        out["categorical"] = _matrix(cat_names, v)
    # A binary target is in both lists (as 0/1 and as classes); keep it on the categorical side.
    ratio_rows = [r for r in num_names if r not in codes]
    if ratio_rows and cat_names:
        ratio = np.array(
            [
                [_none_to_nan(correlation_ratio(numeric[r], codes[c])) for c in cat_names]
                for r in ratio_rows
            ]
        )
        out["correlation_ratio"] = {"rows": ratio_rows, **_matrix(cat_names, ratio)}
    return out


def _none_to_nan(v: float | None) -> float:
    return np.nan if v is None else v


# -- target associations and leakage -----------------------------------------------------------


def _associations(
    df: pd.DataFrame, idx: np.ndarray, target: str, task: Task | None, roles: dict[str, Role]
) -> list[dict[str, Any]]:
    """How well each feature alone predicts the target, strongest first."""
    part = df.iloc[idx]
    labelled = part[part[target].notna()]
    if len(labelled) < _MIN_ROWS_FOR_LEAKAGE or task is None:
        return []
    out: list[dict[str, Any]] = []
    y_raw = labelled[target]
    if task == Task.REGRESSION:
        y = _as_float(y_raw)
        for col, role in roles.items():
            if col not in labelled:
                continue
            if role == Role.NUMERIC:
                out.append(_regression_numeric(col, _as_float(labelled[col]), y))
            elif role in (Role.CATEGORICAL, Role.BOOLEAN):
                codes = _codes(labelled[col])
                if codes.max() + 1 <= len(labelled) / 20:
                    eta = correlation_ratio(y, codes)
                    out.append({"column": col, "measure": "correlation_ratio", "score": eta})
    elif task.is_classification and task != Task.MULTILABEL:
        y_codes = np.asarray(pd.factorize(y_raw.astype(str))[0], dtype="int64")
        for col, role in roles.items():
            if col not in labelled:
                continue
            if role == Role.NUMERIC:
                out.append(_classification_numeric(col, _as_float(labelled[col]), y_codes))
            elif role in (Role.CATEGORICAL, Role.BOOLEAN):
                codes = _codes(labelled[col])
                n_cat = int(codes.max()) + 2  # + the missing bucket
                if n_cat * 20 <= len(labelled):
                    score = _purity_balanced_accuracy(
                        np.where(codes < 0, n_cat - 1, codes), y_codes
                    )
                    out.append({"column": col, "measure": "category_purity", "score": score})
    out = [a for a in out if a.get("score") is not None]
    out.sort(key=lambda a: -a["score"])
    return out


def _regression_numeric(col: str, x: np.ndarray, y: np.ndarray) -> dict[str, Any]:
    mask = np.isfinite(x) & np.isfinite(y)
    entry: dict[str, Any] = {"column": col, "measure": "correlation", "score": None}
    if mask.sum() < 3 or np.ptp(x[mask]) == 0 or np.ptp(y[mask]) == 0:
        return entry
    xy = np.column_stack([x[mask], y[mask]])
    pearson = float(_pearson(xy)[0, 1])
    spearman = float(_pearson(_ranks(xy))[0, 1])
    entry.update(pearson=pearson, spearman=spearman, score=max(abs(pearson), abs(spearman)))
    return entry


def _classification_numeric(col: str, x: np.ndarray, y: np.ndarray) -> dict[str, Any]:
    x = np.where(np.isinf(x), np.nan, x)
    entry: dict[str, Any] = {"column": col, "measure": "stump_balanced_accuracy", "score": None}
    if np.isnan(x).all():
        return entry
    n_classes = int(y.max()) + 1
    if n_classes == 2:
        entry["score"] = _binary_stump(x, y)
        entry["auc"] = _auc(x, y)
        return entry
    from sklearn.tree import DecisionTreeClassifier

    # One interval per class, and then some: a "stump" that can isolate every class.
    tree = DecisionTreeClassifier(
        max_leaf_nodes=2 * n_classes, class_weight="balanced", random_state=0
    )
    pred = tree.fit(x.reshape(-1, 1), y).predict(x.reshape(-1, 1))
    entry["score"] = _balanced_accuracy(y, np.asarray(pred, dtype="int64"), n_classes)
    return entry


def _binary_stump(x: np.ndarray, y: np.ndarray) -> float | None:
    """Best balanced accuracy of one threshold on *x* (either direction); NaN rows ignored."""
    mask = ~np.isnan(x)
    x, y = x[mask], y[mask]
    n1 = int(y.sum())
    n0 = y.size - n1
    if n1 == 0 or n0 == 0:
        return None
    order = np.argsort(x, kind="stable")
    xs, ys = x[order], y[order]
    group_end = np.r_[xs[1:] != xs[:-1], True]  # thresholds fall between distinct values
    below1 = np.cumsum(ys)[group_end]
    below0 = np.cumsum(1 - ys)[group_end]
    youden = np.abs(below0 / n0 - below1 / n1)  # TNR - FNR = TPR - FPR
    return float((1.0 + youden.max()) / 2.0)


def _balanced_accuracy(y: np.ndarray, pred: np.ndarray, n_classes: int) -> float:
    support = np.bincount(y, minlength=n_classes)
    hits = np.bincount(y[pred == y], minlength=n_classes)
    seen = support > 0
    return float(np.mean(hits[seen] / support[seen]))


def _purity_balanced_accuracy(codes: np.ndarray, y: np.ndarray) -> float:
    """Balanced accuracy of predicting, for each category, its most frequent class."""
    n_classes = int(y.max()) + 1
    table = np.bincount(codes * n_classes + y, minlength=(int(codes.max()) + 1) * n_classes)
    table = table.reshape(-1, n_classes)
    pred = table.argmax(axis=1)[codes]
    return _balanced_accuracy(y, pred, n_classes)


def _auc(x: np.ndarray, y: np.ndarray) -> float | None:
    """ROC AUC of a single feature, direction-free (max of AUC and 1 - AUC)."""
    mask = ~np.isnan(x)
    x, y = x[mask], y[mask]
    n1 = int((y == 1).sum())
    n0 = y.size - n1
    if n1 == 0 or n0 == 0:
        return None
    ranks = _rank(x)
    auc = (float(ranks[y == 1].sum()) - n1 * (n1 + 1) / 2) / (n1 * n0)
    return max(auc, 1.0 - auc)
