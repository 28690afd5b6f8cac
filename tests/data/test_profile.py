from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from scipy.stats import chi2_contingency

from loopml.data.io import BUILTIN_DATASETS
from loopml.data.profile import Profile, correlation_ratio, cramers_v, profile
from loopml.data.schema import Role, infer_schema
from loopml.exceptions import DataError


def _strict_loads(text: str) -> Any:
    def reject(token: str) -> Any:
        raise ValueError(f"non-standard JSON constant {token}")

    return json.loads(text, parse_constant=reject)


def _kinds(p: Profile, column: str | None = None) -> set[str]:
    return {w["kind"] for w in p.warnings if column is None or w["column"] == column}


@pytest.fixture
def small() -> pd.DataFrame:
    rng = np.random.default_rng(1)
    n = 200
    df = pd.DataFrame(
        {
            "age": rng.normal(40, 10, n).round(1),
            "income": rng.lognormal(10, 1, n),
            "plan": rng.choice(["basic", "pro", "team"], n, p=[0.5, 0.3, 0.2]),
            "y": rng.integers(0, 2, n),
        }
    )
    df.loc[[3, 7, 11], "age"] = np.nan
    df.loc[[5, 9], "plan"] = None
    return df


# -- statistics --------------------------------------------------------------------------


def test_numeric_statistics_match_pandas(small: pd.DataFrame) -> None:
    p = profile(small, target="y")
    for name in ("age", "income"):
        col, s = p.column(name), small[name]
        assert col["role"] == "numeric"
        assert col["count"] == s.count()
        assert col["missing"] == s.isna().sum()
        assert col["unique"] == s.nunique()
        assert col["mean"] == pytest.approx(s.mean(), rel=1e-12)
        assert col["std"] == pytest.approx(s.std(), rel=1e-12)
        assert col["min"] == s.min() and col["max"] == s.max()
        assert col["q25"] == pytest.approx(s.quantile(0.25), rel=1e-12)
        assert col["median"] == pytest.approx(s.median(), rel=1e-12)
        assert col["q75"] == pytest.approx(s.quantile(0.75), rel=1e-12)
        assert col["skew"] == pytest.approx(s.skew(), rel=1e-9)
        hist = col["histogram"]
        assert sum(hist["counts"]) == s.count()
        assert hist["edges"][0] == s.min() and hist["edges"][-1] == pytest.approx(s.max())


def test_missing_and_unique_counts_are_exact(small: pd.DataFrame) -> None:
    p = profile(small, target="y")
    age, plan = p.column("age"), p.column("plan")
    assert (age["missing"], age["missing_pct"]) == (3, 1.5)
    assert (plan["missing"], plan["count"], plan["unique"]) == (2, 198, 3)
    assert p.missing_cells == 5
    counts = small["plan"].value_counts()
    assert [(t["value"], t["count"]) for t in plan["top"]] == list(counts.items())
    assert plan["top"][0]["share"] == pytest.approx(counts.iloc[0] / 198)
    assert plan["other_count"] == 0


def test_counts_stay_exact_when_sampled(small: pd.DataFrame) -> None:
    p = profile(small, target="y", max_rows=50)
    assert p.sampled and p.sample_rows == 50 and p.n_rows == 200
    assert p.column("age")["missing"] == 3
    assert p.column("plan")["unique"] == 3
    assert p.column("income")["mean"] == pytest.approx(small["income"].mean())


def test_same_seed_same_profile(small: pd.DataFrame) -> None:
    a = profile(small, target="y", max_rows=60, seed=3).to_dict()
    b = profile(small, target="y", max_rows=60, seed=3).to_dict()
    assert a == b


def test_discrete_numeric_columns_get_value_counts() -> None:
    df = pd.DataFrame({"children": [0, 1, 1, 2, 2, 2, 3, 0, 1, 2] * 5})
    hist = profile(df).column("children")["histogram"]
    assert hist == {"kind": "discrete", "values": [0.0, 1.0, 2.0, 3.0], "counts": [10, 15, 20, 5]}


def test_infinite_values_are_counted_not_summarised() -> None:
    df = pd.DataFrame({"x": [1.0, 2.0, np.inf, 4.0, -np.inf, 6.0, 7.0, 8.0]})
    col = profile(df).column("x")
    assert col["infinite"] == 2
    assert col["max"] == 8.0 and col["min"] == 1.0
    _strict_loads(profile(df).to_json())


# -- correlations ------------------------------------------------------------------------


