#!/usr/bin/env bash
# Installs the Debian packages nodewasi's tests use, when they are missing: a real registry
# (docker-registry), skopeo (to push fixtures), containerd (ctr, for the shim tests), bubblewrap (runner
# isolation), clang + lld + wasi-libc + the wasm32 compiler-rt (to build the C examples:
# clang --target=wasm32-wasi cannot link without libclang_rt.builtins-wasm32), wabt (wat2wasm), zstd
# (zstd-compressed layer fixtures), apache2-utils (htpasswd, for registry auth tests) and openssl (TLS
# certificates for the registry tests).
#
# Quiet when everything is there. Otherwise runs `apt-get update` once and installs only what is missing,
# with sudo when not root. Debian/Ubuntu only.
set -euo pipefail

# package:probe, where probe is a command name or "dpkg" (the package has no command of its own).
wanted=(
  docker-registry:docker-registry
  containerd:ctr
  skopeo:skopeo
  bubblewrap:bwrap
  clang:clang
  lld:wasm-ld
  wasi-libc:dpkg
  libclang-rt-dev-wasm32:dpkg
  wabt:wat2wasm
  zstd:zstd
  apache2-utils:htpasswd
  openssl:openssl
)

missing=()
for item in "${wanted[@]}"; do
  pkg=${item%%:*}
  probe=${item#*:}
  if [[ $probe == dpkg ]]; then
    dpkg -s "$pkg" >/dev/null 2>&1 && continue
  else
    command -v "$probe" >/dev/null 2>&1 && continue
  fi
  missing+=("$pkg")
done

((${#missing[@]} == 0)) && exit 0

if ! command -v apt-get >/dev/null 2>&1; then
  echo "install-test-deps: missing ${missing[*]}, and apt-get is not available; install them by hand" >&2
  exit 1
fi

sudo=()
if ((EUID != 0)); then
  if ! command -v sudo >/dev/null 2>&1; then
    echo "install-test-deps: missing ${missing[*]}; run as root or install sudo" >&2
    exit 1
  fi
  sudo=(sudo)
fi

for pkg in "${missing[@]}"; do echo "install-test-deps: installing $pkg (not found)"; done
export DEBIAN_FRONTEND=noninteractive
"${sudo[@]}" apt-get update -qq
"${sudo[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}"
echo "install-test-deps: installed ${missing[*]}"
