"""Association rules: "frequently bought together" from baskets of items.

Input is either *long* transactions (one row per transaction and item) or *one-hot*
baskets (one 0/1 or bool column per item), or a list of baskets. Everything is turned
into a sparse transactions x items matrix (:class:`Baskets`); items below
``min_support`` are dropped before mining, so memory follows the frequent part only.
Frequent itemsets come from mlxtend (FP-growth or Apriori); the rules and their
metrics are computed here from exact integer counts.

Before mining, an *explosion guard* estimates how many frequent itemsets there will
be (see :func:`estimate_itemsets`) and refuses with advice (a higher ``min_support``
that fits, or a ``max_len``) when the estimate is over ``max_itemsets``.

Examples
--------
>>> import pandas as pd
>>> orders = pd.DataFrame({"order": [1, 1, 2, 2, 3, 3, 3], "item": list("abacabc")})
>>> rules = mine_rules(orders, min_support=0.5, min_confidence=0.5)
>>> rules.recommend(["a"], n=1)[0].item
'b'
"""

from __future__ import annotations

import json
import math
import os
import re
import tempfile
import warnings
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from itertools import combinations
from pathlib import Path
from typing import Any, Literal, NamedTuple

import numpy as np
import pandas as pd
import scipy.sparse as sp

from loopml.exceptions import DataError

__all__ = [
    "Baskets",
    "ItemsetEstimate",
    "Recommendation",
    "Rule",
    "RuleSet",
    "encode_transactions",
    "estimate_itemsets",
    "mine_rules",
]

#: Columns of :attr:`RuleSet.rules`, in order.
RULE_COLUMNS = [
    "antecedents",
    "consequents",
    "antecedent_support",
    "consequent_support",
    "support",
    "confidence",
    "lift",
    "leverage",
    "conviction",
    "count",
]
#: Candidate rules (2**k - 2 per k-itemset) allowed per unit of max_itemsets.
RULE_CANDIDATES_PER_ITEMSET = 20
_METRICS = ("lift", "confidence", "support", "leverage", "conviction")
_FORMAT = "loopml.ruleset"
_FORMAT_VERSION = 1
#: Work (pair or triple occurrences) counted exactly by the guard before it samples rows.
_GUARD_BUDGET = 10_000_000
_TXN_NAME = re.compile(
    r"transaction|order|basket|invoice|receipt|session|ticket|cart|(^|_)id$", re.I
)
_ITEM_NAME = re.compile(r"item|product|sku|article|name|category", re.I)


# -- input ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Baskets:
    """Transactions as a sparse boolean matrix of shape (n_transactions, n_items).

    ``items[j]`` names column ``j``. Build one with :func:`encode_transactions`.
    """

    matrix: sp.csr_matrix
    items: list[str]

    @property
    def n_transactions(self) -> int:
        return int(self.matrix.shape[0])

    def item_counts(self) -> pd.Series:
        """How many transactions hold each item, most frequent first."""
        counts = np.asarray(self.matrix.sum(axis=0)).ravel().astype(np.int64)
        return pd.Series(counts, index=self.items, name="count").sort_values(ascending=False)


def encode_transactions(
    data: pd.DataFrame | Baskets | Iterable[Iterable[Any]],
    *,
    transaction_col: str | None = None,
    item_col: str | None = None,
) -> Baskets:
    """Turn transactions into a sparse :class:`Baskets` matrix.

    Parameters
    ----------
    data : DataFrame, Baskets or iterable of baskets
        - *long* format: one row per (transaction, item); name the columns with
          ``transaction_col`` / ``item_col``, or give a frame of exactly two columns
          (the item column is the one whose name looks like item/product/sku,
          otherwise the second). Rows with a missing id or item are ignored;
          a repeated item counts once per transaction.
        - *one-hot* format: one column per item holding only 0/1 or True/False
          (dense or pandas sparse columns). A frame whose columns are all 0/1 is
          read this way; each row is a transaction, an all-zero row an empty one.
        - a list of baskets, e.g. ``[["milk", "bread"], ["milk"]]``.
    transaction_col, item_col : str, optional
        Column names of the long format.

    Returns
    -------
    Baskets
        Item names are strings, sorted.
    """
    if isinstance(data, Baskets):
        return data
    if isinstance(data, pd.DataFrame):
        if len(data) == 0 or data.shape[1] == 0:
            raise DataError(
                f"The transactions frame is empty ({data.shape[0]} rows, {data.shape[1]} "
                "columns). Give one row per (transaction, item), or one 0/1 column per item."
            )
        if transaction_col is not None or item_col is not None:
            tcol, icol = _long_columns(data, transaction_col, item_col)
            return _from_long(data[tcol], data[icol])
        if data.shape[1] == 2 and not all(_is_binary(data[c]) for c in data.columns):
            tcol, icol = _guess_long_columns(data)
            return _from_long(data[tcol], data[icol])
        return _from_onehot(data)
    if isinstance(data, str | bytes) or not isinstance(data, Iterable):
        raise DataError(
            f"Cannot read transactions from a {type(data).__name__}. Give a DataFrame "
            "(long: transaction and item columns; or one-hot: one 0/1 column per item) "
            "or a list of baskets such as [['milk', 'bread'], ['milk']]."
        )
    return _from_lists(data)


