"""The drift tests against SciPy, and the automatic choice against Evidently's rule."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats
from scipy.spatial.distance import jensenshannon

from loopml.exceptions import DataError
from loopml.monitor.stattests import (
    CategoricalSample,
    NumericSample,
    choose_test,
    run_test,
    sorted_histogram,
    wasserstein_sorted,
)


def num(values: object) -> NumericSample:
    return NumericSample(np.sort(np.asarray(values, dtype=np.float64)))


def cat(keys: list[str], counts: list[int]) -> CategoricalSample:
    return CategoricalSample(keys, np.asarray(counts, dtype=np.int64))


@pytest.mark.parametrize(
    ("n", "m", "rounded"),
    [
        (1, 1, False),
        (1, 9, False),
        (5, 7, True),
        (100, 37, False),
        (1000, 1000, True),
        (3000, 2999, False),
    ],
)
def test_wasserstein_sorted_matches_scipy(n: int, m: int, rounded: bool) -> None:
    rng = np.random.default_rng(n + m)
    u, v = rng.normal(size=n), rng.normal(0.3, 1.5, size=m)
    if rounded:  # ties within and across samples
        u, v = np.round(u, 1), np.round(v, 1)
    expected = stats.wasserstein_distance(u, v)
    assert wasserstein_sorted(np.sort(u), np.sort(v)) == pytest.approx(
        expected, rel=1e-12, abs=1e-15
    )


def test_wasserstein_is_normalised_by_the_reference_std() -> None:
    rng = np.random.default_rng(0)
    ref, cur = rng.normal(0, 2, 3000), rng.normal(0.5, 2, 3000)
    result = run_test("wasserstein", num(ref), num(cur))
    assert result.score == pytest.approx(stats.wasserstein_distance(ref, cur) / np.std(ref))
    assert result.drifted == (result.score >= 0.1) and result.p_value is None
    # a constant reference is normalised by 0.001, not 0
    flat = run_test("wasserstein", num([1.0] * 10), num([1.0] * 9 + [2.0]))
    assert flat.score == pytest.approx(0.1 / 0.001)


def test_ks_matches_scipy_and_drifts_at_equality() -> None:
    rng = np.random.default_rng(1)
    ref, cur = rng.normal(size=300), rng.normal(0.2, size=250)
    expected = stats.ks_2samp(ref, cur)
    result = run_test("ks", num(ref), num(cur))
    assert result.p_value == pytest.approx(expected.pvalue)
    assert result.statistic == pytest.approx(expected.statistic)
    at_p = run_test("ks", num(ref), num(cur), threshold=float(expected.pvalue))
    assert at_p.drifted  # p <= threshold, as in Evidently


def test_chisquare_is_the_two_sample_test_of_homogeneity() -> None:
    ref, cur = cat(list("abcd"), [50, 30, 20, 0]), cat(list("abcd"), [40, 40, 40, 0])
    expected = stats.chi2_contingency([[50, 30, 20], [40, 40, 40]], correction=False)
    result = run_test("chisquare", ref, cur)
    assert result.p_value == pytest.approx(expected.pvalue)
    assert result.statistic == pytest.approx(expected.statistic)
    new = run_test("chisquare", cat(list("abc"), [50, 50, 0]), cat(list("abc"), [40, 40, 25]))
    assert new.p_value < 1e-5 and new.drifted  # a category the reference never had
    single = run_test("chisquare", cat(["a"], [5]), cat(["a"], [7]))
    assert single.p_value == 1.0 and not single.drifted
    # with two categories it is the squared two-proportion z-test
    two_ref, two_cur = cat(["a", "b"], [70, 30]), cat(["a", "b"], [55, 45])
    z = run_test("z", two_ref, two_cur)
    assert run_test("chisquare", two_ref, two_cur).p_value == pytest.approx(z.p_value)


def test_z_test_for_proportions() -> None:
    ref, cur = cat(["no", "yes"], [700, 300]), cat(["no", "yes"], [600, 400])
    p1, p2 = 0.3, 0.4
    pooled = (300 + 400) / 2000
    z = (p1 - p2) / np.sqrt(pooled * (1 - pooled) * (1 / 1000 + 1 / 1000))
    result = run_test("z", ref, cur)
    assert result.statistic == pytest.approx(z)  # share of 'yes' (not the first key)
    assert result.p_value == pytest.approx(2 * (1 - stats.norm.cdf(abs(z))))
    assert result.drifted
    same = run_test("z", cat(["a", "b"], [10, 0]), cat(["a", "b"], [12, 0]))
    assert same.p_value == 1.0 and not same.drifted


def test_jensenshannon_and_psi_on_categories() -> None:
    ref, cur = cat(list("abcd"), [50, 30, 20, 0]), cat(list("abcd"), [30, 30, 20, 20])
    js = run_test("jensenshannon", ref, cur)
    assert js.score == pytest.approx(jensenshannon([0.5, 0.3, 0.2, 0.0], [0.3, 0.3, 0.2, 0.2]))
    psi = run_test("psi", ref, cur)
    r = np.array([0.5, 0.3, 0.2, 0.0001])
    c = np.array([0.3, 0.3, 0.2, 0.2])
    assert psi.score == pytest.approx(np.sum((r - c) * np.log(r / c)))
    assert psi.drifted and js.drifted


def test_jensenshannon_bins_continuous_numbers_with_sturges() -> None:
    rng = np.random.default_rng(2)
    ref, cur = rng.normal(size=500), rng.normal(0.5, size=400)
    edges = np.histogram_bin_edges(np.concatenate([ref, cur]), bins="sturges")
    p = np.histogram(ref, edges)[0] / ref.size
    q = np.histogram(cur, edges)[0] / cur.size
    assert run_test("jensenshannon", num(ref), num(cur)).score == pytest.approx(jensenshannon(p, q))


def test_sorted_histogram_matches_numpy() -> None:
    rng = np.random.default_rng(3)
    values = np.sort(np.round(rng.normal(size=2000), 1))
    edges = np.linspace(-1.0, 1.0, 11)
    np.testing.assert_array_equal(sorted_histogram(values, edges), np.histogram(values, edges)[0])


@pytest.mark.parametrize(
    ("kind", "n_ref", "n_values", "expected"),
    [
        ("numeric", 1000, 6, "ks"),
        ("numeric", 1000, 5, "chisquare"),
        ("numeric", 500, 2, "z"),
        ("categorical", 1000, 3, "chisquare"),
        ("categorical", 10, 2, "z"),
        ("numeric", 1001, 6, "wasserstein"),
        ("numeric", 1001, 5, "jensenshannon"),
        ("categorical", 5000, 2, "jensenshannon"),
    ],
)
def test_automatic_choice_follows_evidently(
    kind: str, n_ref: int, n_values: int, expected: str
) -> None:
    assert choose_test(kind, n_ref, n_values) == expected


def test_bad_requests_say_what_to_do() -> None:
    with pytest.raises(DataError, match="Unknown drift test 'kl'"):
        run_test("kl", num([1.0]), num([2.0]))
    with pytest.raises(DataError, match="needs numbers"):
        run_test("ks", cat(["a"], [1]), cat(["a"], [2]))
    with pytest.raises(DataError, match="current sample is empty"):
        run_test("psi", num([1.0]), num([]))
