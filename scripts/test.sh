#!/usr/bin/env bash
# The project's one test command: README.md names it and .ci/run runs it.
# Formatting, lints, every test target (unit, integration, benches in test
# mode, examples) against a throwaway PostgreSQL and SMTP server that
# scripts/with-postgres.sh and scripts/with-smtp.sh install and start, a
# foreign issuer (oidc-provider, pinned) that scripts/with-oidc-provider.sh
# installs, and headless Chromium (the admin console's browser tests) that
# scripts/with-chromium.sh installs and drives through chromedriver, the
# doctests, and the docs, all warnings as errors.
set -euo pipefail
cd "$(dirname "$0")/.."

step() { printf '\n==> %s\n' "$*"; }

for tool in cargo rustfmt cargo-clippy rustdoc; do
    command -v "$tool" >/dev/null || { echo "error: $tool is not installed (rustup component add rustfmt clippy)" >&2; exit 1; }
done

step "cargo fmt --check"
cargo fmt --all -- --check

step "cargo clippy (warnings are errors)"
cargo clippy --workspace --all-targets --all-features --locked -- -D warnings

step "cargo doc (warnings are errors)"
RUSTDOCFLAGS="-D warnings" cargo doc --workspace --no-deps --all-features --locked --quiet

step "cargo test: unit, integration, examples, benches in test mode (with a throwaway PostgreSQL and SMTP server, oidc-provider, and headless Chromium)"
bash scripts/with-postgres.sh bash scripts/with-smtp.sh bash scripts/with-oidc-provider.sh \
    bash scripts/with-chromium.sh \
    cargo test --workspace --all-targets --all-features --locked

step "clientcreds-jwt on its other crypto backend, ring (no default features)"
cargo clippy -p clientcreds-jwt --all-targets --no-default-features --locked -- -D warnings
cargo test -p clientcreds-jwt --all-targets --no-default-features --locked

step "cargo test: doctests (the facade's guide: one recipe per reference product)"
cargo test --workspace --doc --all-features --locked

step "the facade without the default crypto backend, with each party alone"
cargo check -p clientcreds --no-default-features --features server-axum,resource,client --locked
for features in server resource client "sqlite,postgres"; do
    cargo check -p clientcreds --features "$features" --locked
done

step "the facade with every feature set the docs name (README.md, the facade's README and crate docs)"
for features in "server-axum,postgres" "server-axum,sqlite" "server,sqlite" "console" \
    "resource,reqwest,axum" "resource,reqwest,tower" "client,middleware" "client,tower"; do
    cargo check -p clientcreds --features "$features" --locked
done

step "a resource server and a caller compile no issuer crate (cargo tree)"
for features in resource "resource,reqwest" "resource,reqwest,axum" "resource,reqwest,tower" \
    client "client,middleware" "client,tower" "resource,reqwest,axum,client,middleware"; do
    tree=$(cargo tree -p clientcreds --features "$features" -e normal --prefix none --format '{p}' --locked)
    for issuer_crate in clientcreds-registry clientcreds-http clientcreds-sqlx clientcreds-axum clientcreds-console; do
        if grep -q "^$issuer_crate " <<<"$tree"; then
            echo "error: features \"$features\" pull in $issuer_crate:" >&2
            cargo tree -p clientcreds --features "$features" -e normal -i "$issuer_crate" --locked >&2
            exit 1
        fi
    done
done

step "the guide: each chapter's doctest with exactly the features its table row names"
# The rows of the table in crates/clientcreds/src/guide.rs:
# | [`chapter`]: what | `feature`, `feature` |
grep -E '^//! \| \[`[a-z_]+`\]' crates/clientcreds/src/guide.rs |
    sed -E 's/^\/\/! \| \[`([a-z_]+)`\][^|]*\| (.*) \|$/\1 \2/' |
    while read -r chapter features; do
        features=$(tr -d '` ' <<<"$features")
        echo "guide::$chapter with --features $features"
        out=$(cargo test -p clientcreds --doc --locked --features "$features" -- "guide::$chapter " 2>&1) ||
            { echo "$out" >&2; exit 1; }
        # A chapter gated on more features than its row names compiles to
        # a stub without a doctest: that is a failure too.
        grep -Eq 'test result: ok\. [1-9][0-9]* passed' <<<"$out" ||
            { echo "$out" >&2; echo "error: guide::$chapter ran no doctest with --features $features" >&2; exit 1; }
    done

step "the facade's docs alone (no other crate documented with it), warnings as errors"
RUSTDOCFLAGS="-D warnings" cargo doc -p clientcreds --no-deps --locked --quiet
RUSTDOCFLAGS="-D warnings" cargo doc -p clientcreds --no-deps --all-features --locked --quiet

step "publishable: cargo package and cargo publish --dry-run of every published crate"
# --workspace packages the members together, so the path dependencies
# between crates that are not on crates.io yet resolve to the packages
# being made. `package --no-verify` checks every manifest and file list;
# `publish --dry-run` packages the publishable crates again and builds
# each one from its package (the verification), uploading nothing.
cargo package --workspace --no-verify --locked
# The verification builds take our crates from the packages just made, under
# the same names and versions as in an earlier run; cargo treats a packaged
# version as immutable and would reuse that run's unpacked sources and
# compiled copies. Forget both, so that each run verifies what it packaged.
# (None of our crates is on crates.io yet: every clientcreds* source under
# the registry cache is one of these overlays.)
find "${CARGO_HOME:-$HOME/.cargo}/registry/src" -mindepth 2 -maxdepth 2 -name 'clientcreds*' -exec rm -rf {} + 2>/dev/null || true
find "${CARGO_TARGET_DIR:-target}/debug/.fingerprint" -maxdepth 1 -name 'clientcreds*' -exec rm -rf {} + 2>/dev/null || true
cargo publish --dry-run --workspace --locked

step "examples run"
cargo run --quiet --locked --example quickstart >/dev/null
cargo run --quiet --locked --example secrets >/dev/null
cargo run --quiet --locked --example resource_server >/dev/null
cargo run --quiet --locked --example caller >/dev/null
