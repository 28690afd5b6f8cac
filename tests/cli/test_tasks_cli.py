"""`loopml cluster`, `loopml anomalies`, `loopml rules`, then `loopml predict` on the stored
models, in-process with Typer's CliRunner (each test runs in its own directory and store)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import typer
from sklearn.datasets import make_blobs
from typer.testing import CliRunner

from loopml.cli.predict import predict_command
from loopml.cli.tasks import anomalies_command, cluster_command, rules_command

app = typer.Typer()
app.command("cluster")(cluster_command)
app.command("anomalies")(anomalies_command)
app.command("rules")(rules_command)
app.command("predict")(predict_command)
runner = CliRunner()


def invoke(*args: str) -> tuple[int, str, str]:
    """Exit code, stdout, and stderr with Rich's line wrapping undone."""
    result = runner.invoke(app, list(args))
    return result.exit_code, result.stdout, " ".join(result.stderr.split())


def test_cluster_then_predict_assigns_segments(tmp_path: Path) -> None:
    X, _ = make_blobs(n_samples=240, centers=3, random_state=0)
    df = pd.DataFrame(X, columns=["income", "spend"]).assign(customer_id=np.arange(240) + 7)
    df.to_csv(tmp_path / "customers.csv", index=False)
    code, out, err = invoke(
        "cluster", str(tmp_path / "customers.csv"), "--k", "auto", "--k-max", "5",
        "-o", str(tmp_path / "segments.html"), "--name", "segments",
        "--predictions", str(tmp_path / "rows.csv"), "--json",
    )  # fmt: skip
    assert code == 0, err
    result = json.loads(out)
    assert result["ref"] == "segments@1" and result["metrics"]["k"] == 3
    assert len(result["segments"]) == 3 and len(result["k_scores"]) == 4
    assert (tmp_path / "segments.html").exists()
    rows = pd.read_csv(tmp_path / "rows.csv")
    assert list(rows.columns) == ["income", "spend", "customer_id", "segment"]
    code, out, err = invoke(
        "predict", "segments@1", str(tmp_path / "customers.csv"), "-o", str(tmp_path / "p.csv")
    )
    assert code == 0, err
    preds = pd.read_csv(tmp_path / "p.csv")
    assert list(preds.columns) == ["customer_id", "segment"]
    np.testing.assert_array_equal(preds["segment"], rows["segment"])
    code, out, _ = invoke("cluster", str(tmp_path / "customers.csv"), "--k", "3")
    assert code == 0 and "customers-segments@1" in out  # default name: STEM-segments
    assert "Segments" in out and "loopml predict customers-segments" in " ".join(out.split())


def test_anomalies_then_predict_flags_rows(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    df = pd.DataFrame(rng.normal(size=(300, 3)), columns=["amount", "items", "hour"])
    df.loc[:2, ["amount", "items", "hour"]] = [[9.0, -8.0, 7.5]] * 3
    df["known"] = (df.index < 3).astype(int)
    df.to_csv(tmp_path / "transactions.csv", index=False)
    code, out, err = invoke(
        "anomalies", str(tmp_path / "transactions.csv"), "--contamination", "auto",
        "--labels", "known", "--predictions", str(tmp_path / "scored.parquet"), "--json",
    )  # fmt: skip
    assert code == 0, err
    result = json.loads(out)
    assert result["ref"] == "transactions-anomalies@1" and result["evaluation"]["recall"] == 1.0
    assert result["top"][0]["row"] in ("0", "1", "2") and len(result["top"]) == 10
    scored = pd.read_parquet(tmp_path / "scored.parquet")
    assert scored["is_anomaly"].iloc[:3].tolist() == [1, 1, 1]
    code, _, err = invoke(
        "predict", "transactions-anomalies", str(tmp_path / "transactions.csv"), "-o",
        str(tmp_path / "flags.csv"),
    )  # fmt: skip
    assert code == 0, err
    flags = pd.read_csv(tmp_path / "flags.csv")
    assert list(flags.columns) == ["anomaly_score", "is_anomaly"]
    assert flags["is_anomaly"].iloc[:3].tolist() == [1, 1, 1]
    code, out, _ = invoke("anomalies", str(tmp_path / "transactions.csv"), "--top", "3")
    assert code == 0 and "Most unusual rows (top 3)" in out and "far above" in out
    code, _, err = invoke("anomalies", str(tmp_path / "transactions.csv"), "--contamination", "x")
    assert code == 1 and "--contamination must be 'auto' or a share" in err


def test_rules_then_predict_recommends_per_basket(tmp_path: Path) -> None:
    baskets = pd.DataFrame(
        {"items": ["bread|butter|milk", "bread|butter", "beer|chips", "beer|chips|milk"] * 15}
    )
    baskets.to_csv(tmp_path / "baskets.csv", index=False)
    code, out, err = invoke(
        "rules", str(tmp_path / "baskets.csv"), "--min-support", "0.1",
        "--min-confidence", "0.3", "--save-rules", str(tmp_path / "rules.csv"), "--json",
    )  # fmt: skip
    assert code == 0, err
    result = json.loads(out)
    assert result["ref"] == "baskets-rules@1" and result["metrics"]["n_rules"] > 0
    assert result["rules"][0]["lift"] >= result["rules"][-1]["lift"]
    assert len(pd.read_csv(tmp_path / "rules.csv")) == result["metrics"]["n_rules"]
    pd.DataFrame({"items": ["bread", "beer|milk"]}).to_csv(tmp_path / "new.csv", index=False)
    code, _, err = invoke(
        "predict", "baskets-rules", str(tmp_path / "new.csv"), "-o", str(tmp_path / "recs.csv")
    )
    assert code == 0, err
    recs = pd.read_csv(tmp_path / "recs.csv")
    assert recs["recommendations"].str.split("|").str[0].tolist() == ["butter", "chips"]
    code, out, _ = invoke("rules", str(tmp_path / "baskets.csv"), "--min-support", "0.1")
    assert code == 0 and "Top rules by lift" in out and "Holdout" in out
    code, _, err = invoke("rules", str(tmp_path / "baskets.csv"), "--min-support", "2")
    assert code == 1 and "min_support must be a fraction of transactions" in err


def test_bad_k_is_a_clear_error(tmp_path: Path) -> None:
    pd.DataFrame({"a": range(20), "b": range(20)}).to_csv(tmp_path / "d.csv", index=False)
    code, _, err = invoke("cluster", str(tmp_path / "d.csv"), "--k", "many")
    assert code == 1 and "--k must be 'auto' or a whole number of segments" in err
