#!/usr/bin/env bash
# Installs what bnrt needs to build, test and benchmark on Debian 12, from Debian's packages only.
# With the argument `fuzz`, also what the fuzz run needs.
# Skips apt entirely when everything is already there (fast reruns, CI on a prepared machine).
set -euo pipefail

packages=(
  cmake ninja-build g++ pkg-config
  libxsimd-dev libtbb-dev             # the engine: SIMD kernels, threads
  libonnx-dev libprotobuf-dev         # bnrt::onnx and `bnrt fold`
  libgtest-dev libbenchmark-dev       # tests, benchmarks
  libdnnl-dev                         # oneDNN, a peer measured in benchmarks (never the engine)
)
# `setup-debian.sh fuzz`: also clang with libFuzzer, for the fuzz run in .ci/run.
if [ "${1:-}" = fuzz ]; then
  packages+=(clang libclang-rt-14-dev)
fi

missing=()
for package in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed" ||
    missing+=("$package")
done
[ ${#missing[@]} -eq 0 ] && exit 0

as_root=()
[ "$(id -u)" -ne 0 ] && as_root=(sudo)
echo "setup: installing ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
"${as_root[@]}" apt-get update -qq
"${as_root[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
