#!/usr/bin/env bash
# Builds the core for iOS devices and simulators and packs it with the generated C header as
# ios/OneVisitKit/OneVisitFFIC.xcframework, the binary target of the Swift package. Needs macOS with
# Xcode. Not run on CI: the CI machines have no Swift toolchain.
set -euo pipefail
cd "$(dirname "$0")/.."
targets=(aarch64-apple-ios aarch64-apple-ios-sim x86_64-apple-ios)
rustup target add "${targets[@]}"
for t in "${targets[@]}"; do
    cargo build --release -p onevisit-ffi --lib --target "$t"
done
headers=$(mktemp -d)
cp ios/generated/include/onevisitFFI.h "$headers/"
cp ios/generated/include/module.modulemap "$headers/module.modulemap"
sim=target/ios-simulator/release
mkdir -p "$sim"
lipo -create target/aarch64-apple-ios-sim/release/libonevisit_ffi.a target/x86_64-apple-ios/release/libonevisit_ffi.a \
    -output "$sim/libonevisit_ffi.a"
out=ios/OneVisitKit/OneVisitFFIC.xcframework
rm -rf "$out"
xcodebuild -create-xcframework \
    -library target/aarch64-apple-ios/release/libonevisit_ffi.a -headers "$headers" \
    -library "$sim/libonevisit_ffi.a" -headers "$headers" \
    -output "$out"
echo "built $out"