def test_numbers_stored_as_text() -> None:
    values: list[str | None] = ["1.5", "2", "4.25", "3"] * 10
    values[5], values[7] = "oops", None
    col = profile(pd.DataFrame({"price": values})).column("price")
    assert col["role"] == "numeric"
    assert (col["count"], col["missing"], col["not_numeric"]) == (39, 1, 1)
    numbers = pd.to_numeric(pd.Series(values), errors="coerce")
    assert col["mean"] == pytest.approx(numbers.mean())


def test_correlations_match_pandas() -> None:
    rng = np.random.default_rng(2)
    x = rng.normal(size=300)
    df = pd.DataFrame({"a": x, "b": x**3 + rng.normal(size=300), "c": rng.normal(size=300)})
    p = profile(df)
    pearson = p.correlation_frame("pearson")
    spearman = p.correlation_frame("spearman")
    np.testing.assert_allclose(pearson.to_numpy(), df.corr().to_numpy(), atol=1e-4)
    np.testing.assert_allclose(
        spearman.to_numpy(), df.corr(method="spearman").to_numpy(), atol=1e-4
    )
    assert p.correlations["top_pairs"][0]["a"] == "a" and p.correlations["top_pairs"][0]["b"] == "b"


def test_correlations_with_missing_values_are_pairwise() -> None:
    rng = np.random.default_rng(3)
    df = pd.DataFrame({"a": rng.normal(size=200), "b": rng.normal(size=200) * 1e4 + 1e6})
    df["c"] = df["a"] * 2 + 1 + rng.normal(size=200)
    df.loc[:40, "c"] = np.nan
    df.loc[150:, "b"] = np.nan
    df["only_inf"] = np.where(np.arange(200) < 100, 1.0, np.inf)
    df.loc[0, "only_inf"] = 2.0
    p = profile(df)
    m = p.correlation_frame("pearson").loc[["a", "b", "c"], ["a", "b", "c"]]
    np.testing.assert_allclose(m.to_numpy(), df[["a", "b", "c"]].corr().to_numpy(), atol=1e-4)
    assert p.correlation_frame("pearson").loc["a", "only_inf"] == pytest.approx(
        df.loc[:99, "a"].corr(df.loc[:99, "only_inf"]), abs=1e-4
    )


def test_cramers_v_against_scipy_chi2() -> None:
    rng = np.random.default_rng(4)
    a = rng.integers(0, 4, 500)
    b = np.where(rng.random(500) < 0.6, a, rng.integers(0, 3, 500))
    table = pd.crosstab(a, b).to_numpy()
    chi2 = chi2_contingency(table, correction=False)[0]
    n, (r, k) = table.sum(), table.shape
    phi2 = max(0.0, chi2 / n - (k - 1) * (r - 1) / (n - 1))
    expected = math.sqrt(phi2 / min(k - (k - 1) ** 2 / (n - 1) - 1, r - (r - 1) ** 2 / (n - 1) - 1))
    assert cramers_v(a, b) == pytest.approx(expected)
    assert cramers_v(a, a) == pytest.approx(1.0)
    indep = cramers_v(rng.integers(0, 5, 20000), rng.integers(0, 5, 20000))
    assert indep is not None and indep < 0.03


def test_correlation_ratio_against_anova() -> None:
    rng = np.random.default_rng(5)
    codes = rng.integers(0, 3, 400)
    x = codes * 2.0 + rng.normal(size=400)
    frame = pd.DataFrame({"x": x, "c": codes})
    means = frame.groupby("c")["x"].transform("mean")
    r2 = ((means - x.mean()) ** 2).sum() / ((x - x.mean()) ** 2).sum()
    assert correlation_ratio(x, codes) == pytest.approx(math.sqrt(r2))
    assert correlation_ratio(np.ones(10), np.arange(10) % 2) is None


def test_categorical_association_matrix(small: pd.DataFrame) -> None:
    small["tier"] = small["plan"].map({"basic": "low", "pro": "high", "team": "high"})
    p = profile(small.drop(columns="y"))
    m = p.correlation_frame("categorical")
    assert list(m.columns) == ["plan", "tier"]
    assert m.loc["plan", "tier"] > 0.9
    ratio = p.correlation_frame("correlation_ratio")
    assert list(ratio.index) == ["age", "income"] and list(ratio.columns) == ["plan", "tier"]
    assert ratio.to_numpy().max() < 0.3  # the numbers are noise


# -- target --------------------------------------------------------------------------------


