"""The evaluation commands, run in-process with Typer's CliRunner on an app of their own."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import typer
from typer.testing import CliRunner

from loopml.cli.evaluate import (
    evaluate_command,
    evaluate_text_command,
    perplexity_command,
    report_command,
)
from loopml.data.io import load

app = typer.Typer()
app.command("evaluate")(evaluate_command)
app.command("report")(report_command)
app.command("evaluate-text")(evaluate_text_command)
app.command("perplexity")(perplexity_command)
runner = CliRunner()


def invoke(*args: str) -> tuple[int, str, str]:
    """Exit code, stdout, and stderr with Rich's line wrapping undone."""
    result = runner.invoke(app, list(args))
    return result.exit_code, result.stdout, " ".join(result.stderr.split())


@pytest.fixture
def trained(tmp_path: Path) -> tuple[str, int]:
    """An iris model in ./.loopml (each test runs in its own directory)."""
    from loopml.learn.supervised import train
    from loopml.store import Store

    store = Store()
    try:
        result = train("builtin:iris", store=store, models=["logreg"])
    finally:
        store.close()
    load("builtin:iris").to_csv(tmp_path / "labelled.csv", index=False)
    return result.ref, result.run_id


def test_evaluate_writes_html_and_json(trained: tuple[str, int], tmp_path: Path) -> None:
    ref, _ = trained
    code, out, err = invoke(
        "evaluate", ref, str(tmp_path / "labelled.csv"), "-o", str(tmp_path / "eval.html"), "--json"
    )
    assert code == 0, err
    payload = json.loads(out)
    assert payload["model"] == "iris@1" and payload["n_rows"] == 150
    assert payload["metrics"]["accuracy"] > 0.9
    assert payload["written"]["html"] == str(tmp_path / "eval.html")
    assert (tmp_path / "eval.html").read_text().count('class="lm-plot"') >= 4


def test_evaluate_prints_a_metrics_table(trained: tuple[str, int], tmp_path: Path) -> None:
    code, out, err = invoke(
        "evaluate", "iris@production", str(tmp_path / "labelled.csv"), "--no-importance"
    )
    assert code == 1 and "production" in err  # no version is in production yet
    code, out, err = invoke("evaluate", "iris", str(tmp_path / "labelled.csv"), "--no-importance")
    assert code == 0, err
    assert "accuracy" in out and "150 rows" in out


