"""Drift tests on prepared samples: KS, chi-square, Z, Wasserstein, Jensen-Shannon, PSI.

Each test compares one column of the reference data with the same column of the
current data. Numeric samples arrive as sorted, finite float arrays (sorted once,
then reused by every statistic, histogram and range check); categorical samples as
counts over the union of the values seen in either frame.

The automatic choice and every default mirror Evidently's ``DataDriftPreset``, so
verdicts agree with it on the same data:

================  =====================================  ========================
reference rows    numeric (distinct values > 5)          categorical / numeric <= 5
================  =====================================  ========================
<= 1000           Kolmogorov-Smirnov, drift if p <= 0.05  chi-square (p < 0.05);
                                                          Z-test if <= 2 values
> 1000            Wasserstein / reference std, >= 0.1     Jensen-Shannon, >= 0.1
================  =====================================  ========================

Distinct values are counted over both samples together; rows are the reference's
non-missing, finite values. PSI (>= 0.1) is available for every column.

One deliberate difference: Evidently's chi-square takes the reference's counts as
the expected distribution (a goodness-of-fit test), ignoring that the reference is
a sample too; with samples of equal size its false-positive rate at p < 0.05 is
about 22%, not 5%. loopml's chi-square is the two-sample test of homogeneity
(Pearson, 2 x k table), whose false-positive rate is the significance level; both
agree when the reference is much larger than the current sample. Only small
samples (<= 1000 reference rows) with more than two categories use it by default.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

from loopml.exceptions import DataError

__all__ = [
    "DEFAULT_THRESHOLDS",
    "METHODS",
    "TESTS",
    "CategoricalSample",
    "NumericSample",
    "TestResult",
    "choose_test",
    "run_test",
    "wasserstein_sorted",
]

NUMERIC = "numeric"
CATEGORICAL = "categorical"

#: Every test, with its default threshold (p-value tests: drift below it; distances: at or above).
DEFAULT_THRESHOLDS: dict[str, float] = {
    "ks": 0.05,
    "chisquare": 0.05,
    "z": 0.05,
    "wasserstein": 0.1,
    "jensenshannon": 0.1,
    "psi": 0.1,
}
TESTS = tuple(DEFAULT_THRESHOLDS)
#: What ``method=`` accepts.
METHODS = ("auto", *TESTS)
P_VALUE_TESTS = frozenset({"ks", "chisquare", "z"})
NUMERIC_ONLY = frozenset({"ks", "wasserstein"})
DISPLAY_NAMES = {
    "ks": "Kolmogorov-Smirnov",
    "chisquare": "chi-square",
    "z": "Z-test for proportions",
    "wasserstein": "Wasserstein distance (normed)",
    "jensenshannon": "Jensen-Shannon distance",
    "psi": "PSI",
}
#: Reference rows above which distances replace p-value tests (Evidently's rule).
SMALL_SAMPLE_ROWS = 1000
#: Numeric columns with at most this many distinct values are tested like categories.
FEW_VALUES = 5
#: Numeric columns with more distinct reference values than this are binned for JS and PSI.
BIN_ABOVE = 20


@dataclass(frozen=True)
class NumericSample:
    """The finite values of one numeric column, sorted ascending."""

    values: NDArray[np.float64]

    @property
    def n(self) -> int:
        return int(self.values.size)


@dataclass(frozen=True)
class CategoricalSample:
    """Counts of each value; ``keys`` are shared by the reference and current samples."""

    keys: list[Any]
    counts: NDArray[np.int64]

    @property
    def n(self) -> int:
        return int(self.counts.sum())


Sample = NumericSample | CategoricalSample


@dataclass(frozen=True)
class TestResult:
    """One test's outcome.

    ``score`` is what was compared with ``threshold``: the p-value of KS, chi-square
    and Z, the distance of Wasserstein, Jensen-Shannon and PSI. ``statistic`` is the
    test statistic (KS D, chi-square, z) or the distance again.
    """

    test: str
    statistic: float
    p_value: float | None
    score: float
    threshold: float
    drifted: bool

    @property
    def is_p_value(self) -> bool:
        return self.test in P_VALUE_TESTS


# -- choosing ----------------------------------------------------------------------------


def choose_test(kind: str, n_reference: int, n_values: int) -> str:
    """Evidently's automatic test for a column.

    Parameters
    ----------
    kind : "numeric" or "categorical"
    n_reference : int
        Non-missing reference rows.
    n_values : int
        Distinct values in the reference and current samples together.
    """
    if n_reference <= SMALL_SAMPLE_ROWS:
        if kind == NUMERIC and n_values > FEW_VALUES:
            return "ks"
        return "chisquare" if n_values > 2 else "z"
    if kind == NUMERIC and n_values > FEW_VALUES:
        return "wasserstein"
    return "jensenshannon"


def n_distinct(ref: Sample, cur: Sample, *, at_most: int | None = None) -> int:
    """Distinct values in both samples together (stops counting past *at_most* when given)."""
    if isinstance(ref, CategoricalSample) and isinstance(cur, CategoricalSample):
        return int(np.count_nonzero((ref.counts + cur.counts) > 0))
    if isinstance(ref, NumericSample) and isinstance(cur, NumericSample):
        u_ref = _sorted_unique(ref.values)
        if at_most is not None and u_ref.size > at_most:
            return int(u_ref.size)
        return int(np.union1d(u_ref, _sorted_unique(cur.values)).size)
    raise TypeError("reference and current samples must be of the same kind")


# -- running -----------------------------------------------------------------------------


def run_test(test: str, ref: Sample, cur: Sample, threshold: float | None = None) -> TestResult:
    """Run *test* on a reference and a current sample of one column.

    Raises
    ------
    DataError
        If *test* is unknown, or needs numbers and the samples are categories.
    """
    if test not in DEFAULT_THRESHOLDS:
        raise DataError(f"Unknown drift test {test!r}; choose one of {', '.join(TESTS)}.")
    t = DEFAULT_THRESHOLDS[test] if threshold is None else float(threshold)
    if ref.n == 0 or cur.n == 0:
        which = "reference" if ref.n == 0 else "current"
        raise DataError(f"The {which} sample is empty: a drift test needs at least one value.")
    if test in NUMERIC_ONLY:
        if not (isinstance(ref, NumericSample) and isinstance(cur, NumericSample)):
            raise DataError(
                f"The {DISPLAY_NAMES[test]} test needs numbers; this column holds categories. "
                "Use chisquare, z, jensenshannon or psi."
            )
        if test == "ks":
            return _ks(ref.values, cur.values, t)
        return _wasserstein(ref.values, cur.values, t)
    if test in ("jensenshannon", "psi"):
        ref_p, cur_p = _shares(ref, cur)
        if test == "psi":
            ref_p, cur_p = _fill_zeroes(ref_p), _fill_zeroes(cur_p)
            psi = float(np.sum((ref_p - cur_p) * np.log(ref_p / cur_p)))
            return TestResult(test, psi, None, psi, t, psi >= t)
        js = _jensenshannon(ref_p, cur_p)
        return TestResult(test, js, None, js, t, js >= t)
    keys, ref_c, cur_c = _aligned_counts(ref, cur)
    if test == "chisquare":
        return _chisquare(ref_c, cur_c, t)
    return _z_test(keys, ref_c, cur_c, t)


def _ks(ref: NDArray[np.float64], cur: NDArray[np.float64], t: float) -> TestResult:
    from scipy.stats import ks_2samp

    res = ks_2samp(ref, cur)
    p = float(res.pvalue)
    return TestResult("ks", float(res.statistic), p, p, t, p <= t)


def _wasserstein(ref: NDArray[np.float64], cur: NDArray[np.float64], t: float) -> TestResult:
    norm = max(float(np.std(ref)), 0.001)
    d = wasserstein_sorted(ref, cur) / norm
    return TestResult("wasserstein", d, None, d, t, d >= t)


def wasserstein_sorted(u: NDArray[np.float64], v: NDArray[np.float64]) -> float:
    """Exact 1-D Wasserstein distance between two samples given sorted ascending.

    Integrates the gap between the two quantile functions. The breakpoints of the
    quantile functions, ``i/n`` and ``j/m``, are merged as the integers ``i*m`` and
    ``j*n``, so the result equals :func:`scipy.stats.wasserstein_distance` (to rounding)
    with one integer sort instead of a sort of the pooled values and two searches.

    Examples
    --------
    >>> import numpy as np
    >>> wasserstein_sorted(np.array([0.0, 1.0]), np.array([1.0, 2.0, 3.0]))
    1.5
    """
    n, m = int(u.size), int(v.size)
    if n == m:
        return float(np.mean(np.abs(u - v)))
    if n * m >= 2**62:
        from scipy.stats import wasserstein_distance

        return float(wasserstein_distance(u, v))
    keys = np.concatenate(
        (np.arange(1, n + 1, dtype=np.int64) * m, np.arange(1, m + 1, dtype=np.int64) * n)
    )
    keys.sort()
    widths = np.diff(keys, prepend=np.int64(0)).astype(np.float64)
    # On (t_prev, t], the quantile of u is u[ceil(t*n) - 1]; t = key / (n*m).
    iu = (keys + (m - 1)) // m - 1
    iv = (keys + (n - 1)) // n - 1
    return float(np.dot(widths, np.abs(u[iu] - v[iv])) / (float(n) * float(m)))


def _chisquare(ref_c: NDArray[np.int64], cur_c: NDArray[np.int64], t: float) -> TestResult:
    """Pearson's chi-square test of homogeneity of two samples (no continuity correction)."""
    from scipy.stats import chi2

    present = (ref_c + cur_c) > 0
    table = np.vstack((ref_c[present], cur_c[present])).astype(np.float64)
    k = table.shape[1]
    if k < 2:
        return TestResult("chisquare", 0.0, 1.0, 1.0, t, False)
    expected = table.sum(axis=1, keepdims=True) * table.sum(axis=0) / table.sum()
    stat = float(np.sum((table - expected) ** 2 / expected))
    p = float(chi2.sf(stat, k - 1))
    return TestResult("chisquare", stat, p, p, t, p < t)


