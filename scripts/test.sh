#!/usr/bin/env bash
# Runs every test of the workspace on a fresh machine: unit tests beside the code, whole-flow tests
# in tests/, and the `onevisit` command's tests; then rustfmt and clippy where installed. Needs Rust
# (cargo), python3 and openssl; installs from PyPI the independent implementations the tests check
# our signatures, canonical JSON and evidence bundles with (cryptography, rfc8785, bagit).
# Ends with one line "tests: N passed, N failed" summing every test binary.
set -euo pipefail
cd "$(dirname "$0")/.."

command -v cargo >/dev/null || { echo "cargo is required (https://rustup.rs)" >&2; exit 1; }
command -v python3 >/dev/null || { echo "python3 is required" >&2; exit 1; }

if ! python3 -c "import cryptography, rfc8785, bagit" 2>/dev/null; then
  python3 -m pip install --quiet --disable-pip-version-check --root-user-action=ignore cryptography rfc8785 bagit
fi
command -v openssl >/dev/null || { echo "openssl is required (apt-get install openssl)" >&2; exit 1; }

log=$(mktemp)
trap 'rm -f "$log"' EXIT

cargo build --workspace --all-targets --locked
set +e
cargo test --workspace --locked 2>&1 | tee "$log"
test_status=${PIPESTATUS[0]}
set -e

lint_status=0
if [ "$test_status" -eq 0 ]; then
  # Lints, where the toolchain has them (rustup's default profile does).
  if cargo fmt --version >/dev/null 2>&1; then cargo fmt --all --check || lint_status=$?; fi
  if cargo clippy --version >/dev/null 2>&1; then
    cargo clippy --workspace --all-targets --locked -- -D warnings || lint_status=$?
  fi
fi

passed=$(sed -nE 's/^test result: [A-Za-z]+\. ([0-9]+) passed.*/\1/p' "$log" | awk '{s += $1} END {print s + 0}')
failed=$(sed -nE 's/^test result: [A-Za-z]+\. [0-9]+ passed; ([0-9]+) failed.*/\1/p' "$log" | awk '{s += $1} END {print s + 0}')
[ "$test_status" -ne 0 ] && [ "$failed" -eq 0 ] && failed=1   # a test binary that crashed or did not build
[ "$lint_status" -ne 0 ] && echo "lints failed (rustfmt or clippy), see above" >&2
echo "tests: $passed passed, $failed failed"
[ "$test_status" -eq 0 ] && [ "$lint_status" -eq 0 ]
