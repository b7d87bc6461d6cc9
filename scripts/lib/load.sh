# What the load-run scripts share (sourced, not run): wrk, free ports,
# waiting for a server, one client and its wrk script, one measured run,
# medians. The caller sets $work (a scratch folder), $root (the admin
# token), $connections and $seconds, and keeps $pid and $base.

# Installs Debian's wrk when it is missing.
ensure_wrk() {
    command -v wrk >/dev/null 2>&1 && return 0
    echo "wrk is not installed: installing Debian's wrk package" >&2
    if [ "$(id -u)" != 0 ]; then
        echo "error: installing wrk needs root (apt-get install wrk)" >&2
        exit 1
    fi
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wrk >/dev/null
}

free_port() { python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }

# Waits until the server at $base answers; else prints its log
# ($work/$1.log) and exits.
wait_until_up() {
    for _ in $(seq 1 200); do
        curl -fsS "$base/.well-known/jwks.json" >/dev/null 2>&1 && return 0
        sleep 0.05
    done
    echo "error: the server ($1) did not start:" >&2
    cat "$work/$1.log" >&2
    exit 1
}

# Stops the server $pid (SIGINT: a graceful shutdown).
stop() {
    kill -INT "$pid"
    wait "$pid" 2>/dev/null || true
    pid=
}

# A client made through the admin API at $base, a wrk script
# ($work/token.lua) that posts its credentials, and a warm-up.
prepare() {
    local created id secret basic
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

# One measured run against $base for round $1 and side $2: prints it and
# adds its requests/s to rates[$2] (an associative array of the caller).
measure() {
    local out rate p50 p99 errors
    out=$(wrk -t1 -c"$connections" -d"${seconds}s" --latency -s "$work/token.lua" "$base/oauth/token")
    rate=$(printf '%s\n' "$out" | awk '/Requests\/sec/ {print $2}')
    p50=$(printf '%s\n' "$out" | awk '$1 == "50%" {print $2}')
    p99=$(printf '%s\n' "$out" | awk '$1 == "99%" {print $2}')
    errors=$(printf '%s\n' "$out" | awk '/Non-2xx/ {print $4}')
    echo "round $1 $2: ${rate} req/s, p50 $p50, p99 $p99${errors:+, non-2xx $errors}"
    rates[$2]="${rates[$2]:-} $rate"
}

# The median of the numbers on standard input (space-separated).
median() { tr ' ' '\n' | grep -v '^$' | sort -n | awk '{a[NR]=$1} END {print (NR % 2) ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2}'; }
