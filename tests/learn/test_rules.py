from __future__ import annotations

import json
import re
from fractions import Fraction
from itertools import combinations
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from loopml.exceptions import DataError
from loopml.learn.rules import (
    RULE_COLUMNS,
    Baskets,
    RuleSet,
    encode_transactions,
    estimate_itemsets,
    mine_rules,
)

ALGORITHMS = ["fpgrowth", "apriori"]
FORMATS = ["long", "onehot", "lists"]


def _baskets(seed: int, n: int = 60, m: int = 8) -> list[set[str]]:
    rng = np.random.default_rng(seed)
    probs = rng.uniform(0.1, 0.6, m)
    out = []
    for _ in range(n):
        basket = {f"item{j}" for j in range(m) if rng.random() < probs[j]}
        if rng.random() < 0.3:  # a bundle that goes together
            basket |= {"item1", "item2", "item3"}
        # Long format cannot hold an empty basket; keep every basket non-empty.
        out.append(basket or {f"item{rng.integers(m)}"})
    return out


def _as_format(baskets: list[set[str]], fmt: str) -> object:
    if fmt == "lists":
        return [sorted(b) for b in baskets]
    if fmt == "long":
        rows = [(t, item) for t, b in enumerate(baskets) for item in sorted(b)]
        return pd.DataFrame(rows, columns=["transaction", "item"])
    items = sorted(set().union(*baskets))
    return pd.DataFrame([[int(i in b) for i in items] for b in baskets], columns=items)


def _brute_force(
    baskets: list[set[str]], min_support: float, min_confidence: float, max_len: int | None
) -> dict[tuple[tuple[str, ...], tuple[str, ...]], dict[str, float]]:
    n = len(baskets)
    items = sorted(set().union(*baskets))
    count = {}
    for size in range(1, (max_len or len(items)) + 1):
        for iset in combinations(items, size):
            c = sum(1 for b in baskets if set(iset) <= b)
            if c / n >= min_support:
                count[iset] = c
    rules = {}
    for iset, c_ac in count.items():
        for r in range(1, len(iset)):
            for ant in combinations(iset, r):
                con = tuple(i for i in iset if i not in ant)
                c_a, c_c = count[ant], count[con]
                if Fraction(c_ac, c_a) < Fraction(min_confidence):
                    continue
                conviction = (
                    float("inf")
                    if c_a == c_ac
                    else float(Fraction((n - c_c) * c_a, n * (c_a - c_ac)))
                )
                rules[(ant, con)] = {
                    "antecedent_support": float(Fraction(c_a, n)),
                    "consequent_support": float(Fraction(c_c, n)),
                    "support": float(Fraction(c_ac, n)),
                    "confidence": float(Fraction(c_ac, c_a)),
                    "lift": float(Fraction(c_ac * n, c_a * c_c)),
                    "leverage": float(Fraction(c_ac * n - c_a * c_c, n * n)),
                    "conviction": conviction,
                    "count": c_ac,
                }
    return rules


@pytest.mark.parametrize("algorithm", ALGORITHMS)
@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_rules_equal_brute_force_counts_exactly(algorithm: str, fmt: str, seed: int) -> None:
    baskets = _baskets(seed)
    max_len = None if seed != 2 else 2
    got = mine_rules(
        _as_format(baskets, fmt),
        min_support=0.1,
        min_confidence=0.3,
        algorithm=algorithm,  # type: ignore[arg-type]
        max_len=max_len,
    )
    expected = _brute_force(baskets, 0.1, 0.3, max_len)
    assert list(got.rules.columns) == RULE_COLUMNS
    rows = {(r.antecedents, r.consequents): r for r in got.rules.itertuples(index=False)}
    assert set(rows) == set(expected)
    assert len(expected) > 20
    for key, want in expected.items():
        row = rows[key]._asdict()
        for metric, value in want.items():
            assert row[metric] == value, (key, metric)  # exact, not approximate


