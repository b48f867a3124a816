#!/usr/bin/env bash
# Builds the API documentation from the /// comments of the public headers (include/eqnn) with
# doxygen (docs/Doxyfile) into ${BUILD_DIR:-build}/docs/html. Every warning (an undocumented public
# symbol included) is an error: the script fails and prints them.
# Usage: scripts/docs.sh            (needs doxygen: scripts/setup.sh installs it)
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD_DIR=${BUILD_DIR:-build}
if ! command -v doxygen >/dev/null; then
  echo "docs.sh: doxygen not found (scripts/setup.sh installs it)" >&2
  exit 1
fi

case "$BUILD_DIR" in
  /*) export EQNN_DOCS_OUT="$BUILD_DIR/docs" ;;
  *) export EQNN_DOCS_OUT="$PWD/$BUILD_DIR/docs" ;;
esac
log="$EQNN_DOCS_OUT/warnings.log"
rm -rf "$EQNN_DOCS_OUT"
mkdir -p "$EQNN_DOCS_OUT"

start=$SECONDS
status=0
doxygen docs/Doxyfile || status=$?
[ -f "$log" ] || : >"$log"
# With WARN_AS_ERROR doxygen labels its warnings "error:"; some it reports twice.
warnings=$({ grep -E '(warning|error):' "$log" || true; } | sort -u | wc -l)
echo "docs.sh: $warnings warning(s) in $((SECONDS - start)) s ($(doxygen --version))"
if [ "$status" -ne 0 ] || [ "$warnings" -ne 0 ]; then
  cat "$log" >&2
  echo "docs.sh: FAIL: doxygen exited with $status, $warnings warning(s) (log: $log)" >&2
  exit 1
fi
echo "docs.sh: $EQNN_DOCS_OUT/html/index.html"
