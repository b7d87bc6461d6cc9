#!/usr/bin/env bash
# Load run of the token endpoint over HTTP: the reference server (release
# build) on the in-memory store and on PostgreSQL, side by side, with the
# same load generator (wrk, Debian's package: installed when missing).
#
#   scripts/with-postgres.sh scripts/load-token-endpoint.sh [ROUNDS] [SECONDS] [CONNECTIONS]
#   SQLITE=1 scripts/with-postgres.sh scripts/load-token-endpoint.sh ...   (SQLite as a third side)
#
# Each round runs memory, then PostgreSQL (alternating, so drift on a
# shared machine hits both), `wrk -t1 -c$CONNECTIONS -d$SECONDS --latency`
# against POST /oauth/token with HTTP Basic credentials of one client. The
# server logs at `warn` so that per-request log lines do not dominate.
# Prints each run's requests/s and latency percentiles, then the medians.
set -euo pipefail

rounds=${1:-3}
seconds=${2:-10}
connections=${3:-32}
: "${DATABASE_URL:?run under scripts/with-postgres.sh (DATABASE_URL is not set)}"
cd "$(dirname "$0")/.."

# shellcheck source=scripts/lib/load.sh
source scripts/lib/load.sh
ensure_wrk

nice -n 15 cargo build --release -p clientcreds-server -j 1
server=${CARGO_TARGET_DIR:-target}/release/clientcreds-server
work=$(mktemp -d /tmp/clientcreds-load.XXXXXX)
pid=
cleanup() {
    [ -n "$pid" ] && kill "$pid" 2>/dev/null && wait "$pid" 2>/dev/null || true
    rm -rf "$work"
}
trap cleanup EXIT

root=load-root-token-0123456789abcdef
master=$("$server" generate-master-key load)

# Starts the server on $1 (memory|postgres|sqlite); sets $pid and $base.
start() {
    local port
    port=$(free_port)
    base="http://127.0.0.1:$port"
    if [ "$1" = postgres ] || [ "$1" = sqlite ]; then
        local url=$DATABASE_URL
        # A fresh file per run, in the scratch folder.
        [ "$1" = sqlite ] && url="sqlite://$work/load-$port.db"
        CLIENTCREDS_ADDR=127.0.0.1:$port CLIENTCREDS_ROOT_TOKEN=$root CLIENTCREDS_MASTER_KEYS=$master \
            RUST_LOG=warn DATABASE_URL=$url "$server" >"$work/$1.log" 2>&1 &
    else
        env -u DATABASE_URL CLIENTCREDS_ADDR=127.0.0.1:$port CLIENTCREDS_ROOT_TOKEN=$root \
            CLIENTCREDS_MASTER_KEYS=$master RUST_LOG=warn "$server" >"$work/$1.log" 2>&1 &
    fi
    pid=$!
    wait_until_up "$1"
}

sides="memory postgres"
[ "${SQLITE:-0}" = 1 ] && sides="$sides sqlite"
declare -A rates
for round in $(seq 1 "$rounds"); do
    for side in $sides; do
        start "$side"
        prepare
        measure "$round" "$side"
        stop
    done
done
m=$(echo "${rates[memory]}" | median)
p=$(echo "${rates[postgres]}" | median)
echo "median: memory $m req/s, postgres $p req/s ($(python3 -c "print(round(100*$p/$m))")% of memory)"
if [ "${SQLITE:-0}" = 1 ]; then
    q=$(echo "${rates[sqlite]}" | median)
    echo "median: sqlite $q req/s ($(python3 -c "print(round(100*$q/$m))")% of memory)"
fi
