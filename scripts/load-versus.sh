#!/usr/bin/env bash
# Throughput of the token endpoint against an earlier reference server,
# side by side in one run (issue 25): builds this tree's reference server
# and the one of commit REF (default a5363ec, the first reference server)
# in release mode, then alternates them, each on the in-memory store with
# info logs (the default `RUST_LOG`, one line per request to a file),
# under the same wrk load, and prints each run and the medians' ratio.
#
#   scripts/load-versus.sh [ROUNDS] [SECONDS] [CONNECTIONS] [REF] [ALGORITHM]
#
# Defaults: 5 rounds of 10 s, 32 connections, a5363ec, EdDSA. ALGORITHM
# (EdDSA, ES256 or RS256) sets CLIENTCREDS_SIGNING_ALG on both servers.
# The reference is checked out with `git worktree` under the build folder
# and built into its own target folder (once; later runs reuse it).
set -euo pipefail

rounds=${1:-5}
seconds=${2:-10}
connections=${3:-32}
reference=${4:-a5363ec}
algorithm=${5:-EdDSA}
cd "$(dirname "$0")/.."
target=$(realpath -m "${CARGO_TARGET_DIR:-target}")

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
current=$target/release/clientcreds-server
tree=$target/reference-$reference
if [ ! -d "$tree" ]; then
    git worktree add --detach "$tree" "$reference" >/dev/null
fi
(cd "$tree" && CARGO_TARGET_DIR=$target/reference-target nice -n 15 cargo build --release -p clientcreds-server -j 1)
old=$target/reference-target/release/clientcreds-server

work=$(mktemp -d /tmp/clientcreds-versus.XXXXXX)
pid=
cleanup() {
    [ -n "$pid" ] && kill "$pid" 2>/dev/null && wait "$pid" 2>/dev/null || true
    rm -rf "$work"
}
trap cleanup EXIT

root=load-root-token-0123456789abcdef
free_port() { python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }

# Starts server $2 (a path) as side $1; sets $pid and $base.
start() {
    local port master
    port=$(free_port)
    base="http://127.0.0.1:$port"
    master=$("$2" generate-master-key load 2>/dev/null || true)
    env -u DATABASE_URL -u RUST_LOG CLIENTCREDS_ADDR=127.0.0.1:$port CLIENTCREDS_ROOT_TOKEN=$root \
        ${master:+CLIENTCREDS_MASTER_KEYS=$master} CLIENTCREDS_SIGNING_ALG=$algorithm \
        "$2" >"$work/$1.log" 2>&1 &
    pid=$!
    for _ in $(seq 1 200); do
        curl -fsS "$base/.well-known/jwks.json" >/dev/null 2>&1 && return 0
        sleep 0.05
    done
    echo "error: the $1 server did not start:" >&2
    cat "$work/$1.log" >&2
    exit 1
}

stop() {
    kill -INT "$pid"
    wait "$pid" 2>/dev/null || true
    pid=
}

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
    wrk -t1 -c"$connections" -d2s -s "$work/token.lua" "$base/oauth/token" >/dev/null
}

declare -A rates
for round in $(seq 1 "$rounds"); do
    for side in reference current; do
        if [ "$side" = reference ]; then start "$side" "$old"; else start "$side" "$current"; fi
        prepare
        out=$(wrk -t1 -c"$connections" -d"${seconds}s" --latency -s "$work/token.lua" "$base/oauth/token")
        stop
        rate=$(printf '%s\n' "$out" | awk '/Requests\/sec/ {print $2}')
        p50=$(printf '%s\n' "$out" | awk '$1 == "50%" {print $2}')
        p99=$(printf '%s\n' "$out" | awk '$1 == "99%" {print $2}')
        errors=$(printf '%s\n' "$out" | awk '/Non-2xx/ {print $4}')
        echo "round $round $side ($algorithm): ${rate} req/s, p50 $p50, p99 $p99${errors:+, non-2xx $errors}"
        rates[$side]="${rates[$side]:-} $rate"
    done
done
median() { tr ' ' '\n' | grep -v '^$' | sort -n | awk '{a[NR]=$1} END {print (NR % 2) ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2}'; }
r=$(echo "${rates[reference]}" | median)
c=$(echo "${rates[current]}" | median)
echo "median ($algorithm): reference $reference $r req/s, current $c req/s (ratio $(python3 -c "print(round($c/$r, 3))"))"
