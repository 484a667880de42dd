#!/usr/bin/env bash
# The .deb and .rpm that `cpack` makes from a build directory (cmake/packaging.cmake), checked with
# the distributions' own tools: what dpkg-deb and rpm list, the metadata they read (version,
# architecture, license, no dependency but glibc), an rpm installed into a scratch root whose
# programs, man pages and completions then work.
#   tests/package/package_test.sh BUILD_DIR
# The build's programs are stripped into the packages (CPACK_STRIP_FILES) so that this test's
# sanitized, debug-info-laden programs pack in seconds; the release packs its own stripped ones.
# The .deb installed into a Debian 11 root and run is scripts/release.sh's bullseye test.
set -euo pipefail
B=$(cd "${1:?usage: package_test.sh BUILD_DIR}" && pwd)
work=$(mktemp -d "${TMPDIR:-/tmp}/sealift-package.XXXXXX")
trap 'rm -rf "$work"' EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }

version=$(sed -n 's/^set(CPACK_PACKAGE_VERSION "\(.*\)")$/\1/p' "$B/CPackConfig.cmake")
[[ -n $version ]] || fail "no CPACK_PACKAGE_VERSION in $B/CPackConfig.cmake"
case $(uname -m) in
  x86_64) deb_arch=amd64 rpm_arch=x86_64 ;;
  aarch64) deb_arch=arm64 rpm_arch=aarch64 ;;
  *) fail "no package architecture for $(uname -m)" ;;
esac

(cd "$work" && nice -n 10 cpack --config "$B/CPackConfig.cmake" -B "$work/out" -D CPACK_STRIP_FILES=ON \
  -D CPACK_DEBIAN_COMPRESSION_TYPE=gzip -D CPACK_RPM_COMPRESSION_TYPE=gzip) >"$work/cpack.log" 2>&1 ||
  { cat "$work/cpack.log" >&2; fail "cpack"; }
deb=$work/out/sealift_${version}_${deb_arch}.deb
rpm=$work/out/sealift-${version}-1.${rpm_arch}.rpm
[[ -f $deb ]] || fail "no $deb: $(ls "$work/out")"
[[ -f $rpm ]] || fail "no $rpm: $(ls "$work/out")"

expected="/usr/bin/sealift-bundle
/usr/bin/sealift-install
/usr/share/bash-completion/completions/sealift-bundle
/usr/share/bash-completion/completions/sealift-install
/usr/share/doc/sealift/README.md
/usr/share/doc/sealift/benchmarks.md
/usr/share/doc/sealift/bundle-format.md
/usr/share/doc/sealift/images-lock.md
/usr/share/doc/sealift/robustness.md
/usr/share/man/man1/sealift-bundle.1
/usr/share/man/man1/sealift-install.1
/usr/share/zsh/vendor-completions/_sealift-bundle
/usr/share/zsh/vendor-completions/_sealift-install"
deb_files=$(dpkg-deb -c "$deb" | awk '$1 !~ /^d/ { sub(/^\./, "", $6); print $6 }' | sort)
[[ $deb_files == "$expected" ]] || fail "the .deb holds
$deb_files
expected
$expected"
# The rpm also owns its own doc directory, and no directory the system owns.
rpm_expected=$(printf '%s\n/usr/share/doc/sealift\n' "$expected" | sort)
rpm_files=$(rpm -qlp "$rpm" 2>/dev/null | sort)
[[ $rpm_files == "$rpm_expected" ]] || fail "the .rpm holds
$rpm_files
expected
$rpm_expected"

