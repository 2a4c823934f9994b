#!/bin/sh
# Rebuilds the test modules of src/wasi/ from their C sources (Debian: clang, lld, wasi-libc,
# libclang-rt-dev-wasm32; see scripts/install-test-deps.sh). The .wasm files are committed, so tests need no
# compiler. Usage: examples/modules/build.sh
set -eu
cd "$(dirname "$0")"
for src in *.c; do
  clang --target=wasm32-wasi -O2 -Wl,--strip-all -o "${src%.c}.wasm" "$src"
done
