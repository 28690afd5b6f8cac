from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from loopml.data.split import parse_sizes, split
from loopml.exceptions import DataError


def _df(n: int = 200) -> pd.DataFrame:
    rng = np.random.default_rng(1)
    return pd.DataFrame(
        {
            "x": rng.normal(size=n),
            "day": pd.date_range("2022-01-01", periods=n, freq="h")[rng.permutation(n)],
            "user": rng.integers(0, 20, n),
            "y": rng.choice(["a", "b", "c"], n, p=[0.6, 0.3, 0.1]),
        }
    )


def test_default_is_70_15_15_stratified_and_disjoint() -> None:
    df = _df()
    s = split(df, "y", seed=0)
    assert s.counts == {"train": 140, "valid": 30, "test": 30}
    assert s.strategy == "stratified"
    total = pd.concat([s.train, s.valid, s.test])
    assert sorted(total["x"]) == sorted(df["x"])
    share = df["y"].value_counts(normalize=True)
    for part in (s.train, s.valid, s.test):
        got = part["y"].value_counts(normalize=True)
        assert abs(got["c"] - share["c"]) < 0.05


def test_same_seed_same_split_other_seed_other_split() -> None:
    df = _df()
    a, b, c = split(df, "y", seed=3), split(df, "y", seed=3), split(df, "y", seed=4)
    pd.testing.assert_frame_equal(a.test, b.test)
    assert not a.test["x"].equals(c.test["x"])


def test_time_column_puts_the_newest_rows_in_test() -> None:
    s = split(_df(), "y", time_column="day")
    assert s.train["day"].max() < s.valid["day"].min()
    assert s.valid["day"].max() < s.test["day"].min()


def test_group_column_keeps_groups_together() -> None:
    s = split(_df(), "y", group_column="user")
    groups = [set(p["user"]) for p in (s.train, s.valid, s.test)]
    assert (
        not (groups[0] & groups[1]) and not (groups[0] & groups[2]) and not (groups[1] & groups[2])
    )


@pytest.mark.parametrize(
    ("text", "expected"),
    [("0.8,0.1,0.1", (0.8, 0.1, 0.1)), ("80,10,10", (0.8, 0.1, 0.1)), ("0.9,0.1", (0.9, 0.1, 0.0))],
)
def test_parse_sizes(text: str, expected: tuple[float, float, float]) -> None:
    assert parse_sizes(text) == pytest.approx(expected)


def test_bad_sizes() -> None:
    with pytest.raises(DataError, match="must sum to 1"):
        parse_sizes("0.5,0.2,0.1")
    with pytest.raises(DataError, match="three numbers"):
        parse_sizes("a,b,c")


def test_too_few_rows_for_a_split() -> None:
    with pytest.raises(
        DataError, match=r"has 8 rows: too few for a 70/15/15 split \(needs at least 15"
    ):
        split(_df(8), "y")


def test_rare_classes_fall_back_to_a_random_split_with_a_note() -> None:
    df = _df(100)
    df.loc[0, "y"] = "rare"
    s = split(df, "y")
    assert s.strategy == "random"
    assert "fewer than 3 rows" in s.notes[0]