def test_evaluate_png_export(
    trained: tuple[str, int], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from loopml.evaluate import plots

    monkeypatch.setattr(plots, "png_backend", lambda: None)
    code, _, err = invoke(
        "evaluate",
        "iris",
        str(tmp_path / "labelled.csv"),
        "--no-importance",
        "--png",
        str(tmp_path / "png"),
    )
    assert code == 0, err
    assert "PNG export skipped" in err and "kaleido" in err
    assert not (tmp_path / "png").exists()


def test_evaluate_reports_bad_input_without_a_traceback(
    trained: tuple[str, int], tmp_path: Path
) -> None:
    code, _, err = invoke("evaluate", "iris", str(tmp_path / "labelled.csv"), "--target", "nope")
    assert code == 1
    assert "has no column 'nope'" in err and "Traceback" not in err
    code, _, err = invoke("evaluate", "nosuchmodel", str(tmp_path / "labelled.csv"))
    assert code == 1 and "Error" in err


def test_report_command_with_kpis_and_spec(trained: tuple[str, int], tmp_path: Path) -> None:
    _, run_id = trained
    spec = tmp_path / "loopml.yaml"
    spec.write_text(
        "name: flowers\ngoal: Sort irises.\nkpis:\n  - accuracy >= 0.5\n"
        "data:\n  source: builtin:iris\n  target: target\n"
    )
    out_path = tmp_path / "report.html"
    code, out, err = invoke(
        "report", str(run_id), "-o", str(out_path), "--spec", str(spec), "--no-diagnosis", "--json"
    )
    assert code == 0, err
    assert json.loads(out)["path"] == str(out_path)
    html = out_path.read_text()
    assert "Sort irises." in html and "accuracy &gt;= 0.5" in html
    code, out, err = invoke(
        "report",
        str(run_id),
        "-o",
        str(tmp_path / "r2.html"),
        "--kpi",
        "recall > 2",
        "--no-diagnosis",
    )
    assert code == 0, err
    assert "r2.html" in out
    assert "KPI gate(s) not met: recall &gt; 2" in (tmp_path / "r2.html").read_text()


def test_report_unknown_run_fails_cleanly() -> None:
    code, _, err = invoke("report", "999", "-o", "x.html")
    assert code == 1 and "999" in err
    assert not Path("x.html").exists()


def _jsonl(path: Path, rows: list[dict]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def test_evaluate_text_rouge(tmp_path: Path) -> None:
    preds = _jsonl(
        tmp_path / "gen.jsonl",
        [{"id": 1, "prediction": "the cats are running"}, {"id": 2, "prediction": "a dog"}],
    )
    refs = _jsonl(
        tmp_path / "refs.jsonl",
        [{"id": 2, "reference": "a dog barks"}, {"id": 1, "reference": "the cat runs"}],
    )
    code, out, err = invoke(
        "evaluate-text", "--predictions", str(preds), "--references", str(refs), "--json"
    )
    assert code == 0, err
    plain = json.loads(out)
    assert set(plain["scores"]) == {"rouge1", "rouge2", "rougeL", "rougeLsum"}
    assert plain["n_samples"] == 2 and plain["use_stemmer"] is False
    code, out, err = invoke(
        "evaluate-text", "-p", str(preds), "-r", str(refs), "--stem", "--rouge-n", "3", "--json"
    )
    stemmed = json.loads(out)
    assert "rouge3" in stemmed["scores"]
    assert stemmed["scores"]["rouge1"]["fmeasure"] > plain["scores"]["rouge1"]["fmeasure"]
    code, out, err = invoke(
        "evaluate-text",
        "-p",
        str(preds),
        "-r",
        str(refs),
        "--ci",
        "0.9",
        "--per-sample",
        str(tmp_path / "per.csv"),
    )
    assert code == 0, err
    assert "ROUGE over 2 pairs" in out and "90% CI" in out
    assert (tmp_path / "per.csv").read_text().startswith("id,rouge1_precision")


def test_evaluate_text_errors(tmp_path: Path) -> None:
    preds = _jsonl(tmp_path / "gen.jsonl", [{"prediction": "a"}, {"prediction": "b"}])
    refs = _jsonl(tmp_path / "refs.jsonl", [{"reference": "a"}])
    code, _, err = invoke("evaluate-text", "-p", str(preds), "-r", str(refs))
    assert code == 1 and "2 records" in err
    code, _, err = invoke("evaluate-text", "-p", str(tmp_path / "missing.jsonl"))
    assert code == 1 and "File not found" in err


def test_perplexity_from_logprobs_and_logits(tmp_path: Path) -> None:
    lp = _jsonl(
        tmp_path / "tokens.jsonl",
        [
            {"logprobs": [None, float(np.log(0.5)), float(np.log(0.5))]},
            {"logprobs": [np.log(0.25)]},
        ],
    )
    code, out, err = invoke("perplexity", "--logprobs", str(lp), "--json")
    assert code == 0, err
    got = json.loads(out)
    assert got["perplexity"] == pytest.approx(2 ** (4 / 3))
    assert got["n_tokens"] == 3 and got["n_skipped"] == 1
    np.savez(tmp_path / "out.npz", logits=np.zeros((2, 3, 4)), labels=np.array([[0, 1, -100]] * 2))
    code, out, err = invoke("perplexity", "--logits", str(tmp_path / "out.npz"))
    assert code == 0, err
    assert "Perplexity 4 over 4 tokens" in out


def test_perplexity_errors(tmp_path: Path) -> None:
    code, _, err = invoke("perplexity")
    assert code == 1 and "exactly one of --logprobs" in err
    np.savez(tmp_path / "bad.npz", scores=np.zeros(3))
    code, _, err = invoke("perplexity", "--logits", str(tmp_path / "bad.npz"))
    assert code == 1 and "'logits' and 'targets'" in err
    (tmp_path / "notnpz.npz").write_text("hello")
    code, _, err = invoke("perplexity", "--logits", str(tmp_path / "notnpz.npz"))
    assert code == 1 and "not a NumPy .npz file" in err
    lp = _jsonl(tmp_path / "t.jsonl", [{"logprobs": [-1.0]}])
    code, _, err = invoke("perplexity", "--logprobs", str(lp), "--log-base", "3")
    assert code == 1 and "--log-base must be" in err
