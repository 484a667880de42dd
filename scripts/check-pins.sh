#!/usr/bin/env bash
# Fails when a script, test or build file could resolve a Go module version that is not written
# down in this repository: `go get`, `go mod tidy` or `-mod=mod` outside scripts/peers/update.sh
# (the one tool for bumping a locked wrapper), a `go install`/`go run` of PKG without an exact
# @vX.Y.Z (or a pseudo-version), a wrapper in scripts/peers/ without its go.sum, or a wrapper
# go.mod that names a version query (latest, upgrade, patch, a branch), or a peer version line
# (NAME_VERSION=..., as scripts/setup.sh pins helm 3, helm 4, cosign, crane and kwok) that is not
# an exact vX.Y.Z.
#
#   scripts/check-pins.sh [ROOT]     ROOT defaults to the repository; the suite also runs it on a
#                                    tree with planted defects to prove it catches them.
set -uo pipefail
export PATH=/usr/local/go/bin:$PATH
ROOT=${1:-$(cd "$(dirname "$0")/.." && pwd)}
cd "$ROOT" || exit 2
problems=()
add() { problems+=("$1"); }

files=()
while IFS= read -r -d '' f; do files+=("$f"); done < <(
  find . \( -path ./build -o -path ./.git -o -path ./docs \) -prune -o -type f \
    \( -name '*.sh' -o -name run -o -name 'CMakeLists.txt' -o -name '*.cmake' -o -name '*.cc' -o -name '*.h' \
       -o -name '*.py' -o -name Makefile \) -print0)

exact='@(v[0-9]+\.[0-9]+\.[0-9]+([-+][0-9A-Za-z.-]+)?|\$version|\$\{version\})([[:space:]"'"'"']|$)'
for f in "${files[@]}"; do
  [ "$f" = ./scripts/peers/update.sh ] && continue
  [ "$f" = ./scripts/check-pins.sh ] && continue
  [ "$f" = ./tests/pins/planted_test.sh ] && continue   # plants the defects on purpose
  n=0
  while IFS= read -r line; do
    n=$((n + 1))
    code=${line%%#*}                       # shell comments do not run
    [[ "$f" == *.cc || "$f" == *.h ]] && code=$line
    if [[ "$code" =~ (^|[^[:alnum:]_-])go[[:space:]]+get([[:space:]]|$) ]]; then
      add "$f:$n: 'go get' resolves versions; lock the module in scripts/peers/<name>/ instead"
    fi
    if [[ "$code" =~ go[[:space:]]+mod[[:space:]]+tidy ]]; then
      add "$f:$n: 'go mod tidy' may change versions; only scripts/peers/update.sh runs it"
    fi
    if [[ "$code" =~ -mod=mod ]]; then
      add "$f:$n: -mod=mod lets the go command change go.mod; use -mod=readonly"
    fi
    if [[ "$f" == *.sh && "$code" =~ ^[[:space:]]*(export[[:space:]]+)?([A-Z0-9_]+_VERSION)=([^[:space:]]*) ]]; then
      pin=${BASH_REMATCH[2]} raw=${BASH_REMATCH[3]}
      v=${raw//\"/}; v=${v//\'/}
      [[ "$v" =~ ^v[0-9]+\.[0-9]+\.[0-9]+$ ]] || add "$f:$n: $pin=$raw is not an exact vX.Y.Z version"
    fi
    if [[ "$code" =~ (^|[^[:alnum:]_-])go[[:space:]]+(install|run)[[:space:]] ]]; then
      rest=${code#*go }
      if [[ "$rest" =~ ^(install|run)[[:space:]] ]]; then
        # a package argument with @: must be exact; `go run .` of a local module is fine
        if [[ "$rest" == *@* ]] && ! [[ "$rest" =~ $exact ]]; then
          add "$f:$n: 'go ${rest%% *}' without an exact @vX.Y.Z version"
        fi
      fi
    fi
  done <"$f"
done

if [ -d scripts/peers ]; then
  for w in scripts/peers/*/; do
    w=${w%/}
    [ -f "$w/go.mod" ] || { add "$w: no go.mod"; continue; }
    [ -s "$w/go.sum" ] || add "$w: no go.sum (run scripts/peers/update.sh $(basename "$w") and commit it)"
    if grep -nE '(^|[[:space:]])(latest|upgrade|patch|master|main|HEAD)([[:space:]]|$)' "$w/go.mod" | grep -v '^[0-9]*:module ' >/dev/null; then
      add "$w/go.mod: names a version query instead of a version"
    fi
    # every required module (or its replacement) has its checksum in go.sum
    while read -r mod ver; do
      grep -qF "$mod $ver/go.mod " "$w/go.sum" || add "$w/go.sum: no checksum for $mod $ver"
    done < <(cd "$w" && go mod edit -json | jq -r '
      (.Replace // []) as $r
      | .Require[]? | . as $q
      | ([$r[] | select(.Old.Path == $q.Path)][0].New // {Path: .Path, Version: .Version})
      | "\(.Path) \(.Version)"')
  done
fi

if [ ${#problems[@]} -gt 0 ]; then
  printf 'check-pins: %s\n' "${problems[@]}" >&2
  echo "check-pins: ${#problems[@]} problem(s): every Go module version must be written down in the repository" >&2
  exit 1
fi
echo "check-pins: every go command and peer wrapper is pinned"
