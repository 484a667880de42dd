#!/usr/bin/env bash
# Builds the portable toolchain and the static third-party libraries of sealift's release binaries
# for one architecture, into a cache outside the repository keyed by the pinned inputs:
#
#   scripts/portable/build-deps.sh amd64|arm64      prints the prefix (…/deps-<key>/<arch>) last
#
# Toolchain: zig cc/c++ (PyPI's ziglang wheel, pinned with its sha256 in sources.lock) targeting
# glibc 2.28 (x86_64-linux-gnu.2.28, aarch64-linux-gnu.2.28): one compiler for both architectures,
# libc++ and compiler-rt linked statically, and the binaries reference no glibc symbol version
# above 2.28 whatever the build host has. Libraries: Debian 12 source packages (with Debian's
# patches, security fixes included), exact versions and sha256 in sources.lock, configured down to
# what sealift uses (CPU time is CI's tightest budget). Each prefix also gets share/licenses/<pkg>
# (Debian's copyright file) and share/components.tsv (name, version, source package, licence)
# for the release's NOTICE and SBOM.
#
# Environment: SEALIFT_PORTABLE (default ~/.cache/sealift/portable), JOBS (default 2).
set -euo pipefail
shopt -s inherit_errexit
HERE=$(cd "$(dirname "$0")" && pwd)
ARCH=${1:?usage: build-deps.sh amd64|arm64}
case "$ARCH" in
  amd64) TRIPLE=x86_64-linux-gnu; ZIG_TARGET=x86_64-linux-gnu.2.28; OSSL_TARGET=linux-x86_64 ;;
  arm64) TRIPLE=aarch64-linux-gnu; ZIG_TARGET=aarch64-linux-gnu.2.28; OSSL_TARGET=linux-aarch64 ;;
  *) echo "build-deps.sh: unknown architecture $ARCH (amd64 or arm64)" >&2; exit 2 ;;
esac
CACHE=${SEALIFT_PORTABLE:-$HOME/.cache/sealift/portable}
JOBS=${JOBS:-2}
LOCK=$HERE/sources.lock

log() { printf 'portable deps (%s): %s\n' "$ARCH" "$*" >&2; }
trap 'log "FAILED at scripts/portable/build-deps.sh line $LINENO: $BASH_COMMAND"' ERR

