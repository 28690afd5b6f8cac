"""`loopml init` + `loopml run`: the lifecycle end to end, gates, and resume."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from loopml.cli import app
from loopml.config import load_spec, starter_spec
from loopml.phases import PHASES, GateFailure, run_lifecycle
from loopml.store import Store

runner = CliRunner()


def _spec(tmp_path: Path, kpis: str = "roc_auc >= 0.90", stage: str = "staging") -> Path:
    text = starter_spec("cancer").replace("  - roc_auc >= 0.90 ", f"  - {kpis} ")
    text = text.replace("  stage: staging ", f"  stage: {stage} ")
    path = tmp_path / "loopml.yaml"
    path.write_text(text)
    return path


@pytest.mark.slow
def test_run_end_to_end_deploys_to_staging(tmp_path: Path) -> None:
    code = runner.invoke(app, ["init", "cancer", "-o", str(tmp_path / "loopml.yaml")]).exit_code
    assert code == 0
    result = runner.invoke(app, ["run", str(tmp_path / "loopml.yaml"), "--json"])
    assert result.exit_code == 0, result.stderr
    data = json.loads(result.stdout)
    assert [p["phase"] for p in data["phases"]] == [name for name, _, _ in PHASES]
    assert all(p["status"] == "done" for p in data["phases"])
    assert data["model"] == "cancer@1" and data["stage"] == "staging"
    store = Store()
    assert str(store.resolve("cancer@staging").version) == "1"
    kinds = [r.kind for r in store.list_runs(limit=None)]
    assert "lifecycle" in kinds and "phase:deployment" in kinds and "train" in kinds


@pytest.mark.slow
def test_failing_gate_stops_before_deployment_and_says_by_how_much(tmp_path: Path) -> None:
    spec = load_spec(_spec(tmp_path, kpis="accuracy >= 0.999"))
    store = Store()
    with pytest.raises(GateFailure, match=r"accuracy 0\.\d+ < 0\.999 \(short by 0\.\d+\)"):
        run_lifecycle(spec, store=store)
    assert store.list_versions("cancer")[0].stage == "none"
    phases = [r for r in store.list_runs(limit=None) if r.kind.startswith("phase:")]
    assert {r.kind: r.status for r in phases}["phase:deployment"] == "failed"


@pytest.mark.slow
def test_resume_continues_without_redoing_completed_phases(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import loopml.phases as phases

    spec = load_spec(_spec(tmp_path))
    store = Store()
    calls: list[str] = []
    failures = [1]
    original = dict((n, f) for n, f, _ in PHASES)

    def wrap(name: str):  # type: ignore[no-untyped-def]
        def fn(ctx):  # type: ignore[no-untyped-def]
            calls.append(name)
            if name == "evaluation" and failures:
                failures.pop()
                raise RuntimeError("injected failure")
            return original[name](ctx)

        return fn

    monkeypatch.setattr(phases, "PHASES", [(n, wrap(n), k) for n, _, k in PHASES])
    with pytest.raises(RuntimeError, match="injected failure"):
        run_lifecycle(spec, store=store)
    first = list(calls)
    assert first[-1] == "evaluation"
    calls.clear()
    result = run_lifecycle(spec, store=store, resume=True)
    assert calls == ["evaluation", "deployment"]
    assert [p.status for p in result.phases][:6] == ["skipped"] * 6
    assert result.deployed_stage == "staging"
    assert len(store.list_versions("cancer")) == 1  # the model was not retrained


def test_bad_spec_is_reported_by_the_cli(tmp_path: Path) -> None:
    (tmp_path / "loopml.yaml").write_text("name: x\ndata:\n  source: builtin:iris\n  tagret: y\n")
    result = runner.invoke(app, ["run", str(tmp_path / "loopml.yaml")])
    assert result.exit_code == 1
    assert "data.tagret (line 4): unknown key" in result.stderr


def test_init_refuses_to_overwrite(tmp_path: Path) -> None:
    path = tmp_path / "loopml.yaml"
    path.write_text("x")
    result = runner.invoke(app, ["init", "p", "-o", str(path)])
    assert result.exit_code == 1 and "already exists" in result.stderr
