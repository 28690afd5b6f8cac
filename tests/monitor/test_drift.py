"""drift_report: shifts of known size are found, identical data is not, quality is reported."""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from loopml.bundle import ModelBundle
from loopml.data.schema import infer_schema
from loopml.exceptions import DataError
from loopml.monitor import DriftReport, drift_report, reference_from_bundle
from tests.monitor.conftest import churn_frame, make_churn_bundle


def frames(n: int, seed: int, shift: float = 0.0) -> tuple[pd.DataFrame, pd.DataFrame]:
    rng = np.random.default_rng(seed)
    ref = pd.DataFrame({"x": rng.normal(0, 1, n), "c": rng.choice(list("abc"), n)})
    cur = pd.DataFrame({"x": rng.normal(shift, 1, n), "c": rng.choice(list("abc"), n)})
    return ref, cur


@pytest.mark.parametrize(
    ("n", "test"), [(400, "ks"), (5000, "wasserstein")], ids=["small", "large"]
)
def test_a_shift_of_known_size_is_detected(n: int, test: str) -> None:
    ref, cur = frames(n, seed=1, shift=0.5)  # half a standard deviation
    report = drift_report(ref, cur)
    x = report["x"]
    assert x.test == test and x.drifted
    if test == "wasserstein":  # W1 of a mean shift is the shift itself
        assert x.score == pytest.approx(0.5, abs=0.05)
    assert not report["c"].drifted
    assert report.drifted_columns == ["x"]
    assert report.dataset_drift  # 1 of 2 columns >= 0.5
    assert "Drift:" in x.reason and "mean" in x.reason


def test_a_small_shift_under_the_threshold_is_not_drift() -> None:
    ref, cur = frames(20_000, seed=2, shift=0.05)  # W1 / std ~ 0.05 < 0.1
    report = drift_report(ref, cur)
    assert report["x"].score == pytest.approx(0.05, abs=0.02)
    assert not report["x"].drifted and not report.dataset_drift
    assert report["x"].reason.startswith("No drift:")


def test_false_positive_rate_is_near_the_significance_level() -> None:
    # Same distribution, small samples: KS and chi-square should flag ~5% of seeds.
    seeds = range(300)
    flagged = {"x": 0, "c": 0}
    for seed in seeds:
        ref, cur = frames(200, seed=seed)
        report = drift_report(ref, cur)
        for col in flagged:
            flagged[col] += report[col].drifted
    for col, n in flagged.items():
        rate = n / len(seeds)
        assert 0.015 <= rate <= 0.09, f"{col}: false-positive rate {rate:.3f}"


def test_identical_large_samples_never_drift_by_distance() -> None:
    for seed in range(20):
        report = drift_report(*frames(3000, seed=seed))
        assert {c.test for c in report.columns} == {"wasserstein", "jensenshannon"}
        assert report.n_drifted == 0


def test_new_categories_and_missing_surges_are_reported() -> None:
    rng = np.random.default_rng(4)
    n = 2000
    ref = pd.DataFrame({"plan": rng.choice(["basic", "pro"], n), "spend": rng.normal(50, 5, n)})
    cur = pd.DataFrame({"plan": rng.choice(["basic", "pro"], n), "spend": rng.normal(50, 5, n)})
    cur.loc[:99, "plan"] = "enterprise"
    cur.loc[100:109, "plan"] = "trial"
    cur.loc[:499, "spend"] = np.nan
    report = drift_report(ref, cur)
    q = {c.column: c for c in report.quality}
    assert q["plan"].new_categories == {"enterprise": 100, "trial": 10}
    assert q["plan"].new_category_rows == 110
    assert q["spend"].missing_surge and q["spend"].missing_current == pytest.approx(0.25)
    assert not q["plan"].missing_surge
    issues = " ".join(report.quality_issues)
    assert "'enterprise' (100)" in issues and "rose from 0.0% to 25.0%" in issues
    figures = report.figures()
    assert figures["new_category_rows.plan"] == 110
    assert figures["missing_share.spend"] == pytest.approx(0.25)
    # the missing values are not part of the drift test
    assert report["spend"].n_current == 1500 and not report["spend"].drifted


def test_out_of_range_and_invalid_values_against_the_schema() -> None:
    train = pd.DataFrame({"age": np.arange(18.0, 68.0).repeat(40), "y": [0, 1] * 1000})
    schema = infer_schema(train, "y")
    cur = pd.DataFrame({"age": ["30"] * 900 + ["150"] * 60 + ["forty"] * 40})
    report = drift_report(train, cur, schema=schema)
    q = report.quality[0]
    assert q.range == (18.0, 67.0) and q.range_source == "schema"
    assert q.above_range == 60 and q.below_range == 0
    assert q.out_of_range_share == pytest.approx(60 / 960)
    assert q.invalid_current == 40
    assert any("outside the training range" in i for i in report.quality_issues)
    assert any("not finite numbers" in i for i in report.quality_issues)
    assert [c.column for c in report.columns] == ["age"]  # the target is not a feature


def test_schema_roles_decide_what_is_tested() -> None:
    df = churn_frame(300, seed=0)
    schema = infer_schema(df, "churn")
    cur = churn_frame(300, seed=1).drop(columns=["plan"])
    report = drift_report(df, cur, schema=schema)
    assert [c.column for c in report.columns] == ["tenure", "spend"]
    assert report.missing_columns == ["plan"]
    assert "plan" in report.skipped and "id" not in report.skipped  # ids are not features
    assert any("missing from the current data" in n for n in report.notes)


