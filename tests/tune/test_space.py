"""Search spaces and their command-line syntax."""

from __future__ import annotations

import pytest

from loopml.exceptions import DataError
from loopml.tune.search import GridSearch, get_searcher
from loopml.tune.space import (
    Choice,
    Float,
    Int,
    contains,
    grid_of,
    parse_param,
    parse_params,
    parse_value,
)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("C=0.1,1,10", ("C", Choice([0.1, 1, 10]))),
        ("kernel=rbf,linear", ("kernel", Choice(["rbf", "linear"]))),
        ("alpha=0.001:10:log", ("alpha", Float(0.001, 10.0, log=True))),
        ("alpha=1e-3:1", ("alpha", Float(0.001, 1.0))),
        ("max_depth=2:12", ("max_depth", Int(2, 12))),
        ("n=1:100:log", ("n", Int(1, 100, log=True))),
        ("class_weight=none,balanced", ("class_weight", Choice([None, "balanced"]))),
        ("fit_intercept=true,false", ("fit_intercept", Choice([True, False]))),
        (" gamma = scale ", ("gamma", Choice(["scale"]))),
    ],
)
def test_parse_param(text: str, expected: tuple[str, object]) -> None:
    assert parse_param(text) == expected


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("C", "must look like NAME=VALUES"),
        ("=1,2", "must look like NAME=VALUES"),
        ("C=", "must look like NAME=VALUES"),
        ("alpha=10:1", "low <= high"),
        ("alpha=0:1:log", "log-scale range needs low > 0"),
        ("alpha=0.1:1:cubic", "third part must be 'log' or 'linear'"),
    ],
)
def test_parse_param_errors(text: str, message: str) -> None:
    with pytest.raises(DataError, match=message):
        parse_param(text)


def test_parse_params_forms() -> None:
    assert parse_params(["C=1,2", "alpha=0.1:1"]) == {
        "C": Choice([1, 2]),
        "alpha": Float(0.1, 1.0),
    }
    assert parse_params({"C": [1, 2], "alpha": Float(0.1, 1.0), "k": "1:3"}) == {
        "C": Choice([1, 2]),
        "alpha": Float(0.1, 1.0),
        "k": Int(1, 3),
    }
    assert parse_params(None) == {}
    with pytest.raises(DataError, match="--param C is given twice"):
        parse_params(["C=1", "C=2"])


def test_parse_value() -> None:
    assert [parse_value(v) for v in ["3", "0.5", "none", "True", "rbf", "inf"]] == [
        3,
        0.5,
        None,
        True,
        "rbf",
        "inf",
    ]


def test_grid_needs_finite_values() -> None:
    assert grid_of({"C": Choice([1, 2]), "k": Int(1, 3)}) == {"C": [1, 2], "k": [1, 2, 3]}
    with pytest.raises(DataError, match="Grid search needs a list of values for 'alpha'"):
        grid_of({"alpha": Float(0.001, 10, log=True)})
    with pytest.raises(DataError, match="would try 1000 values"):
        grid_of({"n": Int(1, 1000)})
    assert GridSearch().size({"C": Choice([1, 2, 3]), "kernel": Choice(["a", "b"])}) == 6


def test_contains_and_choice_validation() -> None:
    space = {"C": Float(0.1, 10), "k": Int(1, 5), "w": Choice(["a", "b"])}
    assert contains(space, {"C": 1.0, "k": 3, "w": "b", "other": 1}) == {"C": 1.0, "k": 3, "w": "b"}
    assert contains(space, {"C": 20.0, "k": 2.5, "w": "c"}) == {}
    assert not Choice([1]).contains(True)  # True is not 1 for a hyperparameter
    with pytest.raises(DataError, match="Choice values must be strings, numbers"):
        Choice([(1, 2)])
    with pytest.raises(DataError, match="at least one value"):
        Choice([])


def test_get_searcher() -> None:
    assert get_searcher("TPE").name == "bayes"
    assert get_searcher("grid").name == "grid"
    with pytest.raises(DataError, match="Unknown search method 'hyperband'"):
        get_searcher("hyperband")
