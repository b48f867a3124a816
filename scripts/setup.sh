#!/usr/bin/env bash
# Installs every Debian package eqnn needs (skipping those already present). Idempotent.
# Usage: scripts/setup.sh            (build + test dependencies and the Fashion-MNIST data set)
set -euo pipefail

packages=(
  build-essential cmake ninja-build pkg-config
  libtorch-dev          # LibTorch 1.13 (CPU)
  libgloo-dev           # the Gloo headers of LibTorch's c10d (eqnn::distributed, world size > 1)
  catch2                # tests
  libgtest-dev          # the consumer project's GoogleTest suite (eqnn/testing/gtest.h)
  dpkg-dev file         # cpack -G DEB (dpkg-shlibdeps, file)
  libbenchmark-dev      # bench/
  libcli11-dev          # the eqnn program
  nlohmann-json3-dev    # reference-data manifest, JSON reports
  zlib1g-dev            # gzip'd IDX data sets
  doxygen               # API documentation (scripts/docs.sh)
  clang libclang-rt-14-dev  # scripts/sanitize.sh: ASan + UBSan build, libFuzzer targets
  dataset-fashion-mnist # the main job's data (IDX files under /usr/share/datasets/fashion-mnist)
)

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done

if [ ${#missing[@]} -eq 0 ]; then
  echo "setup: all ${#packages[@]} packages present"
  exit 0
fi

echo "setup: installing ${missing[*]}"
SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
