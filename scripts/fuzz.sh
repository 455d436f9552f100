#!/usr/bin/env bash
# Fuzzes every parser of untrusted bytes for a bounded time: sync wire messages and their DEFLATE,
# request headers, blob ranges, the bundle (.zip) reader of `onevisit verify`, photo ingest
# (JPEG/PNG/EXIF), task tokens, canonical JSON, and the record write rules on arbitrary change bytes.
# Usage: scripts/fuzz.sh [seconds per target, default 60] [target …]
# Uses cargo-fuzz (libFuzzer) on the stable toolchain without a sanitizer (Rust's own checks stay
# on: debug assertions, overflow checks); installs cargo-fuzz from crates.io when missing. Inputs
# that grow coverage are kept in fuzz/corpus/<target>/; a crash leaves its input in
# fuzz/artifacts/<target>/ — fix it, keep the file: the test command replays both folders.
set -euo pipefail
cd "$(dirname "$0")/.."

seconds=${1:-60}
shift || true
targets=("$@")
if [ ${#targets[@]} -eq 0 ]; then
  targets=(sync_wire deflate request_headers blob_range bundle_zip photo task_token canonical_json record_changes)
fi
command -v cargo-fuzz >/dev/null || cargo install cargo-fuzz --locked
command -v c++ >/dev/null || { echo "a C++ compiler is required to build libFuzzer (apt-get install g++)" >&2; exit 1; }

cargo run --quiet -p onevisit-fuzzing --bin onevisit-seed-corpus -- fuzz/corpus
(cd fuzz && cargo fuzz build --sanitizer none -O --debug-assertions)
status=0
for t in "${targets[@]}"; do
  echo "== $t: ${seconds}s"
  (cd fuzz && cargo fuzz run --sanitizer none -O --debug-assertions "$t" "corpus/$t" -- \
      -max_total_time="$seconds" -rss_limit_mb=4096 -max_len=262144 -print_final_stats=1) || status=1
done
[ "$status" -eq 0 ] && echo "fuzzing: no crash in ${#targets[@]} targets × ${seconds}s" || echo "fuzzing: crashes found, see fuzz/artifacts/" >&2
exit "$status"
