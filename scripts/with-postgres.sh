#!/usr/bin/env bash
# Runs a command with a throwaway PostgreSQL: installs Debian's postgresql
# package when initdb is missing, initdb's into a temporary folder, starts
# it on a free loopback port, exports DATABASE_URL (and start/stop commands
# for the restart test), runs the command, then stops and removes it.
# A missing or broken PostgreSQL fails loudly; nothing is skipped.
set -euo pipefail

find_bindir() {
    local candidate
    if command -v initdb >/dev/null 2>&1; then
        candidate=$(dirname "$(readlink -f "$(command -v initdb)")")
        [ -x "$candidate/pg_ctl" ] && { echo "$candidate"; return 0; }
    fi
    for candidate in /usr/lib/postgresql/*/bin; do
        [ -x "$candidate/initdb" ] && [ -x "$candidate/pg_ctl" ] && { echo "$candidate"; return 0; }
    done
    return 1
}

bindir=$(find_bindir || true)
if [ -z "$bindir" ]; then
    echo "PostgreSQL is not installed: installing Debian's postgresql package" >&2
    if [ "$(id -u)" != 0 ]; then
        echo "error: PostgreSQL is missing and installing it needs root (apt-get install postgresql)" >&2
        exit 1
    fi
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >/dev/null
    bindir=$(find_bindir || true)
    if [ -z "$bindir" ]; then
        echo "error: the postgresql package is installed but initdb was not found" >&2
        exit 1
    fi
fi

dir=$(mktemp -d /tmp/clientcreds-pg.XXXXXX)
runas=()
if [ "$(id -u)" = 0 ]; then
    # PostgreSQL refuses to run as root.
    id postgres >/dev/null 2>&1 || useradd --system --no-create-home --shell /usr/sbin/nologin postgres
    chown postgres "$dir"
    runas=(runuser -u postgres --)
fi
port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
pg_ctl=("${runas[@]}" "$bindir/pg_ctl" -D "$dir/data")
options="-p $port -k $dir -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=200"

cleanup() {
    "${pg_ctl[@]}" -m immediate -w stop >/dev/null 2>&1 || true
    rm -rf "$dir"
}
trap cleanup EXIT

if ! "${runas[@]}" "$bindir/initdb" -D "$dir/data" -U postgres --auth=trust -E UTF8 >"$dir/initdb.log" 2>&1; then
    echo "error: initdb failed:" >&2
    cat "$dir/initdb.log" >&2
    exit 1
fi
if ! "${pg_ctl[@]}" -l "$dir/server.log" -o "$options" -w start >/dev/null; then
    echo "error: PostgreSQL did not start:" >&2
    cat "$dir/server.log" >&2
    exit 1
fi

export DATABASE_URL="postgres://postgres@127.0.0.1:$port/postgres"
export CLIENTCREDS_TEST_PG_STOP="${pg_ctl[*]} -m immediate -w stop"
export CLIENTCREDS_TEST_PG_START="${pg_ctl[*]} -l $dir/server.log -o '$options' -w start"
echo "PostgreSQL $("$bindir/postgres" --version | awk '{print $3}') on 127.0.0.1:$port" >&2
"$@"
