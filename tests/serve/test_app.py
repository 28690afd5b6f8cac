from __future__ import annotations

import json
import threading
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from loopml.exceptions import DataError
from loopml.serve.fastpath import Predictor, probe_columns
from loopml.serve.inputs import MAX_ERRORS
from tests.serve.serving_fixtures import Served, client_for, served
from tests.test_bundle import make_bundle

__all__ = ["served"]  # the session fixture, re-exported for pytest


def rows_of(df: pd.DataFrame) -> list[dict[str, Any]]:
    """JSON-ready rows: NaN becomes null."""
    return json.loads(df.to_json(orient="records"))


# -- /predict: answers ------------------------------------------------------------------


def test_predict_rows_columns_and_csv_agree_with_the_bundle(served: dict[str, Served]) -> None:
    s = served["cancer"]
    bundle = s.bundle()
    X = s.X.iloc[:25]
    with client_for(s.ref, store=s.store()) as (client, state):
        assert state.predictor.fast
        by_rows = client.post("/predict", json={"rows": rows_of(X)})
        by_cols = client.post("/predict", json={"columns": X.to_dict(orient="list")})
        by_csv = client.post(
            "/predict", content=X.to_csv(index=False), headers={"content-type": "text/csv"}
        )
    for r in (by_rows, by_cols, by_csv):
        assert r.status_code == 200, r.text
        body = r.json()
        assert body["model"] == "cancer" and body["version"] == 1 and body["n_rows"] == 25
        assert body["predictions"] == bundle.predict(X).tolist()
        proba = bundle.predict_proba(X)
        assert set(body["probabilities"]) == {"benign", "malignant"}
        np.testing.assert_allclose(
            body["probabilities"]["malignant"], proba["malignant"], atol=1e-9
        )
        assert body["threshold"] == 0.5
        assert r.headers["x-request-id"] == body["request_id"]