def _long_columns(df: pd.DataFrame, tcol: Any, icol: Any) -> tuple[Any, Any]:
    labels = {str(c): c for c in df.columns}
    cols = list(labels)
    tcol = None if tcol is None else str(tcol)
    icol = None if icol is None else str(icol)
    for role, name in (("transaction_col", tcol), ("item_col", icol)):
        if name is not None and name not in cols:
            raise DataError(
                f"{role}={name!r} is not a column of the transactions frame; "
                f"columns are: {', '.join(repr(c) for c in cols)}."
            )
    if tcol is None or icol is None:
        given = tcol if tcol is not None else icol
        rest = [c for c in cols if c != given]
        if len(rest) != 1:
            missing = "item_col" if icol is None else "transaction_col"
            raise DataError(
                f"The transactions frame has {len(cols)} columns; pass {missing}= as well "
                "to say which one it is."
            )
        tcol, icol = (tcol, rest[0]) if icol is None else (rest[0], icol)
    return labels[str(tcol)], labels[str(icol)]


def _guess_long_columns(df: pd.DataFrame) -> tuple[Any, Any]:
    labels = {str(c): c for c in df.columns}
    a, b = labels
    item_like = [c for c in (a, b) if _ITEM_NAME.search(c)]
    txn_like = [c for c in (a, b) if _TXN_NAME.search(c)]
    if len(item_like) == 1:
        icol = item_like[0]
    elif len(txn_like) == 1:
        icol = b if txn_like[0] == a else a
    else:
        icol = b
    return labels[a if icol == b else b], labels[icol]


def _from_long(tids: pd.Series, items: pd.Series) -> Baskets:
    keep = tids.notna().to_numpy() & items.notna().to_numpy()
    if not keep.any():
        raise DataError(
            f"The transactions have no usable rows: every row misses its transaction id "
            f"('{tids.name}') or its item ('{items.name}')."
        )
    rows, _ = pd.factorize(tids[keep], sort=False)
    codes, names = pd.factorize(items[keep].astype(str), sort=True)
    n, m = int(rows.max()) + 1, len(names)
    return Baskets(
        _csr(rows.astype(np.int64), codes.astype(np.int64), n, m), [str(x) for x in names]
    )


def _from_lists(baskets: Iterable[Iterable[Any]]) -> Baskets:
    row_ids: list[int] = []
    values: list[str] = []
    n = 0
    for i, basket in enumerate(baskets):
        if isinstance(basket, str | bytes) or not isinstance(basket, Iterable):
            raise DataError(
                f"Basket {i} is a {type(basket).__name__} ({basket!r}), not a list of items. "
                "Give a list of baskets such as [['milk', 'bread'], ['milk']]."
            )
        for item in basket:
            if item is None or (isinstance(item, float) and math.isnan(item)):
                continue
            row_ids.append(i)
            values.append(str(item))
        n = i + 1
    if n == 0:
        raise DataError("The list of baskets is empty. Give at least one basket of items.")
    if not values:
        raise DataError(f"All {n} baskets are empty. Give baskets that hold items.")
    codes, names = pd.factorize(pd.Series(values, dtype=object), sort=True)
    return Baskets(
        _csr(np.asarray(row_ids, dtype=np.int64), codes.astype(np.int64), n, len(names)),
        [str(x) for x in names],
    )


def _csr(rows: np.ndarray, cols: np.ndarray, n: int, m: int) -> sp.csr_matrix:
    # Unique (row, col) keys give sorted, duplicate-free CSR arrays directly.
    keys = np.sort(rows * m + cols)
    if len(keys):
        keys = keys[np.concatenate(([True], keys[1:] != keys[:-1]))]
    r, c = np.divmod(keys, m)
    indptr = np.zeros(n + 1, dtype=np.int64)
    np.cumsum(np.bincount(r, minlength=n), out=indptr[1:])
    idx_dtype = np.int32 if max(len(keys), m) < 2**31 else np.int64
    return sp.csr_matrix(
        (np.ones(len(keys), dtype=bool), c.astype(idx_dtype), indptr.astype(idx_dtype)),
        shape=(n, m),
    )


def _is_binary(s: pd.Series) -> bool:
    return _first_bad_value(s) is None


def _first_bad_value(s: pd.Series) -> tuple[Any, Any] | None:
    """(row label, value) of the first entry of *s* that is not 0/1/True/False."""
    dtype = s.dtype
    if isinstance(dtype, pd.SparseDtype):
        fill = dtype.fill_value
        if not _is_01(fill):
            return (s.index[0] if len(s) else None), fill
        sp_values = np.asarray(s.array.sp_values)
        bad = _bad_mask(sp_values)
        if bad.any():
            pos = int(s.array.sp_index.indices[int(np.argmax(bad))])
            return s.index[pos], sp_values[int(np.argmax(bad))]
        return None
    if pd.api.types.is_bool_dtype(dtype) and not s.hasnans:
        return None
    values = s.to_numpy(dtype=object) if not pd.api.types.is_numeric_dtype(dtype) else s.to_numpy()
    bad = _bad_mask(values)
    if bad.any():
        pos = int(np.argmax(bad))
        return s.index[pos], values[pos]
    return None


def _is_01(v: Any) -> bool:
    try:
        return bool(v == 0 or v == 1)
    except (TypeError, ValueError):
        return False


def _bad_mask(values: np.ndarray) -> np.ndarray:
    if values.dtype == bool:
        return np.zeros(len(values), dtype=bool)
    if values.dtype.kind in "iuf":
        numeric: np.ndarray = ~((values == 0) | (values == 1))
        return numeric
    mask: np.ndarray = np.fromiter(
        (not _is_01(v) or v is None for v in values), dtype=bool, count=len(values)
    )
    return mask