def test_confidence_exactly_at_the_threshold_is_kept() -> None:
    # 3 of 10 baskets with 'a' also hold 'b': confidence is exactly 0.3.
    baskets = [["a", "b"]] * 3 + [["a"]] * 7 + [["b"]] * 5
    rules = mine_rules(baskets, min_support=0.1, min_confidence=0.3).rules
    row = rules[(rules["antecedents"] == ("a",)) & (rules["consequents"] == ("b",))]
    assert len(row) == 1
    assert row["confidence"].iloc[0] == 0.3


def test_rules_sorted_by_metric_and_filtered() -> None:
    data = _as_format(_baskets(0), "lists")
    rules = mine_rules(data, min_support=0.1, min_confidence=0.3).rules
    assert rules["lift"].is_monotonic_decreasing
    by_conf = mine_rules(data, min_support=0.1, min_confidence=0.3, metric="confidence", top=5)
    assert len(by_conf) == 5
    assert by_conf.rules["confidence"].is_monotonic_decreasing
    lifted = mine_rules(data, min_support=0.1, min_confidence=0.3, min_lift=1.2).rules
    assert (lifted["lift"] >= 1.2).all()
    assert len(lifted) < len(rules)


def _shop() -> list[list[str]]:
    return (
        [["bread", "butter"]] * 40
        + [["bread", "jam"]] * 10
        + [["milk"]] * 20
        + [["bread", "butter", "milk"]] * 10
        + [["beer", "chips"]] * 20
    )


def test_recommend_frequently_bought_together() -> None:
    rules = mine_rules(_shop(), min_support=0.05, min_confidence=0.2)
    first = rules.recommend(["bread"], n=3)
    assert first[0].item == "butter"
    assert first[0].rule.antecedents == ("bread",)
    assert first[0].score == pytest.approx(first[0].rule.confidence * first[0].rule.lift)
    assert [r.item for r in rules.recommend(["beer"])] == ["chips"]
    assert {r.item for r in rules.recommend(["bread", "butter"])} == {"milk"}
    assert rules.recommend(["unknown"]) == []
    by_lift = rules.recommend(["bread"], by="lift")
    assert by_lift[0].score == max(r.score for r in by_lift)
    item, score, rule = first[0]  # a plain (item, score, rule) tuple
    assert (item, score) == (first[0].item, first[0].score)
    assert str(rule) == "{bread} -> {butter}"


def test_recommend_rejects_unknown_ranking() -> None:
    rules = mine_rules(_shop(), min_support=0.05, min_confidence=0.2)
    with pytest.raises(DataError, match="by must be"):
        rules.recommend(["bread"], by="magic")  # type: ignore[arg-type]


@pytest.mark.parametrize("suffix", [".json", ".parquet"])
def test_ruleset_save_load_round_trip(tmp_path: Path, suffix: str) -> None:
    rules = mine_rules(_shop(), min_support=0.05, min_confidence=0.2)
    assert np.isinf(rules.rules["conviction"]).any()  # inf survives the trip
    path = rules.save(tmp_path / f"rules{suffix}")
    loaded = RuleSet.load(path)
    pd.testing.assert_frame_equal(loaded.rules, rules.rules)
    assert loaded.n_transactions == rules.n_transactions
    assert loaded.params == rules.params
    assert loaded.recommend(["bread"]) == rules.recommend(["bread"])
    assert not list(tmp_path.glob(".*tmp"))  # the temp file is gone
    again = RuleSet.from_dict(json.loads(json.dumps(rules.to_dict())))
    pd.testing.assert_frame_equal(again.rules, rules.rules)


def test_ruleset_load_errors(tmp_path: Path) -> None:
    bad = tmp_path / "x.json"
    bad.write_text(json.dumps({"format": "other"}))
    with pytest.raises(DataError, match="not a saved RuleSet"):
        RuleSet.load(bad)
    with pytest.raises(DataError, match="does not exist"):
        RuleSet.load(tmp_path / "missing.json")
    with pytest.raises(DataError, match=r"\.json or \.parquet"):
        mine_rules(_shop(), min_support=0.05).save(tmp_path / "rules.csv")


def test_table_renders_itemsets_as_strings() -> None:
    table = mine_rules(_shop(), min_support=0.05, min_confidence=0.2).table(3)
    assert len(table) == 3
    assert all(re.fullmatch(r"\{[a-z, ]+\}", a) for a in table["antecedents"])


