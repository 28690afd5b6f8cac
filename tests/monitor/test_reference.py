"""Monitoring segmenters and anomaly detectors against the rows they were fitted on."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import typer
from typer.testing import CliRunner

from loopml.cli.monitor import monitor_command
from loopml.cli.tasks import anomalies_command
from loopml.exceptions import DataError
from loopml.monitor import reference_from_bundle
from loopml.store import Store

app = typer.Typer()
app.command("anomalies")(anomalies_command)
app.command("monitor")(monitor_command)


def _frame(n: int, shift: float = 0.0, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    return pd.DataFrame(
        {
            "amount": rng.normal(50 + shift, 10, n),
            "items": rng.integers(1, 6, n),
            "channel": rng.choice(["web", "shop"], n),
        }
    )


def test_anomaly_detector_is_monitored_without_a_reference_file(tmp_path: Path) -> None:
    _frame(300).to_csv(tmp_path / "tx.csv", index=False)
    _frame(200, shift=25.0, seed=1).to_csv(tmp_path / "today.csv", index=False)
    runner = CliRunner()
    fit = runner.invoke(app, ["anomalies", str(tmp_path / "tx.csv"), "--name", "fraud", "--json"])
    assert fit.exit_code == 0, fit.stderr
    result = runner.invoke(
        app, ["monitor", "fraud", "--current", str(tmp_path / "today.csv"), "--json"]
    )
    assert result.exit_code == 0, result.stderr
    drift = json.loads(result.stdout)["drift"]
    assert drift["n_reference"] == 300
    by_column = {c["column"]: c for c in drift["columns"]}
    assert by_column["amount"]["drifted"] and not by_column["channel"]["drifted"]


def test_segmenter_reference_is_its_whole_source_and_must_not_change(tmp_path: Path) -> None:
    from loopml.learn.tasks import cluster

    path = tmp_path / "customers.csv"
    df = _frame(240)
    df.to_csv(path, index=False)
    result = cluster(str(path), k=3, name="segments", store=Store())
    reference = reference_from_bundle(result.model)
    pd.testing.assert_frame_equal(reference, pd.read_csv(path))
    with pytest.raises(DataError, match="only part='fit'"):
        reference_from_bundle(result.model, part="test")
    df.iloc[:200].to_csv(path, index=False)
    with pytest.raises(DataError, match="now has 200 rows, training had 240"):
        reference_from_bundle(result.model)


def test_a_segmenter_fitted_on_a_dataframe_still_needs_the_reference() -> None:
    from loopml.learn.tasks import cluster

    result = cluster(_frame(120), k=2, name="adhoc", store=Store())
    with pytest.raises(DataError, match="--reference FILE"):
        reference_from_bundle(result.model)
