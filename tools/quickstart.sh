#!/usr/bin/env bash
# quickstart.sh — installs what is missing (Debian packages), builds ntk,
# then runs the demo (`demo`, the default) or the whole test suite (`test`).
#   bash tools/quickstart.sh [demo|test]
# Options via environment: BUILD_DIR (default build), JOBS (default nproc).
set -euo pipefail
cd "$(dirname "$0")/.."
what=${1:-demo}
BUILD_DIR=${BUILD_DIR:-build}
JOBS=${JOBS:-$(nproc)}

PKGS="build-essential cmake pkg-config libopenblas-openmp-dev liblapacke-dev libcmocka-dev libplplot-dev plplot-driver-cairo zlib1g-dev libsleef-dev"
missing=""
for p in $PKGS; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing="$missing $p"
done
if [ -n "$missing" ]; then
  echo "quickstart: installing:$missing" >&2
  SUDO=""
  [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  $SUDO apt-get update -q
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -q --no-install-recommends $missing
fi

cmake -S . -B "$BUILD_DIR" -DCMAKE_BUILD_TYPE=Release
cmake --build "$BUILD_DIR" -j "$JOBS"
case "$what" in
  demo) "$BUILD_DIR/ntk" demo ;;
  test) ctest --test-dir "$BUILD_DIR" --output-on-failure -j "$JOBS" ;;
  *) echo "usage: bash tools/quickstart.sh [demo|test]" >&2; exit 2 ;;
esac
