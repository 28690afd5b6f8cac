#!/usr/bin/env bash
# Set up loopml in .venv and run the whole test suite.
# As root on Debian it also installs and starts a PostgreSQL server, so the
# store tests run against SQLite *and* PostgreSQL.
set -euo pipefail
cd "$(dirname "$0")/.."

PY=$(command -v python3.11 || command -v python3)
if [ ! -x .venv/bin/python ]; then
    "$PY" -m venv .venv
fi
.venv/bin/python -m pip install -q --upgrade pip >/dev/null
.venv/bin/python -m pip install -q -e '.[dev]'

if [ -z "${LOOPML_TEST_PG_URL:-}" ] && [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null; then
    if url=$(bash scripts/postgres.sh | tail -n 1) && [ -n "$url" ]; then
        export LOOPML_TEST_PG_URL="$url"
    else
        echo "warning: PostgreSQL could not be started; its store tests will be skipped" >&2
    fi
fi
if [ -f scripts/chromium.sh ] && [ "$(id -u)" = "0" ]; then
    bash scripts/chromium.sh >&2 || echo "warning: Chromium not installed; browser tests skip" >&2
fi

exec .venv/bin/python -m pytest -q "$@"
