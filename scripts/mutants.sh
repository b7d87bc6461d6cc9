#!/usr/bin/env bash
# Mutation testing of the security-critical code with cargo-mutants: run by
# hand (or nightly), never in CI. Results and the reasons for every
# surviving mutant: docs/SECURITY.md, "Mutation testing".
#
#   bash scripts/mutants.sh            # every group below, in order
#   bash scripts/mutants.sh jwt secret # some groups
#
# Groups: jwt (token verification), secret (hash verification, the
# constant-time compare), throttle, auth (authentication and the exchange),
# introspection (introspection and the live check).
#
# Each mutant builds and tests only the crate that holds the file (cargo
# test -p CRATE: its unit and integration tests), one mutant at a time
# (`--in-place` runs serially), in this checkout (no copy of the tree: the
# target directory's compiled dependencies are reused). cargo-mutants restores every file
# after each mutant; if the run is killed, `git diff` shows a left-over
# mutation: `git checkout -- crates/` restores it. Each group writes its
# report to $MUTANTS_OUT/GROUP (default target/mutants/GROUP):
# outcomes.json, and caught.txt, missed.txt, timeout.txt, unviable.txt.
#
# Environment: MUTANTS_OUT, and any cargo
# variable (e.g. CARGO_TARGET_DIR).
set -euo pipefail
cd "$(dirname "$0")/.."

version=27.1.0
if ! cargo mutants --version 2>/dev/null | grep -q "$version"; then
    cargo install cargo-mutants --version "$version" --locked
fi
if [ -n "$(git status --porcelain -- crates)" ]; then
    echo "mutants.sh: crates/ has uncommitted changes; --in-place would mix them with mutations" >&2
    exit 1
fi

out=${MUTANTS_OUT:-target/mutants}

# group -> package and files
run() {
    local group=$1 package=$2
    shift 2
    local files=()
    for f in "$@"; do files+=(--file "$f"); done
    echo "== mutants: $group ($package: $*)"
    # Exit status 2 (missed mutants) or 3 (timeouts) is a finding, not a
    # failure of the script: the reports say which.
    cargo mutants --in-place --no-shuffle -p "$package" \
        "${files[@]}" --output "$out/$group" || status=$?
    case ${status:-0} in
        0 | 2 | 3) ;;
        *) echo "mutants.sh: cargo mutants failed in $group (status $status)" >&2; exit "$status" ;;
    esac
    unset status
}

groups=("$@")
[ ${#groups[@]} -gt 0 ] || groups=(jwt secret throttle auth introspection)
for group in "${groups[@]}"; do
    case $group in
        jwt) run jwt clientcreds-jwt crates/clientcreds-jwt/src/verify.rs ;;
        secret) run secret clientcreds-secret crates/clientcreds-secret/src/hash.rs ;;
        throttle) run throttle clientcreds-registry 'crates/clientcreds-registry/src/throttle/*.rs' ;;
        auth) run auth clientcreds-registry crates/clientcreds-registry/src/registry/auth.rs \
            crates/clientcreds-registry/src/exchange.rs ;;
        introspection) run introspection clientcreds-registry \
            crates/clientcreds-registry/src/introspect.rs crates/clientcreds-registry/src/live.rs ;;
        *) echo "mutants.sh: unknown group $group" >&2; exit 1 ;;
    esac
done
git diff --quiet -- crates || { echo "mutants.sh: crates/ is not clean after the run" >&2; exit 1; }
