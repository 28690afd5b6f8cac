from __future__ import annotations

import subprocess
import sys
import threading
from pathlib import Path

import pytest
from sqlalchemy import update

import loopml
import loopml.store
from loopml.exceptions import StoreError
from loopml.store import Stage, Store
from loopml.store._engine import create_store_engine, mask_url
from loopml.store.tables import MetaRow


def test_public_names() -> None:
    for name in loopml.store.__all__:
        assert hasattr(loopml.store, name), name
    assert loopml.Store is Store


def test_import_loopml_does_not_load_sqlalchemy() -> None:
    code = "import sys, loopml; print('sqlalchemy' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_data_persists_across_instances(store_url: str, tmp_path: Path) -> None:
    with Store(store_url, root=tmp_path) as first:
        with first.start_run("churn", params={"seed": 1}) as run:
            run.log_metrics({"recall": 0.5})
        first.register_model(
            "churn", run_id=run.id, path="/m", sha256="0" * 64, task="binary", metrics={}
        )
        first.set_stage("churn", 1, Stage.PRODUCTION)

    with Store(store_url, root=tmp_path) as second:
        assert second.get_run(run.id).metrics == {"recall": 0.5}
        assert second.get_run(run.id).params == {"seed": 1}
        assert second.resolve("churn@production").version == 1
        assert (
            second.register_model(
                "churn", run_id=None, path="/m2", sha256="0" * 64, task="binary", metrics={}
            ).version
            == 2
        )


def test_default_location_is_dot_loopml_in_cwd(tmp_path: Path) -> None:
    with Store() as store:  # tests/conftest.py runs each test in tmp_path
        assert store.root == tmp_path / ".loopml"
        assert store.artifact_root == tmp_path / ".loopml" / "models"
        assert store.url == f"sqlite:///{tmp_path / '.loopml' / 'store.db'}"
    assert (tmp_path / ".loopml" / "store.db").is_file()


def test_root_argument_and_environment_variable(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with Store(root=tmp_path / "elsewhere") as store:
        assert store.url.endswith("elsewhere/store.db")
    monkeypatch.setenv("LOOPML_STORE_URL", f"sqlite:///{tmp_path / 'env.db'}")
    with Store(root=tmp_path / "elsewhere") as store:
        assert store.url == f"sqlite:///{tmp_path / 'env.db'}"
    with Store(f"sqlite:///{tmp_path / 'arg.db'}") as store:
        assert store.url.endswith("arg.db")


def test_sqlite_pragmas(tmp_path: Path) -> None:
    with Store(f"sqlite:///{tmp_path / 's.db'}") as store, store.engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
        assert conn.exec_driver_sql("PRAGMA busy_timeout").scalar() == 30000


def test_in_memory_store_is_private_and_cleans_up() -> None:
    first = Store.in_memory()
    second = Store.in_memory()
    with first.start_run("p"):
        pass
    assert len(first.list_runs()) == 1
    assert second.list_runs() == []
    assert first.root.is_dir() and first.root != second.root
    assert first.artifact_root == first.root / "models"
    first.close()
    second.close()
    assert not first.root.exists() and not second.root.exists()


def test_in_memory_store_is_thread_safe() -> None:
    with Store.in_memory() as store:
        errors: list[BaseException] = []

        def work() -> None:
            try:
                for _ in range(10):
                    store.register_model(
                        "m", run_id=None, path="/m", sha256="0", task="binary", metrics={}
                    )
            except BaseException as exc:  # pragma: no cover - reported below
                errors.append(exc)

        threads = [threading.Thread(target=work) for _ in range(2)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert errors == []
        assert [v.version for v in store.list_versions("m")] == list(range(1, 21))


@pytest.mark.parametrize(
    ("url", "match"),
    [
        ("nosuchdb://x/y", r"Cannot open the loopml store at nosuchdb://x/y: .*LOOPML_STORE_URL"),
        ("not a url", r"Cannot open the loopml store at not a url: .*sqlite:///"),
        (
            "postgresql+psycopg://loopml:s3cret@127.0.0.1:1/db",
            r"at postgresql\+psycopg://loopml:\*\*\*@127.0.0.1:1/db: .*server is running",
        ),
    ],
)
def test_bad_url_gives_store_error(url: str, match: str) -> None:
    with pytest.raises(StoreError, match=match) as info:
        Store(url)
    assert "s3cret" not in str(info.value)


def test_unusable_sqlite_file_gives_store_error(tmp_path: Path) -> None:
    (tmp_path / "garbage.db").write_bytes(b"this is not a database" * 100)
    with pytest.raises(StoreError, match=r"garbage.db: file is not a database\. Check that"):
        Store(f"sqlite:///{tmp_path / 'garbage.db'}")
    (tmp_path / "a-file").write_text("x")
    with pytest.raises(
        StoreError, match=r"Cannot open the loopml store at sqlite:///.*a-file/s\.db"
    ):
        Store(f"sqlite:///{tmp_path / 'a-file' / 's.db'}")


def test_newer_schema_is_refused(store_url: str, tmp_path: Path) -> None:
    with Store(store_url, root=tmp_path) as store, store.engine.begin() as conn:
        conn.execute(update(MetaRow).where(MetaRow.key == "schema_version").values(value="99"))
    with pytest.raises(StoreError, match="schema version 99, written by a newer loopml"):
        Store(store_url, root=tmp_path)


def test_mask_url_hides_passwords() -> None:
    assert mask_url("postgresql://u:pw@h/db") == "postgresql://u:***@h/db"
    assert mask_url("sqlite:///x.db") == "sqlite:///x.db"
    assert mask_url("weird://u:pw@h:notaport/db") == "weird://u:***@h:notaport/db"


def test_plain_postgresql_url_uses_psycopg_3() -> None:
    # create_engine does not connect, so no server is needed for this check.
    engine, url = create_store_engine("postgresql://u:pw@127.0.0.1/db")
    try:
        assert url.drivername == "postgresql+psycopg"
        engine2, url2 = create_store_engine("postgres://u:pw@127.0.0.1/db")
        engine2.dispose()
        assert url2.drivername == "postgresql+psycopg"
    finally:
        engine.dispose()


def test_repr_masks_password() -> None:
    with Store.in_memory() as store:
        assert repr(store).startswith("Store('sqlite://', root=")


def test_url_keeps_password_for_other_tools(store: Store, backend: str) -> None:
    # Optuna's RDB storage connects with store.url, so it must be complete.
    if backend == "postgres":
        assert ":***@" not in store.url
        assert store.url.startswith("postgresql+psycopg://")
    else:
        assert store.url.startswith("sqlite:///")