def test_inference_without_schema_follows_evidently() -> None:
    rng = np.random.default_rng(5)
    n = 300
    df = pd.DataFrame(
        {
            "f": rng.normal(size=n),
            "small_int": rng.integers(0, 4, n),
            "big_int": rng.integers(0, 1000, n),
            "flag": rng.choice([True, False], n),
            "text": [f"free text {i}" for i in range(n)],
            "when": pd.date_range("2024-01-01", periods=n, freq="h"),
        }
    )
    report = drift_report(df, df.copy())
    kinds = {c.column: c.kind for c in report.columns}
    assert kinds == {
        "f": "numeric",
        "small_int": "categorical",
        "big_int": "numeric",
        "flag": "categorical",
    }
    assert set(report.skipped) == {"text", "when"}
    assert report.n_drifted == 0


def test_method_threshold_and_drift_share_options() -> None:
    ref, cur = frames(3000, seed=6, shift=0.15)
    assert drift_report(ref, cur)["x"].drifted
    loose = drift_report(ref, cur, threshold={"wasserstein": 0.5})
    assert not loose["x"].drifted and loose["x"].threshold == 0.5
    per_column = drift_report(ref, cur, threshold={"x": 0.01})
    assert per_column["x"].threshold == 0.01 and per_column["c"].threshold == 0.1
    psi = drift_report(ref, cur, method="psi")
    assert {c.test for c in psi.columns} == {"psi"}
    ks = drift_report(ref, cur, method="ks")
    assert ks["x"].test == "ks" and ks["c"].test == "jensenshannon"
    assert any("needs numbers" in n for n in ks.notes)
    mixed = drift_report(ref, cur, method={"x": "psi"})
    assert mixed["x"].test == "psi" and mixed["c"].test == "jensenshannon"
    strict = drift_report(ref, cur, drift_share=0.75)
    assert strict.n_drifted == 1 and not strict.dataset_drift


def test_bad_arguments_are_refused() -> None:
    ref, cur = frames(50, seed=0)
    with pytest.raises(DataError, match="Unknown drift method 'kl'"):
        drift_report(ref, cur, method="kl")
    with pytest.raises(DataError, match="drift_share must be in"):
        drift_report(ref, cur, drift_share=0)
    with pytest.raises(DataError, match="current data has no rows"):
        drift_report(ref, cur.iloc[:0])


def test_report_serialises_and_saves_atomically(tmp_path: Path) -> None:
    ref, cur = frames(1500, seed=7, shift=1.0)
    cur.loc[:10, "x"] = np.inf
    report = drift_report(ref, cur)
    data = json.loads(report.to_json())
    assert data["dataset_drift"] is True and data["drifted_columns"] == ["x"]
    assert data["columns"][0]["distribution"]["edges"]
    path = report.save(tmp_path / "out" / "drift.html")
    html = path.read_text()
    assert html.startswith("<!doctype html>") and "Feature drift" in html
    assert not re.search(r"<script[^>]*\bsrc\s*=", html)  # offline: no external scripts
    assert json.loads((tmp_path / "out" / "drift.json").read_text())["drift"]["n_drifted"] == 1
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["drift.html", "drift.json"]
    only_json = report.save(tmp_path / "r.json")
    assert json.loads(only_json.read_text())["drift"]["n_columns"] == 2
    assert not (tmp_path / "r.html").exists()
    assert isinstance(report, DriftReport) and report.to_html().count("lm-plot") >= 2


def test_prediction_drift_with_the_model(tmp_path: Path) -> None:
    bundle, _ = make_churn_bundle(tmp_path)
    ref = churn_frame(1500, seed=10)
    same = drift_report(ref, churn_frame(1500, seed=11), model=bundle)
    assert [c.column for c in same.prediction] == ["prediction", "proba_yes"]
    assert not same.prediction_drift
    shifted = churn_frame(1500, seed=12, shift=2.0)
    moved = drift_report(ref, shifted, model=bundle)
    assert moved.prediction_drift and moved.figures()["prediction_drift"] == 1.0
    assert moved.model == "churn"
    logged = drift_report(ref, shifted, model=bundle, current_predictions=["no"] * 1500)
    assert [c.column for c in logged.prediction] == ["prediction"]


def test_reference_from_bundle_redoes_the_split(tmp_path: Path) -> None:
    bundle, source = make_churn_bundle(tmp_path)
    fit = reference_from_bundle(bundle)
    rows = bundle.info["split"]["rows"]
    assert len(fit) == rows["train"] + rows["valid"]
    test = reference_from_bundle(bundle, part="test")
    assert len(test) == rows["test"]
    assert set(fit["id"]).isdisjoint(test["id"])
    pd.read_csv(source).iloc[:-5].to_csv(source, index=False)
    with pytest.raises(DataError, match="changed since training"):
        reference_from_bundle(bundle)


def test_reference_from_bundle_needs_a_readable_source(churn_bundle: ModelBundle) -> None:
    churn_bundle.info["source"] = "the DataFrame"
    with pytest.raises(DataError, match="--reference FILE"):
        reference_from_bundle(churn_bundle)