def _from_onehot(df: pd.DataFrame) -> Baskets:
    cols: list[np.ndarray] = []
    for name in df.columns:
        s = df[name]
        bad = _first_bad_value(s)
        if bad is not None:
            row, value = (v.item() if isinstance(v, np.generic) else v for v in bad)
            raise DataError(
                f"Column '{name}' of the one-hot baskets must hold only 0/1 or True/False; "
                f"row {row!r} has {value!r}. Give one column per item with 1 where the "
                "transaction holds it, or give long format (one row per transaction and "
                "item) with transaction_col= and item_col=."
            )
        if isinstance(s.dtype, pd.SparseDtype) and not s.dtype.fill_value:
            arr = s.array
            pos = np.asarray(arr.sp_index.indices)[np.asarray(arr.sp_values, dtype=bool)]
        else:
            pos = np.flatnonzero(s.to_numpy(dtype=bool))
        cols.append(pos)
    n, m = len(df), len(cols)
    lengths = np.fromiter((len(c) for c in cols), dtype=np.int64, count=m)
    if lengths.sum() == 0:
        raise DataError(
            f"All {n} transactions of the one-hot baskets are empty (every value is 0). "
            "Give baskets that hold items."
        )
    rows = np.concatenate(cols).astype(np.int64)
    col_ids = np.repeat(np.arange(m, dtype=np.int64), lengths)
    names = [str(c) for c in df.columns]
    order = np.argsort(np.asarray(names, dtype=object), kind="stable")
    rank = np.empty(m, dtype=np.int64)
    rank[order] = np.arange(m)
    return Baskets(_csr(rows, rank[col_ids], n, m), [names[i] for i in order])


# -- the explosion guard ------------------------------------------------------------


@dataclass(frozen=True)
class ItemsetEstimate:
    """How many frequent itemsets mining is expected to find.

    Attributes
    ----------
    total : float
        The estimate (never above ``upper_bound``).
    by_size : dict of int to float
        Estimated itemsets per length; lengths 1 and 2 are exact unless ``sampled``.
    upper_bound : float
        A hard bound: each frequent itemset lies in at least ``min_count``
        transactions, so there cannot be more than (subsets of all baskets) / min_count.
    min_count : int
        ``min_support`` as a number of transactions.
    sampled : int or None
        Transactions the pair/triple counts were taken from when not all were used.
    """

    total: float
    by_size: dict[int, float]
    upper_bound: float
    min_count: int
    sampled: int | None = None


class _Census:
    """Counts of frequent items, pairs and triples at a base threshold, reusable for
    any higher threshold (to suggest a min_support that fits)."""

    def __init__(self, X: sp.csr_matrix, min_count: int, random_state: int = 0) -> None:
        self.n = int(X.shape[0])
        counts = np.asarray(X.sum(axis=0)).ravel().astype(np.int64)
        frequent = np.flatnonzero(counts >= min_count)
        # Most frequent first: "smallest item" below then means the most popular one,
        # which makes the per-item extrapolation far more accurate on skewed data.
        frequent = frequent[np.argsort(-counts[frequent], kind="stable")]
        self.item_counts = counts[frequent]
        XF = X[:, frequent].tocsr()
        XF.sort_indices()
        self.nz_rows = np.repeat(np.arange(self.n, dtype=np.int64), np.diff(XF.indptr))
        self.nz_cols = XF.indices.astype(np.int64)
        lengths = np.diff(XF.indptr).astype(np.float64)
        rng = np.random.default_rng(random_state)
        # Pairs: exact from X^T X unless that is more work than the budget.
        rows2, scale2 = _sample_rows(lengths * (lengths - 1) / 2, rng)
        Xs = (XF if rows2 is None else XF[rows2]).astype(np.int32)
        C = sp.triu(Xs.T @ Xs, k=1).tocoo()
        est = C.data * scale2
        keep = est >= min_count
        self.pair_a = C.row[keep].astype(np.int64)
        self.pair_b = C.col[keep].astype(np.int64)
        self.pair_counts = est[keep]
        # Triples: the 3-subsets of every (sampled) basket whose pairs are all frequent.
        rows3, scale3 = _sample_rows(lengths * (lengths - 1) * (lengths - 2) / 6, rng)
        X3 = XF if rows3 is None else XF[rows3]
        k1 = len(frequent)
        pair_keys = np.sort(self.pair_a * k1 + self.pair_b)
        self.triple_a, tri_counts = _frequent_triples(X3, pair_keys, min_count / scale3)
        self.triple_counts = tri_counts * scale3
        sizes = [len(r) for r in (rows2, rows3) if r is not None]
        self.sampled: int | None = min(sizes) if sizes else None

    def lengths(self, min_count: int) -> np.ndarray:
        """Frequent items per transaction at *min_count*."""
        ok = self.item_counts[self.nz_cols] >= min_count
        return np.bincount(self.nz_rows[ok], minlength=self.n)

    def estimate(self, min_count: int, max_len: int | None) -> ItemsetEstimate:
        ml = max_len if max_len is not None else 1 << 30
        lengths = self.lengths(min_count)
        upper = _subset_bound(lengths, ml) / min_count
        by_size = {1: float((self.item_counts >= min_count).sum())}
        pairs = self.pair_counts >= min_count
        if ml >= 2:
            by_size[2] = float(pairs.sum())
        if ml >= 3:
            triples = self.triple_counts >= min_count
            by_size[3] = float(triples.sum())
            n_items = len(self.item_counts)
            p = np.bincount(self.pair_a[pairs], minlength=n_items).astype(np.float64)
            t = np.bincount(self.triple_a[triples], minlength=n_items).astype(np.float64)
            longest = int(lengths.max()) if len(lengths) else 0
            by_size.update(_extrapolate(p, t, min(ml, longest)))
        total = min(sum(by_size.values()), upper)
        return ItemsetEstimate(total, by_size, upper, min_count, self.sampled)


