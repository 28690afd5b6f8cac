from __future__ import annotations

import math
import threading
from datetime import UTC
from typing import Any

import numpy as np
import pytest

from loopml.exceptions import DataError, ModelNotFoundError, RunNotFoundError
from loopml.store import ModelVersionRecord, Stage, Store, _registry


def register(store: Store, name: str = "churn", **kwargs: Any) -> ModelVersionRecord:
    args: dict[str, Any] = {
        "run_id": None,
        "path": f"/bundles/{name}",
        "sha256": "ab" * 32,
        "task": "binary",
        "metrics": {"recall": 0.8},
    }
    args.update(kwargs)
    return store.register_model(name, **args)


def test_versions_count_up_per_name(store: Store) -> None:
    with store.start_run("churn") as run:
        pass
    first = register(store, run_id=run.id, metrics={"recall": np.float32(0.5), "auc": np.nan})
    assert first.version == 1 and first.ref == "churn@1"
    assert first.stage is Stage.NONE
    assert first.run_id == run.id
    assert first.sha256 == "ab" * 32 and first.task == "binary"
    assert first.metrics["recall"] == 0.5 and math.isnan(first.metrics["auc"])
    assert first.created_at is not None and first.created_at.tzinfo is UTC
    assert register(store).version == 2
    assert register(store, "other").version == 1
    assert store.next_version("churn") == 3
    assert store.next_version("new") == 1
    assert [v.version for v in store.list_versions("churn")] == [1, 2]
    assert store.model_dir("churn", 3) == store.artifact_root / "churn" / "3"


def test_register_checks_name_and_run(store: Store) -> None:
    with pytest.raises(DataError, match="Model name 'my model' is not valid"):
        register(store, "my model")
    with pytest.raises(DataError, match=r"Model name '\.\./x' is not valid"):
        store.model_dir("../x", 1)
    with pytest.raises(RunNotFoundError, match="No run with id 77"):
        register(store, run_id=77)
    assert store.list_models() == []


def test_resolve_every_reference_form(store: Store) -> None:
    for _ in range(4):
        register(store)
    store.set_stage("churn", 1, Stage.ARCHIVED)
    store.set_stage("churn", 2, "production")
    store.set_stage("churn", 3, "Staging")

    assert store.resolve("churn").version == 4
    assert store.resolve("churn@latest").version == 4
    assert store.resolve("churn@LATEST").version == 4
    assert store.resolve("churn@3").version == 3
    assert store.resolve("churn@v3").version == 3
    assert store.resolve("churn@production").version == 2
    assert store.resolve("churn@Production").version == 2
    assert store.resolve("churn@staging").version == 3
    assert store.resolve("churn@archived").version == 1
    assert store.resolve("churn@none").version == 4
    assert store.resolve(" churn @ 2 ").version == 2


def test_resolve_errors_help(store: Store) -> None:
    with pytest.raises(ModelNotFoundError, match=r"store at .* has no models yet"):
        store.resolve("churn")
    register(store)
    register(store)
    register(store, "churn-xgb")
    register(store, "iris")

    with pytest.raises(ModelNotFoundError, match=r"No model named 'chrun'.*Did you mean 'churn'"):
        store.resolve("chrun@2")
    with pytest.raises(ModelNotFoundError, match="Did you mean 'iris'"):
        store.resolve("IRIS")
    with pytest.raises(ModelNotFoundError, match="Known models: churn, churn-xgb, iris"):
        store.resolve("zzz")
    with pytest.raises(
        ModelNotFoundError, match=r"no version 7; its versions are 1-2 \(latest: 2\)"
    ):
        store.resolve("churn@7")
    with pytest.raises(
        ModelNotFoundError,
        match=r"no version in stage 'production'; its stages now: v1 none, v2 none\. "
        r"Move one there with Store.set_stage\('churn', <version>, 'production'\)",
    ):
        store.resolve("churn@production")
    with pytest.raises(ModelNotFoundError, match="Cannot read 'prod' in model reference"):
        store.resolve("churn@prod")
    with pytest.raises(ModelNotFoundError, match="Cannot read '' in model reference 'churn@'"):
        store.resolve("churn@")
    with pytest.raises(ModelNotFoundError, match="has no model name"):
        store.resolve("@2")
    with pytest.raises(LookupError, match="No model named"):
        store.list_versions("nope")
    with pytest.raises(ModelNotFoundError, match="No model named"):
        store.transitions("nope")


