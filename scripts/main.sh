#!/usr/bin/env bash
# README command (1): set up, build, and run the main job.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
scripts/build.sh
exec "${BUILD_DIR:-build}/apps/eqnn/eqnn" demo "$@"
