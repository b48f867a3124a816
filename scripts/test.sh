#!/usr/bin/env bash
# README command (2): set up, build, and run the tests, then build a consumer project against the
# installed package (moved to another directory), pkg-config and the Debian package.
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD_DIR=${BUILD_DIR:-build}
scripts/setup.sh
scripts/build.sh
(cd "$BUILD_DIR" && ctest --output-on-failure --parallel "$(nproc)")

packaging_start=$SECONDS
stage="$PWD/$BUILD_DIR/packaging"
rm -rf "$stage"
mkdir -p "$stage"
fail() { echo "test.sh: FAIL: $*" >&2; exit 1; }

echo "== relocatable install: cmake --install to one prefix, mv it, use it from the new place"
cmake --install "$BUILD_DIR" --prefix "$stage/installed" >/dev/null
mv "$stage/installed" "$stage/moved"
prefix="$stage/moved"
cmake_dir=$(dirname "$(find "$prefix" -name eqnnConfig.cmake)")
pc_dir=$(dirname "$(find "$prefix" -name eqnn.pc)")
if grep -n "$stage/installed" -r "$cmake_dir" "$pc_dir"; then fail "the install records its prefix"; fi
if grep -nE '/lib(c10|torch)[^ ";]*\.so' "$cmake_dir"/eqnnTargets*.cmake; then
  fail "eqnnTargets.cmake names LibTorch libraries by absolute path"
fi

echo "== consumer project: find_package(eqnn) in the moved prefix, GoogleTest helpers"
cmake -S tests/consumer -B "$stage/consumer" -G Ninja -DCMAKE_BUILD_TYPE=Release \
  -DCMAKE_PREFIX_PATH="$prefix" >/dev/null
cmake --build "$stage/consumer"
"$stage/consumer/consumer"
"$stage/consumer/consumer_gtest" --gtest_brief=1

echo "== pkg-config: c++ main.cpp \$(pkg-config --cflags --libs eqnn) against the moved prefix"
export PKG_CONFIG_PATH="$pc_dir"
echo "eqnn $(pkg-config --modversion eqnn): $(pkg-config --cflags --libs eqnn)"
c++ -std=c++17 tests/consumer/main.cpp -o "$stage/pkgconfig_consumer" $(pkg-config --cflags --libs eqnn)
LD_LIBRARY_PATH="$(pkg-config --variable=libdir eqnn)" "$stage/pkgconfig_consumer"
unset PKG_CONFIG_PATH

echo "== Debian package: cpack -G DEB, its contents and dependencies, the extracted eqnn --help"
(cd "$BUILD_DIR" && cpack -G DEB -B "$stage/deb" >/dev/null)
deb=$(ls "$stage"/deb/eqnn_*.deb)
dpkg-deb -c "$deb" | awk '{print $6}' >"$stage/deb-contents.txt"
for f in ./usr/bin/eqnn ./usr/include/eqnn/eqnn.h ./usr/include/eqnn/testing/catch2.h \
  ./usr/include/eqnn/testing/gtest.h ./usr/lib/libeqnn.so ./usr/lib/cmake/eqnn/eqnnConfig.cmake \
  ./usr/lib/cmake/eqnn/eqnnTargets.cmake ./usr/lib/pkgconfig/eqnn.pc ./usr/share/doc/eqnn/LICENSE; do
  grep -qx -- "$f" "$stage/deb-contents.txt" || fail "$(basename "$deb") lacks $f"
done
depends=$(dpkg-deb -f "$deb" Depends)
echo "$(basename "$deb"): $(wc -l <"$stage/deb-contents.txt") entries; Depends: $depends"
for p in libtorch-dev libtorch1.13; do
  grep -qE "(^|, )$p( |,|$)" <<<"$depends" || fail "Depends lacks $p"
done
dpkg-deb -x "$deb" "$stage/root"
libs=$(LD_LIBRARY_PATH="$stage/root/usr/lib" ldd "$stage/root/usr/bin/eqnn")
grep -q "$stage/root/usr/lib/libeqnn.so" <<<"$libs" || fail "the extracted eqnn does not load the extracted libeqnn"
help=$(LD_LIBRARY_PATH="$stage/root/usr/lib" "$stage/root/usr/bin/eqnn" --help)
echo "extracted eqnn --help: $(head -n 1 <<<"$help")"
echo "== packaging checks passed in $((SECONDS - packaging_start)) s"

echo "== API documentation: Doxygen over include/eqnn, warnings are errors"
scripts/docs.sh