def _z_test(
    keys: Sequence[Any], ref_c: NDArray[np.int64], cur_c: NDArray[np.int64], t: float
) -> TestResult:
    from scipy.stats import norm

    present = (ref_c > 0) | (cur_c > 0)
    ref_c, cur_c = ref_c[present], cur_c[present]
    keys = [k for k, keep in zip(keys, present, strict=True) if keep]
    if np.count_nonzero(ref_c) == 1 and np.count_nonzero(cur_c) == 1:
        if int(np.argmax(ref_c)) == int(np.argmax(cur_c)):
            return TestResult("z", 0.0, 1.0, 1.0, t, False)
    first = _first_key(keys)
    n1, n2 = float(ref_c.sum()), float(cur_c.sum())
    p1 = (n1 - ref_c[first]) / n1
    p2 = (n2 - cur_c[first]) / n2
    pooled = (p1 * n1 + p2 * n2) / (n1 + n2)
    with np.errstate(divide="ignore", invalid="ignore"):
        z = float((p1 - p2) / np.sqrt(pooled * (1 - pooled) * (1.0 / n1 + 1.0 / n2)))
    p = float(2 * (1 - norm.cdf(abs(z)))) if math.isfinite(z) else float("nan")
    return TestResult("z", z, p, p, t, bool(p < t))