def test_classification_target_balance() -> None:
    df = pd.DataFrame({"x": np.arange(100.0), "y": ["a"] * 95 + ["b"] * 5})
    t = profile(df, target="y").target
    assert t is not None
    assert t["task"] == "binary" and t["n_classes"] == 2
    assert [(c["value"], c["count"], c["share"]) for c in t["classes"]] == [
        ("a", 95, 0.95),
        ("b", 5, 0.05),
    ]
    assert t["imbalance_ratio"] == pytest.approx(19.0)
    assert t["majority_class"] == "a" and t["minority_class"] == "b"


def test_regression_target_summary() -> None:
    p = profile("builtin:diabetes", target="target")
    t = p.target
    assert t is not None and t["task"] == "regression"
    y = p.column("target")
    assert t["mean"] == y["mean"] and t["histogram"] == y["histogram"]
    assert t["associations"][0]["measure"] == "correlation"
    # Regression targets join the numeric correlation matrix, first.
    assert p.correlations["pearson"]["columns"][0] == "target"


def test_no_target() -> None:
    p = profile("builtin:iris")
    assert p.target is None
    assert all(c["role"] != "target" for c in p.columns)
    assert p.column("target")["role"] == "categorical"
    assert "Data profile: iris" in p.to_html()


def test_target_defaults_to_schema_target(small: pd.DataFrame) -> None:
    schema = infer_schema(small, target="y")
    p = profile(small, schema=schema)
    assert p.target is not None and p.target["column"] == "y"
    assert p.schema is schema


def test_schema_without_some_columns_is_completed(small: pd.DataFrame) -> None:
    schema = infer_schema(small[["age", "y"]], target="y")
    p = profile(small, schema=schema)
    assert p.column("plan")["role"] == "categorical"
    assert "plan" in p.schema


def test_schema_inferred_without_target_is_retargeted(small: pd.DataFrame) -> None:
    schema = infer_schema(small)  # "y" is a feature here
    p = profile(small, target="y", schema=schema)
    assert p.schema.target == "y" and str(p.schema.task) == "binary"
    assert "y" not in p.schema.feature_names
    assert "leakage" not in _kinds(p)  # the target is not compared with itself
    assert p.target is not None and p.target["n_classes"] == 2


def test_unknown_target_is_a_clear_error(small: pd.DataFrame) -> None:
    with pytest.raises(DataError, match=r"Target column 'label' is not in the data.*'age'"):
        profile(small, target="label")


def test_empty_target_is_a_clear_error() -> None:
    df = pd.DataFrame({"x": [1.0, 2.0, 3.0], "y": [None, None, None]})
    with pytest.raises(DataError, match="Target column 'y' is empty: all 3 values are missing"):
        profile(df, target="y")


def test_bad_max_rows_is_a_clear_error(small: pd.DataFrame) -> None:
    with pytest.raises(DataError, match="max_rows must be None or at least 2; got 0"):
        profile(small, max_rows=0)


# -- warnings ------------------------------------------------------------------------------


def test_leaky_feature_is_flagged_for_classification() -> None:
    rng = np.random.default_rng(6)
    y = rng.integers(0, 2, 500)
    df = pd.DataFrame(
        {
            "honest": rng.normal(size=500) + y * 0.5,
            "leak": y * 10.0 + rng.normal(scale=0.1, size=500),
            "y": y,
        }
    )
    p = profile(df, target="y")
    leaks = [w for w in p.warnings if w["kind"] == "leakage"]
    assert [w["column"] for w in leaks] == ["leak"]
    assert leaks[0]["severity"] == "danger" and "'leak'" in leaks[0]["message"]
    assert p.warnings[0]["kind"] == "leakage"  # most severe first
    assert p.target is not None and p.target["associations"][0]["column"] == "leak"


def test_leaky_feature_is_flagged_for_multiclass_and_categories() -> None:
    rng = np.random.default_rng(7)
    y = rng.choice(["a", "b", "c"], 600)
    df = pd.DataFrame(
        {
            "code": pd.Series(y).map({"a": 1.0, "b": 5.0, "c": 3.0}) + rng.normal(0, 0.1, 600),
            "copy": pd.Series(y).map({"a": "x", "b": "y", "c": "z"}),
            "noise": rng.normal(size=600),
            "y": y,
        }
    )
    p = profile(df, target="y")
    assert {w["column"] for w in p.warnings if w["kind"] == "leakage"} == {"code", "copy"}