# -- input formats ---------------------------------------------------------------------


def test_long_format_columns_are_detected_and_named() -> None:
    df = pd.DataFrame({"product": ["a", "b", "a", "c"], "order_id": [1, 1, 2, 2]})
    baskets = encode_transactions(df)
    assert baskets.items == ["a", "b", "c"]
    assert baskets.n_transactions == 2
    assert baskets.matrix.toarray().tolist() == [[True, True, False], [True, False, True]]
    wide = df.assign(store="x")
    named = encode_transactions(wide, transaction_col="order_id", item_col="product")
    assert (named.matrix != baskets.matrix).nnz == 0


def test_long_format_with_non_string_column_labels() -> None:
    df = pd.DataFrame({0: [1, 1, 2], 1: ["a", "b", "a"]})
    assert encode_transactions(df).items == ["a", "b"]
    assert encode_transactions(df, transaction_col=0, item_col=1).n_transactions == 2  # type: ignore[arg-type]


def test_long_format_ignores_missing_and_repeated_items() -> None:
    df = pd.DataFrame({"t": [1, 1, 1, 2, None], "item": ["a", "a", None, "b", "c"]})
    baskets = encode_transactions(df, transaction_col="t", item_col="item")
    assert baskets.items == ["a", "b"]
    assert baskets.matrix.sum() == 2


def test_sparse_and_bool_onehot_frames() -> None:
    dense = pd.DataFrame({"x": [1, 0, 1], "y": [0, 1, 1], "z": [1, 1, 0]})
    sparse = dense.astype(pd.SparseDtype("int64", 0))
    boolean = dense.astype(bool)
    results = [encode_transactions(f).matrix.toarray() for f in (dense, sparse, boolean)]
    assert all((r == results[0]).all() for r in results)
    counts = encode_transactions(dense).item_counts()
    assert counts.to_dict() == {"x": 2, "y": 2, "z": 2}
    assert isinstance(encode_transactions(encode_transactions(dense)), Baskets)


def test_onehot_with_bad_value_names_column_and_value() -> None:
    df = pd.DataFrame({"a": [1, 0, 1, 0], "b": [0, 1, 1, 2], "c": [1, 1, 0, 0]})
    with pytest.raises(DataError, match=r"Column 'b' .* row 3 has 2\b"):
        mine_rules(df)
    df = pd.DataFrame({"a": [1, 0], "b": [0, np.nan], "c": [1, 1]})
    with pytest.raises(DataError, match=r"Column 'b' .* row 1 has nan"):
        mine_rules(df)
    df = pd.DataFrame({"a": [1, 0], "b": ["x", "y"], "c": [1, 1]})
    with pytest.raises(DataError, match=r"Column 'b' .* row 0 has 'x'"):
        mine_rules(df)


@pytest.mark.parametrize(
    ("data", "match"),
    [
        (pd.DataFrame({"t": [], "item": []}), "frame is empty"),
        (pd.DataFrame({"a": [0, 0], "b": [False, False], "c": [0, 0]}), "are empty"),
        ([], "list of baskets is empty"),
        ([[], []], "All 2 baskets are empty"),
        (pd.DataFrame({"t": [None, None], "item": ["a", None]}), "no usable rows"),
        ("milk,bread", "Cannot read transactions from a str"),
        ([["a"], "b"], "Basket 1 is a str"),
    ],
)
def test_empty_or_unreadable_transactions(data: object, match: str) -> None:
    with pytest.raises(DataError, match=match):
        mine_rules(data)


def test_bad_parameters() -> None:
    for bad in (0, -0.1, 1.5, "0.1"):
        with pytest.raises(DataError, match=r"min_support must be a fraction .* in \(0, 1\]"):
            mine_rules(_shop(), min_support=bad)  # type: ignore[arg-type]
    with pytest.raises(DataError, match="min_confidence must be in"):
        mine_rules(_shop(), min_confidence=2)
    with pytest.raises(DataError, match="algorithm must be"):
        mine_rules(_shop(), algorithm="eclat")  # type: ignore[arg-type]
    with pytest.raises(DataError, match="metric must be one of"):
        mine_rules(_shop(), metric="jaccard")  # type: ignore[arg-type]
    with pytest.raises(DataError, match="max_len must be a positive integer"):
        mine_rules(_shop(), max_len=0)
    with pytest.raises(DataError, match="item_col='sku' is not a column"):
        mine_rules(pd.DataFrame({"t": [1], "item": ["a"]}), item_col="sku")


