"""cluster / find_anomalies / mine: fitted, evaluated, reported, stored, and predicted like
any other model."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sklearn.datasets import make_blobs

from loopml.bundle import load_model
from loopml.exceptions import DataError, LoopmlError
from loopml.learn.basket_task import BasketRecommender, mine
from loopml.learn.tasks import cluster, find_anomalies
from loopml.serve.batch import predict_file, predict_frame
from loopml.store import Store

CENTERS = np.array([[-6.0, 0.0], [0.0, 6.0], [6.0, 0.0]])


@pytest.fixture
def store() -> Iterator[Store]:
    s = Store.in_memory()
    yield s
    s.close()


def customers(n: int = 300, seed: int = 0) -> pd.DataFrame:
    X, y = make_blobs(n_samples=n, centers=CENTERS, cluster_std=1.0, random_state=seed)
    df = pd.DataFrame(X, columns=["income", "spend"])
    df["plan"] = np.where(y == 1, "gold", "basic")
    df["customer_id"] = np.arange(n) + 1000
    df["truth"] = y
    return df


def gaussian_with_outliers(n: int = 400, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    df = pd.DataFrame(rng.normal(size=(n, 3)), columns=["amount", "items", "hour"])
    df.loc[:4, ["amount", "items", "hour"]] = [[9.0, -8.0, 7.5]] * 5
    df["fraud"] = 0
    df.loc[:4, "fraud"] = 1
    return df


def orders() -> pd.DataFrame:
    """Long baskets: bread and butter go together, as do beer and chips."""
    rng = np.random.default_rng(0)
    rows = []
    for t in range(200):
        basket = set()
        if rng.random() < 0.5:
            basket |= {"bread", "butter"} if rng.random() < 0.9 else {"bread"}
        if rng.random() < 0.4:
            basket |= {"beer", "chips"} if rng.random() < 0.85 else {"beer"}
        basket.add(str(rng.choice(["milk", "eggs", "apples"])))
        rows += [(f"o{t}", item) for item in sorted(basket)]
    return pd.DataFrame(rows, columns=["order_id", "product"])


# -- clustering ---------------------------------------------------------------------------------


def test_cluster_assigns_new_rows_to_the_right_segment(store: Store, tmp_path: Path) -> None:
    df = customers()
    result = cluster(
        df, labels="truth", name="segments", store=store, report=tmp_path / "segments.html"
    )
    assert result.ref == "segments@1" and result.metrics["k"] == 3
    assert result.metrics["adjusted_rand"] is not None and result.metrics["adjusted_rand"] > 0.9
    assert result.leaderboard.iloc[0]["chosen"]
    # the segment each true blob landed in
    mapping = {t: np.bincount(result.labels[df["truth"] == t]).argmax() for t in range(3)}
    new = customers(60, seed=1)
    model = load_model("segments@1", store=store)
    assert str(model.task) == "clustering"
    assert "# Model card: segments" in model.card and "a segment id per row" in model.card
    pred = model.predict(new.drop(columns="truth"))
    expected = new["truth"].map(mapping).to_numpy()
    assert (pred == expected).mean() >= 0.97
    # stable across save/load, and column order does not matter
    np.testing.assert_array_equal(pred, result.model.predict(new))
    np.testing.assert_array_equal(pred, model.predict(new[new.columns[::-1]]))
    frame = predict_frame(model, new, keep=["customer_id"])
    assert list(frame.columns) == ["customer_id", "segment"]
    run = store.get_run(result.run_id)
    assert run.kind == "cluster" and run.status == "finished"
    assert [m.name for m in store.list_models()] == ["segments"]
    html = (tmp_path / "segments.html").read_text()
    assert "Choosing k" in html and "Segment 0" in html and "Model card" in html


def test_cluster_fixed_k_and_dbscan_predict_through_the_bundle(store: Store) -> None:
    df = customers().drop(columns="truth")
    fixed = cluster(df, k=2, store=store, name="two")
    assert fixed.metrics["k"] == 2 and fixed.k_scores is None and len(fixed.leaderboard) == 1
    dense = cluster(df, method="dbscan", store=store, name="dense")
    labels = load_model(dense.ref, store=store).predict(df)
    assert set(labels) <= {-1, 0, 1, 2} and (labels >= 0).mean() > 0.9


def test_cluster_failure_is_recorded_and_errors_name_the_fix(store: Store) -> None:
    df = customers()
    with pytest.raises(DataError, match="Label column 'nope' is not in"):
        cluster(df, labels="nope", store=store)
    with pytest.raises(DataError, match="k must be 'auto' or an integer >= 2"):
        cluster(df, k=1, store=store, name="bad")
    assert [r.status for r in store.list_runs("bad")] == ["failed"]
    assert store.list_models() == []


def test_cluster_predict_file_adds_segment_column(store: Store, tmp_path: Path) -> None:
    df = customers()
    result = cluster(df.drop(columns="truth"), k=3, store=store, name="seg")
    df.drop(columns="truth").to_csv(tmp_path / "new.csv", index=False)
    summary = predict_file("seg", tmp_path / "new.csv", tmp_path / "out.csv", store=store)
    out = pd.read_csv(tmp_path / "out.csv")
    assert summary.rows == len(df) and list(out.columns) == ["customer_id", "segment"]
    np.testing.assert_array_equal(out["segment"].to_numpy(), result.labels)


# -- anomalies ----------------------------------------------------------------------------------


def test_anomalies_flag_new_rows_like_any_model(store: Store, tmp_path: Path) -> None:
    df = gaussian_with_outliers()
    result = find_anomalies(
        df, labels="fraud", name="fraud", store=store, report=tmp_path / "anomalies.html"
    )
    assert result.flags[:5].tolist() == [1] * 5 and result.flags[5:].sum() <= 4
    assert result.evaluation is not None and result.evaluation["recall"] == 1.0
    assert result.metrics["roc_auc"] == 1.0
    assert "amount" in result.top.iloc[0]["features"] and bool(result.top.iloc[0]["flagged"])
    model = load_model(result.ref, store=store)
    assert str(model.task) == "anomaly" and "anomaly score" in model.card
    new = pd.DataFrame({"amount": [0.1, 10.0], "items": [-0.2, -9.0], "hour": [0.3, 8.0]})
    assert model.predict(new).tolist() == [0, 1]
    # scores stable across save/load
    np.testing.assert_array_equal(model.score_samples(df), result.model.score_samples(df))
    np.testing.assert_allclose(model.score_samples(df.drop(columns="fraud")), result.scores)
    frame = predict_frame(model, new)
    assert list(frame.columns) == ["anomaly_score", "is_anomaly"]
    assert frame["is_anomaly"].tolist() == [0, 1]
    assert model.anomaly_threshold == pytest.approx(result.threshold)
    assert store.get_run(result.run_id).kind == "anomaly"
    html = (tmp_path / "anomalies.html").read_text()
    assert "Most unusual rows" in html and "Against known anomalies" in html


def test_anomaly_labels_must_be_zero_one_and_methods_check_the_task(store: Store) -> None:
    df = gaussian_with_outliers().assign(fraud="maybe")
    with pytest.raises(DataError, match="must mark anomalies with 1/True"):
        find_anomalies(df, labels="fraud", store=store)
    seg = cluster(customers(), k=3, store=store, name="seg").model
    with pytest.raises(LoopmlError, match=r"score_samples\(\) applies to anomaly models"):
        seg.score_samples(customers())
    assert seg.anomaly_threshold is None and seg.predict_proba(customers()) is None


# -- association rules ------------------------------------------------------------------------------


def test_rules_from_long_baskets_recommend_per_transaction(store: Store, tmp_path: Path) -> None:
    df = orders()
    result = mine(
        df,
        min_support=0.05,
        min_confidence=0.5,
        name="basket",
        store=store,
        report=tmp_path / "rules.html",
    )
    rules = result.ruleset.table()
    pairs = set(zip(rules["antecedents"], rules["consequents"], strict=True))
    assert {("{bread}", "{butter}"), ("{beer}", "{chips}")} <= pairs
    assert result.metrics["n_transactions"] == 200 and result.metrics["n_rules"] > 0
    assert result.holdout is not None and result.metrics["holdout_hit_rate"] is not None
    model = load_model(result.ref, store=store)
    assert str(model.task) == "rules" and model.info["layout"] == "long"
    assert "association rules between" in model.card
    new = pd.DataFrame(
        {"order_id": ["a", "a", "b", "c"], "product": ["bread", "milk", "beer", "x"]}
    )
    recs = model.predict(new)
    assert len(recs) == 3 and recs[0][0] == "butter" and recs[1][0] == "chips" and recs[2] == []
    frame = predict_frame(model, new)
    assert list(frame.columns) == ["order_id", "recommendations", "top_score", "top_rule"]
    assert frame["order_id"].tolist() == ["a", "b", "c"]
    assert frame["top_rule"].iloc[0].endswith("-> {butter}")
    np.testing.assert_array_equal(model.predict(new), result.model.predict(new))
    assert store.get_run(result.run_id).kind == "rules"
    assert "Holdout check" in (tmp_path / "rules.html").read_text()


def test_rules_one_hot_and_delimited_layouts(store: Store, tmp_path: Path) -> None:
    long = orders()
    onehot = pd.crosstab(long["order_id"], long["product"]).clip(upper=1).reset_index()
    result = mine(onehot, min_support=0.05, min_confidence=0.5, store=store, name="onehot")
    assert result.model.info["layout"] == "onehot"
    assert any("'order_id'" in n for n in result.notes)
    # predict_file reads 0/1 item columns as text
    onehot.head(20).to_csv(tmp_path / "b.csv", index=False)
    predict_file("onehot", tmp_path / "b.csv", tmp_path / "r.csv", store=store)
    out = pd.read_csv(tmp_path / "r.csv", keep_default_na=False)
    assert list(out.columns) == ["order_id", "recommendations", "top_score", "top_rule"]
    assert len(out) == 20 and (out["recommendations"] != "").any()
    baskets = long.groupby("order_id")["product"].agg("|".join).reset_index(name="items")
    delimited = mine(baskets, min_support=0.05, min_confidence=0.5, store=store, name="delim")
    assert delimited.model.info["layout"] == "delimited"
    assert len(delimited.ruleset) == len(result.ruleset)
    recs = delimited.model.predict(pd.DataFrame({"items": ["beer", "bread|milk", None]}))
    assert recs[0][0] == "chips" and recs[1][0] == "butter" and recs[2] == []


def test_rules_errors_name_the_fix(store: Store) -> None:
    with pytest.raises(DataError, match=r"holdout must be a fraction in \[0, 0.5\]"):
        mine(orders(), holdout=0.9, store=store)
    odd = pd.DataFrame({"a": [1.5, 2.5], "b": [3.5, 4.5], "c": [5.5, 6.5]})
    with pytest.raises(DataError, match="Cannot tell how the baskets"):
        mine(odd, store=store)
    rec = BasketRecommender(min_support=0.05, min_confidence=0.5).fit(orders())
    with pytest.raises(DataError, match="miss column"):
        rec.predict(pd.DataFrame({"sku": ["bread"]}))
    with pytest.raises(DataError, match="Column 'tx' is not in the baskets"):
        BasketRecommender(transaction_col="tx").fit(orders())