def test_served_predictions_equal_loopml_predict(served: dict[str, Served], tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from loopml.cli import app

    s = served["mixed"]
    X = s.X.iloc[:60]
    X.to_csv(tmp_path / "rows.csv", index=False)
    out = tmp_path / "preds.parquet"
    url = f"sqlite:///{s.store_root / 'store.db'}"
    args = ["predict", s.ref, str(tmp_path / "rows.csv"), "-o", str(out), "--store", url, "-q"]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.stderr
    expected = pd.read_parquet(out)
    with client_for(s.ref, store=s.store()) as (client, state):
        assert state.predictor.fast, state.predictor.fast_path_note
        body = client.post("/predict", json={"rows": rows_of(X)}).json()
    assert body["predictions"] == expected["prediction"].tolist()
    for cls in ("churn", "stay"):
        np.testing.assert_allclose(body["probabilities"][cls], expected[f"proba_{cls}"], atol=1e-9)


@pytest.mark.parametrize("name", ["cancer", "mixed", "iris", "diabetes"])
def test_compiled_path_equals_the_pipeline(served: dict[str, Served], name: str) -> None:
    predictor = Predictor(served[name].bundle())
    assert predictor.compiled is not None, predictor.fast_path_note
    for seed in range(3):
        cols = probe_columns(predictor.parser, n=300, seed=seed)
        fast, slow = predictor.predict(cols), predictor.predict_pipeline(cols)
        if predictor.bundle.task == "regression":
            np.testing.assert_allclose(fast.predictions, slow.predictions, rtol=1e-9, atol=1e-9)
        else:
            np.testing.assert_array_equal(fast.predictions, slow.predictions)
            assert fast.proba is not None and slow.proba is not None
            assert np.abs(fast.proba - slow.proba).max() <= 1e-9


def test_compiled_path_applies_the_bundle_threshold(served: dict[str, Served]) -> None:
    bundle = served["cancer"].bundle()
    bundle.info["threshold"] = 0.97
    predictor = Predictor(bundle)
    assert predictor.compiled is not None and predictor.threshold == 0.97
    cols = predictor.parser.parse_payload({"rows": rows_of(served["cancer"].X)})
    fast, slow = predictor.predict(cols), predictor.predict_pipeline(cols)
    np.testing.assert_array_equal(fast.predictions, slow.predictions)
    default = Predictor(served["cancer"].bundle()).predict(cols).predictions
    assert (fast.predictions != default).any()  # the threshold changed some answers


def test_real_rows_through_the_compiled_path_equal_the_pipeline(served: dict[str, Served]) -> None:
    s = served["mixed"]
    predictor = Predictor(s.bundle())
    cols = predictor.parser.parse_payload({"rows": rows_of(s.X)})
    fast, slow = predictor.predict(cols), predictor.predict_pipeline(cols)
    np.testing.assert_array_equal(fast.predictions, slow.predictions)
    assert fast.proba is not None and slow.proba is not None
    assert np.abs(fast.proba - slow.proba).max() <= 1e-9


def test_pipeline_path_for_what_is_not_compiled_and_micro_batching(tmp_path: Path) -> None:
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import Pipeline

    from loopml.bundle import ModelBundle
    from loopml.data.schema import infer_schema
    from loopml.features.build import build_features
    from loopml.learn.supervised import encode_target

    rng = np.random.default_rng(0)
    df = pd.DataFrame(
        {
            "x": rng.normal(size=200),
            "when": pd.date_range("2024-01-01", periods=200, freq="D").astype(str),
            "y": rng.choice(["a", "b"], 200),
        }
    )
    schema = infer_schema(df, "y")
    pipe = Pipeline([("features", build_features(schema)), ("model", LogisticRegression())])
    pipe.fit(df, encode_target(df["y"], schema))
    bundle = ModelBundle(pipe, schema, info={"name": "dated", "task": "binary"})
    X = df.drop(columns="y")
    with client_for(bundle) as (client, state):
        assert not state.predictor.fast
        assert "datetime" in state.predictor.fast_path_note
        meta = client.get("/metadata").json()
        assert meta["serving"]["micro_batching"]["on"] is True
        results: list[Any] = [None] * 16

        def call(i: int) -> None:
            results[i] = client.post("/predict", json={"rows": rows_of(X.iloc[i : i + 1])})

        threads = [threading.Thread(target=call, args=(i,)) for i in range(16)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        metrics = client.get("/metrics").text
    expected = bundle.predict(X.iloc[:16]).tolist()
    assert [r.json()["predictions"][0] for r in results] == expected
    calls = int(metrics.split("loopml_batch_rows_count ")[1].split()[0])
    assert "loopml_batch_rows_sum 16" in metrics and 1 <= calls <= 16


def test_micro_batcher_makes_one_call_and_isolates_a_failing_request(
    served: dict[str, Served],
) -> None:
    import asyncio

    from loopml.serve.batching import MicroBatcher
    from loopml.serve.inputs import Columns

    s = served["cancer"]
    predictor = Predictor(s.bundle(), fast=False)
    parts = [
        predictor.parser.parse_payload({"rows": rows_of(s.X.iloc[i : i + 1])}) for i in range(10)
    ]
    calls: list[tuple[int, int]] = []

    class Flaky:
        """Fails any call that includes the 4th request."""

        name, version, fast = "flaky", 1, False

        def predict_many(self, batch: list[Columns]) -> Any:
            if any(p is parts[3] for p in batch):
                raise ValueError("bad request")
            return predictor.predict_many(batch)

        def predict(self, part: Columns) -> Any:
            return self.predict_many([part])[0]

    async def go(model: Any) -> list[Any]:
        batcher = MicroBatcher(
            max_rows=64, max_wait_ms=0, on_batch=lambda r, n, t: calls.append((r, n))
        )
        try:
            return await asyncio.gather(
                *(batcher.submit(model, p) for p in parts), return_exceptions=True
            )
        finally:
            await batcher.close()

    outs = asyncio.run(go(predictor))
    assert calls == [(10, 10)]  # one model call for ten concurrent requests
    expected = s.bundle().predict(s.X.iloc[:10]).tolist()
    assert [o.predictions[0] for o in outs] == expected
    flaky = asyncio.run(go(Flaky()))
    assert isinstance(flaky[3], ValueError)
    assert [o.predictions[0] for i, o in enumerate(flaky) if i != 3] == expected[:3] + expected[4:]


def test_metrics_text_format() -> None:
    from loopml.serve.metrics import Metrics

    m = Metrics()
    m.latency.observe(0.0007, ("/predict",))
    m.latency.observe(0.003, ("/predict",))
    m.unseen.inc(('we"ird\\col\n',), 2)
    text = m.render()
    assert 'loopml_request_duration_seconds_bucket{route="/predict",le="0.0005"} 0' in text
    assert 'loopml_request_duration_seconds_bucket{route="/predict",le="0.001"} 1' in text
    assert 'loopml_request_duration_seconds_bucket{route="/predict",le="0.005"} 2' in text
    assert 'loopml_request_duration_seconds_bucket{route="/predict",le="+Inf"} 2' in text
    assert 'loopml_request_duration_seconds_sum{route="/predict"} 0.0037' in text
    assert 'loopml_unseen_categories_total{column="we\\"ird\\\\col\\n"} 2' in text
    assert "# TYPE loopml_request_duration_seconds histogram" in text
    assert text.endswith("\n")


# -- /predict: bad input --------------------------------------------------------------


def _detail(r: Any) -> list[dict[str, Any]]:
    assert r.status_code == 422, r.text
    detail = r.json()["detail"]
    assert isinstance(detail, list) and detail
    for entry in detail:
        assert {"loc", "msg", "type"} <= set(entry)
    return detail


def test_bad_input_names_each_field_and_row(served: dict[str, Served]) -> None:
    s = served["cancer"]
    rows = rows_of(s.X.iloc[:4])
    missing = [dict(r) for r in rows]
    del missing[1]["mean radius"]
    wrong = [dict(r) for r in rows]
    wrong[0]["mean area"] = "forty"
    wrong[2]["worst area"] = {"value": 3}
    wrong[3]["mean texture"] = "12.5"  # text, not a number: JSON fields are typed
    wrong[3]["mean smoothness"] = True
    with client_for(s.ref, store=s.store()) as (client, _):
        d = _detail(client.post("/predict", json={"rows": missing}))
        assert d == [
            {"type": "missing", "loc": ["body", "rows", 1, "mean radius"], "msg": "Field required"}
        ]
        d = _detail(client.post("/predict", json={"rows": wrong}))
        by_loc = {tuple(e["loc"]): e for e in d}
        assert by_loc[("body", "rows", 0, "mean area")]["type"] == "float_type"
        assert by_loc[("body", "rows", 0, "mean area")]["input"] == "forty"
        assert by_loc[("body", "rows", 2, "worst area")]["type"] == "float_type"
        assert by_loc[("body", "rows", 3, "mean texture")]["type"] == "float_type"
        assert by_loc[("body", "rows", 3, "mean smoothness")]["type"] == "float_type"
        assert "column 'mean area'" in by_loc[("body", "rows", 0, "mean area")]["msg"]
        # a NaN literal is not JSON; neither is a number that overflows to infinity
        for raw in (b'{"rows": [{"mean radius": NaN}]}', b'{"rows": [{"mean radius": 1e999}]}'):
            d = _detail(client.post("/predict", content=raw))
            assert d[0]["type"] == "json_invalid" and d[0]["loc"][0] == "body"
        # the worker is still fine
        assert client.post("/predict", json={"rows": rows}).status_code == 200


@pytest.mark.parametrize(
    ("body", "loc", "type_"),
    [
        (b"", ["body"], "missing"),
        (b"{bad json", ["body", 1], "json_invalid"),
        (b"3", ["body"], "model_attributes_type"),
        (b'{"rowz": []}', ["body", "rows"], "missing"),
        (b'{"rows": []}', ["body", "rows"], "too_short"),
        (b'{"rows": {"a": 1}}', ["body", "rows"], "list_type"),
        (b'{"rows": [1, 2]}', ["body", "rows", 0], "model_type"),
        (b'[{"mean radius": 1}]', ["body"], "model_attributes_type"),
        (b'{"columns": [1]}', ["body", "columns"], "dict_type"),
    ],
)
def test_malformed_bodies_get_fastapi_shaped_422(
    served: dict[str, Served], body: bytes, loc: list[Any], type_: str
) -> None:
    s = served["cancer"]
    with client_for(s.ref, store=s.store()) as (client, _):
        d = _detail(
            client.post("/predict", content=body, headers={"content-type": "application/json"})
        )
    assert d[0]["loc"] == loc and d[0]["type"] == type_


def test_columnar_errors_and_csv_errors(served: dict[str, Served]) -> None:
    s = served["mixed"]
    X = s.X.iloc[:5]
    cols = json.loads(X.to_json(orient="columns"))
    cols = {k: list(v.values()) for k, v in cols.items()}
    short = {**cols, "x0": cols["x0"][:3]}
    gone = {k: v for k, v in cols.items() if k != "plan"}
    bad_bool = {**cols, "member": ["yes", "maybe", True, None, "no"]}
    csv = X.assign(x2=X["x2"].astype(object), x0=X["x0"].astype(object)).copy()
    csv.loc[csv.index[3], "x2"] = "lots"
    csv.loc[csv.index[1], "x0"] = "inf"
    with client_for(s.ref, store=s.store()) as (client, _):
        d = _detail(client.post("/predict", json={"columns": short}))
        assert d[0]["loc"] == ["body", "columns", "x0"] and d[0]["type"] == "length_mismatch"
        d = _detail(client.post("/predict", json={"columns": gone}))
        assert d == [
            {"type": "missing", "loc": ["body", "columns", "plan"], "msg": "Field required"}
        ]
        d = _detail(client.post("/predict", json={"columns": bad_bool}))
        assert [e["loc"] for e in d] == [["body", "columns", "member", 1]]
        assert d[0]["type"] == "bool_parsing"
        d = _detail(
            client.post(
                "/predict", content=csv.to_csv(index=False), headers={"content-type": "text/csv"}
            )
        )
        by_loc = {tuple(e["loc"]): e for e in d}
        assert by_loc[("body", "rows", 3, "x2")]["input"] == "lots"
        assert by_loc[("body", "rows", 3, "x2")]["type"] == "float_parsing"
        assert by_loc[("body", "rows", 1, "x0")]["type"] == "finite_number"


def test_errors_are_capped(served: dict[str, Served]) -> None:
    s = served["cancer"]
    rows = [{**r, "mean radius": "x"} for r in rows_of(s.X.iloc[:300])]
    with client_for(s.ref, store=s.store()) as (client, _):
        d = _detail(client.post("/predict", json={"rows": rows}))
    assert len(d) == MAX_ERRORS + 1
    assert d[-1]["type"] == "too_many_errors" and "200 more" in d[-1]["msg"]


def test_unknown_categories_are_allowed_and_counted(served: dict[str, Served]) -> None:
    s = served["mixed"]
    rows = rows_of(s.X.iloc[:3])
    rows[0]["plan"] = "platinum"
    rows[2]["plan"] = "gold"
    rows[1]["city"] = 12  # a number is read as the category "12"
    rows[1]["extra"] = "ignored"
    with client_for(s.ref, store=s.store()) as (client, _):
        r = client.post("/predict", json={"rows": rows})
        assert r.status_code == 200, r.text
        body = r.json()
        assert body["unseen_categories"] == {"plan": 2, "city": 1}
        assert body["extra_columns"] == ["extra"]
        metrics = client.get("/metrics").text
    assert 'loopml_unseen_categories_total{column="plan"} 2' in metrics


def test_oversize_payloads_get_413(served: dict[str, Served]) -> None:
    s = served["cancer"]
    body = json.dumps({"rows": rows_of(s.X.iloc[:40])}).encode()
    with client_for(s.ref, store=s.store(), max_body_bytes=4096) as (client, _):
        r = client.post("/predict", content=body)
        assert r.status_code == 413 and "limit is 4,096 bytes" in r.json()["detail"]

        def chunks() -> Any:  # no Content-Length: the limit applies while reading
            for i in range(0, len(body), 1000):
                yield body[i : i + 1000]

        r = client.post("/predict", content=chunks())
        assert r.status_code == 413 and "at least" in r.json()["detail"]
        assert (
            client.post("/predict", content=json.dumps({"rows": rows_of(s.X.iloc[:2])})).status_code
            == 200
        )
        assert 'kind="too_large"' in client.get("/metrics").text


# -- auth -------------------------------------------------------------------------------


def test_api_keys(served: dict[str, Served], monkeypatch: pytest.MonkeyPatch) -> None:
    s = served["cancer"]
    body = {"rows": rows_of(s.X.iloc[:1])}
    monkeypatch.setenv("LOOPML_API_KEYS", "k-one, k-two")
    with client_for(s.ref, store=s.store(), api_keys=None) as (client, state):
        assert state.auth
        r = client.post("/predict", json=body)
        assert r.status_code == 401 and r.headers["www-authenticate"] == "Bearer"
        assert "LOOPML_API_KEYS" in r.json()["detail"]
        assert (
            client.post("/predict", json=body, headers={"authorization": "Bearer nope"}).status_code
            == 401
        )
        assert (
            client.post("/predict", json=body, headers={"authorization": "Basic k-one"}).status_code
            == 401
        )
        assert (
            client.post(
                "/predict", json=body, headers={"authorization": "Bearer k-one"}
            ).status_code
            == 200
        )
        assert client.post("/predict", json=body, headers={"x-api-key": "k-two"}).status_code == 200
        assert client.get("/metadata").status_code == 401
        assert client.get("/metrics").status_code == 401
        assert client.get("/health").status_code == 200
        assert client.get("/ready").status_code == 200
        spec = client.get("/openapi.json").json()
        assert spec["components"]["securitySchemes"]["bearer"]["scheme"] == "bearer"
        metrics = client.get("/metrics", headers={"authorization": "Bearer k-two"}).text
    assert 'loopml_request_errors_total{route="/predict",kind="unauthorized"} 3' in metrics


# -- the other routes ---------------------------------------------------------------------


def test_health_ready_metadata_metrics_and_docs(served: dict[str, Served]) -> None:
    s = served["mixed"]
    with client_for(s.ref, store=s.store()) as (client, _):
        assert client.get("/health").json() == {"status": "ok"}
        assert client.get("/ready").json() == {"status": "ready", "model": "mixed", "version": 1}
        meta = client.get("/metadata").json()
        client.post("/predict", json={"rows": rows_of(s.X.iloc[:3])})
        client.post("/predict", content=b"{")
        metrics = client.get("/metrics")
        spec = client.get("/openapi.json").json()
        docs = client.get("/docs")
    assert meta["name"] == "mixed" and meta["version"] == 1 and meta["task"] == "binary"
    assert [c["name"] for c in meta["schema"]["columns"]] == [
        "x0",
        "x1",
        "x2",
        "plan",
        "member",
        "city",
    ]
    assert "roc_auc" in meta["metrics"]["test"]
    assert meta["serving"]["fast_path"] is True and meta["classes"] == ["churn", "stay"]
    text = metrics.text
    assert metrics.headers["content-type"].startswith("text/plain; version=0.0.4")
    assert 'loopml_requests_total{route="/predict",method="POST",status="200"} 1' in text
    assert 'loopml_requests_total{route="/predict",method="POST",status="422"} 1' in text
    assert 'loopml_request_duration_seconds_bucket{route="/predict",le="+Inf"} 2' in text
    assert 'loopml_request_duration_seconds_count{route="/predict"} 2' in text
    assert 'loopml_request_errors_total{route="/predict",kind="json_invalid"} 1' in text
    assert 'loopml_rows_predicted_total{model="mixed@1"} 3' in text
    assert 'loopml_model_info{model="mixed",version="1",path="compiled"} 1' in text
    row = spec["components"]["schemas"]["Row"]
    assert list(row["properties"]) == ["x0", "x1", "x2", "plan", "member", "city"]
    assert set(row["required"]) == set(row["properties"])
    assert "categories seen at training: basic" in row["properties"]["plan"]["description"]
    probs = spec["components"]["schemas"]["Probabilities"]
    assert list(probs["properties"]) == ["churn", "stay"]
    body = spec["paths"]["/predict"]["post"]["requestBody"]["content"]
    assert set(body) == {"application/json", "text/csv"}
    assert docs.status_code == 200 and "swagger" in docs.text.lower()


def test_every_prediction_is_logged(served: dict[str, Served]) -> None:
    s = served["cancer"]
    store = s.store()
    before = len(store.list_predictions("cancer"))
    X = s.X.iloc[:5]
    with client_for(s.ref, store=store, log_predictions=True) as (client, state):
        ids = []
        for i in range(5):
            r = client.post("/predict", json={"rows": rows_of(X.iloc[i : i + 1])})
            ids.append(r.headers["x-request-id"])
        r = client.post("/predict", json={"rows": rows_of(X)}, headers={"x-request-id": "batch-7"})
        assert state.logger is not None and state.logger.flush(10)
        assert state.logger.written == 6 and state.logger.dropped == 0
    logs = store.list_predictions("cancer")
    assert len(logs) == before + 6
    newest = logs[0]
    assert newest.request_id == "batch-7" and newest.n_rows == 5 and newest.version == 1
    assert newest.inputs[0]["mean radius"] == pytest.approx(X.iloc[0]["mean radius"])
    assert set(newest.outputs[0]) == {"prediction", "proba_benign", "proba_malignant"}
    assert newest.latency_ms is not None and newest.latency_ms > 0
    from datetime import UTC, datetime, timedelta

    assert newest.at.tzinfo is not None
    assert abs(datetime.now(UTC) - newest.at) < timedelta(minutes=5)
    assert {log.request_id for log in logs[1:6]} == set(ids)


def test_logger_drops_when_full_and_survives_store_errors(served: dict[str, Served]) -> None:
    from loopml.serve.logging import PredictionLogger

    s = served["cancer"]
    predictor = Predictor(s.bundle())
    cols = predictor.parser.parse_payload({"rows": rows_of(s.X.iloc[:2])})
    out = predictor.predict(cols)

    class BrokenStore:
        def _write(self, fn: Any, what: str) -> None:
            raise RuntimeError("database is down")

    logger = PredictionLogger(BrokenStore(), max_queue=2, flush_interval=0.01)  # type: ignore[arg-type]
    assert [
        logger.log("cancer", 1, cols, out, predictor.classes, latency_ms=1.0) for _ in range(3)
    ] == [True, True, False]
    assert logger.dropped == 1
    logger.start()
    assert logger.flush(5)
    logger.close()
    assert logger.failed == 2 and logger.written == 0


# -- hot reload -------------------------------------------------------------------------


def test_hot_reload_follows_the_stage_without_dropping_requests(
    served: dict[str, Served], tmp_path: Path
) -> None:
    from loopml.store import Store

    s = served["cancer"]
    store = Store(root=tmp_path / "s")
    bundle = s.bundle()
    for _ in range(2):  # two versions of one bundle: enough to see which one answers
        store.register_model(
            "churn",
            run_id=None,
            path=str(bundle.path),
            sha256=bundle.sha256 or "",
            task="binary",
            metrics={},
        )
    store.set_stage("churn", 1, "production")
    body = {"rows": rows_of(s.X.iloc[:2])}
    with client_for("churn@production", store=store, follow_stage=True, reload_interval=3600) as (
        client,
        state,
    ):
        assert state.reloader is not None
        assert client.post("/predict", json=body).json()["version"] == 1
        assert state.reloader.check() is False
        statuses: list[int] = []
        versions: set[int] = set()
        stop = threading.Event()

        def hammer() -> None:
            while not stop.is_set():
                r = client.post("/predict", json=body)
                statuses.append(r.status_code)
                versions.add(r.json().get("version", -1))

        threads = [threading.Thread(target=hammer) for _ in range(3)]
        for t in threads:
            t.start()
        for v in (2, 1, 2):
            store.set_stage("churn", v, "production")
            assert state.reloader.check() is True
        stop.set()
        for t in threads:
            t.join()
        assert client.get("/metadata").json()["version"] == 2
        assert 'loopml_model_reloads_total{result="loaded"} 3' in client.get("/metrics").text
    assert statuses and set(statuses) == {200}
    assert versions <= {1, 2}


def test_follow_stage_needs_a_moving_reference(served: dict[str, Served]) -> None:
    s = served["cancer"]
    with pytest.raises(DataError, match=r"follows a stage.*names one fixed version"):
        with client_for("cancer@1", store=s.store(), follow_stage=True):
            pass


def test_hgb_bundle_from_a_path_serves_without_a_store_registration(tmp_path: Path) -> None:
    bundle, df = make_bundle()
    path = bundle.save(tmp_path / "m")
    X = df.drop(columns="target").iloc[:10]
    with client_for(path, log_predictions=True) as (client, state):
        body = client.post("/predict", json={"rows": rows_of(X)}).json()
        assert state.logger is None and "not a registered version" in state.log_note
    assert body["predictions"] == bundle.predict(X).tolist()
    assert body["version"] is None


# -- `loopml serve` ------------------------------------------------------------------------


def _serve_cli() -> Any:
    import typer

    from loopml.cli.serve import serve_command

    app = typer.Typer()
    app.command()(serve_command)
    return app


def test_serve_command_builds_the_app_and_runs_uvicorn(
    served: dict[str, Served], monkeypatch: pytest.MonkeyPatch
) -> None:
    import uvicorn
    from fastapi import FastAPI
    from typer.testing import CliRunner

    s = served["cancer"]
    calls: list[tuple[Any, dict[str, Any]]] = []
    monkeypatch.setattr(uvicorn, "run", lambda app, **kw: calls.append((app, kw)))
    monkeypatch.setenv("LOOPML_API_KEYS", "k1")
    url = f"sqlite:///{s.store_root / 'store.db'}"
    args = [
        s.ref,
        "--port",
        "8123",
        "--max-body-mb",
        "0.5",
        "--micro-batch",
        "on",
        "--no-log",
        "--no-jobs",
        "--store",
        url,
    ]
    result = CliRunner().invoke(_serve_cli(), args)
    assert result.exit_code == 0, result.output
    assert "Serving cancer@1 at http://127.0.0.1:8123" in result.stderr
    assert "API keys required (1)" in result.stderr
    ((app, kw),) = calls
    assert isinstance(app, FastAPI) and kw["port"] == 8123 and kw["host"] == "127.0.0.1"
    state = app.state.loopml
    assert state.config.max_body_bytes == 2**19 and state.config.micro_batch is True
    assert state.logger is None and state.runner is None and state.auth


def test_serve_command_errors(served: dict[str, Served], monkeypatch: pytest.MonkeyPatch) -> None:
    import importlib.util

    from typer.testing import CliRunner

    s = served["cancer"]
    url = f"sqlite:///{s.store_root / 'store.db'}"
    runner = CliRunner()
    result = runner.invoke(_serve_cli(), ["nosuchmodel", "--store", url])
    assert result.exit_code == 1 and "No model named 'nosuchmodel'" in result.stderr
    result = runner.invoke(_serve_cli(), [s.ref, "--micro-batch", "maybe", "--store", url])
    assert result.exit_code == 1 and "--micro-batch must be auto, on or off" in result.stderr
    result = runner.invoke(_serve_cli(), [s.ref, "--follow-stage", "--store", url])
    assert result.exit_code == 1 and "names one fixed version" in result.stderr
    real = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util, "find_spec", lambda name, *a: None if name == "uvicorn" else real(name, *a)
    )
    result = runner.invoke(_serve_cli(), [s.ref, "--store", url])
    # (cli/_common prints errors as Rich markup, which eats "[serve]" from the hint)
    assert result.exit_code == 1 and "needs the package 'uvicorn'" in result.stderr


def test_workers_run_an_app_factory_from_the_environment(
    served: dict[str, Served], monkeypatch: pytest.MonkeyPatch
) -> None:
    import os

    from typer.testing import CliRunner

    import loopml.cli.serve as serve_cli
    from loopml.serve.app import app_from_env

    s = served["cancer"]
    seen: list[tuple[int, dict[str, Any]]] = []
    monkeypatch.setattr(serve_cli, "_run_workers", lambda uv, n, options: seen.append((n, options)))
    for name in ("LOOPML_SERVE_MODEL", "LOOPML_SERVE_CONFIG", "LOOPML_STORE_URL"):
        monkeypatch.setenv(name, "")
    url = f"sqlite:///{s.store_root / 'store.db'}"
    result = CliRunner().invoke(
        _serve_cli(),
        [s.ref, "--workers", "3", "--batch-max-rows", "7", "--no-jobs", "--store", url],
    )
    assert result.exit_code == 0, result.output
    assert seen and seen[0][0] == 3
    assert os.environ["LOOPML_SERVE_MODEL"] == "cancer@1"
    app = app_from_env()  # what each worker process does
    assert app.state.loopml.config.batch_max_rows == 7
    assert app.state.loopml.predictor.ref == "cancer@1"


def test_numbers_at_or_past_the_largest_float_are_refused(served: dict[str, Served]) -> None:
    import json

    s = served["cancer"]
    row = {k: float(v) for k, v in rows_of(s.X.iloc[:1])[0].items()}
    row["mean radius"] = "HUGE"
    huge = "-17976931348623157" + "0" * 291 + "1"  # past the largest float; reads as it
    raw = json.dumps({"rows": [row]}).replace('"HUGE"', huge).encode()
    with client_for(s.ref, store=s.store()) as (client, _):
        response = client.post(
            "/predict", content=raw, headers={"content-type": "application/json"}
        )
        assert response.status_code == 422, response.text
        assert response.json()["detail"][0]["loc"] == ["body", "rows", 0, "mean radius"]
        ok = raw.replace(huge.encode(), b"12.5")
        assert (
            client.post(
                "/predict", content=ok, headers={"content-type": "application/json"}
            ).status_code
            == 200
        )


def test_a_clean_columnar_body_is_read_as_one_matrix(served: dict[str, Served]) -> None:
    # Columnar bodies take the same one-matrix path as rows (and so the compiled model
    # path); a missing value falls back to column-by-column checks with the same result.
    s = served["cancer"]
    parser = Predictor(s.bundle()).parser
    X = s.X.iloc[:7]
    by_rows = parser.parse_payload({"rows": rows_of(X)})
    columns = {c: X[c].tolist() for c in X.columns}
    by_columns = parser.parse_payload({"columns": columns})
    assert by_columns.matrix is not None and by_columns.matrix.flags.c_contiguous
    np.testing.assert_array_equal(by_columns.matrix, by_rows.matrix)
    assert by_columns.matrix_names == by_rows.matrix_names
    columns["mean radius"][2] = None
    gappy = parser.parse_payload({"columns": columns})
    assert gappy.matrix is None and np.isnan(gappy.data["mean radius"][2])
    np.testing.assert_array_equal(gappy.data["mean area"], by_rows.data["mean area"])
