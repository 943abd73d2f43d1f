#!/usr/bin/env bash
# A throwaway PostgreSQL server for copybot's tests: no Docker, no system cluster touched.
#
#   bash scripts/postgres-test-server.sh start   # start (or find running); prints `export ...` lines
#   bash scripts/postgres-test-server.sh url     # the URL of the running server
#   bash scripts/postgres-test-server.sh status  # exit 0 when running
#   bash scripts/postgres-test-server.sh stop    # stop it and delete its data
#
# `eval "$(bash scripts/postgres-test-server.sh start)"` exports COPYBOT_TEST_POSTGRES_URL
# (postgres://copybot_test:copybot_test@127.0.0.1:<port>/copybot_test) and
# COPYBOT_TEST_POSTGRES_STARTED (1 when this call started the server, 0 when it was running).
#
# The cluster lives in COPYBOT_PG_DIR (default: $TMPDIR/copybot-pg-test-<uid>, /tmp as root), made with initdb
# from Debian's postgresql package (PG_BIN, default: the newest /usr/lib/postgresql/*/bin). It
# listens on 127.0.0.1 only, on port 55432 or the next free one (COPYBOT_PG_PORT to choose), with
# its socket in its own directory. Run as root (CI), the server runs as the `postgres` user, since
# PostgreSQL refuses to run as root. Tuned for tests: fsync off, so never keep data in it.
set -euo pipefail

# As root the cluster goes under /tmp whatever TMPDIR says: the postgres user must reach it.
if [ "$(id -u)" -eq 0 ]; then tmp=/tmp; else tmp="${TMPDIR:-/tmp}"; fi
dir="${COPYBOT_PG_DIR:-$tmp/copybot-pg-test-$(id -u)}"
data="$dir/data"
socket="$dir/socket"
role=copybot_test
database=copybot_test
password=copybot_test

log() { echo "postgres-test-server: $*" >&2; }

find_bin() {
    if [ -n "${PG_BIN:-}" ]; then
        echo "$PG_BIN"
        return
    fi
    local found
    found="$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1 || true)"
    if [ -z "$found" ] || [ ! -x "$found/initdb" ]; then
        log "no PostgreSQL server binaries (initdb) under /usr/lib/postgresql: run scripts/setup-debian.sh (installs postgresql)"
        exit 1
    fi
    echo "$found"
}

# Runs a command as the server's user: `postgres` when we are root, ourselves otherwise.
as_owner() {
    if [ "$(id -u)" -eq 0 ]; then
        runuser -u postgres -- "$@"
    else
        "$@"
    fi
}

port_in_use() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

url() { echo "postgres://$role:$password@127.0.0.1:$(cat "$dir/port")/$database"; }

running() { [ -f "$dir/port" ] && [ -d "$data" ] && as_owner "$bin/pg_ctl" -D "$data" status >/dev/null 2>&1; }

print_env() {
    echo "export COPYBOT_TEST_POSTGRES_URL='$(url)'"
    echo "export COPYBOT_TEST_POSTGRES_STARTED=$1"
}

start() {
    if running; then
        log "already running on 127.0.0.1:$(cat "$dir/port") (data in $data)"
        print_env 0
        return
    fi
    if [ "$(id -u)" -eq 0 ] && ! id -u postgres >/dev/null 2>&1; then
        log "running as root, but there is no postgres user to run the server as (install the postgresql package)"
        exit 1
    fi
    mkdir -p "$dir"
    chmod 700 "$dir"
    if [ "$(id -u)" -eq 0 ]; then chown postgres:postgres "$dir"; fi
    if [ ! -f "$data/PG_VERSION" ]; then
        rm -rf "$data"
        as_owner mkdir -p "$socket"
        # The superuser gets no password: it connects only through the private socket (trust).
        as_owner "$bin/initdb" -D "$data" -U postgres --auth-local=trust --auth-host=scram-sha-256 \
            --encoding=UTF8 --locale=C >"$dir/initdb.log" 2>&1 || {
            log "initdb failed:"
            cat "$dir/initdb.log" >&2
            exit 1
        }
    fi
    local port="${COPYBOT_PG_PORT:-55432}"
    if [ -z "${COPYBOT_PG_PORT:-}" ]; then
        while port_in_use "$port"; do
            port=$((port + 1))
            if [ "$port" -gt 55532 ]; then
                log "no free port in 55432-55532"
                exit 1
            fi
        done
    elif port_in_use "$port"; then
        log "port $port (COPYBOT_PG_PORT) is in use"
        exit 1
    fi
    echo "$port" >"$dir/port"
    as_owner "$bin/pg_ctl" -D "$data" -l "$dir/server.log" -w -t 60 \
        -o "-c listen_addresses=127.0.0.1 -p $port -k $socket -c max_connections=300 -c fsync=off -c synchronous_commit=off -c full_page_writes=off" \
        start >/dev/null || {
        log "the server did not start; its log:"
        cat "$dir/server.log" >&2 || true
        exit 1
    }
    local psql=(as_owner "$bin/psql" -h "$socket" -p "$port" -U postgres -d postgres -v ON_ERROR_STOP=1 -qAt)
    if [ "$("${psql[@]}" -c "SELECT 1 FROM pg_roles WHERE rolname = '$role'")" != 1 ]; then
        "${psql[@]}" -c "CREATE ROLE $role LOGIN PASSWORD '$password'" >/dev/null
    fi
    if [ "$("${psql[@]}" -c "SELECT 1 FROM pg_database WHERE datname = '$database'")" != 1 ]; then
        "${psql[@]}" -c "CREATE DATABASE $database OWNER $role" >/dev/null
    fi
    log "started on 127.0.0.1:$port (data in $data; stop with: bash scripts/postgres-test-server.sh stop)"
    print_env 1
}

stop() {
    if [ -d "$data" ]; then
        as_owner "$bin/pg_ctl" -D "$data" -m fast -w stop >/dev/null 2>&1 || true
    fi
    rm -rf "$dir"
    log "stopped (removed $dir)"
}

bin="$(find_bin)"
case "${1:-}" in
    start) start ;;
    stop) stop ;;
    url)
        running || { log "not running"; exit 1; }
        url
        ;;
    status)
        if running; then
            log "running on 127.0.0.1:$(cat "$dir/port")"
        else
            log "not running"
            exit 1
        fi
        ;;
    *)
        echo "usage: $0 start|stop|url|status" >&2
        exit 2
        ;;
esac
