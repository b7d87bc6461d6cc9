#!/usr/bin/env bash
# Proof that the activity log loses nothing at the sustained peak (issue
# 25): wrk drives the reference server (release build) on PostgreSQL for
# SECONDS, with one replica or two sharing the database, then the script
# compares the tokens wrk received with the issuance the admin API counts
# (GET /admin/v1/tenants/{tenant}/activity/counts), and the refusals wrk
# received with the refusals counted.
#
#   scripts/with-postgres.sh scripts/load-activity.sh [SECONDS] [REPLICAS] [CONNECTIONS]
#
# Defaults: 60 s, 1 replica, 32 connections (split between the replicas,
# one wrk per replica). Every 50th request asks for a scope the client may
# not have (a 400 refusal of a known client, counted too). Two seconds
# before the end each wrk switches to GET /.well-known/jwks.json, so no
# token request is in flight when wrk stops: every token the server issued
# was received and counted by wrk. The replicas are stopped (SIGINT: a
# graceful shutdown writes what the activity writer holds) before the last
# one is asked for the counts. Exits non-zero when the totals differ.
set -euo pipefail

seconds=${1:-60}
replicas=${2:-1}
connections=${3:-32}
: "${DATABASE_URL:?run under scripts/with-postgres.sh (DATABASE_URL is not set)}"
cd "$(dirname "$0")/.."
target=${CARGO_TARGET_DIR:-target}

# shellcheck source=scripts/lib/load.sh
source scripts/lib/load.sh
ensure_wrk

nice -n 15 cargo build --release -p clientcreds-server -j 1
server=$target/release/clientcreds-server
work=$(mktemp -d /tmp/clientcreds-activity.XXXXXX)
pids=()
cleanup() {
    for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
    wait 2>/dev/null || true
    rm -rf "$work"
}
trap cleanup EXIT

root=load-root-token-0123456789abcdef
master=$("$server" generate-master-key load)
tenant=activity$$

bases=()
for r in $(seq 1 "$replicas"); do
    port=$(free_port)
    base="http://127.0.0.1:$port"
    CLIENTCREDS_ADDR=127.0.0.1:$port CLIENTCREDS_ROOT_TOKEN=$root CLIENTCREDS_MASTER_KEYS=$master \
        RUST_LOG=info DATABASE_URL=$DATABASE_URL "$server" >"$work/replica$r.log" 2>&1 &
    pids+=($!)
    bases+=("$base")
    ready=
    for _ in $(seq 1 400); do
        curl -fsS "$base/.well-known/jwks.json" >/dev/null 2>&1 && { ready=1; break; }
        sleep 0.05
    done
    if [ -z "$ready" ]; then
        echo "error: replica $r did not start:" >&2
        cat "$work/replica$r.log" >&2
        exit 1
    fi
done

created=$(curl -fsS -X POST "${bases[0]}/admin/v1/tenants/$tenant/clients" \
    -H "authorization: Bearer $root" -H 'content-type: application/json' \
    -d '{"name":"load","scopes":["read"]}')
id=$(printf '%s' "$created" | python3 -c 'import json,sys; print(json.load(sys.stdin)["client_id"])')
secret=$(printf '%s' "$created" | python3 -c 'import json,sys; print(json.load(sys.stdin)["client_secret"])')
basic=$(printf '%s:%s' "$id" "$secret" | base64 -w0)
stop_at=$(( $(date +%s) + seconds - 2 ))
cat >"$work/activity.lua" <<LUA
local headers = {
    ["Content-Type"] = "application/x-www-form-urlencoded",
    ["Authorization"] = "Basic $basic",
}
local n = 0
tokens = 0
refused = 0
other = 0
request = function()
    if os.time() >= $stop_at then
        return wrk.format("GET", "/.well-known/jwks.json")
    end
    n = n + 1
    if n % 50 == 0 then
        return wrk.format("POST", "/oauth/token", headers, "grant_type=client_credentials&scope=admin")
    end
    return wrk.format("POST", "/oauth/token", headers, "grant_type=client_credentials")
end
response = function(status, headers, body)
    if status == 200 and string.find(body, "access_token", 1, true) then
        tokens = tokens + 1
    elseif status == 400 and string.find(body, "invalid_scope", 1, true) then
        refused = refused + 1
    elseif status ~= 200 then
        other = other + 1
    end
end
local threads = {}
setup = function(thread) table.insert(threads, thread) end
done = function(summary, latency, requests)
    local t, r, o = 0, 0, 0
    for _, thread in ipairs(threads) do
        t = t + thread:get("tokens")
        r = r + thread:get("refused")
        o = o + thread:get("other")
    end
    io.write(string.format("COUNTS tokens=%d refused=%d other=%d\n", t, r, o))
end
LUA

per=$(( connections / replicas ))
wrks=()
for r in $(seq 1 "$replicas"); do
    wrk -t1 -c"$per" -d"${seconds}s" --latency -s "$work/activity.lua" \
        "${bases[$((r - 1))]}/oauth/token" >"$work/wrk$r.out" 2>&1 &
    wrks+=($!)
done
for w in "${wrks[@]}"; do wait "$w"; done

tokens=0
refused=0
other=0
for r in $(seq 1 "$replicas"); do
    line=$(grep '^COUNTS' "$work/wrk$r.out")
    t=$(printf '%s' "$line" | sed -E 's/.*tokens=([0-9]+).*/\1/')
    f=$(printf '%s' "$line" | sed -E 's/.*refused=([0-9]+).*/\1/')
    o=$(printf '%s' "$line" | sed -E 's/.*other=([0-9]+).*/\1/')
    rate=$(awk '/Requests\/sec/ {print $2}' "$work/wrk$r.out")
    p99=$(awk '$1 == "99%" {print $2}' "$work/wrk$r.out")
    echo "replica $r: $t tokens, $f refusals, $o other answers; $rate req/s, p99 $p99"
    tokens=$((tokens + t))
    refused=$((refused + f))
    other=$((other + o))
done

# Stop every replica but the first gracefully (its writer flushes), then
# read the counts through the first (its read flushes its own writer).
for i in $(seq 1 $((replicas - 1))); do
    kill -INT "${pids[$i]}"
    wait "${pids[$i]}" 2>/dev/null || true
done
counts=$(curl -fsS "${bases[0]}/admin/v1/tenants/$tenant/activity/counts?limit=500" \
    -H "authorization: Bearer $root")
read -r counted_tokens counted_refusals rows <<<"$(printf '%s' "$counts" | python3 -c '
import json, sys
body = json.load(sys.stdin)
assert not body["truncated"], "more than 500 count rows"
issued = sum(c["count"] for c in body["counts"] if c["outcome"] == "issued")
denied = sum(c["count"] for c in body["counts"] if c["outcome"] == "denied")
print(issued, denied, len(body["counts"]))
')"
kill -INT "${pids[0]}"
wait "${pids[0]}" 2>/dev/null || true
pids=()
grep -h "activity" "$work"/replica*.log | grep -iE "dropped|not written|lost" || true
echo "wrk received: $tokens tokens, $refused refusals ($other other answers)"
echo "counted:      $counted_tokens tokens, $counted_refusals refusals ($rows count rows)"
if [ "$tokens" = "$counted_tokens" ] && [ "$refused" = "$counted_refusals" ]; then
    echo "OK: nothing lost ($replicas replica(s), ${seconds} s)"
else
    echo "MISMATCH" >&2
    exit 1
fi
