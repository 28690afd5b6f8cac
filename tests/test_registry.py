from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from loopml.cli import deploy
from loopml.exceptions import DataError, ModelNotFoundError
from loopml.gates import GateError
from loopml.registry import holdout_data, parse_version, promote
from loopml.store import Stage, Store
from tests.test_bundle import make_bundle


@pytest.fixture
def store() -> Iterator[Store]:
    st = Store.in_memory()
    yield st
    st.close()


def _register(store: Store, metrics: dict[str, float], **info: object) -> int:
    record = store.register_model(
        "churn", run_id=None, path="/nowhere", sha256="0" * 64, task="binary",
        metrics=metrics, info=info,
    )  # fmt: skip
    return record.version


def test_refused_when_a_gate_fails_and_nothing_is_recorded(store: Store) -> None:
    v = _register(store, {"recall": 0.74, "accuracy": 0.95})
    with pytest.raises(GateError, match=r"(?s)Refusing to promote churn@1 to production: 1 of 2.*"
                       r"recall 0.74 < 0.8 \(short by 0.06\).*--force") as info:  # fmt: skip
        promote(store, "churn", v, "production", gates=["recall >= 0.8", "accuracy >= 0.9"])
    assert info.value.report is not None and len(info.value.report.failures) == 1
    assert store.resolve("churn@1").stage is Stage.NONE
    assert store.transitions("churn") == []


def test_force_promotes_and_records_the_override(store: Store) -> None:
    v = _register(store, {"recall": 0.74})
    result = promote(
        store, "churn", v, "production", gates=["recall >= 0.8"], force=True,
        reason="launch deadline", user="ana",
    )  # fmt: skip
    assert result.forced and result.changed
    assert store.resolve("churn@production").version == v
    (t,) = store.transitions("churn")
    assert t.user == "ana"
    assert t.to_stage is Stage.PRODUCTION
    assert (
        t.reason == "launch deadline; forced past failed gates: recall 0.74 < 0.8 (short by 0.06)"
    )


def test_passing_gates_promote_and_archive_the_previous_production(store: Store) -> None:
    v1 = _register(store, {"recall": 0.85})
    v2 = _register(store, {"recall": 0.9})
    promote(store, "churn", v1, "production", gates={"recall": ">= 0.8"})
    result = promote(store, "churn", v2, "staging", gates=["recall >= 0.8"])
    assert result.to_stage == "staging" and result.from_stage == "none"
    result = promote(store, "churn", f"v{v2}", "production", gates=["recall >= 0.8"])
    assert result.archived == [v1] and not result.forced
    assert result.report is not None and result.report.passed
    assert [str(v.stage) for v in store.list_versions("churn")] == ["archived", "production"]
    reasons = [t.reason for t in store.transitions("churn")]
    assert reasons[-1] == "passed gates: recall 0.9 >= 0.8 (by 0.1)"
    assert reasons[-2] == "replaced in production by version 2"


def test_no_gates_and_ungated_stages(store: Store) -> None:
    v = _register(store, {"recall": 0.1})
    assert promote(store, "churn", v, "production").report is None
    archived = promote(store, "churn", v, "archived", gates=["recall >= 0.8"])
    assert archived.report is None and archived.to_stage == "archived"
    again = promote(store, "churn", v, "archived", gates=["recall >= 0.8"])
    assert not again.changed


def test_unknown_version_and_stage(store: Store) -> None:
    _register(store, {"recall": 0.9})
    with pytest.raises(ModelNotFoundError, match=r"has no version 7"):
        promote(store, "churn", 7, "production")
    with pytest.raises(DataError, match=r"Stage 'live' is not one of"):
        promote(store, "churn", 1, "live")
    with pytest.raises(DataError, match=r"not a version number"):
        parse_version("latest")
    assert parse_version("v12") == 12


def test_recorded_benchmarks_feed_latency_gates(store: Store) -> None:
    v = _register(store, {"recall": 0.9}, benchmarks={"latency_p95_ms": 31.5})
    with pytest.raises(GateError, match=r"latency_p95_ms 31.5 > 20 \(over by 11.5\)"):
        promote(store, "churn", v, "production", gates=["latency_p95_ms <= 20"])