# Metadata: the project's version, the programs' architecture, and no dependency computed from the
# binaries (those would be this build machine's sonames: see cmake/packaging.cmake).
[[ $(dpkg-deb -f "$deb" Version) == "$version" ]] || fail "deb version"
[[ $(dpkg-deb -f "$deb" Architecture) == "$deb_arch" ]] || fail "deb architecture"
[[ $(dpkg-deb -f "$deb" Depends) == "libc6 (>= 2.28)" ]] || fail "deb depends: $(dpkg-deb -f "$deb" Depends)"
[[ -n $(dpkg-deb -f "$deb" Maintainer) ]] || fail "deb maintainer"
[[ $(rpm -qp --queryformat '%{VERSION} %{ARCH} %{LICENSE}' "$rpm" 2>/dev/null) == "$version $rpm_arch LicenseRef-Proprietary" ]] ||
  fail "rpm metadata: $(rpm -qp --queryformat '%{VERSION} %{ARCH} %{LICENSE}' "$rpm")"
requires=$(rpm -qp --requires "$rpm" 2>/dev/null | grep -v '^rpmlib(' | sort | tr '\n' ';')
[[ $requires == "glibc >= 2.28;" ]] || fail "rpm requires: $requires"

# Installed into a scratch root with its own database, as rpm --root does for a chroot.
root=$work/root
rpm --root "$root" --dbpath /var/lib/rpm --initdb
rpm --root "$root" --dbpath /var/lib/rpm -i --nodeps --noscripts "$rpm"
rpm --root "$root" --dbpath /var/lib/rpm -q sealift >/dev/null || fail "rpm -q after install"
[[ $("$root/usr/bin/sealift-bundle" --version) == "$version" ]] || fail "installed sealift-bundle --version"
[[ $("$root/usr/bin/sealift-install" --version) == "$version" ]] || fail "installed sealift-install --version"
grep -q '^\.SS "sealift-bundle kit"' "$root/usr/share/man/man1/sealift-bundle.1" || fail "man page lacks the kit command"
grep -q '^\.SS "sealift-install robots prune"' "$root/usr/share/man/man1/sealift-install.1" || fail "man page lacks robots prune"

# The completions, as bash and zsh run them.
complete_bash() { # PROGRAM WORDS... (the last is the word being completed)
  local program=$1
  shift
  bash -c 'source "$1"; shift; COMP_WORDS=("$@"); COMP_CWORD=$(($# - 1)); _${COMP_WORDS[0]//-/_}; echo "${COMPREPLY[*]}"' \
    complete "$root/usr/share/bash-completion/completions/$program" "$program" "$@"
}
[[ $(complete_bash sealift-bundle ki) == "kit" ]] || fail "bash: sealift-bundle ki -> $(complete_bash sealift-bundle ki)"
[[ $(complete_bash sealift-bundle kit --inst) == "--installer" ]] || fail "bash: kit --inst"
[[ $(complete_bash sealift-install robots pr) == "prune" ]] || fail "bash: robots pr"
[[ $(complete_bash sealift-install robots prune --min) == "--min-age --min-rate" ]] || fail "bash: robots prune --min"
[[ $(complete_bash sealift-install verify --ca) == "" ]] || fail "bash: verify has no --ca-file"
[[ $(complete_bash sealift-install push --ca) == "--ca-file" ]] || fail "bash: push --ca"
complete_zsh() { # PROGRAM WORDS...: the candidates zsh's function offers (compadd replaced by a printer)
  local program=$1
  shift
  zsh -f -c 'compadd() { shift; print -r -- "$*"; }; _files() { print FILES; }; words=("$@"); CURRENT=$#;
             source "$0"' "$root/usr/share/zsh/vendor-completions/_$program" "$program" "$@"
}
[[ $(complete_zsh sealift-bundle sign) == *"sign-blob"* ]] || fail "zsh: sealift-bundle sign -> $(complete_zsh sealift-bundle sign)"
[[ $(complete_zsh sealift-install push --ca) == *"--ca-file"* ]] || fail "zsh: push --ca"
[[ $(complete_zsh sealift-install verify x) == "FILES" ]] || fail "zsh: verify's argument is a file"
echo "packages: ok ($(du -k "$deb" | cut -f1) KiB .deb, $(du -k "$rpm" | cut -f1) KiB .rpm)"
