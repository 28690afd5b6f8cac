"""`loopml monitor` and `loopml alerts`, run in-process with Typer's CliRunner."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pandas as pd
import pytest
import typer
from typer.testing import CliRunner

from loopml.bundle import ModelBundle
from loopml.cli.monitor import alerts_app, monitor_command
from loopml.store import Store
from tests.monitor.conftest import churn_frame, make_churn_bundle
from tests.monitor.test_alerts import Hook

app = typer.Typer()
app.command("monitor")(monitor_command)
app.add_typer(alerts_app, name="alerts")
runner = CliRunner(env={"COLUMNS": "200"})


def invoke(*args: str) -> tuple[int, str, str]:
    result = runner.invoke(app, list(args))
    return result.exit_code, result.stdout, result.stderr


def register(tmp_path: Path) -> tuple[Store, ModelBundle]:
    store = Store()
    bundle, _ = make_churn_bundle(tmp_path)
    path = bundle.save(store.model_dir("churn", 1))
    store.register_model(
        "churn", run_id=None, path=str(path), sha256=bundle.sha256 or "", task="binary", metrics={}
    )
    store.set_stage("churn", 1, "production")
    return store, bundle


def test_monitor_a_file_against_the_training_data(tmp_path: Path) -> None:
    register(tmp_path)
    churn_frame(800, seed=3, shift=1.5).drop(columns="churn").to_csv("week.csv", index=False)
    code, out, err = invoke(
        "monitor", "churn@production", "--current", "week.csv", "-o", "rep/drift.html", "--json"
    )
    assert code == 0, err
    data = json.loads(out)
    assert data["output"] == "rep/drift.html"
    drift = data["drift"]
    assert {c["column"] for c in drift["columns"]} == {"tenure", "spend", "plan"}
    assert drift["dataset_drift"] is True and drift["prediction"]
    assert drift["n_reference"] == 510  # train + valid rows of the 600
    assert [a["status"] for a in data["alerts"]] == ["fired", "fired"]
    assert Path("rep/drift.html").exists() and Path("rep/drift.json").exists()
    # the same drift again: the open alerts stay quiet
    code, out, _ = invoke("monitor", "churn", "--current", "week.csv", "-o", "d.html", "--json")
    assert [a["status"] for a in json.loads(out)["alerts"]] == ["ongoing", "ongoing"]
    code, out, _ = invoke("monitor", "churn", "--current", "week.csv", "-o", "d.html")
    assert code == 0 and "Dataset drift" in out and "Report:" in out


def test_monitor_from_the_log_with_labels_gates_and_webhook(tmp_path: Path) -> None:
    store, bundle = register(tmp_path)
    rows = churn_frame(300, seed=5)
    start = datetime.now(UTC) - timedelta(hours=2)
    features = rows.drop(columns="churn")
    preds = bundle.predict(features)
    for i, (rec, pred) in enumerate(zip(features.to_dict("records"), preds, strict=True)):
        store.log_predictions(
            "churn",
            1,
            inputs=[rec],
            outputs=[pred],
            latency_ms=5.0 + i % 7,
            at=start + timedelta(seconds=i),
        )
    rows[["id", "churn"]].to_csv("outcomes.csv", index=False)
    hook = Hook()
    try:
        code, out, err = invoke(
            "monitor",
            "churn@production",
            "--labels",
            "outcomes.csv",
            "--since",
            "1d",
            "--gate",
            "accuracy >= 0.99",
            "--alert",
            "latency_p95_ms > 1000",
            "--webhook",
            hook.url,
            "--alert-file",
            "alerts.jsonl",
            "--json",
        )
    finally:
        hook.close()
    assert code == 0, err
    data = json.loads(out)
    quality = data["quality"]
    assert quality["n_labelled"] == 300 and quality["breaches"]
    assert data["operations"]["requests"] == 300
    statuses = {a["rule"]: a["status"] for a in data["alerts"]}
    assert statuses == {"latency_p95_ms > 1000": "ok", "gate: accuracy >= 0.99": "fired"}
    assert [r["body"]["rule"] for r in hook.received] == ["gate: accuracy >= 0.99"]
    assert json.loads(Path("alerts.jsonl").read_text())["event"] == "fired"

    code, out, _ = invoke("alerts", "list", "churn", "--json")
    (alert,) = json.loads(out)
    assert alert["rule"] == "gate: accuracy >= 0.99"
    code, out, _ = invoke("alerts", "list")
    assert "gate: accuracy" in out
    code, out, _ = invoke("alerts", "resolve", str(alert["id"]))
    assert code == 0 and f"Resolved alert {alert['id']}" in out
    code, out, _ = invoke("alerts", "list")
    assert "No open alerts" in out


def test_monitor_errors_name_the_fix(tmp_path: Path) -> None:
    register(tmp_path)
    churn_frame(50, seed=1).to_csv("cur.csv", index=False)
    code, _, err = invoke("monitor", "churn", "--current", "cur.csv", "--from-log")
    assert code == 1 and "not both" in err
    code, _, err = invoke("monitor", "churn")
    assert code == 1 and "No predictions of churn" in err and "--current FILE" in err
    code, _, err = invoke("alerts", "resolve", "99")
    assert code == 1 and "No alert with id 99" in err
    code, _, err = invoke("monitor", "churn", "--current", "cur.csv", "--method", "kl")
    assert code == 1 and "Unknown drift method" in err


@pytest.mark.parametrize("flag", ["--reference"])
def test_explicit_reference_and_current_with_labels(tmp_path: Path, flag: str) -> None:
    register(tmp_path)
    ref = churn_frame(400, seed=8)
    ref.to_csv("ref.csv", index=False)
    cur = churn_frame(200, seed=9)
    cur["ts"] = pd.date_range("2024-01-01", periods=200, freq="h")
    cur.drop(columns="churn").to_csv("cur.csv", index=False)
    cur[["id", "churn"]].to_csv("labels.csv", index=False)
    code, out, err = invoke(
        "monitor", "churn", flag, "ref.csv", "--current", "cur.csv", "--labels", "labels.csv",
        "--time-column", "ts", "--json",
    )  # fmt: skip
    assert code == 0, err
    data = json.loads(out)
    assert data["drift"]["n_reference"] == 400
    assert [w["n_labelled"] for w in data["quality"]["windows"]] == [24] * 8 + [8]
    assert "operations" not in data