# lock_field KIND NAME FIELD: a field of sources.lock (3 = version, 4 = sha256).
lock_field() {
  local v; v=$(awk -v k="$1" -v n="$2" -v f="$3" '$1 == k && $2 == n { print $f; exit }' "$LOCK")
  [ -n "$v" ] || { log "sources.lock has no $1 $2"; exit 1; }
  echo "$v"
}
# 1:1.2.13.dfsg-1 -> 1.2.13 (no epoch, Debian revision or repack suffix).
upstream_version() { local v=${1#*:}; v=${v%-*}; v=${v%%[+~]*}; echo "${v%.dfsg*}"; }

KEY=$(cat "$LOCK" "$HERE/build-deps.sh" "$HERE/toolchain.cmake" | sha256sum | cut -c1-12)
PREFIX=$CACHE/deps-$KEY/$ARCH
mkdir -p "$CACHE/deps-$KEY" "$CACHE/downloads"
exec 9>"$CACHE/deps-$KEY/.$ARCH.lock"
flock 9
if [ -f "$PREFIX/.complete" ]; then echo "$PREFIX"; exit 0; fi
# Build directories of runs that were killed (this one holds the lock now).
rm -rf "$CACHE/deps-$KEY/.build-$ARCH".*

# --- the toolchain --------------------------------------------------------------------------------
zig_version=$(lock_field wheel ziglang 3)
zig_sha=$(lock_field wheel ziglang 4)
ZIG_DIR=$CACHE/zig-$zig_version-${zig_sha:0:12}
(
  flock 8
  if [ ! -x "$ZIG_DIR/ziglang/zig" ]; then
    log "fetching ziglang $zig_version from PyPI"
    tmp=$(mktemp -d "$CACHE/.zig.XXXXXX")
    python3 -m pip download --quiet --no-deps --only-binary=:all: --platform manylinux_2_12_x86_64 \
      "ziglang==$zig_version" -d "$tmp" >&2
    whl=("$tmp"/ziglang-"$zig_version"-*.whl)
    echo "$zig_sha  ${whl[0]}" | sha256sum -c --quiet - ||
      { log "the ziglang wheel's sha256 is not the one in sources.lock"; rm -rf "$tmp"; exit 1; }
    unzip -q "${whl[0]}" 'ziglang/*' -d "$tmp/x"
    rm -rf "$ZIG_DIR" && mv "$tmp/x" "$ZIG_DIR" && rm -rf "$tmp"
  fi
) 8>"$CACHE/.zig.lock"
ZIG=$ZIG_DIR/ziglang/zig
export ZIG_GLOBAL_CACHE_DIR=$CACHE/zig-cache ZIG_LOCAL_CACHE_DIR=$CACHE/zig-cache

BUILD=$(mktemp -d "$CACHE/deps-$KEY/.build-$ARCH.XXXXXX")
trap 'rm -rf "$BUILD"' EXIT
trap 'exit 143' TERM INT
# The staging prefix outlives an interrupted run: each library is marked done (.done-NAME) once
# installed into it, and the next run (same key, so same inputs) goes on from the first one not done.
STAGE=$CACHE/deps-$KEY/.stage-$ARCH
mkdir -p "$STAGE/bin" "$STAGE/lib/pkgconfig" "$STAGE/include" "$STAGE/share/licenses" "$STAGE/share/components.d"
# Compiler wrappers: the prefix carries its own, so toolchain.cmake needs only the prefix. They
# name zig by its absolute path, which keeps ccache's and CMake's view of the compiler exact.
for t in cc c++; do
  printf '#!/bin/sh\nexec %q %s -target %s "$@"\n' "$ZIG" "$t" "$ZIG_TARGET" >"$STAGE/bin/$t"
done
for t in ar ranlib; do printf '#!/bin/sh\nexec %q %s "$@"\n' "$ZIG" "$t" >"$STAGE/bin/$t"; done
chmod +x "$STAGE/bin/"*
export CC=$STAGE/bin/cc CXX=$STAGE/bin/c++ AR=$STAGE/bin/ar RANLIB=$STAGE/bin/ranlib
# The build directories' names (random, under the cache) stay out of the objects (__FILE__ in
# assertions): the libraries, and so the release binaries, do not depend on where they were built.
maps="-ffile-prefix-map=$BUILD=/build -ffile-prefix-map=$STAGE=/prefix"
export CFLAGS="-O2 -g0 -ffunction-sections -fdata-sections $maps" CXXFLAGS="-O2 -g0 -ffunction-sections -fdata-sections $maps"
export CPPFLAGS="-I$STAGE/include" LDFLAGS="-L$STAGE/lib"
export PKG_CONFIG_LIBDIR=$STAGE/lib/pkgconfig PKG_CONFIG_PATH=""
export SOURCE_DATE_EPOCH=${SOURCE_DATE_EPOCH:-1700000000}
HOSTARGS=(--host="$TRIPLE" --build="$(uname -m)-pc-linux-gnu" --prefix="$STAGE" --disable-shared --enable-static)
CMAKEARGS=(-G Ninja -DCMAKE_TOOLCHAIN_FILE="$HERE/toolchain.cmake" -DSEALIFT_PORTABLE_PREFIX="$STAGE"
           -DCMAKE_BUILD_TYPE=Release "-DCMAKE_C_FLAGS_RELEASE=-O2 -DNDEBUG" "-DCMAKE_CXX_FLAGS_RELEASE=-O2 -DNDEBUG"
           -DCMAKE_INSTALL_PREFIX="$STAGE" -DCMAKE_INSTALL_LIBDIR=lib -DBUILD_SHARED_LIBS=OFF)

# --- sources --------------------------------------------------------------------------------------
# A private apt (its own lists and cache) with deb-src entries: the host's apt configuration is
# neither needed nor changed.
APTDIR=$CACHE/apt
apt_opts=(-o Dir::Etc::SourceList="$APTDIR/sources.list" -o Dir::Etc::SourceParts=/dev/null
          -o Dir::State::Lists="$APTDIR/lists" -o Dir::Cache="$APTDIR/cache"
          -o Dir::Etc::Preferences=/dev/null -o Dir::Etc::PreferencesParts=/dev/null -o APT::Sandbox::User=root)
apt_ready=0
apt_ready() {
  [ "$apt_ready" = 1 ] && return 0
  mkdir -p "$APTDIR/lists/partial" "$APTDIR/cache/archives/partial"
  local k=/usr/share/keyrings/debian-archive-keyring.gpg
  cat >"$APTDIR/sources.list" <<EOF
deb-src [signed-by=$k] http://deb.debian.org/debian bookworm main
deb-src [signed-by=$k] http://deb.debian.org/debian bookworm-updates main
deb-src [signed-by=$k] http://deb.debian.org/debian-security bookworm-security main
EOF
  log "apt-get update (private lists in $APTDIR)"
  apt-get "${apt_opts[@]}" update -qq >&2
  apt_ready=1
}

# fetch_dsc NAME: downloads the pinned source package once (checked by sha256), unpacks it with
# Debian's patches applied into $BUILD/NAME, and records its copyright file and component line.
fetch_dsc() {
  local name=$1 version sha dl dsc
  version=$(lock_field dsc "$name" 3); sha=$(lock_field dsc "$name" 4)
  dl=$CACHE/downloads/$name-${sha:0:12}
  dsc="$dl/${name}_${version#*:}.dsc"
  if ! { [ -f "$dsc" ] && echo "$sha  $dsc" | sha256sum -c --quiet - 2>/dev/null; }; then
    apt_ready
    local tmp; tmp=$(mktemp -d "$CACHE/downloads/.$name.XXXXXX")
    (cd "$tmp" && apt-get "${apt_opts[@]}" source --download-only -qq "$name=$version" >&2)
    echo "$sha  $tmp/$(basename "$dsc")" | sha256sum -c --quiet - ||
      { log "$name $version: the .dsc's sha256 is not the one in sources.lock"; rm -rf "$tmp"; exit 1; }
    rm -rf "$dl" && mv "$tmp" "$dl"
  fi
  dpkg-source --no-copy -x "$dsc" "$BUILD/$name" >/dev/null 2>"$BUILD/$name.dpkg-source.log" ||
    { cat "$BUILD/$name.dpkg-source.log" >&2; exit 1; }
  if [ "$name" = libxcrypt ]; then
    # Its debian/rules writes the copyright file at build time (copyright.in, then LICENSING);
    # COPYING.LIB is the LGPL's text that LICENSING refers to.
    cat "$BUILD/$name/debian/copyright.in" "$BUILD/$name/LICENSING" "$BUILD/$name/COPYING.LIB" >"$STAGE/share/licenses/$name"
  else
    cp "$BUILD/$name/debian/copyright" "$STAGE/share/licenses/$name"
  fi
}
# component NAME VERSION SOURCE LICENSE PURL: one line of components.tsv (LICENSE is an SPDX
# expression, PURL the package URL of what it was built from).
component() { printf '%s\t%s\t%s\t%s\t%s\n' "$@" >"$STAGE/share/components.d/$1"; }
# begin NAME: false when NAME is in the staging prefix already; finish NAME marks it so.
begin() { if [ -f "$STAGE/.done-$1" ]; then log "$1: built before"; return 1; fi; log "$1"; }
finish() { touch "$STAGE/.done-$1"; }
# debian NAME COMPONENT LICENSE: the component line of a Debian source package of sources.lock.
debian() {
  local v; v=$(lock_field dsc "$1" 3)
  component "$2" "$(upstream_version "$v")" "Debian 12 source package $1 $v" "$3" \
    "pkg:deb/debian/$1@$(printf %s "$v" | sed 's/:/%3A/')?arch=source&distro=debian-12"
}
dsc_version() { lock_field dsc "$1" 3; }

# run NAME CMD...: runs a build step quietly; on failure prints its last 60 lines.
run() {
  local name=$1; shift
  if ! "$@" >"$BUILD/$name.log" 2>&1; then
    log "FAILED: $name: $*"; tail -n 60 "$BUILD/$name.log" >&2; exit 1
  fi
}

t_start=$SECONDS
log "building into $PREFIX (zig $zig_version, $ZIG_TARGET)"

# --- zlib (gzip of chart archives in libarchive; curl's content decoding) -------------------------
if begin zlib; then
fetch_dsc zlib
(cd "$BUILD/zlib" && run zlib-configure ./configure --static --prefix="$STAGE" &&
  run zlib-make make -j"$JOBS" libz.a && run zlib-install make install)
debian zlib zlib Zlib
finish zlib; fi

# --- zstd (the bundle's compression; libarchive's zstd filter) ------------------------------------
# Single-threaded: sealift compresses its frames in parallel itself (nbWorkers 0).
if begin libzstd; then
fetch_dsc libzstd
(cd "$BUILD/libzstd/lib" &&
  run zstd-make make -j"$JOBS" libzstd.a ZSTD_LEGACY_SUPPORT=0 ZSTD_LIB_DEPRECATED=0 ZSTD_LIB_DICTBUILDER=0 &&
  run zstd-install make install-static install-includes install-pc PREFIX="$STAGE" LIBDIR="$STAGE/lib")
debian libzstd zstd "BSD-3-Clause OR GPL-2.0-only"
finish libzstd; fi

# --- OpenSSL 3 --------------------------------------------------------------------------------------
# Libraries only (build_libs: no apps, tests or docs). The assembler paths stay on (SHA-NI, AVX2,
# ARMv8 crypto extensions are chosen at run time). Off: what neither sealift nor curl uses (old
# ciphers, CMS, CMP, timestamps, OCSP, certificate transparency, binary-field curves, DTLS), the
# legacy provider and loadable modules (a static binary loads no provider: see README, FIPS).
# The prefix is a fixed one, installed elsewhere (DESTDIR): OpenSSL compiles its directories into
# libcrypto, and the cache's path has no place in a release binary.
# OpenSSL is most of this script's CPU time; every algorithm off is objects not compiled.
# The compiler line libcrypto records (`OpenSSL_version(OPENSSL_CFLAGS)`) would name the cache and
# the random build directory: a fixed line replaces it, or two caches give different binaries.
if begin openssl; then
fetch_dsc openssl
(cd "$BUILD/openssl" &&
  run openssl-configure ./Configure "$OSSL_TARGET" --prefix=/usr/local --libdir=lib --openssldir=/etc/ssl \
    no-shared no-module no-legacy no-tests no-comp no-dtls no-srp no-idea no-mdc2 \
    no-rc5 no-md2 no-whirlpool no-seed no-camellia no-aria no-sm2 no-sm3 no-sm4 no-gost no-siphash \
    no-ktls no-afalgeng no-padlockeng no-capieng no-cms no-ts no-ct no-srtp no-rfc3779 no-ec2m no-rc2 \
    no-rc4 no-bf no-cast no-ocb no-scrypt no-cmp no-ocsp -O2 &&
  run openssl-buildinf make crypto/buildinf.h &&
  perl util/mkbuildinf.pl "zig cc -target $ZIG_TARGET -O2" "$OSSL_TARGET" >crypto/buildinf.h &&
  run openssl-make make -j"$JOBS" build_libs && run openssl-install make install_dev DESTDIR="$BUILD/openssl-dest" &&
  cp -a "$BUILD/openssl-dest/usr/local/." "$STAGE/" &&
  sed -i "s|^prefix=.*|prefix=$STAGE|" "$STAGE"/lib/pkgconfig/{libcrypto,libssl,openssl}.pc)
debian openssl OpenSSL Apache-2.0
finish openssl; fi

# --- libpsl with the Public Suffix List built in ----------------------------------------------------
# Two C files: compiled directly (its autotools need gtk-doc, its meson a cross file). Built in:
# the list of Debian's publicsuffix package; at run time psl_latest() still prefers the system's
# list when that is newer (PSL_DISTFILE, where Debian, Ubuntu and RHEL keep it).
if begin libpsl; then
fetch_dsc libpsl
psl_deb_version=$(lock_field deb publicsuffix 3); psl_deb_sha=$(lock_field deb publicsuffix 4)
psl_deb=$CACHE/downloads/publicsuffix_${psl_deb_version}_all.deb
if ! { [ -f "$psl_deb" ] && echo "$psl_deb_sha  $psl_deb" | sha256sum -c --quiet - 2>/dev/null; }; then
  # The host's package lists (Debian 12's): the .deb's sha256 is checked all the same.
  tmp=$(mktemp -d "$CACHE/downloads/.publicsuffix.XXXXXX")
  (cd "$tmp" && apt-get -o APT::Sandbox::User=root download -qq "publicsuffix=$psl_deb_version" >&2)
  echo "$psl_deb_sha  $tmp/$(basename "$psl_deb")" | sha256sum -c --quiet - ||
    { log "publicsuffix $psl_deb_version: the .deb's sha256 is not the one in sources.lock"; exit 1; }
  mv "$tmp/$(basename "$psl_deb")" "$psl_deb" && rm -rf "$tmp"
fi
(
  cd "$BUILD/libpsl"
  mkdir psl-data && dpkg-deb -x "$psl_deb" psl-data
  cp psl-data/usr/share/doc/publicsuffix/copyright "$STAGE/share/licenses/publicsuffix"
  v=$(upstream_version "$(dsc_version libpsl)"); IFS=. read -r maj min pat <<<"$v"
  sed -e "s/@LIBPSL_VERSION@/$v/" -e "s/@LIBPSL_VERSION_MAJOR@/$maj/" -e "s/@LIBPSL_VERSION_MINOR@/$min/" \
      -e "s/@LIBPSL_VERSION_PATCH@/$pat/" -e "s/@LIBPSL_VERSION_NUMBER@/$(printf '0x%02x%02x%02x' "$maj" "$min" "$pat")/" \
      include/libpsl.h.in >"$STAGE/include/libpsl.h"
  run psl-dafsa python3 src/psl-make-dafsa --output-format=cxx+ \
    psl-data/usr/share/publicsuffix/public_suffix_list.dat src/suffixes_dafsa.h
  for f in psl lookup_string_in_fixed_set; do
    run "psl-$f" "$CC" $CFLAGS -c "src/$f.c" -o "$f.o" -I"$STAGE/include" -Isrc -DENABLE_BUILTIN=1 \
      -DPACKAGE_VERSION="\"$v\"" -DPSL_DISTFILE='"/usr/share/publicsuffix/public_suffix_list.dat"' \
      -DHAVE_UNISTD_H=1 -DHAVE_STDINT_H=1 -DHAVE_ALLOCA_H=1 -DHAVE_DIRENT_H=1 -DHAVE_ALLOCA=1 \
      -DHAVE_STRNDUP=1 -DHAVE_CLOCK_GETTIME=1 -DHAVE_FMEMOPEN=1 -DHAVE_NL_LANGINFO=1
  done
  run psl-ar "$AR" rcs "$STAGE/lib/libpsl.a" psl.o lookup_string_in_fixed_set.o
  printf 'prefix=%s\nName: libpsl\nDescription: Public Suffix List\nVersion: %s\nLibs: -L${prefix}/lib -lpsl\nCflags: -I${prefix}/include\n' \
    "$STAGE" "$v" >"$STAGE/lib/pkgconfig/libpsl.pc"
)
debian libpsl libpsl "MIT AND BSD-3-Clause"
component publicsuffix "$psl_deb_version" "Debian 12 package publicsuffix $psl_deb_version (data, built into libpsl)" \
  MPL-2.0 "pkg:deb/debian/publicsuffix@$psl_deb_version?arch=all&distro=debian-12"
finish libpsl; fi

# --- curl: HTTP and HTTPS only ------------------------------------------------------------------------
if begin curl; then
fetch_dsc curl
# LIBS: OpenSSL's static libraries need libdl and libpthread (separate from libc in glibc 2.28),
# which its pkg-config's dynamic link line does not name.
(cd "$BUILD/curl" &&
  run curl-configure env LIBS="-ldl -lpthread" ./configure "${HOSTARGS[@]}" --with-openssl="$STAGE" --with-zlib="$STAGE" --with-libpsl \
    --without-zstd --without-brotli --without-nghttp2 --without-ngtcp2 --without-nghttp3 --without-libidn2 \
    --without-libssh2 --without-libssh --without-librtmp --without-libgsasl --without-gssapi \
    --disable-ldap --disable-ldaps --disable-rtsp --disable-dict --disable-telnet --disable-tftp \
    --disable-pop3 --disable-imap --disable-smb --disable-smtp --disable-gopher --disable-mqtt \
    --disable-ftp --disable-file --disable-manual --disable-ntlm --disable-kerberos-auth \
    --disable-negotiate-auth --disable-aws --disable-docs --without-ca-bundle --without-ca-path --with-ca-fallback &&
  run curl-make make -j"$JOBS" -C lib && run curl-install-lib make -C lib install &&
  run curl-install-inc make -C include install && run curl-install-pc make install-pkgconfigDATA)
debian curl curl curl
finish curl; fi

# --- libarchive: tar (pax) with the gzip and zstd filters -----------------------------------------------
# No regular expressions (only bsdtar's -s uses them; its search for a POSIX regex library fails
# the configuration otherwise).
if begin libarchive; then
fetch_dsc libarchive
(cd "$BUILD/libarchive" &&
  run archive-cmake cmake -S . -B b "${CMAKEARGS[@]}" -DENABLE_OPENSSL=OFF -DENABLE_MBEDTLS=OFF \
    -DENABLE_NETTLE=OFF -DENABLE_LIBB2=OFF -DENABLE_LZ4=OFF -DENABLE_LZO=OFF -DENABLE_LZMA=OFF \
    -DENABLE_ZSTD=ON -DENABLE_ZLIB=ON -DENABLE_BZip2=OFF -DENABLE_LIBXML2=OFF -DENABLE_EXPAT=OFF \
    -DENABLE_PCREPOSIX=OFF -DENABLE_LIBGCC=OFF -DENABLE_CNG=OFF -DENABLE_TAR=OFF -DENABLE_CPIO=OFF \
    -DENABLE_CAT=OFF -DENABLE_XATTR=OFF -DENABLE_ACL=OFF -DENABLE_ICONV=OFF -DENABLE_TEST=OFF \
    -DENABLE_COVERAGE=OFF -DENABLE_WERROR=OFF -DPOSIX_REGEX_LIB=NONE &&
  run archive-make ninja -C b -j"$JOBS" archive_static &&
  cp b/libarchive/libarchive.a "$STAGE/lib/" && cp libarchive/archive.h libarchive/archive_entry.h "$STAGE/include/")
debian libarchive libarchive BSD-2-Clause
finish libarchive; fi

# --- libsodium (cosign's encrypted keys: scrypt and secretbox; Ed25519ph) ------------------------------
if begin libsodium; then
fetch_dsc libsodium
# Debian's source has no generated configure (autoreconf, as its package build does).
(cd "$BUILD/libsodium" && run sodium-autoreconf autoreconf -fi && run sodium-configure ./configure "${HOSTARGS[@]}" --disable-pie --disable-ssp &&
  run sodium-make make -j"$JOBS" && run sodium-install make install)
debian libsodium libsodium ISC
finish libsodium; fi

# --- libmicrohttpd (serve), without TLS: its TLS is GnuTLS; `serve --tls-cert` says so --------------------
if begin libmicrohttpd; then
fetch_dsc libmicrohttpd
(cd "$BUILD/libmicrohttpd" &&
  run mhd-configure ./configure "${HOSTARGS[@]}" --disable-https --without-gnutls --disable-curl \
    --disable-doc --disable-examples --disable-tools --disable-nls &&
  run mhd-make make -j"$JOBS" -C src/microhttpd && run mhd-install make -C src/microhttpd install &&
  run mhd-install-inc make -C src/include install && run mhd-install-pc make install-pkgconfigDATA)
debian libmicrohttpd libmicrohttpd LGPL-2.1-or-later
finish libmicrohttpd; fi

# --- libxcrypt (serve's htpasswd: bcrypt and SHA-crypt) --------------------------------------------------
if begin libxcrypt; then
fetch_dsc libxcrypt
(cd "$BUILD/libxcrypt" && run xcrypt-autoreconf autoreconf -fi &&
  run xcrypt-configure ./configure "${HOSTARGS[@]}" --enable-hashes=strong,glibc --enable-obsolete-api=no \
    --disable-werror --disable-failure-tokens &&
  run xcrypt-make make -j"$JOBS" libcrypt.la && run xcrypt-install make install-libLTLIBRARIES \
    install-nodist_includeHEADERS install-pkgconfigDATA)
debian libxcrypt libxcrypt LGPL-2.1-or-later
finish libxcrypt; fi

# --- libp11 (sign with a key in a PKCS#11 token; the module itself is dlopen()ed at run time) ----------
# Debian 12's source package of libp11 is no longer on the archive (its files answer 404), so this
# one library is Debian's own static archive from the libp11-dev binary package of the same
# version, pinned by the .deb's sha256 (the one in Debian's Packages index). It is C built by
# Debian's gcc against OpenSSL 3.0's headers, and needs nothing of glibc above 2.28 (the symbol
# check of tests/portable holds it to that).
# fetch_deb PACKAGE:ARCH POOLDIR: the pinned binary package from the archive, checked against the
# sha256 of sources.lock; prints its path in the download cache.
fetch_deb() {
  local name=${1%%:*} arch=${1#*:} version sha deb tmp
  version=$(lock_field deb "$1" 3); sha=$(lock_field deb "$1" 4)
  deb=$CACHE/downloads/${name}_${version}_$arch.deb
  if ! { [ -f "$deb" ] && echo "$sha  $deb" | sha256sum -c --quiet - 2>/dev/null; }; then
    tmp=$(mktemp "$CACHE/downloads/.$name.XXXXXX")
    curl -fsS -o "$tmp" "http://deb.debian.org/debian/pool/main/$2/$(basename "$deb")"
    echo "$sha  $tmp" | sha256sum -c --quiet - ||
      { log "$1 $version: the .deb's sha256 is not the one in sources.lock"; rm -f "$tmp"; exit 1; }
    mv "$tmp" "$deb"
  fi
  echo "$deb"
}
if begin libp11; then
p11_version=$(lock_field deb "libp11-dev:$ARCH" 3)
p11_deb=$(fetch_deb "libp11-dev:$ARCH" libp/libp11)
mkdir "$BUILD/libp11" && dpkg-deb -x "$p11_deb" "$BUILD/libp11"
cp "$BUILD/libp11/usr/lib/$TRIPLE/libp11.a" "$STAGE/lib/"
cp "$BUILD/libp11/usr/include/"*.h "$STAGE/include/"
cp "$BUILD/libp11/usr/share/doc/libp11-dev/copyright" "$STAGE/share/licenses/libp11"
printf 'prefix=%s\nName: libp11\nDescription: PKCS#11 wrapper library\nVersion: %s\nRequires.private: libcrypto\nLibs: -L${prefix}/lib -lp11 -ldl -lpthread\nCflags: -I${prefix}/include\n' \
  "$STAGE" "$(upstream_version "$p11_version")" >"$STAGE/lib/pkgconfig/libp11.pc"
component libp11 "$(upstream_version "$p11_version")" \
  "Debian 12 binary package libp11-dev $p11_version ($ARCH; libp11.a as Debian built it)" LGPL-2.1-or-later \
  "pkg:deb/debian/libp11-dev@$p11_version?arch=$ARCH&distro=debian-12"
finish libp11; fi

# --- PKCS#11's standard header (keygen --pkcs11 calls C_GenerateKeyPair through the module) -----------
# Only p11-kit's pkcs11.h is used, no library: taken from Debian's libp11-kit-dev (the same header
# for every architecture, so the amd64 package serves both).
if begin p11-kit-header; then
p11kit_deb=$(fetch_deb "libp11-kit-dev:amd64" p/p11-kit)
mkdir "$BUILD/p11-kit" && dpkg-deb -x "$p11kit_deb" "$BUILD/p11-kit"
mkdir -p "$STAGE/include/p11-kit-1/p11-kit"
cp "$BUILD/p11-kit/usr/include/p11-kit-1/p11-kit/pkcs11.h" "$STAGE/include/p11-kit-1/p11-kit/"
cp "$BUILD/p11-kit/usr/share/doc/libp11-kit-dev/copyright" "$STAGE/share/licenses/p11-kit"
printf 'prefix=%s\nName: p11-kit-1\nDescription: PKCS#11 header only\nVersion: %s\nCflags: -I${prefix}/include/p11-kit-1\n' \
  "$STAGE" "$(upstream_version "$(lock_field deb libp11-kit-dev:amd64 3)")" >"$STAGE/lib/pkgconfig/p11-kit-1.pc"
component p11-kit "$(upstream_version "$(lock_field deb libp11-kit-dev:amd64 3)")" \
  "Debian 12 binary package libp11-kit-dev (its pkcs11.h only; no code is linked)" FSFULLR \
  "pkg:deb/debian/libp11-kit-dev@$(lock_field deb libp11-kit-dev:amd64 3)?arch=amd64&distro=debian-12"
finish p11-kit-header; fi

# --- C++ libraries (compiled with zig's libc++, like sealift) -------------------------------------------
if begin yaml-cpp; then
fetch_dsc yaml-cpp
(cd "$BUILD/yaml-cpp" && run yaml-cmake cmake -S . -B b "${CMAKEARGS[@]}" -DYAML_CPP_BUILD_TESTS=OFF \
   -DYAML_CPP_BUILD_TOOLS=OFF -DYAML_CPP_BUILD_CONTRIB=OFF -DYAML_BUILD_SHARED_LIBS=OFF &&
  run yaml-make ninja -C b -j"$JOBS" install)
debian yaml-cpp yaml-cpp MIT
finish yaml-cpp; fi
if begin fmtlib; then
fetch_dsc fmtlib
(cd "$BUILD/fmtlib" && run fmt-cmake cmake -S . -B b "${CMAKEARGS[@]}" -DFMT_DOC=OFF -DFMT_TEST=OFF -DFMT_INSTALL=ON &&
  run fmt-make ninja -C b -j"$JOBS" install)
debian fmtlib fmt MIT
finish fmtlib; fi
# Header-only.
if begin nlohmann-json3; then
fetch_dsc nlohmann-json3
(cd "$BUILD/nlohmann-json3" && run json-cmake cmake -S . -B b "${CMAKEARGS[@]}" -DJSON_BuildTests=OFF -DJSON_Install=ON &&
  run json-install ninja -C b install)
debian nlohmann-json3 nlohmann-json MIT
finish nlohmann-json3; fi
if begin cli11; then
fetch_dsc cli11
(cd "$BUILD/cli11" && run cli11-cmake cmake -S . -B b "${CMAKEARGS[@]}" -DCLI11_BUILD_TESTS=OFF \
   -DCLI11_BUILD_EXAMPLES=OFF -DCLI11_BUILD_DOCS=OFF -DCLI11_PRECOMPILED=OFF &&
  run cli11-install ninja -C b install)
debian cli11 CLI11 BSD-3-Clause
finish cli11; fi
# The C++ runtime and compiler support zig links in: libc++, libc++abi, libunwind, compiler-rt.
component llvm-runtimes "zig-$zig_version" "libc++, libc++abi, libunwind, compiler-rt of zig $zig_version" \
  "Apache-2.0 WITH LLVM-exception" "pkg:pypi/ziglang@$zig_version"
# LLVM's licence (libc++, libc++abi, libunwind, compiler-rt share it) and zig's own.
cat "$ZIG_DIR/ziglang/lib/libcxx/LICENSE.TXT" "$ZIG_DIR/ziglang/LICENSE" >"$STAGE/share/licenses/llvm-runtimes"

# The wrappers and .pc files name the staging directory; point them at the final one.
# Text files only: a path in a static library is a string of fixed length.
for d in bin lib/pkgconfig lib/cmake share/cmake; do
  if [ -d "$STAGE/$d" ]; then { grep -rlF "$STAGE" "$STAGE/$d" || true; } | xargs -r sed -i "s|$STAGE|$PREFIX|g"; fi
done
rm -rf "$STAGE/share/man" "$STAGE/share/doc" "$STAGE/lib/"*.la
sort "$STAGE"/share/components.d/* >"$STAGE/share/components.tsv"
rm -rf "$STAGE/share/components.d" "$STAGE"/.done-*
touch "$STAGE/.complete"
rm -rf "$PREFIX" && mv "$STAGE" "$PREFIX"
log "done in $((SECONDS - t_start)) s"
echo "$PREFIX"
