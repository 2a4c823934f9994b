#!/usr/bin/env bash
# Rebuilds the test modules of src/wasi/ beside their sources: every *.c with clang --target=wasm32-wasi
# (wasi-libc) and every *.wat with wat2wasm. Needs the Debian packages clang, lld, wasi-libc,
# libclang-rt-dev-wasm32 and wabt (scripts/install-test-deps.sh installs them). The .wasm files are committed,
# so the tests need no compiler; the output is reproducible: same tools, same bytes.
set -euo pipefail
cd "$(dirname "$0")"

for tool in clang wat2wasm; do
  command -v "$tool" >/dev/null || { echo "build.sh: $tool not found; run scripts/install-test-deps.sh" >&2; exit 1; }
done

for src in *.c; do
  clang --target=wasm32-wasi -O2 -Wl,--strip-all -o "${src%.c}.wasm" "$src"
done
for src in *.wat; do
  wat2wasm -o "${src%.wat}.wasm" "$src"
done
echo "built $(ls ./*.wasm | wc -l) modules in examples/modules"
