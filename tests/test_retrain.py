from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import loopml
from loopml.exceptions import DataError
from loopml.retrain import retrain, write_report
from loopml.store import Store


def _data(n: int, drift: float, seed: int) -> pd.DataFrame:
    """y depends on x1; with drift=1 the concept has moved to x2 instead."""
    rng = np.random.default_rng(seed)
    x1, x2 = rng.normal(size=n), rng.normal(size=n)
    score = (1 - drift) * x1 + drift * x2 + 0.3 * rng.normal(size=n)
    return pd.DataFrame({"x1": x1, "x2": x2, "y": np.where(score > 0, "yes", "no")})


@pytest.fixture
def champion(tmp_path: Path) -> tuple[Store, Path]:
    store = Store()
    path = tmp_path / "old.csv"
    _data(600, 0.0, 0).to_csv(path, index=False)
    result = loopml.train(str(path), "y", name="m", models=["logreg"], store=store)
    store.set_stage("m", result.version, "production", reason="first")
    return store, path


@pytest.mark.slow
def test_challenger_on_shifted_data_wins_and_is_promoted(
    champion: tuple[Store, Path], tmp_path: Path
) -> None:
    store, _ = champion
    shifted = tmp_path / "new.csv"
    _data(800, 1.0, 1).to_csv(shifted, index=False)
    result = retrain(
        "m", str(shifted), store=store, include_old=False, models=["logreg"], margin=0.01
    )
    assert result.promoted, result.reason
    assert result.improvement > 0.01
    assert store.resolve("m@production").version == 2
    assert str(store.resolve("m@1").stage) == "archived"
    run = store.get_run(result.run_id)
    assert run.kind == "retrain" and "champion_roc_auc" in run.metrics
    page = write_report(result, tmp_path / "retrain.html")
    assert "promoted to production" in page.read_text()


@pytest.mark.slow
def test_a_challenger_that_is_not_better_is_not_promoted(
    champion: tuple[Store, Path], tmp_path: Path
) -> None:
    store, _ = champion
    same = tmp_path / "same.csv"
    _data(300, 0.0, 2).to_csv(same, index=False)
    result = retrain("m", str(same), store=store, models=["logreg"], margin=0.05)
    assert not result.promoted
    assert "not better by the required margin" in result.reason
    assert store.resolve("m@production").version == 1


def test_new_data_without_labels_is_refused(champion: tuple[Store, Path], tmp_path: Path) -> None:
    store, _ = champion
    unl = tmp_path / "unlabelled.csv"
    _data(100, 0.0, 3).drop(columns="y").to_csv(unl, index=False)
    with pytest.raises(DataError, match="has no target column 'y'; retraining needs labels"):
        retrain("m", str(unl), store=store)


@pytest.mark.slow
def test_retrain_cli(champion: tuple[Store, Path], tmp_path: Path) -> None:
    import json

    from typer.testing import CliRunner

    from loopml.cli import app

    shifted = tmp_path / "new.csv"
    _data(800, 1.0, 1).to_csv(shifted, index=False)
    out = CliRunner().invoke(
        app,
        [
            "retrain",
            "m",
            "--data",
            str(shifted),
            "--new-only",
            "--dry-run",
            "--json",
            "-o",
            str(tmp_path / "r.html"),
        ],
    )
    assert out.exit_code == 0, out.stderr
    data = json.loads(out.stdout)
    assert data["promoted"] is False and data["improvement"] > 0
    assert (tmp_path / "r.html").exists()
