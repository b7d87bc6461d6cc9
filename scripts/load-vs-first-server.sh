#!/usr/bin/env bash
# Issue 25's throughput comparison: today's reference server against the
# first one (commit a5363ec), both in memory with info logs, side by side
# on this machine in one run, with the same load generator (wrk, Debian's
# package: installed when missing).
#
#   scripts/load-vs-first-server.sh [ROUNDS] [SECONDS] [CONNECTIONS]
#
# Builds a5363ec's server in a throwaway git worktree (its own target
# folder, release) and today's server (release), then alternates them
# (first, today, today, first, ...) under `wrk -t1 -c$CONNECTIONS
# -d$SECONDS --latency` against POST /oauth/token with HTTP Basic
# credentials of one client (made through each server's admin API), and
# prints each run and the medians. Both sign with EdDSA: a5363ec cannot
# choose another algorithm.
set -euo pipefail

rounds=${1:-3}
seconds=${2:-10}
connections=${3:-32}
first=a5363ec
cd "$(dirname "$0")/.."
repo=$(pwd)

if ! command -v wrk >/dev/null 2>&1; then
    echo "wrk is not installed: installing Debian's wrk package" >&2
    if [ "$(id -u)" != 0 ]; then
        echo "error: installing wrk needs root (apt-get install wrk)" >&2
        exit 1
    fi
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wrk >/dev/null
fi

work=$(mktemp -d /tmp/clientcreds-vs-first.XXXXXX)
old_tree="$work/first"
pid=
cleanup() {
    [ -n "$pid" ] && kill "$pid" 2>/dev/null && wait "$pid" 2>/dev/null || true
    git -C "$repo" worktree remove --force "$old_tree" >/dev/null 2>&1 || true
    rm -rf "$work"
}
trap cleanup EXIT

git -C "$repo" worktree add --detach "$old_tree" "$first" >/dev/null
# A folder of its own inside the target folder (ignored by git).
old_target=${CLIENTCREDS_FIRST_TARGET:-${CARGO_TARGET_DIR:-$repo/target}/first-server}
(cd "$old_tree" && CARGO_TARGET_DIR="$old_target" nice -n 15 cargo build --release -p clientcreds-server -q)
nice -n 15 cargo build --release -p clientcreds-server -q
today_bin=${CARGO_TARGET_DIR:-target}/release/clientcreds-server
first_bin=$old_target/release/clientcreds-server

root=load-root-token-0123456789abcdef
free_port() { python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }

# Starts the server of side $1 (first|today); sets $pid and $base.
start() {
    local port bin
    port=$(free_port)
    base="http://127.0.0.1:$port"
    if [ "$1" = first ]; then bin=$first_bin; else bin=$today_bin; fi
    env -u DATABASE_URL CLIENTCREDS_ADDR=127.0.0.1:$port CLIENTCREDS_ROOT_TOKEN=$root \
        RUST_LOG=info "$bin" >"$work/$1.log" 2>&1 &
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
    wrk -t1 -c"$connections" -d2s -s "$work/token.lua" "$base/oauth/token" >/dev/null
}

declare -A rates
for round in $(seq 1 "$rounds"); do
    if [ $((round % 2)) = 1 ]; then order="first today"; else order="today first"; fi
    for side in $order; do
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
f=$(echo "${rates[first]}" | median)
t=$(echo "${rates[today]}" | median)
echo "median: first ($first) $f req/s, today $t req/s (today/first $(python3 -c "print(round($t/$f, 3))"))"