def test_format_versions_compresses_runs() -> None:
    assert _registry._format_versions([5, 1, 2, 3, 7, 8]) == "1-3, 5, 7-8"


def test_promotion_archives_previous_production(store: Store) -> None:
    for _ in range(3):
        register(store)
    store.set_stage("churn", 1, Stage.STAGING, reason="try it", user="ana")
    store.set_stage("churn", 1, Stage.PRODUCTION, reason="passes gates", user="ana")
    promoted = store.set_stage("churn", 2, Stage.PRODUCTION, reason="better recall", user="bo")

    assert promoted.stage is Stage.PRODUCTION and promoted.version == 2
    stages = {v.version: v.stage for v in store.list_versions("churn")}
    assert stages == {1: Stage.ARCHIVED, 2: Stage.PRODUCTION, 3: Stage.NONE}

    history = [
        (t.version, t.from_stage, t.to_stage, t.user, t.reason) for t in store.transitions("churn")
    ]
    assert history == [
        (1, Stage.NONE, Stage.STAGING, "ana", "try it"),
        (1, Stage.STAGING, Stage.PRODUCTION, "ana", "passes gates"),
        (1, Stage.PRODUCTION, Stage.ARCHIVED, "bo", "replaced in production by version 2"),
        (2, Stage.NONE, Stage.PRODUCTION, "bo", "better recall"),
    ]
    assert all(t.at.tzinfo is UTC for t in store.transitions("churn"))

    summary = store.list_models()[0]
    assert (summary.name, summary.n_versions, summary.latest_version) == ("churn", 3, 3)
    assert summary.production_version == 2 and summary.task == "binary"
    assert summary.updated_at.tzinfo is UTC


def test_same_stage_is_a_no_op_and_user_defaults(store: Store) -> None:
    register(store)
    store.set_stage("churn", 1, "staging")
    store.set_stage("churn", 1, "staging")
    history = store.transitions("churn")
    assert len(history) == 1
    assert history[0].user == _registry.current_user()
    assert store.transitions("churn")[0].reason == ""


def test_set_stage_errors(store: Store) -> None:
    register(store)
    with pytest.raises(DataError, match="Stage 'prod' is not one of none, staging, production"):
        store.set_stage("churn", 1, "prod")
    with pytest.raises(ModelNotFoundError, match="no version 5"):
        store.set_stage("churn", 5, "staging")
    with pytest.raises(ModelNotFoundError, match="No model named 'chum'"):
        store.set_stage("chum", 1, "staging")
    assert store.transitions("churn") == []


def test_interrupted_promotion_leaves_store_unchanged(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    register(store)
    register(store)
    store.set_stage("churn", 1, Stage.PRODUCTION)
    real = _registry._transition
    calls = []

    def interrupt_second(*args: Any, **kwargs: Any) -> Any:
        calls.append(args)
        if len(calls) == 2:  # after archiving v1, before promoting v2: Ctrl-C
            raise KeyboardInterrupt
        return real(*args, **kwargs)

    monkeypatch.setattr(_registry, "_transition", interrupt_second)
    with pytest.raises(KeyboardInterrupt):
        store.set_stage("churn", 2, Stage.PRODUCTION)
    monkeypatch.undo()

    assert store.resolve("churn@production").version == 1
    assert store.resolve("churn@2").stage is Stage.NONE
    assert len(store.transitions("churn")) == 1


def test_concurrent_registration_gives_distinct_versions(store: Store) -> None:
    barrier = threading.Barrier(2)
    got: list[int] = []
    errors: list[BaseException] = []

    def work() -> None:
        try:
            barrier.wait()
            for _ in range(10):
                got.append(register(store).version)
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=work) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert sorted(got) == list(range(1, 21))
    assert [v.version for v in store.list_versions("churn")] == list(range(1, 21))


def test_concurrent_promotions_leave_one_production(store: Store) -> None:
    for _ in range(4):
        register(store)
    barrier = threading.Barrier(2)
    errors: list[BaseException] = []

    def promote(versions: list[int]) -> None:
        try:
            barrier.wait()
            for version in versions:
                store.set_stage("churn", version, Stage.PRODUCTION)
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [
        threading.Thread(target=promote, args=([1, 3],)),
        threading.Thread(target=promote, args=([2, 4],)),
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    stages = [v.stage for v in store.list_versions("churn")]
    assert stages.count(Stage.PRODUCTION) == 1
    assert store.list_models()[0].production_version == store.resolve("churn@production").version
