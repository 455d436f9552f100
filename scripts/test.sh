#!/usr/bin/env bash
# Runs every test of the workspace on a fresh machine: unit tests beside the code, whole-flow tests
# in tests/, and the `onevisit` command's tests. Needs only Rust (cargo) and python3, which the
# command tests use as an independent SQLite client to tamper with a store.
set -euo pipefail
cd "$(dirname "$0")/.."

command -v cargo >/dev/null || { echo "cargo is required (https://rustup.rs)" >&2; exit 1; }
command -v python3 >/dev/null || { echo "python3 is required" >&2; exit 1; }

cargo build --workspace --all-targets --locked
cargo test --workspace --locked

# Lints, where the toolchain has them (rustup's default profile does).
if cargo fmt --version >/dev/null 2>&1; then cargo fmt --all --check; fi
if cargo clippy --version >/dev/null 2>&1; then cargo clippy --workspace --all-targets --locked -- -D warnings; fi
