"""Open the store's database: pick the URL, build the engine, explain failures.

SQLite gets what a shared local file needs: WAL (readers never block the writer),
foreign keys, a busy timeout, and transactions that SQLAlchemy begins itself, with
``BEGIN IMMEDIATE`` for writes so that two writers queue instead of failing on a
stale snapshot. An in-memory SQLite database lives on one shared connection.
"""

from __future__ import annotations

import importlib.util
import os
import re
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine, create_engine, event
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError, DBAPIError, SQLAlchemyError
from sqlalchemy.pool import StaticPool

from loopml.exceptions import StoreError

__all__ = [
    "ENV_VAR",
    "WRITE_OPTION",
    "create_store_engine",
    "describe_error",
    "is_memory_sqlite",
    "mask_url",
    "resolve_url",
]

ENV_VAR = "LOOPML_STORE_URL"
#: Execution option that marks a session as a writer (``BEGIN IMMEDIATE`` on SQLite).
WRITE_OPTION = "loopml_write"
_BUSY_TIMEOUT_MS = 30_000
_URL_HELP = (
    "Pass a SQLAlchemy URL to Store(url=...) or set LOOPML_STORE_URL, e.g. "
    "sqlite:///path/to/store.db or postgresql+psycopg://user:password@host:5432/dbname."
)


def resolve_url(url: str | None, root: Path) -> str:
    """The URL to open: *url*, else ``$LOOPML_STORE_URL``, else ``root/store.db``."""
    if url is None:
        url = os.environ.get(ENV_VAR) or None
    if url is None:
        return f"sqlite:///{root / 'store.db'}"
    return url.strip()


def mask_url(url: str | URL) -> str:
    """*url* with its password replaced by ``***``, safe to print and log."""
    try:
        parsed = url if isinstance(url, URL) else make_url(url)
    except (ArgumentError, ValueError):
        return re.sub(r"(://[^:/@]*:)[^@]*@", r"\1***@", str(url))
    return parsed.render_as_string(hide_password=True)


def is_memory_sqlite(url: URL) -> bool:
    return url.get_backend_name() == "sqlite" and url.database in (None, "", ":memory:")


def _normalise(url: URL) -> URL:
    """Accept the spellings people type for PostgreSQL, with the driver loopml installs."""
    if url.drivername in ("postgres", "postgresql"):
        has_psycopg2 = importlib.util.find_spec("psycopg2") is not None
        if not has_psycopg2 and importlib.util.find_spec("psycopg") is not None:
            return url.set(drivername="postgresql+psycopg")
        return url.set(drivername="postgresql")
    return url


def _sqlite_file(url: URL) -> Path | None:
    if url.get_backend_name() != "sqlite" or is_memory_sqlite(url):
        return None
    database = url.database or ""
    if database.startswith("file:"):  # URI filenames: leave them to SQLite
        return None
    return Path(database)


def describe_error(exc: BaseException, url: URL | str) -> str:
    """A one-line reason for *exc*, without the driver's noise or the URL's password."""
    reason = exc.orig if isinstance(exc, DBAPIError) and exc.orig is not None else exc
    text = str(reason).strip().splitlines()[0] if str(reason).strip() else type(reason).__name__
    password = url.password if isinstance(url, URL) else None
    if password:
        text = text.replace(str(password), "***")
    return text


def _fail(url: URL | str, exc: BaseException) -> StoreError:
    masked = mask_url(url)
    backend = url.get_backend_name() if isinstance(url, URL) else ""
    if backend == "sqlite":
        fix = (
            "Check that the file's directory exists and is writable, and that the file is a "
            "SQLite database. " + _URL_HELP
        )
    elif backend == "postgresql":
        fix = (
            "Check that the server is running and reachable, and that the user, password and "
            "database in the URL exist (scripts/postgres.sh starts a local one). " + _URL_HELP
        )
    else:
        fix = _URL_HELP
    return StoreError(
        f"Cannot open the loopml store at {masked}: {describe_error(exc, url)}. {fix}"
    )


def _install_sqlite_events(engine: Engine, *, wal: bool) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Let SQLAlchemy (below) emit BEGIN instead of the sqlite3 module, which would
        # only begin before the first INSERT/UPDATE and leave reads outside the transaction.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        try:
            cursor.execute("PRAGMA foreign_keys = ON")
            cursor.execute(f"PRAGMA busy_timeout = {_BUSY_TIMEOUT_MS}")
            if wal:
                cursor.execute("PRAGMA journal_mode = WAL")
                cursor.execute("PRAGMA synchronous = NORMAL")
        finally:
            cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Connection) -> None:
        write = conn.get_execution_options().get(WRITE_OPTION, False)
        conn.exec_driver_sql("BEGIN IMMEDIATE" if write else "BEGIN")


def create_store_engine(url_text: str) -> tuple[Engine, URL]:
    """Build the engine for *url_text*; :class:`StoreError` with the fix if it cannot be."""
    try:
        url = _normalise(make_url(url_text))
    except (ArgumentError, ValueError) as exc:
        raise _fail(url_text, exc) from exc

    kwargs: dict[str, Any] = {}
    if url.get_backend_name() == "sqlite":
        kwargs["connect_args"] = {"timeout": _BUSY_TIMEOUT_MS / 1000}
        if is_memory_sqlite(url):
            # One connection for everyone, or each checkout would see an empty database.
            kwargs["poolclass"] = StaticPool
            kwargs["connect_args"]["check_same_thread"] = False
        else:
            path = _sqlite_file(url)
            if path is not None:
                try:
                    path.expanduser().parent.mkdir(parents=True, exist_ok=True)
                except OSError as exc:
                    raise _fail(url, exc) from exc
    elif url.get_backend_name() == "postgresql":
        kwargs["pool_pre_ping"] = True
        if "connect_timeout" not in url.query:
            kwargs["connect_args"] = {"connect_timeout": 10}

    try:
        engine = create_engine(url, **kwargs)
    except (SQLAlchemyError, ImportError) as exc:
        raise _fail(url, exc) from exc
    if url.get_backend_name() == "sqlite":
        _install_sqlite_events(engine, wal=not is_memory_sqlite(url))
    return engine, url


def open_failure(url: URL, exc: BaseException) -> StoreError:
    """The :class:`StoreError` for a database that was reached but could not be used."""
    return _fail(url, exc)
