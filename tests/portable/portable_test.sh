#!/usr/bin/env bash
# The portable release binaries (scripts/release.sh), checked as a site would meet them.
#   tests/portable/portable_test.sh release BUILD_DIR       builds dist/ (both architectures)
#   tests/portable/portable_test.sh symbols BUILD_DIR       glibc floor and NEEDED of every binary
#   tests/portable/portable_test.sh checksums BUILD_DIR     SHA256SUMS, its signature, SBOMs, a flipped byte
#   tests/portable/portable_test.sh reproducible BUILD_DIR  packaging the same binaries twice gives the same bytes
#   tests/portable/portable_test.sh bullseye BUILD_DIR      amd64 inside a Debian 11 minbase root
#   tests/portable/portable_test.sh arm64 BUILD_DIR         arm64 under qemu-user-static
# The release step runs first (a ctest fixture); the others read BUILD_DIR/portable/dist.
# The Debian 11 root is made once by debootstrap and cached outside the repository
# (SEALIFT_PORTABLE, default ~/.cache/sealift/portable), keyed by suite, variant and architecture.
set -euo pipefail
shopt -s inherit_errexit
SRC=$(cd "$(dirname "$0")/../.." && pwd)
MODE=${1:?usage: portable_test.sh MODE BUILD_DIR}
B=$(cd "${2:?usage: portable_test.sh MODE BUILD_DIR}" && pwd)
P=$B/portable
DIST=$P/dist
CACHE=${SEALIFT_PORTABLE:-$HOME/.cache/sealift/portable}
PEERS=${SEALIFT_PEERS:-$HOME/.cache/sealift/peers}
VERSION=$(sed -n 's/^project(sealift VERSION \([0-9.]*\).*/\1/p' "$SRC/CMakeLists.txt")
ARCHS=(${SEALIFT_PORTABLE_ARCHS:-amd64 arm64})
fail() { echo "portable_test ($MODE): FAIL: $*" >&2; exit 1; }
ok() { echo "portable_test ($MODE): ok: $*"; }

# unpack ARCH DIR: the release tarball of ARCH unpacked into DIR; prints the program directory.
unpack() {
  local t=$DIST/sealift-$VERSION-linux-$1.tar.gz
  [ -f "$t" ] || fail "$t is missing (the portable.release test makes it)"
  mkdir -p "$2" && tar -xzf "$t" -C "$2"
  echo "$2/sealift-$VERSION-linux-$1"
}

case "$MODE" in
release)
  mkdir -p "$P"
  # A throwaway release key (a PEM EC key: openssl signs; sealift-bundle sign-blob takes cosign keys).
  (umask 077; openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$P/release.key")
  openssl pkey -in "$P/release.key" -pubout -out "$P/release.pub"
  rm -rf "$DIST"
  arch_args=(--arch all); [ "${#ARCHS[@]}" = 1 ] && arch_args=(--arch "${ARCHS[0]}")
  nice -n 10 "$SRC/scripts/release.sh" "${arch_args[@]}" --out "$DIST" --build "$P/build" --key "$P/release.key"
  ls -l "$DIST"
  ;;

symbols)
  for arch in "${ARCHS[@]}"; do
    d=$(unpack "$arch" "$P/symbols-$arch")
    objdump=objdump; [ "$arch" = arm64 ] && objdump=aarch64-linux-gnu-objdump
    for prog in sealift-bundle sealift-install; do
      f=$d/$prog
      fmt=$("$objdump" -f "$f" | sed -n 's/.*file format //p')
      [ "$fmt" = "$([ "$arch" = amd64 ] && echo elf64-x86-64 || echo elf64-littleaarch64)" ] || fail "$f: file format $fmt"
      # The newest glibc symbol version the binary needs: 2.28 at most.
      newest=$("$objdump" -T "$f" | grep -o 'GLIBC_[0-9][0-9.]*' | sort -u -V | tail -n1)
      [ -n "$newest" ] || fail "$f: objdump -T lists no GLIBC_ version (not dynamically linked to glibc?)"
      [ "$(printf '%s\nGLIBC_2.28\n' "$newest" | sort -V | tail -n1)" = GLIBC_2.28 ] ||
        fail "$f needs $newest (above the floor 2.28): $("$objdump" -T "$f" | grep "$newest" | head -3)"
      # Only the C library's own parts are loaded from the host.
      needed=$("$objdump" -p "$f" | awk '$1 == "NEEDED" { print $2 }' | sort)
      while read -r lib; do
        case "$lib" in
          libc.so.6|libm.so.6|libpthread.so.0|libdl.so.2|librt.so.1|ld-linux-x86-64.so.2|ld-linux-aarch64.so.1) ;;
          *) fail "$f needs $lib (only libc, libm, libpthread, libdl, librt and the loader may be)" ;;
        esac
      done <<<"$needed"
      ok "$arch $prog: newest $newest; NEEDED $(echo $needed)"
    done
  done
  ;;