def test_leaky_feature_is_flagged_for_regression() -> None:
    rng = np.random.default_rng(8)
    y = rng.normal(size=400) * 100
    df = pd.DataFrame({"y_in_cents": y * 100 + rng.normal(size=400), "x": rng.normal(size=400)})
    df["y"] = y
    p = profile(df, target="y")
    assert {w["column"] for w in p.warnings if w["kind"] == "leakage"} == {"y_in_cents"}


@pytest.mark.parametrize("name", ["breast_cancer", "wine", "iris", "digits", "diabetes"])
def test_builtins_raise_no_false_leakage(name: str) -> None:
    p = profile(f"builtin:{name}", target="target")
    assert "leakage" not in _kinds(p)


def test_high_cardinality_imbalance_duplicates_skew_missing() -> None:
    rng = np.random.default_rng(9)
    n = 1000
    df = pd.DataFrame(
        {
            "city": [f"c{i % 300}" for i in range(n)],
            "skewed": rng.lognormal(0, 1.5, n),
            "sparse": np.where(rng.random(n) < 0.4, np.nan, rng.normal(size=n)),
            "y": ["no"] * 950 + ["yes"] * 50,
        }
    )
    df = pd.concat([df, df.iloc[:7]], ignore_index=True)
    p = profile(df, target="y")
    assert "high_cardinality" in _kinds(p, "city")
    assert "skew" in _kinds(p, "skewed")
    assert "missing" in _kinds(p, "sparse")
    assert "imbalance" in _kinds(p, "y")
    assert p.duplicates == 7
    dup = next(w for w in p.warnings if w["kind"] == "duplicates")
    assert dup["column"] is None and dup["message"].startswith("7 rows")


def test_schema_notes_become_warnings() -> None:
    n = 50
    df = pd.DataFrame(
        {
            "customer_id": np.arange(n),
            "always": ["same"] * n,
            "nothing": [np.nan] * n,
            "x": np.linspace(0, 1, n),
        }
    )
    p = profile(df)
    assert _kinds(p, "customer_id") == {"id"}
    assert _kinds(p, "always") == {"constant"}
    assert _kinds(p, "nothing") == {"empty"}
    assert p.column("nothing")["missing_pct"] == 100.0
    assert p.column("customer_id")["examples"] == [0, 1, 2, 3, 4]


def test_balanced_clean_data_has_no_warnings() -> None:
    rng = np.random.default_rng(10)
    df = pd.DataFrame({"a": rng.normal(size=300), "b": rng.normal(size=300)})
    df["y"] = (df["a"] + rng.normal(size=300) > 0).astype(int)
    assert profile(df, target="y").warnings == []


# -- datetime, text, odd types -----------------------------------------------------------------


def test_datetime_and_text_columns() -> None:
    rng = np.random.default_rng(11)
    n = 120
    words = ["great", "product", "late", "delivery", "would", "buy", "again", "broken", "box"]
    df = pd.DataFrame(
        {
            "when": pd.date_range("2024-01-01", periods=n, freq="D"),
            "when_text": [f"2023-{1 + i % 12:02d}-{1 + i % 28:02d}" for i in range(n)],
            "review": [" ".join(rng.choice(words, 6)) for _ in range(n)],
            "score": rng.integers(1, 6, n),
        }
    )
    p = profile(df)
    when = p.column("when")
    assert when["role"] == "datetime"
    assert when["min"] == "2024-01-01T00:00:00" and when["max"].startswith("2024-04-29")
    assert sum(when["histogram"]["counts"]) == n
    assert p.column("when_text")["role"] == "datetime"
    assert p.column("when_text")["min"].startswith("2023-01-01")
    review = p.column("review")
    assert review["role"] == "text"
    assert review["words_mean"] == pytest.approx(6.0)
    assert sum(review["length_histogram"]["counts"]) == n
    html = p.to_html()
    assert "review" in html and "when_text" in html
    _strict_loads(p.to_json())


def test_timezone_aware_datetimes() -> None:
    df = pd.DataFrame({"t": pd.date_range("2024-03-01", periods=40, freq="h", tz="Europe/Paris")})
    col = profile(df).column("t")
    assert col["min"] == "2024-02-29T23:00:00"  # shown in UTC


def test_unhashable_cells_and_mixed_types() -> None:
    df = pd.DataFrame(
        {
            "tags": [["a", "b"], ["a"], None, ["c"]] * 10,
            "mixed": [1, "two", 3.0, None] * 10,
        }
    )
    p = profile(df)
    assert p.column("tags")["unique"] == 3
    assert p.column("mixed")["missing"] == 10
    _strict_loads(p.to_json())


