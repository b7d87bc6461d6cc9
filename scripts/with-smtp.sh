#!/usr/bin/env bash
# Runs a command with a throwaway SMTP server: Debian's python3-aiosmtpd
# (installed when missing) on a free loopback port, writing every message
# it receives into a Maildir. Exports CLIENTCREDS_TEST_SMTP_URL and
# CLIENTCREDS_TEST_MAILDIR, runs the command, then stops and removes it.
# A missing or broken server fails loudly; nothing is skipped.
set -euo pipefail

# Debian's package installs into the system interpreter, which may not be
# the first python3 on PATH (pyenv and the like).
py=/usr/bin/python3
[ -x "$py" ] || py=$(command -v python3)

if ! "$py" -c 'import aiosmtpd' >/dev/null 2>&1; then
    echo "aiosmtpd is not installed: installing Debian's python3-aiosmtpd package" >&2
    if [ "$(id -u)" != 0 ]; then
        echo "error: aiosmtpd is missing and installing it needs root (apt-get install python3-aiosmtpd)" >&2
        exit 1
    fi
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3-aiosmtpd >/dev/null
fi

dir=$(mktemp -d /tmp/clientcreds-smtp.XXXXXX)
port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
"$py" -m aiosmtpd -n -l "127.0.0.1:$port" -c aiosmtpd.handlers.Mailbox "$dir/maildir" >"$dir/server.log" 2>&1 &
pid=$!

cleanup() {
    kill "$pid" >/dev/null 2>&1 || true
    wait "$pid" 2>/dev/null || true
    rm -rf "$dir"
}
trap cleanup EXIT

for _ in $(seq 1 100); do
    if python3 -c "import socket; socket.create_connection(('127.0.0.1', $port), 0.2)" >/dev/null 2>&1; then
        break
    fi
    if ! kill -0 "$pid" 2>/dev/null; then
        echo "error: the SMTP server did not start:" >&2
        cat "$dir/server.log" >&2
        exit 1
    fi
    sleep 0.1
done

export CLIENTCREDS_TEST_SMTP_URL="smtp://127.0.0.1:$port"
export CLIENTCREDS_TEST_MAILDIR="$dir/maildir"
echo "SMTP test server (aiosmtpd) on 127.0.0.1:$port" >&2
"$@"
