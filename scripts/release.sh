#!/usr/bin/env bash
# The vendor's release: portable sealift binaries for linux/amd64 and linux/arm64 (glibc 2.28 or
# newer, nothing else needed on the host), with their licences, checksums, SBOMs and signature.
#
#   scripts/release.sh [--arch amd64|arm64|all] [--out DIR] [--build DIR] [--key KEY] [--package-only]
#
#   --arch          one architecture, or all (the default)
#   --out DIR       where the artifacts go (default dist/)
#   --build DIR     where the builds go, one directory per architecture (default build/portable)
#   --key KEY       signs SHA256SUMS into SHA256SUMS.sig (cosign sign-blob format): a cosign key
#                   (with `sealift-bundle sign-blob`, password from COSIGN_PASSWORD) or a PEM EC
#                   private key (openssl). Without it, no signature is written and it says so.
#   --package-only  reuse the binaries of the last build (BUILD/ARCH), only package them
#                   again (the suite's reproducibility check)
#
# Writes DIR/sealift-VERSION-linux-ARCH.tar.gz (sealift-bundle, sealift-install, NOTICE,
# licenses/, INSTALL), DIR/sealift-{bundle,install}-VERSION-linux-ARCH.spdx.json (SPDX 2.3: every
# statically linked component with its version, Debian source package and licence), DIR/SHA256SUMS.
# Reproducible: SOURCE_DATE_EPOCH (default: the last commit's time) fixes every date, the tar has
# sorted entries, owner 0 and fixed mtimes, gzip -n; two runs from one commit give the same bytes.
# The third-party libraries come from scripts/portable/build-deps.sh (cached by pinned inputs).
set -euo pipefail
shopt -s inherit_errexit
cd "$(dirname "$0")/.."
SRC=$PWD

archs=(amd64 arm64) out=dist builddir=build/portable key="" package_only=0
while [ $# -gt 0 ]; do
  case "$1" in
    --arch) case "${2:-}" in all) archs=(amd64 arm64) ;; amd64|arm64) archs=("$2") ;;
              *) echo "release.sh: --arch takes amd64, arm64 or all" >&2; exit 2 ;; esac; shift 2 ;;
    --out) out=${2:?--out needs a directory}; shift 2 ;;
    --build) builddir=${2:?--build needs a directory}; shift 2 ;;
    --key) key=${2:?--key needs a file}; shift 2 ;;
    --package-only) package_only=1; shift ;;
    -h|--help) sed -n '2,23p' "$0"; exit 0 ;;
    *) echo "release.sh: unknown argument $1" >&2; exit 2 ;;
  esac
done
log() { printf 'release: %s\n' "$*" >&2; }
trap 'log "FAILED at scripts/release.sh line $LINENO: $BASH_COMMAND"' ERR

VERSION=$(sed -n 's/^project(sealift VERSION \([0-9.]*\).*/\1/p' CMakeLists.txt)
[ -n "$VERSION" ] || { log "no version in CMakeLists.txt's project()"; exit 1; }
export SOURCE_DATE_EPOCH=${SOURCE_DATE_EPOCH:-$(git log -1 --format=%ct 2>/dev/null || echo 0)}
export TZ=UTC LC_ALL=C
mkdir -p "$out" "$builddir" && out=$(cd "$out" && pwd) && builddir=$(cd "$builddir" && pwd)
export CCACHE_BASEDIR=${CCACHE_BASEDIR:-$SRC}
# zig's own cache (the C++ runtime and glibc stubs it builds once per target): the one of
# build-deps.sh, so that the runtime the libraries were built with is not built a second time.
export ZIG_GLOBAL_CACHE_DIR=${SEALIFT_PORTABLE:-$HOME/.cache/sealift/portable}/zig-cache
export ZIG_LOCAL_CACHE_DIR=$ZIG_GLOBAL_CACHE_DIR

build_arch() {
  local arch=$1 prefix b
  prefix=$(scripts/portable/build-deps.sh "$arch")
  b=$builddir/$arch
  if [ "$package_only" = 0 ]; then
    log "building sealift for linux/$arch against $prefix"
    # Release (-O3), warnings as errors; paths in the binaries are relative to the source tree, and
    # symbols are stripped when packaged (the SBOM names what is inside, and the build is
    # reproducible). Not by the link (zig's -s): zig builds its C++ runtime once per set of flags,
    # and a stripped link would build it a second time for CMake's own test programs. A unity
    # build: the sources compile in batches, which costs far less CPU than file by file (most of a
    # file's time is the shared headers); the man pages and completions are not part of a tarball.
    cmake -S . -B "$b" -G Ninja -DCMAKE_TOOLCHAIN_FILE="$SRC/scripts/portable/toolchain.cmake" \
      -DSEALIFT_PORTABLE_PREFIX="$prefix" -DCMAKE_BUILD_TYPE=Release -DSEALIFT_WERROR=ON \
      -DCMAKE_UNITY_BUILD=ON -DSEALIFT_GENERATED_DOCS=OFF -DSEALIFT_BUILD_TESTS=OFF -DCMAKE_CXX_FLAGS="-ffile-prefix-map=$SRC/=" \
      -DCMAKE_EXE_LINKER_FLAGS="-Wl,--build-id=none" >"$b.cmake.log" 2>&1 ||
      { cat "$b.cmake.log" >&2; exit 1; }
    ninja -C "$b" -j"${JOBS:-2}" sealift-bundle sealift-install
  fi
  package "$arch" "$prefix" "$b"
}