def test_nullable_and_categorical_dtypes() -> None:
    df = pd.DataFrame(
        {
            "n": pd.array([1, 2, None, 4, 5, 6] * 5, dtype="Int64"),
            "c": pd.Categorical(["a", "b", "a", "a", "b", "a"] * 5, categories=["a", "b", "z"]),
        }
    )
    p = profile(df)
    assert p.column("n")["missing"] == 5 and p.column("n")["mean"] == pytest.approx(3.6)
    assert [t["value"] for t in p.column("c")["top"]] == ["a", "b"]


def test_column_names_that_look_like_html_are_escaped() -> None:
    df = pd.DataFrame({"<script>alert(1)</script>": [1.0, 2.0, 3.0, 5.0], "b": [1, 2, 3, 4]})
    html = profile(df).to_html()
    assert "<script>alert(1)</script>" not in html


# -- serialisation and files ---------------------------------------------------------------------


def test_json_is_strict_and_round_trips(small: pd.DataFrame) -> None:
    small["constant"] = 1.0
    p = profile(small, target="y")
    data = _strict_loads(p.to_json())
    assert data["n_rows"] == 200 and data["schema"]["target"] == "y"
    again = Profile.from_dict(data)
    assert again.to_dict() == p.to_dict()
    assert Profile.from_dict(data).to_html().startswith("<!doctype html>")


def test_save_writes_html_and_json_atomically(tmp_path: Path, small: pd.DataFrame) -> None:
    p = profile(small, target="y")
    html_path, json_path = p.save(tmp_path / "out" / "eda.html")
    assert html_path == tmp_path / "out" / "eda.html"
    assert json_path == tmp_path / "out" / "eda.json"
    assert html_path.read_text(encoding="utf-8").startswith("<!doctype html>")
    _strict_loads(json_path.read_text(encoding="utf-8"))
    assert sorted(f.name for f in (tmp_path / "out").iterdir()) == ["eda.html", "eda.json"]
    assert p.save(tmp_path / "out" / "eda.json") == (html_path, json_path)
    assert p.save(tmp_path / "report") == (tmp_path / "report.html", tmp_path / "report.json")
    assert not list(tmp_path.rglob("*.tmp"))


def test_failed_render_writes_nothing(
    tmp_path: Path, small: pd.DataFrame, monkeypatch: pytest.MonkeyPatch
) -> None:
    p = profile(small, target="y")
    (tmp_path / "eda.json").write_text("old", encoding="utf-8")

    def boom(profile: Profile) -> str:
        raise RuntimeError("render failed")

    monkeypatch.setattr("loopml.report.profile.render_profile", boom)
    with pytest.raises(RuntimeError, match="render failed"):
        p.save(tmp_path / "eda.html")
    assert (tmp_path / "eda.json").read_text(encoding="utf-8") == "old"
    assert sorted(f.name for f in tmp_path.iterdir()) == ["eda.json"]


def test_to_json_and_to_html_write_paths(tmp_path: Path) -> None:
    p = profile("builtin:iris", target="target")
    text = p.to_json(tmp_path / "p.json")
    assert (tmp_path / "p.json").read_text(encoding="utf-8") == text
    html = p.to_html(tmp_path / "p.html")
    assert (tmp_path / "p.html").read_text(encoding="utf-8") == html


@pytest.mark.parametrize("name", BUILTIN_DATASETS)
def test_every_builtin_profiles_and_renders(name: str) -> None:
    p = profile(f"builtin:{name}", target="target")
    assert p.name == name and p.n_columns == len(p.columns)
    assert p.target is not None
    assert p.schema.target == "target"
    data = _strict_loads(p.to_json())
    assert data["target"]["task"] in ("binary", "multiclass", "regression")
    html = p.to_html()
    assert html.count("lm-plot") >= 3


def test_iris_facts() -> None:
    p = profile("builtin:iris", target="target")
    assert p.duplicates == 1
    assert _kinds(p) == {"duplicates"}
    assert p.target is not None and p.target["imbalance_ratio"] == 1.0
    assert [c["role"] for c in p.columns] == ["numeric"] * 4 + [str(Role.TARGET)]


def test_profile_is_exported_lazily() -> None:
    import loopml

    assert loopml.profile is profile
    assert loopml.Profile is Profile
