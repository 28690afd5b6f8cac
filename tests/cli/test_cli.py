"""End-to-end tests of the `loopml` command, run in-process with Typer's CliRunner."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from loopml.cli import app
from loopml.data.io import BUILTIN_DATASETS, load

runner = CliRunner()


def invoke(*args: str) -> tuple[int, str, str]:
    result = runner.invoke(app, list(args))
    return result.exit_code, result.stdout, result.stderr


@pytest.mark.slow
@pytest.mark.parametrize("name", BUILTIN_DATASETS)
def test_train_predict_list_on_every_builtin(name: str, tmp_path: Path) -> None:
    code, out, err = invoke("train", f"builtin:{name}", "--json")
    assert code == 0, err
    result = json.loads(out)
    assert result["ref"] == f"{name}@1"
    assert result["test_metrics"]
    data = load(f"builtin:{name}").drop(columns="target")
    data.to_csv(tmp_path / "new.csv", index=False)
    code, out, err = invoke(
        "predict", name, str(tmp_path / "new.csv"), "-o", str(tmp_path / "p.csv"), "--json"
    )
    assert code == 0, err
    assert json.loads(out)["rows"] == len(data)
    preds = pd.read_csv(tmp_path / "p.csv")
    assert len(preds) == len(data)
    code, out, _ = invoke("models", "list", "--json")
    assert [m["name"] for m in json.loads(out)] == [name]


def test_train_twice_adds_versions_and_show(tmp_path: Path) -> None:
    df = load("builtin:iris")
    df.to_csv(tmp_path / "flowers.csv", index=False)
    for expected in (1, 2):
        code, out, err = invoke(
            "train", str(tmp_path / "flowers.csv"), "--target", "target", "--json"
        )
        assert code == 0, err
        assert json.loads(out)["ref"] == f"flowers@{expected}"
    code, out, _ = invoke("models", "show", "flowers")
    assert code == 0 and "Versions of flowers" in out
    code, out, _ = invoke("models", "show", "flowers@2")
    assert code == 0 and "Model card: flowers" in out
    code, out, _ = invoke("runs", "list", "--json")
    runs = json.loads(out)
    assert [r["status"] for r in runs] == ["finished", "finished"]
    code, out, _ = invoke("runs", "show", str(runs[0]["id"]))
    assert json.loads(out)["trials"]


def test_human_output_shows_the_leaderboard() -> None:
    code, out, err = invoke("train", "builtin:wine", "--name", "vino")
    assert code == 0, err
    assert "Leaderboard" in out and "Stored as vino@1" in out
    assert "Test metrics" in out


def test_quiet_prints_nothing() -> None:
    code, out, _ = invoke("train", "builtin:iris", "--quiet")
    assert code == 0 and out == ""


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["train", "missing.csv", "--target", "y"], "missing.csv does not exist"),
        (["train", "builtin:iris", "--target", "species"], "Target column 'species' is not in"),
        (["train", "builtin:iris", "--metric", "rmse"], "Metric 'rmse' does not apply"),
        (["predict", "nomodel", "x.csv"], "nomodel"),
        (["train", "builtin:iris", "--split", "0.5,0.2"], "must sum to 1"),
    ],
)
def test_errors_go_to_stderr_with_exit_code_1(args: list[str], message: str) -> None:
    code, out, err = invoke(*args)
    assert code == 1
    assert message in " ".join(err.split())
    assert "Traceback" not in err + out


def test_csv_without_target_flag_explains(tmp_path: Path) -> None:
    load("builtin:iris").to_csv(tmp_path / "f.csv", index=False)
    code, _, err = invoke("train", str(tmp_path / "f.csv"))
    assert code == 1
    assert "No target given" in err and "--target" in err


def test_unknown_model_is_refused_before_any_run_starts() -> None:
    code, _, err = invoke("train", "builtin:iris", "--models", "nosuchmodel")
    assert code == 1
    assert "Unknown classification model 'nosuchmodel'" in " ".join(err.split())
    code, out, _ = invoke("runs", "list", "--json")
    assert json.loads(out) == []


def test_profile_writes_html_and_json(tmp_path: Path) -> None:
    code, _, err = invoke("profile", "builtin:breast_cancer", "-o", str(tmp_path / "eda.html"))
    assert code == 0, err
    assert (tmp_path / "eda.html").exists() and (tmp_path / "eda.json").exists()
    json.loads((tmp_path / "eda.json").read_text())


def test_version_and_help() -> None:
    code, out, _ = invoke("--version")
    assert code == 0 and out.startswith("loopml ")
    for cmd in ("train", "predict", "profile", "models", "runs"):
        code, out, _ = invoke(cmd, "--help")
        assert code == 0 and "Usage" in out


def test_train_multilabel_from_a_delimited_column_and_from_01_columns(tmp_path: Path) -> None:
    import numpy as np

    rng = np.random.default_rng(0)
    n = 300
    x1, x2 = rng.normal(size=n), rng.normal(size=n)
    urgent, financial = (x1 > 0).astype(int), (x2 > 0.3).astype(int)
    tags = [
        "|".join(t for t, on in (("urgent", u), ("financial", f)) if on)
        for u, f in zip(urgent, financial, strict=True)
    ]
    pd.DataFrame({"x1": x1, "x2": x2, "tags": tags}).to_csv(tmp_path / "tickets.csv", index=False)
    code, out, err = invoke(
        "train", str(tmp_path / "tickets.csv"), "--target", "tags", "--task", "multilabel", "--json"
    )
    assert code == 0, err
    result = json.loads(out)
    assert result["test_metrics"]["subset_accuracy"] > 0.7
    frame = pd.DataFrame({"x1": x1, "x2": x2, "urgent": urgent, "financial": financial})
    frame.to_csv(tmp_path / "wide.csv", index=False)
    code, out, err = invoke(
        "train", str(tmp_path / "wide.csv"), "--target", "urgent,financial", "--json"
    )
    assert code == 0, err
    assert json.loads(out)["test_metrics"]["hamming_loss"] < 0.2


def test_train_semi_supervised_says_whether_unlabelled_rows_helped(tmp_path: Path) -> None:
    df = load("builtin:iris")
    df.loc[df.index % 3 != 0, "target"] = None
    df.to_csv(tmp_path / "few.csv", index=False)
    code, out, err = invoke(
        "train", str(tmp_path / "few.csv"), "--target", "target", "--semi-supervised"
    )
    assert code == 0, err
    assert "unlabelled" in " ".join(out.split()).lower()
