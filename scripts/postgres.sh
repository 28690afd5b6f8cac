#!/usr/bin/env bash
# Start a throwaway PostgreSQL server for loopml's store tests and print its URL.
#
#   export LOOPML_TEST_PG_URL="$(scripts/postgres.sh)"   # install (if needed) + start
#   .venv/bin/pytest tests/store                         # runs every store test on both backends
#   scripts/postgres.sh stop                             # stop the server again
#
# Idempotent: a second run finds the server already running and prints the same URL.
# Meant for CI and development machines (Debian/Ubuntu, run as root, or as a user who can
# run the PostgreSQL binaries). The server has its own data directory, listens on 127.0.0.1
# only, trades durability for speed (fsync off) and must never hold data anyone cares about.
#
# The only line on stdout is the URL; everything else (apt, initdb, pg_ctl) goes to stderr.
#
# Environment (all optional):
#   LOOPML_PG_PORT   first port to try (default 5432; the next free one up to +20 is used)
#   LOOPML_PG_DATA   data directory (default /var/lib/postgresql/loopml-test as root,
#                    ~/.cache/loopml-postgres otherwise)
set -euo pipefail

ROLE=loopml
PASSWORD=loopml
DATABASE=loopml_test
FIRST_PORT=${LOOPML_PG_PORT:-5432}

log() { echo "postgres.sh: $*" >&2; }
die() {
    log "error: $*"
    exit 1
}

if [[ $EUID -eq 0 ]]; then
    PGUSER_OS=postgres
    BASE=${LOOPML_PG_DATA:-/var/lib/postgresql/loopml-test}
else
    PGUSER_OS=$(id -un)
    BASE=${LOOPML_PG_DATA:-$HOME/.cache/loopml-postgres}
fi
PGDATA_DIR=$BASE/data
SOCKET_DIR=$BASE/run
LOGFILE=$BASE/server.log

# Run a command as the OS user that owns the cluster (postgres refuses to run as root).
as_owner() {
    if [[ $EUID -eq 0 ]]; then
        runuser -u "$PGUSER_OS" -- "$@"
    else
        "$@"
    fi
}

find_bindir() {
    local dir
    dir=$(find /usr/lib/postgresql -mindepth 2 -maxdepth 2 -type d -name bin 2>/dev/null | sort -V | tail -n 1)
    if [[ -n $dir && -x $dir/postgres && -x $dir/initdb && -x $dir/pg_ctl ]]; then
        echo "$dir"
    fi
}

install_server() {
    [[ $EUID -eq 0 ]] || die "PostgreSQL server is not installed; run this script as root to install it"
    command -v apt-get >/dev/null || die "PostgreSQL server is not installed and apt-get is missing; install PostgreSQL and rerun"
    log "installing postgresql with apt-get (quiet)"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq >&2
    apt-get install -y -qq --no-install-recommends postgresql >&2 </dev/null
}

port_in_use() {
    # bash's /dev/tcp connect succeeds only if something listens there.
    (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}

server_running() {
    as_owner "$BINDIR/pg_ctl" -D "$PGDATA_DIR" status >/dev/null 2>&1
}

running_port() {
    # Line 4 of postmaster.pid is the port the running server listens on.
    sed -n 4p "$PGDATA_DIR/postmaster.pid"
}

psql_admin() {
    as_owner "$BINDIR/psql" -X -q -v ON_ERROR_STOP=1 -h "$SOCKET_DIR" -p "$PORT" -U postgres -d postgres "$@"
}

BINDIR=$(find_bindir)

if [[ ${1:-} == stop ]]; then
    if [[ -n $BINDIR && -d $PGDATA_DIR ]] && server_running; then
        as_owner "$BINDIR/pg_ctl" -D "$PGDATA_DIR" -m fast -w stop >&2
    else
        log "no server running in $PGDATA_DIR"
    fi
    exit 0
fi
[[ $# -eq 0 ]] || die "unknown argument '$1'; usage: $0 [stop]"

if [[ -z $BINDIR ]]; then
    install_server
    BINDIR=$(find_bindir)
    [[ -n $BINDIR ]] || die "postgresql installed but no server binaries under /usr/lib/postgresql/*/bin"
fi
log "using $("$BINDIR/postgres" --version)"

mkdir -p "$BASE"
cd "$BASE" # the cluster owner may not be allowed into the caller's directory
if [[ $EUID -eq 0 ]]; then
    chown "$PGUSER_OS": "$BASE"
fi
as_owner mkdir -p "$SOCKET_DIR"

if [[ ! -s $PGDATA_DIR/PG_VERSION ]]; then
    log "creating cluster in $PGDATA_DIR"
    rm -rf "$PGDATA_DIR"
    as_owner "$BINDIR/initdb" -D "$PGDATA_DIR" -U postgres -E UTF8 --no-locale \
        --auth-local=peer --auth-host=scram-sha-256 >&2
fi

if server_running; then
    PORT=$(running_port)
    log "server already running on port $PORT"
else
    PORT=$FIRST_PORT
    while port_in_use "$PORT"; do
        PORT=$((PORT + 1))
        [[ $PORT -le $((FIRST_PORT + 20)) ]] || die "no free port in $FIRST_PORT-$((FIRST_PORT + 20))"
    done
    log "starting server on 127.0.0.1:$PORT (log: $LOGFILE)"
    # fsync and friends off: a test server, rebuilt from nothing when lost.
    as_owner "$BINDIR/pg_ctl" -D "$PGDATA_DIR" -l "$LOGFILE" -w -t 60 start -o \
        "-p $PORT -c listen_addresses=127.0.0.1 -c unix_socket_directories=$SOCKET_DIR -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=200" >&2 ||
        die "server did not start; see $LOGFILE"
fi

# Role and database: create when missing, and reset the password so reruns converge.
if [[ $(psql_admin -tAc "SELECT 1 FROM pg_roles WHERE rolname = '$ROLE'") != 1 ]]; then
    psql_admin -c "CREATE ROLE $ROLE LOGIN PASSWORD '$PASSWORD'"
fi
psql_admin -c "ALTER ROLE $ROLE WITH LOGIN PASSWORD '$PASSWORD'"
if [[ $(psql_admin -tAc "SELECT 1 FROM pg_database WHERE datname = '$DATABASE'") != 1 ]]; then
    psql_admin -c "CREATE DATABASE $DATABASE OWNER $ROLE"
fi

# Prove the URL works the way the tests will use it: TCP plus password.
PGPASSWORD=$PASSWORD "$BINDIR/psql" -X -q -h 127.0.0.1 -p "$PORT" -U "$ROLE" -d "$DATABASE" \
    -tAc "SELECT 1" >/dev/null || die "cannot log in as $ROLE over TCP on port $PORT"

echo "postgresql+psycopg://$ROLE:$PASSWORD@127.0.0.1:$PORT/$DATABASE"
