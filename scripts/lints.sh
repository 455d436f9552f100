#!/usr/bin/env bash
# The lints of the test command, all required: rustfmt, clippy (-D warnings), rustdoc (-D warnings)
# and cargo-deny over deny.toml (licences, banned crates and sources always; advisories when the
# RustSec database on github.com can be fetched). Uses its own target folder (target/lint) so that
# it can run beside `cargo test` without waiting for its lock. Builds cargo-deny from crates.io when
# it is not installed.
set -uo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR=target/lint
status=0
# A toolchain without rustfmt or clippy fails here rather than skipping them.
cargo fmt --version >/dev/null 2>&1 || { echo "rustfmt is missing: rustup component add rustfmt" >&2; exit 1; }
cargo clippy --version >/dev/null 2>&1 || { echo "clippy is missing: rustup component add clippy" >&2; exit 1; }
cargo fmt --all --check || status=1
cargo clippy --workspace --all-targets --locked --quiet -- -D warnings || status=1
RUSTDOCFLAGS="-D warnings" cargo doc --workspace --no-deps --locked --quiet || status=1

deny=$(command -v cargo-deny || echo target/tools/bin/cargo-deny)
if [ ! -x "$deny" ]; then
  # Unoptimised and without debug info: the quickest build of a tool that runs for a second.
  CARGO_PROFILE_DEV_DEBUG=0 cargo install --locked --debug --quiet cargo-deny@0.20.2 --root target/tools \
    || { echo "building cargo-deny failed" >&2; exit 1; }
fi
"$deny" check licenses bans sources || status=1
if "$deny" fetch db >/dev/null 2>&1; then
  "$deny" check advisories || status=1
else
  echo "cargo deny: the RustSec advisory database is not reachable from here; advisories not checked" >&2
fi
exit "$status"
