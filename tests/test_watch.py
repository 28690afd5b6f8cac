from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

import loopml
from loopml.cli import app
from loopml.exceptions import DataError
from loopml.store import Store
from loopml.watch import parse_period, watch


def _data(n: int, shift: float, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    x1 = rng.normal(shift, 1, n)
    x2 = rng.normal(shift, 1, n)
    return pd.DataFrame({"x1": x1, "x2": x2, "y": np.where(x1 + x2 > 2 * shift, "a", "b")})


@pytest.fixture
def model(tmp_path: Path) -> Store:
    store = Store()
    path = tmp_path / "train.csv"
    _data(500, 0.0, 0).to_csv(path, index=False)
    loopml.train(str(path), "y", name="m", models=["logreg"], store=store)
    return store


def _log(store: Store, frame: pd.DataFrame) -> None:
    rows = frame.drop(columns="y").to_dict("records")
    store.log_predictions("m", 1, inputs=rows, outputs=["a"] * len(rows), latency_ms=3.0)


def test_parse_period() -> None:
    assert parse_period("90s") == 90 and parse_period("15m") == 900 and parse_period("1h") == 3600
    with pytest.raises(DataError, match="period like 30s"):
        parse_period("soon")


def test_drift_in_the_log_raises_one_alert_then_resolves(model: Store) -> None:
    store = model
    _log(store, _data(300, 3.0, 1))  # shifted
    slept: list[float] = []
    first = watch("m", every="1s", store=store, max_cycles=1, sleep=slept.append)
    assert first[0].figures["dataset_drift"] == 1.0
    assert any(a.startswith("dataset drift: fired") for a in first[0].alerts)
    assert "dataset drift" in {a.rule for a in store.list_alerts(name="m", unresolved=True)}
    _log(store, _data(300, 0.0, 2))  # back to normal
    second = watch("m", every="1s", store=store, max_cycles=1, sleep=slept.append)
    assert second[0].figures["dataset_drift"] == 0.0
    assert store.list_alerts(name="m", unresolved=True) == []
    assert "latency_p95_ms" in second[0].figures


def test_a_restarted_watcher_waits_only_for_the_rest_of_the_period(model: Store) -> None:
    store = model
    state = Path(store.root) / "watch" / "m.json"
    state.parent.mkdir(parents=True, exist_ok=True)
    last = datetime.now(UTC) - timedelta(minutes=20)
    state.write_text(json.dumps({"last": last.isoformat(), "cycles": 3}))
    slept: list[float] = []
    watch("m", every="1h", store=store, max_cycles=1, sleep=slept.append)
    assert len(slept) == 1 and 39 * 60 < slept[0] <= 40 * 60
    assert json.loads(state.read_text())["cycles"] == 4


def test_watch_cli_with_a_current_file_and_an_alert_file(model: Store, tmp_path: Path) -> None:
    _data(200, 3.0, 5).drop(columns="y").to_csv(tmp_path / "now.csv", index=False)
    result = CliRunner().invoke(
        app,
        [
            "watch",
            "m",
            "--every",
            "1s",
            "--cycles",
            "1",
            "--current",
            str(tmp_path / "now.csv"),
            "--alert",
            "drift_share > 0.4",
            "--alert-file",
            str(tmp_path / "alerts.jsonl"),
            "--json",
        ],
    )
    assert result.exit_code == 0, result.stderr
    assert json.loads(result.stdout)["figures"]["drift_share"] == 1.0
    sent = [json.loads(line) for line in (tmp_path / "alerts.jsonl").read_text().splitlines()]
    assert sent and sent[0]["rule"] == "drift_share > 0.4"