def test_nothing_frequent_gives_an_empty_ruleset_with_a_note() -> None:
    rules = mine_rules([["a"], ["b"], ["c"], ["d"]], min_support=0.5)
    assert len(rules) == 0
    assert list(rules.rules.columns) == RULE_COLUMNS
    assert "No item reaches min_support=0.5" in rules.notes[0]
    assert rules.recommend(["a"]) == []


# -- the explosion guard ------------------------------------------------------------------


def _block(n: int, size: int, share: float, keep: float, seed: int = 0) -> list[list[str]]:
    """*share* of baskets hold a bundle of *size* items, each kept with prob *keep*."""
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(n):
        basket = [f"noise{j}" for j in rng.choice(30, 3, replace=False)]
        if rng.random() < share:
            basket += [f"b{j:02d}" for j in range(size) if rng.random() < keep]
        out.append(basket)
    return out


def test_estimate_is_exact_for_a_block() -> None:
    baskets = [[f"i{j}" for j in range(10)]] * 50 + [["x"]] * 50
    est = estimate_itemsets(baskets, 0.1)
    assert est.total == pytest.approx(2**10 - 1 + 1)  # every subset of the block, and 'x'
    assert est.by_size[1] == 11
    assert est.by_size[2] == 45
    assert est.by_size[3] == 120


def test_estimate_is_close_on_skewed_baskets() -> None:
    rng = np.random.default_rng(0)
    pop = 1 / np.arange(1, 101) ** 1.1
    baskets = [
        [f"p{j}" for j in rng.choice(100, rng.poisson(6) + 1, p=pop / pop.sum())]
        for _ in range(3000)
    ]
    found = mine_rules(baskets, min_support=0.005, min_confidence=0.9).n_itemsets
    est = estimate_itemsets(baskets, 0.005).total
    assert found / 3 <= est <= found * 3


def test_guard_refuses_with_advice_that_fits() -> None:
    baskets = _block(400, 18, share=0.5, keep=0.9)
    limit = 20_000
    with pytest.raises(DataError, match=r"would find about [\d,]+ frequent itemsets") as info:
        mine_rules(baskets, min_support=0.05, max_itemsets=limit)
    msg = str(info.value)
    assert "max_itemsets=20,000" in msg
    suggested = float(re.search(r"raise min_support to ([\d.e-]+)", msg).group(1))  # type: ignore[union-attr]
    assert suggested > 0.05
    assert estimate_itemsets(baskets, suggested).total <= limit
    max_len = int(re.search(r"set max_len=(\d+)", msg).group(1))  # type: ignore[union-attr]
    assert estimate_itemsets(baskets, 0.05, max_len=max_len).total <= limit
    assert estimate_itemsets(baskets, 0.05, max_len=max_len + 1).total > limit


def test_guard_can_be_turned_off_and_max_len_bounds_the_work() -> None:
    baskets = _block(200, 12, share=0.5, keep=0.95)
    rules = mine_rules(baskets, min_support=0.2, max_itemsets=None, min_confidence=0.9, max_len=3)
    assert rules.n_itemsets > 0
    assert (
        max(
            len(a) + len(c)
            for a, c in zip(rules.rules.antecedents, rules.rules.consequents, strict=True)
        )
        <= 3
    )


def test_guard_refuses_too_many_candidate_rules() -> None:
    baskets = [[f"i{j}" for j in range(12)]] * 30 + [["x"]] * 10
    # 4,095 itemsets fit under 5,000, but they hold 2**12-2 candidate rules each at the top.
    with pytest.raises(DataError, match=r"candidate rules to check.*Fix: set max_len="):
        mine_rules(baskets, min_support=0.5, max_itemsets=5_000)
