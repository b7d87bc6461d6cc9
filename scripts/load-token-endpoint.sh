#!/usr/bin/env bash
# Load run of the token endpoint over HTTP: the reference server (release
# build) on the in-memory store and on PostgreSQL, side by side, with the
# same load generator (wrk, Debian's package: installed when missing).
#
#   scripts/with-postgres.sh scripts/load-token-endpoint.sh [ROUNDS] [SECONDS] [CONNECTIONS]
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

if ! command -v wrk >/dev/null 2>&1; then
    echo "wrk is not installed: installing Debian's wrk package" >&2
    if [ "$(id -u)" != 0 ]; then
        echo "error: installing wrk needs root (apt-get install wrk)" >&2
        exit 1
    fi
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wrk >/dev/null
fi

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
free_port() { python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }

# Starts the server on $1 (memory|postgres); sets $pid and $base.
start() {
    local port
    port=$(free_port)
    base="http://127.0.0.1:$port"
    if [ "$1" = postgres ]; then
        CLIENTCREDS_ADDR=127.0.0.1:$port CLIENTCREDS_ROOT_TOKEN=$root CLIENTCREDS_MASTER_KEYS=$master \
            RUST_LOG=warn DATABASE_URL=$DATABASE_URL "$server" >"$work/$1.log" 2>&1 &
    else
        env -u DATABASE_URL CLIENTCREDS_ADDR=127.0.0.1:$port CLIENTCREDS_ROOT_TOKEN=$root \
            CLIENTCREDS_MASTER_KEYS=$master RUST_LOG=warn "$server" >"$work/$1.log" 2>&1 &
    fi
    pid=$!
    for _ in $(seq 1 200); do
        curl -fsS "$base/.well-known/jwks.json" >/dev/null 2>&1 && return 0
        sleep 0.05
    done
    echo "error: the server on $1 did not start:" >&2
    cat "$work/$1.log" >&2
    exit 1
}

stop() {
    kill -INT "$pid"
    wait "$pid" 2>/dev/null || true
    pid=
}

# A client, and a wrk script that posts its credentials.
prepare() {
    local created id secret
    created=$(curl -fsS -X POST "$base/admin/v1/tenants/load/clients" \
        -H "authorization: Bearer $root" -H 'content-type: application/json' \
        -d '{"name":"load","scopes":["read"]}')
    id=$(printf '%s' "$created" | python3 -c 'import json,sys; print(json.load(sys.stdin)["client_id"])')
    secret=$(printf '%s' "$created" | python3 -c 'import json,sys; print(json.load(sys.stdin)["client_secret"])')
    basic=$(printf '%s:%s' "$id" "$secret" | base64 -w0)
    cat >"$work/token.lua" <<LUA
wrk.method = "POST"
wrk.body = "grant_type=client_credentials"
wrk.headers["Content-Type"] = "application/x-www-form-urlencoded"
wrk.headers["Authorization"] = "Basic $basic"
LUA
    # Warm up (connections, caches, the first last-used write).
    wrk -t1 -c"$connections" -d2s -s "$work/token.lua" "$base/oauth/token" >/dev/null
}

declare -A rates
for round in $(seq 1 "$rounds"); do
    for side in memory postgres; do
        start "$side"
        prepare
        out=$(wrk -t1 -c"$connections" -d"${seconds}s" --latency -s "$work/token.lua" "$base/oauth/token")
        stop
        rate=$(printf '%s\n' "$out" | awk '/Requests\/sec/ {print $2}')
        p50=$(printf '%s\n' "$out" | awk '$1 == "50%" {print $2}')
        p99=$(printf '%s\n' "$out" | awk '$1 == "99%" {print $2}')
        errors=$(printf '%s\n' "$out" | awk '/Non-2xx/ {print $4}')
        echo "round $round $side: ${rate} req/s, p50 $p50, p99 $p99${errors:+, non-2xx $errors}"
        rates[$side]="${rates[$side]:-} $rate"
    done
done
median() { tr ' ' '\n' | grep -v '^$' | sort -n | awk '{a[NR]=$1} END {print (NR % 2) ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2}'; }
m=$(echo "${rates[memory]}" | median)
p=$(echo "${rates[postgres]}" | median)
echo "median: memory $m req/s, postgres $p req/s ($(python3 -c "print(round(100*$p/$m))")% of memory)"
