#!/usr/bin/env bash
# Generates the Kotlin, Swift and Python bindings from the host build of onevisit-ffi (library
# mode needs an unstripped library) into the places the apps consume them.
#   bash bindings/generate.sh          # write them
#   bash bindings/generate.sh --check  # fail if the committed files differ from a fresh generation
# Expects `cargo build --workspace` to have run (always build the workspace the same way: the
# bindgen's `cli` feature unifies into it).
set -euo pipefail
cd "$(dirname "$0")/.."
lib="target/debug/libonevisit_ffi.so"
[[ "$(uname)" == "Darwin" ]] && lib="target/debug/libonevisit_ffi.dylib"
[[ -f "$lib" ]] || { echo "missing $lib: run cargo build --workspace first" >&2; exit 2; }

out="$(mktemp -d)"
trap 'rm -rf "$out"' EXIT
target/debug/uniffi-bindgen generate --library "$lib" --no-format \
    --language kotlin --language swift --language python --out-dir "$out" >/dev/null

# generated file -> committed place
declare -A places=(
    ["cn/onevisit/ffi/onevisit.kt"]="android/onevisit-kotlin/src/main/kotlin/cn/onevisit/ffi/onevisit.kt"
    ["OneVisitFFI.swift"]="ios/OneVisitKit/Sources/OneVisitFFI/OneVisitFFI.swift"
    ["onevisitFFI.h"]="ios/generated/include/onevisitFFI.h"
    ["onevisitFFI.modulemap"]="ios/generated/include/module.modulemap"
    ["onevisit.py"]="bindings/python/onevisit.py"
)
stale=0
for generated in "${!places[@]}"; do
    place="${places[$generated]}"
    if [[ "${1:-}" == "--check" ]]; then
        if ! cmp -s "$out/$generated" "$place"; then
            echo "out of date: $place (run bash bindings/generate.sh)" >&2
            diff -u "$place" "$out/$generated" | head -20 >&2 || true
            stale=1
        fi
    else
        mkdir -p "$(dirname "$place")"
        cp "$out/$generated" "$place"
        echo "wrote $place"
    fi
done
exit $stale