# package ARCH PREFIX BUILD: the tarball and the two SBOMs of one architecture.
package() {
  local arch=$1 prefix=$2 b=$3
  local name=sealift-$VERSION-linux-$arch
  local stage; stage=$(mktemp -d "${TMPDIR:-/tmp}/sealift-release.XXXXXX")
  mkdir -p "$stage/$name/licenses"
  # zig's objcopy (the pinned toolchain's, named by the prefix's wrappers) strips for either architecture.
  local zig prog
  zig=$(sed -n 's/^exec \([^ ]*\) ar .*/\1/p' "$prefix/bin/ar")
  for prog in sealift-bundle sealift-install; do
    "$zig" objcopy --strip-all "$b/$prog" "$stage/$name/$prog"
    chmod 0755 "$stage/$name/$prog"
  done
  install -m 0644 "$prefix"/share/licenses/* "$stage/$name/licenses/"
  {
    echo "sealift $VERSION for linux/$arch links these components statically (the C library is the"
    echo "host's). Each one's copyright and licence, as its Debian package states them, is in"
    echo "licenses/<package> (llvm-runtimes: LLVM's and zig's licences)."
    echo
    sort "$prefix/share/components.tsv" | awk -F'\t' '{ printf "%s %s (%s)\n    built from %s\n", $1, $2, $4, $3 }'
  } >"$stage/$name/NOTICE"
  sed -e "s/@VERSION@/$VERSION/g" -e "s/@ARCH@/$arch/g" scripts/portable/INSTALL.in >"$stage/$name/INSTALL"
  chmod 0644 "$stage/$name/NOTICE" "$stage/$name/INSTALL"
  find "$stage/$name" -exec touch -h -d "@$SOURCE_DATE_EPOCH" {} +
  tar --sort=name --owner=0 --group=0 --numeric-owner --mtime="@$SOURCE_DATE_EPOCH" --format=gnu \
      -C "$stage" -cf - "$name" | gzip -n -9 >"$out/$name.tar.gz.tmp"
  mv "$out/$name.tar.gz.tmp" "$out/$name.tar.gz"
  for prog in sealift-bundle sealift-install; do
    python3 scripts/portable/sbom.py --binary "$stage/$name/$prog" --name "$prog" --version "$VERSION" \
      --arch "$arch" --components "$prefix/share/components.tsv" \
      >"$out/$prog-$VERSION-linux-$arch.spdx.json.tmp"
    mv "$out/$prog-$VERSION-linux-$arch.spdx.json.tmp" "$out/$prog-$VERSION-linux-$arch.spdx.json"
  done
  rm -rf "$stage"
  log "wrote $out/$name.tar.gz ($(stat -c %s "$out/$name.tar.gz") bytes)"
}

for a in "${archs[@]}"; do build_arch "$a"; done

# Checksums over every artifact in DIR (both architectures when both were built into it).
(cd "$out" && find . -maxdepth 1 -type f \( -name 'sealift-*.tar.gz' -o -name 'sealift-*.spdx.json' \) -printf '%f\n' |
  sort | xargs sha256sum >SHA256SUMS.tmp && mv SHA256SUMS.tmp SHA256SUMS)
rm -f "$out/SHA256SUMS.sig"
if [ -n "$key" ]; then
  # cosign sign-blob's format: base64 of the ASN.1 ECDSA signature over SHA-256 of the file.
  if head -c 64 "$key" | grep -q 'ENCRYPTED SIGSTORE PRIVATE KEY\|ENCRYPTED COSIGN PRIVATE KEY'; then
    # The freshly built sealift-bundle when it runs here, else one on PATH.
    signer=$builddir/amd64/sealift-bundle
    [ "$(uname -m)" = x86_64 ] && [ -x "$signer" ] || signer=$(command -v sealift-bundle || true)
    if [ -z "$signer" ] || ! "$signer" sign-blob --help >/dev/null 2>&1; then
      log "$key is a cosign key; signing it needs \`sealift-bundle sign-blob\`, which this sealift does not have"
      log "pass a PEM EC private key instead (openssl signs it)"; exit 1
    fi
    "$signer" sign-blob --key "$key" "$out/SHA256SUMS" --output-signature "$out/SHA256SUMS.sig"
  else
    openssl dgst -sha256 -sign "$key" "$out/SHA256SUMS" | base64 -w0 >"$out/SHA256SUMS.sig.tmp"
    mv "$out/SHA256SUMS.sig.tmp" "$out/SHA256SUMS.sig"
  fi
  log "signed: $out/SHA256SUMS.sig"
else
  log "no --key: SHA256SUMS is not signed"
fi
log "done: $(cd "$out" && ls | tr '\n' ' ')"
