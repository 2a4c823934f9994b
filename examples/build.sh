#!/usr/bin/env bash
# Rebuilds the example modules committed beside their sources:
#   hello/hello.wasm      from hello/hello.c   (clang --target=wasm32-wasi, wasi-libc)
#   hello/hello-wat.wasm  from hello/hello.wat (wat2wasm)
# Needs the Debian packages clang, lld, wasi-libc, libclang-rt-dev-wasm32 and wabt
# (scripts/install-test-deps.sh installs them). The output is reproducible: same tools, same bytes.
# Then run `node examples/build-images.mjs` to rebuild the example image over the new module.
set -euo pipefail
cd "$(dirname "$0")"

for tool in clang wat2wasm; do
  command -v "$tool" >/dev/null || { echo "build.sh: $tool not found; run scripts/install-test-deps.sh" >&2; exit 1; }
done

clang --target=wasm32-wasi -O2 -Wl,--strip-all -o hello/hello.wasm hello/hello.c
wat2wasm -o hello/hello-wat.wasm hello/hello.wat
echo "built examples/hello/hello.wasm ($(wc -c <hello/hello.wasm) bytes), examples/hello/hello-wat.wasm ($(wc -c <hello/hello-wat.wasm) bytes)"
