#!/usr/bin/env bash
# Issue 25's throughput comparison: today's reference server against the
# first one (commit a5363ec), both in memory with info logs, side by side
# on this machine in one run, with the same load generator (wrk, Debian's
# package: installed when missing).
#
#   scripts/load-vs-first-server.sh [ROUNDS] [SECONDS] [CONNECTIONS]
#   ALG=ES256 scripts/load-vs-first-server.sh ...   (EdDSA, ES256 or RS256)
#
# Builds a5363ec's server in a throwaway git worktree (its own target
# folder, release) and today's server (release), then alternates them
# (first, today, today, first, ...) under `wrk -t1 -c$CONNECTIONS
# -d$SECONDS --latency` against POST /oauth/token with HTTP Basic
# credentials of one client (made through each server's admin API), and
# prints each run and the medians. Both sign with $ALG (default EdDSA):
# a5363ec's server hard-codes EdDSA, so the throwaway copy has that one
# line changed to $ALG (its library signs all three); today's server reads
# CLIENTCREDS_KEY_ALGORITHM.
set -euo pipefail

rounds=${1:-3}
seconds=${2:-10}
connections=${3:-32}
first=a5363ec
alg=${ALG:-EdDSA}
case "$alg" in EdDSA | ES256 | RS256) ;; *)
    echo "error: ALG must be EdDSA, ES256 or RS256" >&2
    exit 2
    ;;
esac
cd "$(dirname "$0")/.."
repo=$(pwd)

# shellcheck source=scripts/lib/load.sh
source scripts/lib/load.sh
ensure_wrk

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
if [ "$alg" != EdDSA ]; then
    sed -i "s/SigningKey::generate(Algorithm::EdDSA)/SigningKey::generate(Algorithm::$alg)/" \
        "$old_tree/examples/server/src/lib.rs"
    grep -q "Algorithm::$alg" "$old_tree/examples/server/src/lib.rs" ||
        { echo "error: could not switch $first's server to $alg" >&2; exit 1; }
fi
# A folder of its own inside the target folder (ignored by git).
old_target=${CLIENTCREDS_FIRST_TARGET:-${CARGO_TARGET_DIR:-$repo/target}/first-server}
(cd "$old_tree" && CARGO_TARGET_DIR="$old_target" nice -n 15 cargo build --release -p clientcreds-server -q)
nice -n 15 cargo build --release -p clientcreds-server -q
today_bin=${CARGO_TARGET_DIR:-target}/release/clientcreds-server
first_bin=$old_target/release/clientcreds-server

root=load-root-token-0123456789abcdef

# Starts the server of side $1 (first|today); sets $pid and $base.
start() {
    local port bin
    port=$(free_port)
    base="http://127.0.0.1:$port"
    if [ "$1" = first ]; then bin=$first_bin; else bin=$today_bin; fi
    env -u DATABASE_URL CLIENTCREDS_ADDR=127.0.0.1:$port CLIENTCREDS_ROOT_TOKEN=$root \
        CLIENTCREDS_KEY_ALGORITHM=$alg RUST_LOG=info "$bin" >"$work/$1.log" 2>&1 &
    pid=$!
    wait_until_up "$1"
}

declare -A rates
for round in $(seq 1 "$rounds"); do
    if [ $((round % 2)) = 1 ]; then order="first today"; else order="today first"; fi
    for side in $order; do
        start "$side"
        prepare
        measure "$round" "$side"
        stop
    done
done
f=$(echo "${rates[first]}" | median)
t=$(echo "${rates[today]}" | median)
echo "median ($alg): first ($first) $f req/s, today $t req/s (today/first $(python3 -c "print(round($t/$f, 3))"))"
