#!/usr/bin/env bash
# README command (2): set up, build, and run the tests, then build a consumer project against the
# installed package.
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD_DIR=${BUILD_DIR:-build}
scripts/setup.sh
scripts/build.sh
(cd "$BUILD_DIR" && ctest --output-on-failure --parallel "$(nproc)")

echo "== consumer project: find_package(eqnn) against the installed package"
prefix="$PWD/$BUILD_DIR/install"
cmake --install "$BUILD_DIR" --prefix "$prefix" >/dev/null
cmake -S tests/consumer -B "$BUILD_DIR/consumer" -G Ninja -DCMAKE_BUILD_TYPE=Release \
  -DCMAKE_PREFIX_PATH="$prefix" >/dev/null
cmake --build "$BUILD_DIR/consumer"
"$BUILD_DIR/consumer/consumer"