def _sample_rows(work: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray | None, float]:
    """Rows to count on so that their *work* stays within the budget, and the factor
    that scales their counts up to all rows (None, 1.0: use every row)."""
    eligible = np.flatnonzero((work > 0) & (work <= _GUARD_BUDGET))
    if work.sum() <= _GUARD_BUDGET:
        return None, 1.0
    # Rows alone over the budget (hundreds of frequent items) are left out.
    perm = rng.permutation(eligible)
    take = max(1, int(np.searchsorted(np.cumsum(work[perm]), _GUARD_BUDGET, side="right")))
    rows = np.sort(perm[:take])
    return rows, len(eligible) / max(len(rows), 1)


def _frequent_triples(
    X: sp.csr_matrix, pair_keys: np.ndarray, threshold: float
) -> tuple[np.ndarray, np.ndarray]:
    """Smallest item and count of every 3-itemset of *X* counted >= *threshold* times.

    *pair_keys* (sorted ``a * k1 + b``, a < b) are the frequent pairs: a triple is
    only counted when its three pairs are frequent.
    """
    k1 = int(X.shape[1])
    lengths = np.diff(X.indptr)
    keys_parts: list[np.ndarray] = []

    def frequent_pair(a: np.ndarray, b: np.ndarray) -> np.ndarray:
        keys = a * k1 + b
        pos = np.minimum(np.searchsorted(pair_keys, keys), max(len(pair_keys) - 1, 0))
        return pair_keys[pos] == keys if len(pair_keys) else np.zeros(len(keys), dtype=bool)

    for L in np.unique(lengths[lengths >= 3]).tolist():
        rows = np.flatnonzero(lengths == L)
        tri = np.asarray(list(combinations(range(L), 3)), dtype=np.int64)
        step = max(1, 2_000_000 // len(tri))
        for start in range(0, len(rows), step):
            block = rows[start : start + step]
            items = X.indices[X.indptr[block][:, None] + np.arange(L)].astype(np.int64)
            a = items[:, tri[:, 0]].ravel()
            b = items[:, tri[:, 1]].ravel()
            c = items[:, tri[:, 2]].ravel()
            ok = frequent_pair(a, b) & frequent_pair(a, c) & frequent_pair(b, c)
            keys_parts.append(((a * k1 + b) * k1 + c)[ok])
    if not keys_parts:
        return np.zeros(0, dtype=np.int64), np.zeros(0)
    keys, counts = np.unique(np.concatenate(keys_parts), return_counts=True)
    keep = counts >= threshold
    return keys[keep] // (k1 * k1), counts[keep].astype(np.float64)


def _subset_bound(lengths: np.ndarray, max_len: int) -> float:
    values, freq = np.unique(lengths, return_counts=True)
    total = 0.0
    for L, f in zip(values.tolist(), freq.tolist(), strict=True):
        if L == 0:
            continue
        if max_len >= L:
            subsets = math.inf if L >= 1000 else 2.0**L - 1
        else:
            subsets = float(sum(math.comb(L, j) for j in range(1, max_len + 1)))
        total += f * subsets
    return total


def _extrapolate(p: np.ndarray, t: np.ndarray, max_len: int) -> dict[int, float]:
    """Itemsets of length >= 4, extrapolated per smallest item.

    The itemsets whose smallest (most popular) item is *a* are *a* plus the frequent
    itemsets among the ``p[a]`` items frequent together with *a*; ``t[a]`` of their
    pairs are frequent (the frequent triples starting with *a*). Their longer
    itemsets are cliques of that pair graph; we count cliques as in a random graph
    of the same density ``g = t / C(p, 2)``: ``C(p, j) * g ** C(j, 2)`` of j items.
    Exact for blocks of items that always co-occur (g = 1); on skewed retail-like
    data it came within 0.6-0.9x of the true total (see the module's tests and
    benchmarks/rules.py); it underestimates dense bundles inside popular items'
    neighbourhoods (up to ~8x in a test with a 20-item bundle).
    """
    from scipy.special import gammaln

    out: dict[int, float] = {}
    live = (p >= 3) & (t > 0)
    p, t = p[live], t[live]
    if not len(p):
        return out
    log_g = np.log(np.minimum(t / (p * (p - 1) / 2), 1.0))
    log_fact_p = gammaln(p + 1)
    for size in range(4, max_len + 1):
        j = size - 1  # items beyond the smallest one
        ok = p >= j
        if not ok.any():
            break
        log_c = log_fact_p - gammaln(j + 1) - gammaln(np.maximum(p - j, 0) + 1)
        total = float(np.exp(log_c + (j * (j - 1) / 2) * log_g)[ok].sum())
        if total < 0.5 and size > 6:
            break
        out[size] = total
    return out


def _min_count(min_support: float, n: int) -> int:
    """Smallest count c with c / n >= min_support, in the float arithmetic mlxtend uses."""
    c = max(1, math.ceil(min_support * n))
    while c > 1 and (c - 1) / n >= min_support:
        c -= 1
    while c / n < min_support:
        c += 1
    return c


def estimate_itemsets(
    data: Any,
    min_support: float,
    *,
    max_len: int | None = None,
    random_state: int = 0,
) -> ItemsetEstimate:
    """Estimate the number of frequent itemsets, without mining them.

    Frequent items and pairs are counted exactly (``X^T X`` on the frequent items),
    triples by enumerating the 3-subsets of every basket. Longer itemsets are
    extrapolated per most popular member *a*: they are cliques of the frequent-pair
    graph among the items that go with *a*, counted as in a random graph of that
    graph's density (see ``_extrapolate``). Exact for blocks of items that always
    co-occur; 0.6-0.9x of the truth on skewed retail-like baskets (BENCHMARKS.md);
    it can underestimate dense bundles among popular items several-fold. When
    counting pairs or triples would take more than ~1e7 steps, a seeded sample of
    transactions is used and the counts scaled. The estimate never exceeds a hard
    upper bound (see :class:`ItemsetEstimate`). *data* is anything
    :func:`encode_transactions` reads without column names (encode long frames
    with more than two columns first).

    Examples
    --------
    >>> estimate_itemsets([["a", "b", "c", "d"]] * 5, 0.5).total
    15.0
    """
    baskets = encode_transactions(data)
    _check_support(min_support)
    c = _min_count(min_support, baskets.n_transactions)
    return _Census(baskets.matrix, c, random_state).estimate(c, max_len)


def _guard(
    X: sp.csr_matrix, min_support: float, max_len: int | None, limit: float
) -> ItemsetEstimate | None:
    n = int(X.shape[0])
    c = _min_count(min_support, n)
    # Fast path: the hard upper bound already fits.
    counts = np.asarray(X.sum(axis=0)).ravel()
    ok_items = counts >= c
    lengths = np.bincount(
        np.repeat(np.arange(n), np.diff(X.indptr))[ok_items[X.indices]], minlength=n
    )
    if _subset_bound(lengths, max_len or 1 << 30) / c <= limit:
        return None
    census = _Census(X, c)
    est = census.estimate(c, max_len)
    if est.total <= limit:
        return est
    raise DataError(_explosion_message(census, est, min_support, max_len, limit))


def _explosion_message(
    census: _Census, est: ItemsetEstimate, min_support: float, max_len: int | None, limit: float
) -> str:
    n = census.n
    parts = [f"{est.by_size.get(1, 0):,.0f} frequent items"]
    if 2 in est.by_size:
        parts.append(f"{est.by_size[2]:,.0f} frequent pairs")
    if 3 in est.by_size:
        parts.append(f"{est.by_size[3]:,.0f} frequent triples")
    sampled = f", counted on a sample of {est.sampled:,} transactions" if est.sampled else ""
    total = "more than 1e300" if est.total > 1e300 else f"about {est.total:,.0f}"
    msg = (
        f"Mining {n:,} transactions at min_support={min_support:g} would find {total} "
        f"frequent itemsets ({', '.join(parts)}{sampled}), more than "
        f"max_itemsets={limit:,.0f}; it would take very long and a lot of memory. "
    )
    advice: list[str] = []
    lo, hi = est.min_count, n
    if census.estimate(hi, max_len).total <= limit:
        while lo + 1 < hi:  # smallest count whose estimate fits
            mid = (lo + hi) // 2
            if census.estimate(mid, max_len).total <= limit:
                hi = mid
            else:
                lo = mid
        suggested = _round_up(hi / n)
        fit = census.estimate(_min_count(suggested, n), max_len).total
        advice.append(f"raise min_support to {suggested:g} (about {fit:,.0f} itemsets)")
    for ml in range(min(max_len or 1 << 30, 64) - 1, 1, -1):
        fit = census.estimate(est.min_count, ml).total
        if fit <= limit:
            advice.append(f"set max_len={ml} (about {fit:,.0f} itemsets)")
            break
    advice.append("raise max_itemsets if you have the time and memory")
    return msg + "Fix: " + ", or ".join(advice) + "."


def _round_up(x: float) -> float:
    """*x* rounded up to two significant digits."""
    if x >= 1:
        return 1.0
    e = math.floor(math.log10(x)) - 1
    return min(1.0, math.ceil(round(x / 10.0**e, 9)) * 10.0**e)


def _check_support(min_support: float) -> None:
    if not isinstance(min_support, int | float) or not 0 < min_support <= 1:
        raise DataError(
            f"min_support must be a fraction of transactions in (0, 1]; got {min_support!r}. "
            "For example min_support=0.01 keeps itemsets in at least 1% of transactions."
        )


# -- mining ------------------------------------------------------------------------------


class Rule(NamedTuple):
    """One rule ``antecedents -> consequents`` with its metrics."""

    antecedents: tuple[str, ...]
    consequents: tuple[str, ...]
    support: float
    confidence: float
    lift: float

    def __str__(self) -> str:
        return f"{{{', '.join(self.antecedents)}}} -> {{{', '.join(self.consequents)}}}"


class Recommendation(NamedTuple):
    """An item to suggest, its score, and the rule that suggests it."""

    item: str
    score: float
    rule: Rule


def mine_rules(
    data: Any,
    *,
    min_support: float = 0.01,
    min_confidence: float = 0.3,
    algorithm: Literal["fpgrowth", "apriori"] = "fpgrowth",
    max_len: int | None = None,
    min_lift: float | None = None,
    metric: Literal["lift", "confidence", "support", "leverage", "conviction"] = "lift",
    top: int | None = None,
    max_itemsets: float | None = 1_000_000,
    transaction_col: str | None = None,
    item_col: str | None = None,
) -> RuleSet:
    """Mine association rules ``A -> C`` from transactions.

    Parameters
    ----------
    data : DataFrame, Baskets or list of baskets
        Long or one-hot transactions; see :func:`encode_transactions`.
    min_support : float in (0, 1]
        Keep itemsets found in at least this fraction of transactions.
    min_confidence : float in [0, 1]
        Keep rules with ``P(C | A) >= min_confidence``.
    algorithm : {"fpgrowth", "apriori"}
        mlxtend's FP-growth or (low-memory) Apriori; both give the same itemsets.
    max_len : int, optional
        Longest itemset (antecedent plus consequent) mined.
    min_lift : float, optional
        Keep rules with at least this lift.
    metric : str
        Sort rules by this metric, descending (ties: support, confidence, names).
    top : int, optional
        Keep the first *top* rules after sorting.
    max_itemsets : float or None
        The explosion guard's limit on the estimated number of frequent itemsets
        (see :func:`estimate_itemsets`); after mining, the itemsets may also give at
        most ``20 * max_itemsets`` candidate rules (2**k - 2 per k-itemset). None
        turns both checks off.
    transaction_col, item_col : str, optional
        Column names of long-format transactions.

    Returns
    -------
    RuleSet
        ``rules`` has one row per rule with antecedents and consequents as sorted
        tuples of item names, support, confidence, lift, leverage, conviction,
        antecedent/consequent support and the count of transactions.

    Notes
    -----
    Metrics come from integer counts (n transactions; ``a``, ``c``, ``ac`` holding A,
    C, both): support ``ac/n``, confidence ``ac/a``, lift ``ac*n/(a*c)``, leverage
    ``(ac*n - a*c)/n^2``, conviction ``(n-c)*a/(n*(a-ac))`` (inf when confidence is 1),
    each with one rounding, so they equal the exact fractions rounded to float.
    """
    _check_support(min_support)
    if not 0 <= min_confidence <= 1:
        raise DataError(f"min_confidence must be in [0, 1]; got {min_confidence!r}.")
    if algorithm not in ("fpgrowth", "apriori"):
        raise DataError(f"algorithm must be 'fpgrowth' or 'apriori'; got {algorithm!r}.")
    if metric not in _METRICS:
        raise DataError(f"metric must be one of {', '.join(_METRICS)}; got {metric!r}.")
    if max_len is not None and (not isinstance(max_len, int) or max_len < 1):
        raise DataError(f"max_len must be a positive integer or None; got {max_len!r}.")
    baskets = encode_transactions(data, transaction_col=transaction_col, item_col=item_col)
    X, n = baskets.matrix, baskets.n_transactions
    estimate = _guard(X, min_support, max_len, max_itemsets) if max_itemsets else None
    c = _min_count(min_support, n)
    counts = np.asarray(X.sum(axis=0)).ravel().astype(np.int64)
    frequent = np.flatnonzero(counts >= c)
    params: dict[str, Any] = {
        "min_support": min_support,
        "min_confidence": min_confidence,
        "algorithm": algorithm,
        "max_len": max_len,
        "min_lift": min_lift,
        "metric": metric,
        "top": top,
    }
    notes: list[str] = []
    if len(frequent) == 0:
        best = int(counts.argmax())
        notes.append(
            f"No item reaches min_support={min_support:g}; the most frequent, "
            f"'{baskets.items[best]}', is in {counts[best] / n:.3g} of transactions."
        )
        return RuleSet(_empty_rules(), n, params, n_itemsets=0, notes=notes)
    itemsets = _frequent_itemsets(X[:, frequent].tocsr(), c, algorithm, max_len)
    if max_itemsets:
        _check_rule_candidates(itemsets, min_support, RULE_CANDIDATES_PER_ITEMSET * max_itemsets)
    names = [baskets.items[j] for j in frequent]
    rules = _rules_from_itemsets(itemsets, n, names, min_confidence)
    if min_lift is not None:
        rules = rules[rules["lift"] >= min_lift]
    rules = _sort_rules(rules, metric)
    if top is not None:
        rules = rules.head(top)
    if estimate is not None:
        notes.append(
            f"The guard estimated {estimate.total:,.0f} itemsets; mining found {len(itemsets):,}."
        )
    return RuleSet(rules.reset_index(drop=True), n, params, n_itemsets=len(itemsets), notes=notes)


def _frequent_itemsets(
    XF: sp.csr_matrix, min_count: int, algorithm: str, max_len: int | None
) -> dict[tuple[int, ...], int]:
    """Frequent itemsets of *XF* (column indices) and their counts, via mlxtend."""
    # mlxtend's fpcommon sets a global 'always' filter for DeprecationWarning on import;
    # catch_warnings restores the caller's filters.
    with warnings.catch_warnings():
        from mlxtend.frequent_patterns import apriori, fpgrowth
    n = XF.shape[0]
    frame = pd.DataFrame.sparse.from_spmatrix(XF.astype(bool))  # type: ignore[attr-defined]
    # Half a count below the threshold: mlxtend compares count/n and ceil(s*n) in floats.
    support = (min_count - 0.5) / n
    if algorithm == "fpgrowth":
        found = fpgrowth(frame, min_support=support, max_len=max_len)
    else:
        found = apriori(frame, min_support=support, max_len=max_len, low_memory=True)
    sizes = found["support"].to_numpy() * n
    return {
        tuple(sorted(int(i) for i in s)): round(c)
        for s, c in zip(found["itemsets"], sizes, strict=True)
    }


def _check_rule_candidates(
    itemsets: dict[tuple[int, ...], int], min_support: float, limit: float
) -> None:
    """Refuse when checking every split of every itemset into a rule is too much work:
    an itemset of k items gives 2**k - 2 candidate rules."""
    lengths = np.fromiter((len(k) for k in itemsets), dtype=np.int64, count=len(itemsets))
    sizes, freq = np.unique(lengths[lengths >= 2], return_counts=True)
    work = freq * (2.0**sizes - 2)
    if work.sum() <= limit:
        return
    fits = [int(s) for s, w in zip(sizes, np.cumsum(work), strict=True) if w <= limit]
    advice = f"set max_len={fits[-1]}, or " if fits and fits[-1] >= 2 else ""
    raise DataError(
        f"The {len(itemsets):,} frequent itemsets at min_support={min_support:g} (the longest "
        f"has {int(sizes.max())} items) give {work.sum():,.0f} candidate rules to check, more "
        f"than {limit:,.0f} ({RULE_CANDIDATES_PER_ITEMSET} x max_itemsets). Fix: {advice}raise "
        "min_support, or raise max_itemsets if you have the time and memory."
    )


def _rules_from_itemsets(
    itemsets: dict[tuple[int, ...], int], n: int, names: list[str], min_confidence: float
) -> pd.DataFrame:
    ants: list[tuple[int, ...]] = []
    cons: list[tuple[int, ...]] = []
    c_a: list[int] = []
    c_c: list[int] = []
    c_ac: list[int] = []
    for iset, count in itemsets.items():
        if len(iset) < 2:
            continue
        for r in range(1, len(iset)):
            for ant in combinations(iset, r):
                a = itemsets[ant]
                if count / a < min_confidence:
                    continue
                con = tuple(i for i in iset if i not in ant)
                ants.append(ant)
                cons.append(con)
                c_a.append(a)
                c_c.append(itemsets[con])
                c_ac.append(count)
    if not ants:
        return _empty_rules()
    a_n = np.asarray(c_a, dtype=np.int64)
    c_n = np.asarray(c_c, dtype=np.int64)
    ac = np.asarray(c_ac, dtype=np.int64)
    with np.errstate(divide="ignore", invalid="ignore"):
        conviction = ((n - c_n) * a_n).astype(np.float64) / (n * (a_n - ac)).astype(np.float64)
    conviction[a_n == ac] = np.inf
    return pd.DataFrame(
        {
            "antecedents": [tuple(names[i] for i in t) for t in ants],
            "consequents": [tuple(names[i] for i in t) for t in cons],
            "antecedent_support": a_n / n,
            "consequent_support": c_n / n,
            "support": ac / n,
            "confidence": ac / a_n,
            "lift": (ac * n).astype(np.float64) / (a_n * c_n).astype(np.float64),
            "leverage": (ac * n - a_n * c_n).astype(np.float64) / float(n * n),
            "conviction": conviction,
            "count": ac,
        }
    )


def _empty_rules() -> pd.DataFrame:
    frame = pd.DataFrame({c: pd.Series(dtype="float64") for c in RULE_COLUMNS})
    frame["antecedents"] = frame["antecedents"].astype(object)
    frame["consequents"] = frame["consequents"].astype(object)
    frame["count"] = frame["count"].astype("int64")
    return frame


def _sort_rules(rules: pd.DataFrame, metric: str) -> pd.DataFrame:
    if rules.empty:
        return rules
    keys = rules.assign(
        _a=rules["antecedents"].map(", ".join), _c=rules["consequents"].map(", ".join)
    )
    keys = keys.sort_values(
        [metric, "support", "confidence", "_a", "_c"],
        ascending=[False, False, False, True, True],
        kind="mergesort",
    )
    return rules.loc[keys.index]


# -- the result ------------------------------------------------------------------------------


@dataclass(eq=False)
class RuleSet:
    """Mined rules plus what is needed to serve them.

    Attributes
    ----------
    rules : DataFrame
        One row per rule; columns :data:`RULE_COLUMNS`.
    n_transactions : int
        Transactions mined.
    params : dict
        The arguments of :func:`mine_rules`.
    n_itemsets : int
        Frequent itemsets found.
    notes : list of str
        Remarks for the report (e.g. no item frequent enough).
    """

    rules: pd.DataFrame
    n_transactions: int
    params: dict[str, Any] = field(default_factory=dict)
    n_itemsets: int = 0
    notes: list[str] = field(default_factory=list)
    _index: dict[str, list[int]] | None = field(default=None, repr=False, compare=False)

    def __len__(self) -> int:
        return len(self.rules)

    def __repr__(self) -> str:
        return (
            f"RuleSet({len(self.rules)} rules from {self.n_itemsets} frequent itemsets in "
            f"{self.n_transactions} transactions)"
        )

    def table(self, n: int | None = None) -> pd.DataFrame:
        """Rules for display: item tuples rendered as ``{a, b}`` strings."""
        out = self.rules if n is None else self.rules.head(n)
        out = out.copy()
        for col in ("antecedents", "consequents"):
            out[col] = out[col].map(lambda t: "{" + ", ".join(t) + "}")
        return out

    def rule(self, i: int) -> Rule:
        row = self.rules.iloc[i]
        return Rule(
            tuple(row["antecedents"]),
            tuple(row["consequents"]),
            float(row["support"]),
            float(row["confidence"]),
            float(row["lift"]),
        )

    def recommend(
        self,
        items: Sequence[str],
        n: int = 5,
        *,
        by: Literal["confidence_lift", "lift", "confidence"] = "confidence_lift",
    ) -> list[Recommendation]:
        """Items frequently bought together with *items* ("customers also bought").

        Uses the rules whose antecedents are all in *items* and whose consequents
        hold none of them. Each consequent item is scored by its best rule:
        ``confidence * lift`` (default), ``lift`` or ``confidence``. Returns at most
        *n* recommendations, best first (ties by item name).
        """
        if by not in ("confidence_lift", "lift", "confidence"):
            raise DataError(f"by must be 'confidence_lift', 'lift' or 'confidence'; got {by!r}.")
        basket = {str(i) for i in items}
        index = self._rule_index()
        candidates = sorted({r for item in basket for r in index.get(item, [])})
        best: dict[str, tuple[float, int]] = {}
        ants = self.rules["antecedents"].to_numpy()
        cons = self.rules["consequents"].to_numpy()
        conf = self.rules["confidence"].to_numpy()
        lift = self.rules["lift"].to_numpy()
        for r in candidates:
            if not set(ants[r]) <= basket or basket.intersection(cons[r]):
                continue
            score = {
                "confidence_lift": conf[r] * lift[r],
                "lift": lift[r],
                "confidence": conf[r],
            }[by]
            for item in cons[r]:
                if item not in best or score > best[item][0]:
                    best[item] = (float(score), r)
        ranked = sorted(best.items(), key=lambda kv: (-kv[1][0], kv[0]))[:n]
        return [Recommendation(item, score, self.rule(r)) for item, (score, r) in ranked]

    def _rule_index(self) -> dict[str, list[int]]:
        if self._index is None:
            index: dict[str, list[int]] = {}
            for r, ant in enumerate(self.rules["antecedents"]):
                for item in ant:
                    index.setdefault(item, []).append(r)
            self._index = index
        return self._index

    # -- persistence -------------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict (conviction inf is written as null)."""
        cols: dict[str, list[Any]] = {}
        for col in RULE_COLUMNS:
            values = self.rules[col].tolist()
            if col in ("antecedents", "consequents"):
                values = [list(v) for v in values]
            elif col == "count":
                values = [int(v) for v in values]
            else:
                values = [None if math.isinf(v) else float(v) for v in values]
            cols[col] = values
        return {
            "format": _FORMAT,
            "version": _FORMAT_VERSION,
            "n_transactions": self.n_transactions,
            "n_itemsets": self.n_itemsets,
            "params": self.params,
            "notes": self.notes,
            "rules": cols,
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> RuleSet:
        if d.get("format") != _FORMAT:
            raise DataError(
                f"This is not a saved RuleSet (format {d.get('format')!r}, expected {_FORMAT!r})."
            )
        if d.get("version", 0) > _FORMAT_VERSION:
            raise DataError(
                f"This RuleSet was saved by a newer loopml (format version {d['version']}; this "
                f"one reads up to {_FORMAT_VERSION}). Upgrade loopml."
            )
        cols = d["rules"]
        if not cols["antecedents"]:
            rules = _empty_rules()
        else:
            rules = pd.DataFrame(
                {
                    "antecedents": [tuple(v) for v in cols["antecedents"]],
                    "consequents": [tuple(v) for v in cols["consequents"]],
                    **{
                        c: np.array([np.inf if v is None else v for v in cols[c]], dtype=float)
                        for c in RULE_COLUMNS[2:-1]
                    },
                    "count": np.asarray(cols["count"], dtype=np.int64),
                }
            )
        return cls(
            rules,
            int(d["n_transactions"]),
            dict(d.get("params", {})),
            int(d.get("n_itemsets", 0)),
            list(d.get("notes", [])),
        )

    def to_json(self, indent: int | None = None) -> str:
        return json.dumps(self.to_dict(), indent=indent)

    @classmethod
    def from_json(cls, text: str) -> RuleSet:
        return cls.from_dict(json.loads(text))

    def save(self, path: str | Path) -> Path:
        """Write to ``.json`` or ``.parquet`` (by suffix), atomically."""
        path = Path(path)
        suffix = path.suffix.lower()
        if suffix not in (".json", ".parquet"):
            raise DataError(f"Save a RuleSet as .json or .parquet; got {path.name!r}.")
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
        os.close(fd)
        try:
            if suffix == ".json":
                Path(tmp).write_text(self.to_json(), encoding="utf-8")
            else:
                self._write_parquet(Path(tmp))
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        return path

    @classmethod
    def load(cls, path: str | Path) -> RuleSet:
        """Read a RuleSet written by :meth:`save`."""
        path = Path(path)
        if not path.exists():
            raise DataError(f"RuleSet file {path} does not exist.")
        if path.suffix.lower() == ".parquet":
            import pyarrow.parquet as pq

            table = pq.read_table(path)
            meta = json.loads((table.schema.metadata or {}).get(b"loopml", b"{}"))
            frame = table.to_pandas()
            meta["rules"] = {
                c: [
                    None if isinstance(v, float) and math.isnan(v) else v for v in frame[c].tolist()
                ]
                if c not in ("antecedents", "consequents")
                else [list(v) for v in frame[c]]
                for c in RULE_COLUMNS
            }
            return cls.from_dict(meta)
        try:
            return cls.from_json(path.read_text(encoding="utf-8"))
        except json.JSONDecodeError as exc:
            raise DataError(f"{path} is not a RuleSet JSON file: {exc}.") from None

    def _write_parquet(self, path: Path) -> None:
        import pyarrow as pa
        import pyarrow.parquet as pq

        d = self.to_dict()
        table = pa.table(d.pop("rules"))
        table = table.replace_schema_metadata({b"loopml": json.dumps(d).encode()})
        pq.write_table(table, path)
