#!/usr/bin/env bash
# Stages the build dependencies that a GPU machine without package access lacks (Catch2, Google
# Benchmark, CLI11, nlohmann_json, zlib headers) into .gpu-deps/usr, copied from this machine's
# Debian packages with their relocatable CMake package files, for scripts/gpu_check.sh there:
#   scripts/gpu_deps.sh          # here, once (needs the packages scripts/setup.sh installs)
# then, with the `device` tool: carry ".gpu-deps" and run scripts/gpu_check.sh.
set -euo pipefail
cd "$(dirname "$0")/.."
dest=.gpu-deps
rm -rf "$dest"
mkdir -p "$dest"
for pkg in catch2 libbenchmark-dev libbenchmark1debian libcli11-dev nlohmann-json3-dev zlib1g-dev; do
  dpkg -L "$pkg" >/dev/null 2>&1 || { echo "gpu_deps.sh: package $pkg is not installed" >&2; exit 1; }
  # regular files and symbolic links, documentation left out
  dpkg -L "$pkg" | grep -v '^/usr/share/doc' | while read -r f; do
    if [ -f "$f" ] || [ -L "$f" ]; then
      mkdir -p "$dest$(dirname "$f")"
      cp -a "$f" "$dest$f"
    fi
  done
done
# zlib's runtime library beside its headers (the GPU machine's may have no libz.so link)
cp -a /lib/x86_64-linux-gnu/libz.so.1* "$dest/usr/lib/x86_64-linux-gnu/" 2>/dev/null || true
echo "gpu_deps.sh: $(du -sh "$dest" | cut -f1) in $dest (carry it to the GPU machine)"
