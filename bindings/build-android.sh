#!/usr/bin/env bash
# Builds the core for Android (arm64-v8a, armeabi-v7a, x86_64) into the Kotlin library's jniLibs.
# Needs the Android NDK (ANDROID_NDK_HOME) and cargo-ndk (`cargo install cargo-ndk`). Not run on CI:
# the CI machines have no NDK.
set -euo pipefail
cd "$(dirname "$0")/.."
: "${ANDROID_NDK_HOME:?set ANDROID_NDK_HOME to the Android NDK}"
command -v cargo-ndk >/dev/null || { echo "cargo install cargo-ndk" >&2; exit 1; }
rustup target add aarch64-linux-android armv7-linux-androideabi x86_64-linux-android
cargo ndk -t arm64-v8a -t armeabi-v7a -t x86_64 -P 26 \
    -o android/onevisit-kotlin/src/main/jniLibs \
    build --release -p onevisit-ffi --lib
# Ship stripped libraries; the bindings are generated from the unstripped host build (generate.sh).
find android/onevisit-kotlin/src/main/jniLibs -name 'libonevisit_ffi.so' -exec \
    "$ANDROID_NDK_HOME"/toolchains/llvm/prebuilt/*/bin/llvm-strip --strip-unneeded {} \;
ls -l android/onevisit-kotlin/src/main/jniLibs/*/libonevisit_ffi.so
