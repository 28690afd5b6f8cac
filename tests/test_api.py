"""The public API: exported names, fast import, and the Python workflow."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

import loopml
from loopml.store import Store


def test_all_matches_the_public_names() -> None:
    public = {n for n in dir(loopml) if not n.startswith("_")} | {"__version__"}
    assert set(loopml.__all__) == public
    for name in loopml.__all__:
        assert getattr(loopml, name) is not None


def test_import_and_help_do_not_load_heavy_libraries() -> None:
    code = (
        "import sys, loopml, loopml.cli\n"
        "heavy = [m for m in ('pandas', 'sklearn', 'numpy', 'plotly', 'scipy', 'sqlalchemy', 'optuna') "
        "if m in sys.modules]\n"
        "print(','.join(heavy))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""


def test_python_workflow_and_load_model_by_reference() -> None:
    store = Store()
    df = loopml.load("builtin:wine")
    result = loopml.train(df, target="target", name="wine", store=store)
    assert result.ref == "wine@1"
    assert list(result.leaderboard["rank"]) == list(range(1, len(result.trials) + 1))
    X = df.drop(columns="target")
    for ref in ("wine", "wine@1", "wine@latest"):
        model = loopml.load_model(ref, store=store)
        np.testing.assert_array_equal(model.predict(X), result.model.predict(X))
    with pytest.raises(loopml.ModelNotFoundError, match="wine"):
        loopml.load_model("wine@7", store=store)


def test_ctrl_c_mid_run_marks_the_run_failed() -> None:
    store = Store()

    def interrupt(kind: str, payload: dict[str, object]) -> None:
        if kind == "phase" and payload.get("phase") == "refit":
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        loopml.train("builtin:iris", store=store, on_event=interrupt)
    runs = store.list_runs()
    assert runs[0].status == "failed"
    assert "KeyboardInterrupt" in (runs[0].error or "")
    assert store.list_models() == []


def test_evaluate_is_callable_and_a_package() -> None:
    import loopml.evaluate.scoring  # importing a submodule must not hide the function

    store = Store()
    df = loopml.load("builtin:iris")
    result = loopml.train(df, target="target", name="iris", store=store)
    evaluation = loopml.evaluate(result.model, df)
    assert evaluation.metrics["accuracy"] > 0.9
    assert loopml.evaluate.scoring.get_metric("auc").name == "roc_auc"


@pytest.mark.slow
def test_run_diagnosis_labels_the_fit() -> None:
    result = loopml.train("builtin:breast_cancer", store=Store(), models=["logreg"])
    report = result.diagnosis
    assert report.diagnosis.label in {"overfitting", "underfitting", "balanced"}
    assert result.diagnosis is report  # computed once
