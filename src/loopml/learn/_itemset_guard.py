"""The explosion guard: estimate frequent itemsets before mining, refuse with advice."""

from __future__ import annotations

import math
from dataclasses import dataclass
from itertools import combinations
from typing import Any

import numpy as np
import scipy.sparse as sp

from loopml.exceptions import DataError
from loopml.learn._baskets import encode_transactions

#: Work (pair or triple occurrences) counted exactly by the guard before it samples rows.
_GUARD_BUDGET = 10_000_000


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