checksums)
  cd "$DIST"
  sha256sum -c --quiet SHA256SUMS || fail "sha256sum -c SHA256SUMS"
  for arch in "${ARCHS[@]}"; do
    grep -q " sealift-$VERSION-linux-$arch.tar.gz\$" SHA256SUMS || fail "SHA256SUMS has no line for the $arch tarball"
    for prog in sealift-bundle sealift-install; do
      s=$prog-$VERSION-linux-$arch.spdx.json
      grep -q " $s\$" SHA256SUMS || fail "SHA256SUMS has no line for $s"
      # The SBOM describes this very binary and names every component of the NOTICE.
      d=$(unpack "$arch" "$P/checksums-$arch")
      jq -e --arg d "$(sha256sum "$d/$prog" | cut -d' ' -f1)" \
        '.spdxVersion == "SPDX-2.3" and (.packages[0].checksums[0].checksumValue == $d)' "$s" >/dev/null ||
        fail "$s does not describe $prog of the $arch tarball"
      for comp in OpenSSL curl libarchive zstd zlib yaml-cpp fmt libsodium libmicrohttpd libpsl libxcrypt libp11 llvm-runtimes; do
        jq -e --arg c "$comp" '[.packages[] | select(.name == $c and (.versionInfo | length > 0) and
             (.licenseDeclared | length > 0))] | length == 1' "$s" >/dev/null || fail "$s: no component $comp"
        grep -q "^$comp " "$d/NOTICE" || fail "the $arch NOTICE does not name $comp"
      done
    done
  done
  # The signature: cosign's verify-blob, and the openssl one-liner of INSTALL for a site without cosign.
  openssl dgst -sha256 -verify "$P/release.pub" -signature <(base64 -d SHA256SUMS.sig) SHA256SUMS >/dev/null ||
    fail "openssl does not verify SHA256SUMS.sig"
  "$PEERS/bin/cosign" verify-blob --key "$P/release.pub" --signature SHA256SUMS.sig --insecure-ignore-tlog=true \
    SHA256SUMS >/dev/null 2>"$P/cosign.err" || { cat "$P/cosign.err"; fail "cosign verify-blob SHA256SUMS"; }
  # One flipped byte in a copy of a tarball: the check fails, naming it.
  rm -rf "$P/flipped" && mkdir -p "$P/flipped" && cp -- * "$P/flipped/"
  t=sealift-$VERSION-linux-${ARCHS[0]}.tar.gz
  python3 -c 'import sys; f = open(sys.argv[1], "r+b"); f.seek(1000); b = f.read(1); f.seek(1000); f.write(bytes([b[0] ^ 1]))' \
    "$P/flipped/$t"
  out=$(cd "$P/flipped" && sha256sum -c SHA256SUMS 2>&1) && fail "sha256sum -c passed with a flipped byte in $t"
  grep -q "^$t: FAILED" <<<"$out" || fail "sha256sum -c did not name $t: $out"
  ok "checksums, signature (openssl and cosign), SBOMs; a flipped byte is caught"
  ;;

