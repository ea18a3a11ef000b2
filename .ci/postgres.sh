#!/usr/bin/env bash
# Starts a throwaway PostgreSQL server for the test suite, or stops it.
#   eval "$(bash .ci/postgres.sh start)"   prints the export of LINEAGE_LEDGER_TEST_POSTGRES
#   bash .ci/postgres.sh stop <dir>
# The server runs from a temporary data folder (initdb + pg_ctl), listens on 127.0.0.1 on a free
# port, and has a role and a database of its own; nothing of the machine's own clusters is touched.
set -euo pipefail

find_bin() {
  local name=$1
  for d in $(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V -r) /usr/local/pgsql/bin; do
    if [ -x "$d/$name" ]; then echo "$d/$name"; return 0; fi
  done
  command -v "$name" 2>/dev/null || return 1
}

as_owner() {
  # PostgreSQL refuses to run as root: run its programs as the postgres user then.
  if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

case "${1:-}" in
  start)
    initdb=$(find_bin initdb) || { echo "echo 'no PostgreSQL binaries (initdb) on this machine: PostgreSQL tests will be skipped' >&2"; exit 0; }
    bindir=$(dirname "$initdb")
    dir=$(mktemp -d -t ll-pg.XXXXXX)
    if [ "$(id -u)" = 0 ]; then chown postgres "$dir"; fi
    port=$(node -e "const s=require('net').createServer();s.listen(0,'127.0.0.1',()=>{console.log(s.address().port);s.close()})")
    as_owner "$bindir/initdb" -D "$dir/data" -A trust -U postgres --no-sync >"$dir/initdb.log" 2>&1 || { cat "$dir/initdb.log" >&2; exit 1; }
    as_owner "$bindir/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 60 \
      -o "-c listen_addresses=127.0.0.1 -c port=$port -c unix_socket_directories=$dir -c fsync=on -c max_connections=200" start >&2
    as_owner "$bindir/psql" -h 127.0.0.1 -p "$port" -U postgres -d postgres -v ON_ERROR_STOP=1 -q \
      -c "CREATE ROLE ledger LOGIN PASSWORD 'ledger'" -c "CREATE DATABASE ledger_test OWNER ledger" >&2
    echo "export LINEAGE_LEDGER_TEST_POSTGRES=postgres://ledger:ledger@127.0.0.1:$port/ledger_test"
    echo "export LINEAGE_LEDGER_TEST_POSTGRES_DIR=$dir"
    echo "export LINEAGE_LEDGER_TEST_POSTGRES_BIN=$bindir"
    ;;
  stop)
    dir=${2:?usage: postgres.sh stop <dir>}
    bindir=$(dirname "$(find_bin pg_ctl)")
    as_owner "$bindir/pg_ctl" -D "$dir/data" -m fast -w stop >&2 || true
    rm -rf "$dir"
    ;;
  *)
    echo "usage: postgres.sh start | stop <dir>" >&2
    exit 2
    ;;
esac
