"""Store fixtures: every store test runs on every backend (Optuna's STORAGE_MODES).

SQLite always runs. PostgreSQL runs when ``LOOPML_TEST_PG_URL`` is set::

    export LOOPML_TEST_PG_URL="$(scripts/postgres.sh)"
    .venv/bin/pytest tests/store

Each PostgreSQL test gets a schema of its own (selected through libpq's
``options=-csearch_path=...``), dropped with everything in it afterwards.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from loopml.store import Store

PG_URL = os.environ.get("LOOPML_TEST_PG_URL", "").strip()

STORE_MODES = [
    "sqlite",
    pytest.param(
        "postgres",
        marks=[
            pytest.mark.postgres,
            pytest.mark.skipif(
                not PG_URL,
                reason="PostgreSQL tests need LOOPML_TEST_PG_URL; "
                'run: export LOOPML_TEST_PG_URL="$(scripts/postgres.sh)"',
            ),
        ],
    ),
]


@contextmanager
def pg_schema() -> Iterator[str]:
    """A URL whose connections use a fresh, empty schema; the schema is dropped afterwards."""
    schema = f"loopml_test_{uuid.uuid4().hex[:12]}"
    admin = create_engine(PG_URL)
    try:
        with admin.begin() as conn:
            conn.execute(text(f'CREATE SCHEMA "{schema}"'))
        url = make_url(PG_URL).update_query_dict({"options": f"-csearch_path={schema}"})
        yield url.render_as_string(hide_password=False)
    finally:
        with admin.begin() as conn:
            conn.execute(text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
        admin.dispose()


@pytest.fixture(params=STORE_MODES)
def backend(request: pytest.FixtureRequest) -> str:
    """The backend under test: ``"sqlite"`` or ``"postgres"``."""
    return str(request.param)


@pytest.fixture
def store_url(backend: str, tmp_path: Path) -> Iterator[str]:
    """A URL of an empty database on the backend under test."""
    if backend == "sqlite":
        yield f"sqlite:///{tmp_path / 'db' / 'store.db'}"
    else:
        with pg_schema() as url:
            yield url


@pytest.fixture
def store(store_url: str, tmp_path: Path) -> Iterator[Store]:
    """An open store on the backend under test, closed afterwards."""
    opened = Store(store_url, root=tmp_path / "root")
    try:
        yield opened
    finally:
        opened.close()