reproducible)
  # Packaging is deterministic: the same binaries packaged again give byte-identical artifacts.
  # (Two builds of the binaries from scratch are compared by hand: too much CPU for every run.)
  again=$P/dist-again
  rm -rf "$again"
  arch_args=(--arch all); [ "${#ARCHS[@]}" = 1 ] && arch_args=(--arch "${ARCHS[0]}")
  "$SRC/scripts/release.sh" "${arch_args[@]}" --out "$again" --build "$P/build" --package-only
  for f in "$again"/*; do
    cmp "$f" "$DIST/$(basename "$f")" || fail "$(basename "$f") differs between two packagings"
  done
  ok "$(ls "$again" | wc -l) artifacts byte-identical"
  ;;

bullseye|arm64)
  # A bundle made by the portable sealift-bundle itself (it runs on this host too).
  W=$(mktemp -d "$P/run-$MODE.XXXXXX")
  # shellcheck source=../../scripts/lib/env.sh
  source "$SRC/scripts/lib/env.sh"
  cleanup() { stop_all "$W"; rm -rf "$W"; }
  trap cleanup EXIT
  host=$(unpack amd64 "$W/host")
  start_registry "$W/upstream"
  "$B/sealift-fixtures" push --scale 0.01 --registry "$REGISTRY_HOST" --plain-http >/dev/null
  mirrors=(--mirror "docker.io=$REGISTRY_HOST" --mirror "ghcr.io=$REGISTRY_HOST" --mirror "registry.k8s.io=$REGISTRY_HOST")
  export COSIGN_PASSWORD=portable-test-only
  "$host/sealift-bundle" keygen --dir "$W/vendor" >/dev/null
  cp -r "$SRC/chart" "$W/chart"
  "$host/sealift-bundle" lock --chart "$W/chart" --lock "$W/images.lock" "${mirrors[@]}" --plain-http --quiet
  "$host/sealift-bundle" build --chart "$W/chart" --lock "$W/images.lock" --key "$W/vendor/cosign.key" \
    -o "$W/bundle.tar.zst" "${mirrors[@]}" --plain-http --quiet
  start_registry "$W/target" --tls
  target=$REGISTRY_HOST

  if [ "$MODE" = bullseye ]; then
    # Debian 11 (glibc 2.31), minbase, nothing added but the CA bundle; cached, made once.
    root=$CACHE/rootfs/bullseye-minbase-amd64
    (
      flock 9
      if [ ! -f "$root/.complete" ]; then
        echo "portable_test: debootstrap --variant=minbase bullseye into $root (once)"
        rm -rf "$root.new" && mkdir -p "$root.new"
        nice -n 10 debootstrap --variant=minbase --arch=amd64 bullseye "$root.new" http://deb.debian.org/debian \
          >"$CACHE/rootfs/debootstrap.log" 2>&1 || { tail -n 30 "$CACHE/rootfs/debootstrap.log"; exit 1; }
        mkdir -p "$root.new/etc/ssl/certs"
        cp /etc/ssl/certs/ca-certificates.crt "$root.new/etc/ssl/certs/"
        touch "$root.new/.complete" && rm -rf "$root" && mv "$root.new" "$root"
      fi
    ) 9>"$CACHE/rootfs.lock"
    grep -q '^11\.' "$root/etc/debian_version" || fail "$root is not Debian 11: $(cat "$root/etc/debian_version")"
    # The programs, the bundle and the CA in a private directory of the root, removed at the end.
    inroot=/sealift-test-$$
    mkdir -p "$root$inroot"
    trap 'stop_all "$W"; rm -rf "$W" "$root$inroot"' EXIT
    cp "$host/sealift-bundle" "$host/sealift-install" "$W/bundle.tar.zst" "$W/vendor/cosign.pub" "$root$inroot/"
    cp "$W/target/tls/trust/ca.crt" "$root$inroot/ca.crt"
    # chroot in a private mount namespace with /proc, so nothing is left mounted on the host.
    in_root() {
      unshare --mount --propagation private -- sh -c 'mount -t proc proc "$0/proc" && exec chroot "$@"' "$root" "$root" "$@"
    }
    glibc=$(in_root /usr/bin/ldd --version | sed -n 1p)
    grep -q '2\.31' <<<"$glibc" || fail "the root's glibc is not 2.31: $glibc"
    v=$(in_root "$inroot/sealift-install" --version) || fail "sealift-install --version in bullseye"
    grep -q "$VERSION" <<<"$v" || fail "--version said: $v"
    in_root "$inroot/sealift-bundle" --version >/dev/null || fail "sealift-bundle --version in bullseye"
    ok "--version in Debian 11 ($glibc)"
    in_root "$inroot/sealift-install" verify "$inroot/bundle.tar.zst" --key "$inroot/cosign.pub" --quiet ||
      fail "verify in bullseye"
    ok "verify in Debian 11"

    # serve, answering skopeo on the host.
    # Started directly (not through in_root) so that $! is the server itself: unshare, sh and
    # chroot each exec the next.
    unshare --mount --propagation private -- sh -c 'mount -t proc proc "$0/proc" && exec chroot "$@"' "$root" "$root" \
      "$inroot/sealift-install" serve "$inroot/bundle.tar.zst" --key "$inroot/cosign.pub" \
      --listen 127.0.0.1:0 --project ai-saas --json >"$W/serve.out" 2>"$W/serve.err" &
    serve_pid=$!
    for _ in $(seq 600); do [ -s "$W/serve.out" ] || ! kill -0 "$serve_pid" 2>/dev/null && break; sleep 0.1; done
    port=$(jq -r .port "$W/serve.out" 2>/dev/null || true)
    [ -n "$port" ] && [ "$port" != null ] || { cat "$W/serve.err"; fail "serve in bullseye did not start"; }
    # The first image it serves (the chart is an OCI artifact, which `skopeo inspect` refuses to
    # read as an image), with the project prefix, as push writes them too.
    repo="" tag=""
    while read -r r; do
      t=$(jq -r --arg r "$r" '.repositories[$r][0]' "$W/serve.out")
      m=$(skopeo inspect --tls-verify=false --raw "docker://127.0.0.1:$port/$r:$t") || fail "skopeo inspect --raw $r:$t"
      if [ "$(jq -r '.config.mediaType // ""' <<<"$m")" != application/vnd.cncf.helm.config.v1+json ]; then
        repo=$r tag=$t served=$m; break
      fi
    done < <(jq -r '.repositories | keys[]' "$W/serve.out")
    [ -n "$repo" ] || fail "serve in bullseye serves no image: $(cat "$W/serve.out")"
    skopeo inspect --tls-verify=false "docker://127.0.0.1:$port/$repo:$tag" >/dev/null || fail "skopeo inspect $repo:$tag"
    kill "$serve_pid"; wait "$serve_pid" 2>/dev/null || true
    ok "serve in Debian 11 answers skopeo inspect ($repo:$tag)"

    # push over TLS with the private CA.
    in_root "$inroot/sealift-install" push "$inroot/bundle.tar.zst" --key "$inroot/cosign.pub" --registry "$target" \
      --project ai-saas --registry-type oci --ca-file "$inroot/ca.crt" --quiet || fail "push in bullseye"
    pushed=$(skopeo inspect --cert-dir "$W/target/tls/trust" --raw "docker://$target/$repo:$tag") ||
      fail "$target/$repo:$tag is not there after the push"
    [ "$pushed" = "$served" ] || fail "$target/$repo:$tag is not the manifest serve gave"
    ok "push over TLS (--ca-file) from Debian 11"

    # The system's CA bundle where Debian keeps it, found by the statically linked OpenSSL: the
    # root's bundle with the test CA added, bind-mounted over it in the private mount namespace
    # only (the cached root is not changed). Without the CA the push is refused, naming --ca-file.
    cat "$root/etc/ssl/certs/ca-certificates.crt" "$W/target/tls/trust/ca.crt" >"$root$inroot/system-bundle.crt"
    with_bundle() {
      unshare --mount --propagation private -- sh -c \
        'mount -t proc proc "$0/proc" && mount --bind "$0$1" "$0/etc/ssl/certs/ca-certificates.crt" && shift && exec chroot "$0" "$@"' \
        "$root" "$@"
    }
    err=$(in_root "$inroot/sealift-install" push "$inroot/bundle.tar.zst" --key "$inroot/cosign.pub" --registry "$target" \
      --project system-ca --registry-type oci --quiet 2>&1) && fail "push trusted $target without its CA"
    grep -q -- --ca-file <<<"$err" || fail "the untrusted certificate's error does not name --ca-file: $err"
    with_bundle "$inroot/system-bundle.crt" "$inroot/sealift-install" push "$inroot/bundle.tar.zst" --key "$inroot/cosign.pub" \
      --registry "$target" --project system-ca --registry-type oci --quiet || fail "push with the CA in the system bundle"
    skopeo inspect --cert-dir "$W/target/tls/trust" --raw "docker://$target/${repo/#ai-saas\//system-ca/}:$tag" >/dev/null ||
      fail "${repo/#ai-saas\//system-ca/}:$tag is not in $target after the push through the system bundle"
    ok "push over TLS trusting /etc/ssl/certs/ca-certificates.crt of Debian 11 (refused without the CA)"

    # Child processes: glibc 2.31 has no posix_spawn_file_actions_addclosefrom_np, so the portable
    # build forks (src/util/process.cc, fork_exec). A --signer-command is one such child: it gets
    # the digest on stdin and answers a signature made beforehand on the host with openssl.
    openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$W/signer.key" 2>/dev/null
    openssl pkey -in "$W/signer.key" -pubout -out "$root$inroot/signer.pub"
    printf 'artifact\n' >"$root$inroot/blob"
    openssl dgst -sha256 -sign "$W/signer.key" -out "$root$inroot/blob.der" "$root$inroot/blob"
    printf '#!/bin/sh\n# Only 0, 1 and 2 reach a child (and the descriptor sh reads this script from).\n[ "$(ls /proc/self/fd | wc -l)" -le 5 ] || { ls -l /proc/self/fd >&2; exit 3; }\ncat >/dev/null\nexec cat %s/blob.der\n' \
      "$inroot" >"$root$inroot/signer.sh"
    chmod +x "$root$inroot/signer.sh"
    in_root "$inroot/sealift-bundle" sign-blob --signer-command "$inroot/signer.sh" --signer-public-key "$inroot/signer.pub" \
      "$inroot/blob" --output-signature "$inroot/blob.sig" || fail "sign-blob --signer-command in bullseye"
    openssl dgst -sha256 -verify "$root$inroot/signer.pub" -signature <(base64 -d "$root$inroot/blob.sig") "$root$inroot/blob" >/dev/null ||
      fail "the signature sign-blob wrote through the signer command does not verify"
    ok "a child process (--signer-command) from Debian 11"
  else
    # arm64 under qemu-user-static, with Debian's arm64 C library (libc6-arm64-cross).
    sysroot=/usr/aarch64-linux-gnu
    [ -e "$sysroot/lib/ld-linux-aarch64.so.1" ] || fail "$sysroot has no arm64 loader (crossbuild-essential-arm64)"
    a=$(unpack arm64 "$W/arm64")
    run_arm64() { qemu-aarch64-static -L "$sysroot" "$@"; }
    v=$(run_arm64 "$a/sealift-install" --version) && grep -q "$VERSION" <<<"$v" || fail "arm64 --version"
    run_arm64 "$a/sealift-install" verify "$W/bundle.tar.zst" --key "$W/vendor/cosign.pub" --quiet || fail "arm64 verify"
    ok "arm64 verify under qemu"
    run_arm64 "$a/sealift-install" push "$W/bundle.tar.zst" --key "$W/vendor/cosign.pub" --registry "$target" \
      --project arm64 --registry-type oci --ca-file "$W/target/tls/trust/ca.crt" --quiet || fail "arm64 push"
    [ "$(curl -s --cacert "$W/target/tls/trust/ca.crt" "https://$target/v2/_catalog" | jq '[.repositories[] | select(startswith("arm64/"))] | length')" -gt 0 ] ||
      fail "nothing under arm64/ in the target after the push"
    ok "arm64 push over TLS (--ca-file) under qemu"
  fi
  ;;
*) echo "portable_test.sh: unknown mode $MODE" >&2; exit 2 ;;
esac
