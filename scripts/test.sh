#!/usr/bin/env bash
# Runs every test on a fresh machine: unit tests beside the code, whole-flow tests in tests/, the
# `onevisit` command's tests; that the generated Kotlin/Swift/Python bindings match the Rust surface;
# the Python bindings' smoke test; the Kotlin library's JUnit suite on the JVM (Maven, against the
# host build of the core and a real server process); and, beside them, rustfmt, clippy, rustdoc and
# cargo-deny (scripts/lints.sh, all required).
# Needs Rust (cargo), python3, openssl, Java 17, Maven, Node.js with npm, PostgreSQL's programs,
# poppler-utils and Chromium and Firefox ESR (installed with apt-get when missing and run as root);
# installs from npm playwright-core and puppeteer-core (console-tests/package-lock.json) and from
# PyPI the independent implementations the tests check our signatures, canonical JSON, evidence
# bundles and the agency seal's SM2 with (cryptography, rfc8785, bagit, gmssl); Maven fetches
# Kotlin, coroutines, JNA and JUnit from Maven Central.
# Ends with one line "tests: N passed, N failed" summing every suite.
set -euo pipefail
cd "$(dirname "$0")/.."

command -v cargo >/dev/null || { echo "cargo is required (https://rustup.rs)" >&2; exit 1; }
command -v python3 >/dev/null || { echo "python3 is required" >&2; exit 1; }

if ! python3 -c "import cryptography, rfc8785, bagit, gmssl" 2>/dev/null; then
  python3 -m pip install --quiet --disable-pip-version-check --root-user-action=ignore cryptography rfc8785 bagit gmssl
fi
command -v openssl >/dev/null || { echo "openssl is required (apt-get install openssl)" >&2; exit 1; }
command -v mvn >/dev/null || { echo "Maven and Java 17 are required (apt-get install maven openjdk-17-jdk)" >&2; exit 1; }
# PostgreSQL: the storage suite and the replica tests start throw-away clusters of their own
# (test-support/src/postgres.rs); only the programs are needed, no running server.
if ! ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 && ! command -v pg_config >/dev/null && [ -z "${ONEVISIT_PG_BIN:-}" ]; then
  if [ "$(id -u)" -eq 0 ] && command -v apt-get >/dev/null; then
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >/dev/null
  else
    echo "PostgreSQL is required (apt-get install postgresql, or set ONEVISIT_PG_BIN)" >&2; exit 1
  fi
fi

# The PDF golden tests read the printed documents back with poppler (pdftotext, pdftoppm, pdffonts,
# pdfimages), a PDF reader independent of the writer.
if ! command -v pdftotext >/dev/null || ! command -v pdftoppm >/dev/null; then
  if [ "$(id -u)" -eq 0 ] && command -v apt-get >/dev/null; then
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends poppler-utils >/dev/null
  else
    echo "The PDF tests need poppler-utils (apt-get install poppler-utils)" >&2; exit 1
  fi
fi

# The web console's browser tests: Debian's Chromium (driven headless by playwright-core from
# console-tests/package-lock.json), Firefox ESR (by puppeteer-core over WebDriver BiDi) and a CJK
# font, so that the screenshots read as Chinese.
browsers=()
if ! command -v chromium >/dev/null && [ -z "${ONEVISIT_CHROMIUM:-}" ]; then browsers+=(chromium fonts-wqy-microhei); fi
if ! command -v firefox-esr >/dev/null && [ -z "${ONEVISIT_FIREFOX:-}" ]; then browsers+=(firefox-esr); fi
if [ "${#browsers[@]}" -gt 0 ]; then
  if [ "$(id -u)" -eq 0 ] && command -v apt-get >/dev/null; then
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${browsers[@]}" >/dev/null
  else
    echo "The console's browser tests need ${browsers[*]} (apt-get install ${browsers[*]}, or set ONEVISIT_CHROMIUM / ONEVISIT_FIREFOX)" >&2; exit 1
  fi
fi
command -v npm >/dev/null || { echo "Node.js 20 and npm are required (apt-get install nodejs npm)" >&2; exit 1; }
(cd console-tests && npm ci --no-audit --no-fund --loglevel=error)

# A run from a clean clone gains nothing from incremental compilation, which kept a second copy of
# every workspace crate (≈ 1.2 GB); set CARGO_INCREMENTAL=1 to keep it while iterating.
export CARGO_INCREMENTAL="${CARGO_INCREMENTAL:-0}"

log=$(mktemp)
lint_log=$(mktemp)
lint_pid=""
# The lints still running in the background (see below) are waited for, never orphaned.
trap 'if [ -n "$lint_pid" ]; then wait "$lint_pid" 2>/dev/null || true; fi; rm -f "$log" "$lint_log"' EXIT

cargo build --workspace --all-targets --locked
# The lints (scripts/lints.sh: rustfmt, clippy, rustdoc, cargo-deny) run at the lowest priority in
# their own target folder while the tests run: the tests wait on processes and sockets more than on
# the CPU, so the lints mostly use what the tests leave idle.
nice -n 19 bash scripts/lints.sh > "$lint_log" 2>&1 &
lint_pid=$!
set +e
cargo test --workspace --locked 2>&1 | tee "$log"
test_status=${PIPESTATUS[0]}
set -e

# The bindings: generated files up to date, Python smoke test, the Kotlin suite on the JVM.
extra_passed=0
extra_failed=0
count() { if [ "$1" -eq 0 ]; then extra_passed=$((extra_passed + $2)); else extra_failed=$((extra_failed + 1)); test_status=1; fi; }
set +e
bash bindings/generate.sh --check; count $? 1
py_log=$(python3 bindings/python/test_bindings.py target/debug 2>&1); py_status=$?
echo "$py_log"
count "$py_status" "$(echo "$py_log" | sed -nE 's/^Ran ([0-9]+) tests?.*/\1/p')"
(cd android/onevisit-kotlin && mvn -q -B test); kotlin_status=$?
set -e
junit=$(cat android/onevisit-kotlin/target/surefire-reports/TEST-*.xml 2>/dev/null \
  | sed -nE 's/.*<testsuite [^>]*tests="([0-9]+)".*/\1/p' | awk '{s += $1} END {print s + 0}')
if [ "$kotlin_status" -eq 0 ]; then count 0 "$junit"; else count 1 0; fi

lint_status=0
wait "$lint_pid" || lint_status=$?
lint_pid=""
cat "$lint_log"

passed=$(sed -nE 's/^test result: [A-Za-z]+\. ([0-9]+) passed.*/\1/p' "$log" | awk -v x="$extra_passed" '{s += $1} END {print s + x}')
failed=$(sed -nE 's/^test result: [A-Za-z]+\. [0-9]+ passed; ([0-9]+) failed.*/\1/p' "$log" | awk -v x="$extra_failed" '{s += $1} END {print s + x}')
[ "$test_status" -ne 0 ] && [ "$failed" -eq 0 ] && failed=1   # a test binary that crashed or did not build
[ "$lint_status" -ne 0 ] && echo "lints failed (rustfmt, clippy, rustdoc or cargo-deny), see above" >&2
echo "tests: $passed passed, $failed failed"
[ "$test_status" -eq 0 ] && [ "$lint_status" -eq 0 ]
