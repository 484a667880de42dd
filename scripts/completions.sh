#!/usr/bin/env bash
# Man page and shell completions of one sealift program, made from what its --help says (CLI11
# writes no completion scripts). Run by the build (cmake/packaging.cmake):
#   completions.sh man  PROGRAM NAME OUT.1 VERSION   # help2man page, every subcommand's --help in COMMANDS
#   completions.sh bash PROGRAM NAME OUT             # bash-completion file (complete -F)
#   completions.sh zsh  PROGRAM NAME OUT             # zsh completion function (#compdef NAME)
# Both completions offer the subcommands where one may come, the flags of the subcommand typed so
# far after a "-", and file names otherwise.
set -euo pipefail

mode=$1 program=$2 name=$3 out=$4

# help PATH...: the --help of that subcommand path ("" for the program itself), with the program
# called by its name (CLI11 prints argv[0] in "Usage:", which would be the build's path).
help() { (exec -a "$name" "$program" "$@" --help); }

# The names listed under a section of a help text: "Subcommands:" (first word) or "Options:"
# (each spelling of each flag, "-h,--help" -> "-h --help").
subcommands_of() { awk '/^[A-Za-z].*:$/ { s = ($0 == "Subcommands:") } s && /^  [a-z]/ { print $1 }'; }
flags_of() {
  awk '/^[A-Za-z].*:$/ { s = ($0 == "Options:") } s && /^  -/ { n = split($1, a, ","); for (i = 1; i <= n; i++) print a[i] }'
}

# Every subcommand path, one per line, space-separated words ("" first, then "build", "robots prune").
paths() {
  local prefix=$1 sub
  printf '%s\n' "$prefix"
  # shellcheck disable=SC2086 # the path's words are separate arguments
  for sub in $(help $prefix | subcommands_of); do paths "${prefix:+$prefix }$sub"; done
}

mkdir -p "$(dirname "$out")"
tmp=$(mktemp "$out.XXXXXX")
trap 'rm -f "$tmp" "$tmp.include"' EXIT
fn=_${name//-/_}

case $mode in
  man)
    version=$5
    {
      echo "[COMMANDS]"
      paths "" | while IFS= read -r path; do
        [[ -n $path ]] || continue
        printf '.SS "%s %s"\n.nf\n' "$name" "$path"
        # shellcheck disable=SC2086
        help $path | sed -e 's/\\/\\e/g' -e 's/^\./\\\&./'
        printf '.fi\n'
      done
    } >"$tmp.include"
    description=$(help | head -n 1)
    help2man --no-info --version-string="$version" --name="${description#*: }" \
      --include="$tmp.include" --output="$tmp" "$program"
    ;;
  bash|zsh)
    {
      echo "# $mode completion of $name, generated from its --help by scripts/completions.sh"
      [[ $mode == zsh ]] && echo "#compdef $name"
      echo "${fn}_subcommands() {"
      echo '  case "$1" in'
      paths "" | while IFS= read -r path; do
        # shellcheck disable=SC2086
        printf '    "%s") echo "%s" ;;\n' "$path" "$(help $path | subcommands_of | tr '\n' ' ' | sed 's/ $//')"
      done
      echo '  esac'
      echo '}'
      echo "${fn}_flags() {"
      echo '  case "$1" in'
      paths "" | while IFS= read -r path; do
        # shellcheck disable=SC2086
        printf '    "%s") echo "%s" ;;\n' "$path" "$(help $path | flags_of | tr '\n' ' ' | sed 's/ $//')"
      done
      echo '  esac'
      echo '}'
      if [[ $mode == bash ]]; then
        cat <<BASH
$fn() {
  local cur=\${COMP_WORDS[COMP_CWORD]} cmdpath="" word i
  for ((i = 1; i < COMP_CWORD; i++)); do
    word=\${COMP_WORDS[i]}
    case " \$(${fn}_subcommands "\$cmdpath") " in *" \$word "*) cmdpath=\${cmdpath:+\$cmdpath }\$word ;; esac
  done
  local subs
  subs=\$(${fn}_subcommands "\$cmdpath")
  if [[ \$cur == -* ]]; then
    mapfile -t COMPREPLY < <(compgen -W "\$(${fn}_flags "\$cmdpath")" -- "\$cur")
  elif [[ -n \$subs ]]; then
    mapfile -t COMPREPLY < <(compgen -W "\$subs" -- "\$cur")
  else
    mapfile -t COMPREPLY < <(compgen -f -- "\$cur")
  fi
}
complete -o filenames -F $fn $name
BASH
      else
        cat <<ZSH
$fn() {
  local cmdpath="" word i subs
  for ((i = 2; i < CURRENT; i++)); do
    word=\${words[i]}
    [[ " \$(${fn}_subcommands "\$cmdpath") " == *" \$word "* ]] && cmdpath=\${cmdpath:+\$cmdpath }\$word
  done
  subs=\$(${fn}_subcommands "\$cmdpath")
  if [[ \${words[CURRENT]} == -* ]]; then
    compadd -- \${=\$(${fn}_flags "\$cmdpath")}
  elif [[ -n \$subs ]]; then
    compadd -- \${=subs}
  else
    _files
  fi
}
$fn "\$@"
ZSH
      fi
    } >"$tmp"
    ;;
  *)
    echo "usage: $0 man|bash|zsh PROGRAM NAME OUT [VERSION]" >&2
    exit 2
    ;;
esac
chmod 0644 "$tmp"
mv "$tmp" "$out"
