#!/usr/bin/env bash
# A packager's or user's first build: `cmake -DCMAKE_BUILD_TYPE=Release` (-O3) with Debian 12's
# gcc, here with warnings as errors so that a warning only -O3 shows (GCC 12 once reported a false
# -Wrestrict in std::string::assign) fails the suite instead of a user's build.
#   tests/release/release_build_test.sh BUILD_DIR [COMPILER]
# Runs beside the sanitized suites, niced, so it takes mostly idle time.
set -euo pipefail
SRC=$(cd "$(dirname "$0")/../.." && pwd)
B=${1:?usage: release_build_test.sh BUILD_DIR [COMPILER]}
CXX=${2:-g++}
# A unity build (CMake's CMAKE_UNITY_BUILD, batches of 8 sources): at -O3 each batch instantiates and
# optimizes the json/fmt/yaml templates its sources share once instead of once per source, which
# halves the CPU of this build (8 sources of src/: 37 CPU-s instead of 70). It also keeps the
# sources unity-safe: two files of one batch that define the same helper fail here.
cmake -S "$SRC" -B "$B" -G Ninja -DCMAKE_CXX_COMPILER="$CXX" -DCMAKE_BUILD_TYPE=Release \
  -DCMAKE_UNITY_BUILD=ON -DSEALIFT_WERROR=ON -DSEALIFT_BUILD_TESTS=OFF >/dev/null
nice -n 10 ninja -C "$B" -j "${RELEASE_BUILD_JOBS:-2}" sealift-bundle sealift-install
"$B/sealift-bundle" --version
"$B/sealift-install" --version
echo "release build ($CXX, -O3, -Werror): ok"