def test_missing_latency_is_measured_on_test_rows(store: Store, tmp_path: Path) -> None:
    bundle, df = make_bundle()
    path = bundle.save(tmp_path / "m")
    record = store.register_model(
        "cancer", run_id=None, path=str(path), sha256=bundle.sha256 or "", task="binary",
        metrics={"roc_auc": 0.99},
    )  # fmt: skip
    data = df.drop(columns="target").head(40)
    result = promote(
        store, "cancer", record.version, "staging",
        gates=["latency_p95_ms <= 100000", "auc >= 0.9"], data=data, latency_rows=20,
    )  # fmt: skip
    assert result.measured["latency_rows"] == 20
    assert 0 < result.measured["latency_p50_ms"] <= result.measured["latency_p95_ms"]
    with pytest.raises(GateError, match=r"latency_p99_ms .* > 0"):
        promote(store, "cancer", record.version, "production",
                gates=["latency_p99_ms <= 0"], data=data, latency_rows=5)  # fmt: skip


def test_holdout_needs_a_recorded_split_or_data() -> None:
    bundle, df = make_bundle()
    with pytest.raises(DataError, match=r"does not record its training source.*--data"):
        holdout_data(bundle)
    bundle.info.update(source="builtin:breast_cancer", split={"strategy": "time-ordered by 'd'"})
    with pytest.raises(DataError, match=r"split time-ordered by 'd'.*--data"):
        holdout_data(bundle)
    rows = holdout_data(bundle, df.head(10))
    assert len(rows.X) == 10 and "target" not in rows.X.columns
    assert rows.y is not None and len(rows.y) == 10


def test_holdout_regenerates_the_training_test_split() -> None:
    from loopml.learn.supervised import train

    with Store.in_memory() as st:
        result = train("builtin:iris", store=st)
        rows = holdout_data(result.model)
        assert len(rows.X) == result.split["rows"]["test"]
        assert rows.y is not None
        assert (result.model.predict(rows.X) == rows.y.to_numpy()).mean() > 0.8
        bundle = result.model
        bundle.info["split"] = {**bundle.info["split"], "rows": {"test": 999}}
        with pytest.raises(DataError, match=r"has changed since iris was trained"):
            holdout_data(bundle)


def _app() -> typer.Typer:
    """The commands as the lead registers them (models_app.command("promote")...)."""
    test_app = typer.Typer()
    models = typer.Typer()
    models.command("promote")(deploy.promote_command)
    models.command("list")(lambda: None)  # a group needs two commands to keep its name
    test_app.add_typer(models, name="models")
    test_app.command("noop")(lambda: None)
    return test_app


def test_cli_promote_refuses_then_forces(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'store.db'}"
    with Store(url, root=tmp_path) as st:
        _register(st, {"recall": 0.74})
    runner = CliRunner()
    app = _app()
    res = runner.invoke(app, ["models", "promote", "churn", "1", "--gate", "recall >= 0.8",
                              "--store", url])  # fmt: skip
    assert res.exit_code == 1
    assert "recall 0.74 < 0.8 (short by 0.06)" in res.output
    assert "--force" in res.output
    (tmp_path / "loopml.yaml").write_text("kpis:\n  - recall >= 0.8\n")
    res = runner.invoke(
        app,
        ["models", "promote", "churn", "v1", "--spec", str(tmp_path / "loopml.yaml"), "--force",
         "--reason", "pilot", "--store", url, "--json"],
    )  # fmt: skip
    assert res.exit_code == 0, res.output
    assert '"forced": true' in res.output
    with Store(url, root=tmp_path) as st:
        assert st.resolve("churn@production").version == 1
        assert st.transitions("churn")[-1].reason.startswith("pilot; forced past failed gates")


def test_cli_reads_loopml_yaml_in_the_working_directory(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'store.db'}"
    with Store(url, root=tmp_path) as st:
        _register(st, {"recall": 0.9})
    Path("loopml.yaml").write_text("kpis: {recall: '>= 0.95'}\n")
    res = CliRunner().invoke(
        _app(), ["models", "promote", "churn", "1", "--stage", "staging", "--store", url]
    )
    assert res.exit_code == 1 and "recall 0.9 < 0.95" in res.output
    assert deploy.collect_gates(["f1 > 0.5"], None)[0].metric == "f1"