def _first_key(keys: Sequence[Any]) -> int:
    """Index of the smallest key (the category whose share the Z-test follows)."""
    try:
        return min(range(len(keys)), key=lambda i: keys[i])
    except TypeError:
        return min(range(len(keys)), key=lambda i: str(keys[i]))


def _jensenshannon(p: NDArray[np.float64], q: NDArray[np.float64]) -> float:
    from scipy.spatial.distance import jensenshannon

    return float(jensenshannon(p, q))


def _fill_zeroes(p: NDArray[np.float64]) -> NDArray[np.float64]:
    """Replace empty bins by a tiny share, as Evidently does before PSI's logarithm."""
    p = p.copy()
    nonzero = p[p != 0]
    smallest = float(nonzero.min())
    p[p == 0] = smallest / 10**6 if smallest <= 0.0001 else 0.0001
    return p


# -- shares and counts -------------------------------------------------------------------


def _shares(ref: Sample, cur: Sample) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """Shares per bin (numeric columns with > 20 distinct values) or per value."""
    if (
        isinstance(ref, NumericSample)
        and isinstance(cur, NumericSample)
        and _sorted_unique(ref.values).size > BIN_ABOVE
    ):
        edges = np.histogram_bin_edges(np.concatenate((ref.values, cur.values)), bins="sturges")
        return (
            sorted_histogram(ref.values, edges) / ref.n,
            sorted_histogram(cur.values, edges) / cur.n,
        )
    _, ref_c, cur_c = _aligned_counts(ref, cur)
    return ref_c / ref_c.sum(), cur_c / cur_c.sum()


def _aligned_counts(
    ref: Sample, cur: Sample
) -> tuple[list[Any], NDArray[np.int64], NDArray[np.int64]]:
    if isinstance(ref, CategoricalSample) and isinstance(cur, CategoricalSample):
        return ref.keys, ref.counts, cur.counts
    if isinstance(ref, NumericSample) and isinstance(cur, NumericSample):
        keys, ref_c, cur_c = value_counts_sorted(ref.values, cur.values)
        return keys.tolist(), ref_c, cur_c
    raise TypeError("reference and current samples must be of the same kind")


def value_counts_sorted(
    ref: NDArray[np.float64], cur: NDArray[np.float64]
) -> tuple[NDArray[np.float64], NDArray[np.int64], NDArray[np.int64]]:
    """Each distinct value of two sorted arrays with its count in each."""
    keys = np.union1d(_sorted_unique(ref), _sorted_unique(cur))
    return keys, _counts_of(ref, keys), _counts_of(cur, keys)


def _counts_of(values: NDArray[np.float64], keys: NDArray[np.float64]) -> NDArray[np.int64]:
    lo = np.searchsorted(values, keys, side="left")
    hi = np.searchsorted(values, keys, side="right")
    return (hi - lo).astype(np.int64)


def _sorted_unique(values: NDArray[np.float64]) -> NDArray[np.float64]:
    if values.size == 0:
        return values
    keep = np.empty(values.size, dtype=bool)
    keep[0] = True
    np.not_equal(values[1:], values[:-1], out=keep[1:])
    return values[keep]


def sorted_histogram(values: NDArray[np.float64], edges: NDArray[np.float64]) -> NDArray[np.int64]:
    """Counts per bin of sorted *values*, as :func:`numpy.histogram` bins them.

    Bins are half-open ``[edge_i, edge_i+1)`` except the last, which includes its
    right edge; values outside the edges are not counted.
    """
    idx = np.searchsorted(values, edges, side="left")
    idx[-1] = np.searchsorted(values, edges[-1], side="right")
    return np.diff(idx).astype(np.int64)
