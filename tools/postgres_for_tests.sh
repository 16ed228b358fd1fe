#!/usr/bin/env bash
# A throwaway PostgreSQL server for the tests of the reader-study results store.
#
#   eval "$(tools/postgres_for_tests.sh start)"   # prints export lines: NETZEROAICT_TEST_POSTGRES_URL, _DIR
#   tools/postgres_for_tests.sh stop "$NETZEROAICT_TEST_POSTGRES_DIR"
#
# start: finds the PostgreSQL binaries (installs the Debian package `postgresql` when they are missing and we
# may), initialises a new cluster in a fresh temporary folder, starts it listening only on a unix socket inside
# that folder (no TCP port, so runs never collide), creates the database `netzeroaict_test` and prints the
# SQLAlchemy URL. As root the server runs as the `postgres` user (initdb refuses root). Everything lives in
# the temporary folder; stop shuts the server down and deletes the folder. Safe to run any number of times.
set -euo pipefail

log() { echo "postgres_for_tests: $*" >&2; }

find_bin() {
    local dir
    if command -v initdb >/dev/null 2>&1; then dirname "$(readlink -f "$(command -v initdb)")"; return 0; fi
    for dir in $(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V -r); do
        if [ -x "$dir/initdb" ]; then echo "$dir"; return 0; fi
    done
    return 1
}

install_postgres() {
    local sudo=""
    if [ "$(id -u)" -ne 0 ]; then
        command -v sudo >/dev/null 2>&1 || { log "PostgreSQL is not installed and we are not root"; return 1; }
        sudo="sudo"
    fi
    log "installing the Debian package postgresql"
    $sudo env DEBIAN_FRONTEND=noninteractive apt-get update -q >&2
    $sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -q postgresql >&2
}

as_owner() {  # run a command as the cluster owner
    if [ "$(id -u)" -eq 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

start() {
    local bin dir
    bin="$(find_bin)" || { install_postgres; bin="$(find_bin)"; }
    if [ "$(id -u)" -eq 0 ] && ! id postgres >/dev/null 2>&1; then
        useradd --system --home-dir /nonexistent --shell /usr/sbin/nologin postgres
    fi
    dir="$(mktemp -d /tmp/nzpg.XXXXXX)"
    chmod 755 "$dir"
    if [ "$(id -u)" -eq 0 ]; then chown postgres: "$dir"; fi
    as_owner "$bin/initdb" -D "$dir/data" -U postgres --auth=trust -E UTF8 --no-locale >"$dir/initdb.log" 2>&1 \
        || { cat "$dir/initdb.log" >&2; exit 1; }
    as_owner "$bin/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 60 \
        -o "-c listen_addresses='' -k $dir -c fsync=on -c max_connections=60" start >&2 \
        || { cat "$dir/server.log" >&2; exit 1; }
    as_owner "$bin/createdb" -h "$dir" -U postgres netzeroaict_test || { stop "$dir"; exit 1; }
    echo "export NETZEROAICT_TEST_POSTGRES_DIR='$dir'"
    echo "export NETZEROAICT_TEST_POSTGRES_URL='postgresql+psycopg://postgres@/netzeroaict_test?host=$dir'"
    log "server running (socket in $dir)"
}

stop() {
    local dir="${1:-}" bin
    [ -n "$dir" ] && [ -d "$dir" ] || { log "nothing to stop"; return 0; }
    case "$dir" in /tmp/nzpg.*) ;; *) log "refusing to remove $dir (not made by this script)"; return 1 ;; esac
    if bin="$(find_bin)" && [ -f "$dir/data/postmaster.pid" ]; then
        as_owner "$bin/pg_ctl" -D "$dir/data" -m immediate -w stop >&2 || true
    fi
    rm -rf "$dir"
    log "stopped and removed $dir"
}

case "${1:-}" in
    start) start ;;
    stop) stop "${2:-}" ;;
    *) echo "usage: $0 start | stop DIR" >&2; exit 64 ;;
esac
