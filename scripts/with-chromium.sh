#!/usr/bin/env bash
# Runs a command with a headless browser to drive: Debian's chromium and
# chromium-driver (installed when missing), chromedriver started on a free
# loopback port. Exports CLIENTCREDS_TEST_WEBDRIVER_URL (the WebDriver
# endpoint) and CLIENTCREDS_TEST_CHROMIUM (the browser binary), runs the
# command, then stops chromedriver. A missing or broken browser fails
# loudly; nothing is skipped.
set -euo pipefail

find_driver() { command -v chromedriver 2>/dev/null || { [ -x /usr/bin/chromedriver ] && echo /usr/bin/chromedriver; }; }
find_browser() { command -v chromium 2>/dev/null || { [ -x /usr/bin/chromium ] && echo /usr/bin/chromium; }; }

driver=$(find_driver || true)
browser=$(find_browser || true)
if [ -z "$driver" ] || [ -z "$browser" ]; then
    echo "chromium / chromedriver are not installed: installing Debian's chromium and chromium-driver packages" >&2
    if [ "$(id -u)" != 0 ]; then
        echo "error: chromium is missing and installing it needs root (apt-get install chromium chromium-driver)" >&2
        exit 1
    fi
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends chromium chromium-driver fonts-dejavu-core >/dev/null
    driver=$(find_driver || true)
    browser=$(find_browser || true)
    if [ -z "$driver" ] || [ -z "$browser" ]; then
        echo "error: the chromium packages are installed but chromium or chromedriver was not found" >&2
        exit 1
    fi
fi

dir=$(mktemp -d /tmp/clientcreds-chromium.XXXXXX)
port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
"$driver" --port="$port" --allowed-ips=127.0.0.1 >"$dir/chromedriver.log" 2>&1 &
pid=$!

cleanup() {
    kill "$pid" >/dev/null 2>&1 || true
    wait "$pid" 2>/dev/null || true
    rm -rf "$dir"
}
trap cleanup EXIT

ready=
for _ in $(seq 1 100); do
    if python3 -c "import urllib.request, sys; sys.exit(0 if b'\"ready\":true' in urllib.request.urlopen('http://127.0.0.1:$port/status', timeout=1).read().replace(b' ', b'') else 1)" 2>/dev/null; then
        ready=1
        break
    fi
    sleep 0.1
done
if [ -z "$ready" ]; then
    echo "error: chromedriver did not start:" >&2
    cat "$dir/chromedriver.log" >&2
    exit 1
fi

export CLIENTCREDS_TEST_WEBDRIVER_URL="http://127.0.0.1:$port"
export CLIENTCREDS_TEST_CHROMIUM="$browser"
echo "$("$browser" --version 2>/dev/null || echo chromium) via chromedriver on 127.0.0.1:$port" >&2
"$@"
