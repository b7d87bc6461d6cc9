#!/usr/bin/env bash
# Runs a command with a foreign issuer at hand: panva's oidc-provider from
# npm, at the exact version tests/interop/oidc-provider/package-lock.json
# pins. Installs Node.js and npm (Debian's packages) when missing, runs
# `npm ci` in that folder, exports CLIENTCREDS_OIDC_PROVIDER (the folder,
# holding server.mjs and keygen.mjs), then runs the command. The tests
# start and stop the issuer themselves (crates/clientcreds-resource/tests/
# foreign_issuer.rs). A missing or broken Node.js fails loudly; nothing is
# skipped.
set -euo pipefail

dir=$(cd "$(dirname "$0")/../tests/interop/oidc-provider" && pwd)
# The pinned oidc-provider (9.x) runs on the machine's Node.js 20 (it
# prints a warning that it wants 22 LTS); older releases are refused.
min_major=20

if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then
    echo "Node.js or npm is not installed: installing Debian's nodejs and npm packages" >&2
    if [ "$(id -u)" != 0 ]; then
        echo "error: Node.js/npm are missing and installing them needs root (apt-get install nodejs npm)" >&2
        exit 1
    fi
    apt-get update -qq
    packages=()
    command -v node >/dev/null 2>&1 || packages+=(nodejs)
    command -v npm >/dev/null 2>&1 || packages+=(npm)
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${packages[@]}" >/dev/null
    for tool in node npm; do
        command -v "$tool" >/dev/null 2>&1 || { echo "error: $tool is still missing after apt-get install" >&2; exit 1; }
    done
fi

version=$(node --version)
major=${version#v}
major=${major%%.*}
if [ "$major" -lt "$min_major" ]; then
    echo "error: Node.js $version is too old for the pinned oidc-provider (needs $min_major or later)" >&2
    exit 1
fi

log=$(mktemp /tmp/clientcreds-npm.XXXXXX)
trap 'rm -f "$log"' EXIT
if ! (cd "$dir" && npm ci --no-audit --no-fund --prefer-offline >"$log" 2>&1); then
    echo "error: npm ci failed in $dir:" >&2
    cat "$log" >&2
    exit 1
fi
provider_version=$(node -p "require('$dir/node_modules/oidc-provider/package.json').version")

export CLIENTCREDS_OIDC_PROVIDER="$dir"
echo "oidc-provider $provider_version on Node.js $version ($dir)" >&2
"$@"
