#!/usr/bin/env bash
# Reads this machine's configured apt sources (one-line .list files and deb822 .sources files, where
# apt-config says they are) and prints entries derived from them, so that nothing in this tree names
# a package archive: a machine behind a local mirror or a proxy gets the same URIs, suites and
# Signed-By keys it already uses.
#   apt-sources.sh deb822 TYPE SUITE_ERE [COMPONENTS]
#       deb822 paragraphs of type TYPE (deb, deb-src), one per enabled `deb` entry and suite that
#       matches SUITE_ERE (anchored; e.g. 'bookworm' or 'bookworm(-updates|-security)?'), with that
#       entry's URI, Signed-By and other options; Components are COMPONENTS if given (e.g. main),
#       otherwise the entry's own. Duplicates (same URI, suite) are printed once.
#   apt-sources.sh mirror SUITE
#       "URI<TAB>KEYRING" of the first enabled `deb` entry for SUITE (KEYRING is its Signed-By
#       when that is a file, else empty): what debootstrap needs.
#   apt-sources.sh keyrings SUITE_ERE
#       the Signed-By files of the entries `deb822` would print, one a line.
# Exits 1 (nothing printed) when no entry matches. Only bash, apt-config and awk (mawk): it runs on a
# minimal Debian (README command 1 in a fresh root).
set -euo pipefail

die() { printf 'apt-sources.sh: ERROR: %s\n' "$*" >&2; exit 1; }
usage() { sed -n '6,16s/^#   /usage: /p' "$0" >&2; exit 2; }

# The files apt reads, in apt's order: Dir::Etc::sourcelist, then Dir::Etc::sourceparts/*.list and
# *.sources sorted by name (apt ignores other names, e.g. foo.list.disabled).
source_files() {
  local SL="" SP="" f
  eval "$(apt-config shell SL Dir::Etc::sourcelist/f SP Dir::Etc::sourceparts/d)"
  [ -n "$SL" ] && [ -f "$SL" ] && printf 'list\t%s\n' "$SL"
  if [ -n "$SP" ] && [ -d "$SP" ]; then
    for f in "$SP"/*; do
      [ -f "$f" ] || continue
      case ${f##*/} in
        *[!A-Za-z0-9_.-]*) ;;   # apt ignores names with other characters
        *.list) printf 'list\t%s\n' "$f" ;;
        *.sources) printf 'sources\t%s\n' "$f" ;;
      esac
    done
  fi
}

# records: one line per enabled `deb` entry and suite:
#   URI <TAB> SUITE <TAB> COMPONENTS <TAB> OPTIONS
# OPTIONS are deb822 fields ("Name: value") joined by \001 (a multi-line value, e.g. an inline
# Signed-By key, keeps its lines joined by \002). Types, URIs, Suites, Components and Enabled are
# not in OPTIONS; neither are Architectures (irrelevant to the entries derived here).
records() {
  local kind file
  while IFS=$'\t' read -r kind file; do
    awk -v kind="$kind" '
      function trim(s) { sub(/^[ \t]+/, "", s); sub(/[ \t\r]+$/, "", s); return s }
      function emit(types, uris, suites, comps, opts,    t, u, s, nt, nu, ns, T, U, S, i, j, k) {
        nt = split(types, T, /[ \t]+/); nu = split(uris, U, /[ \t]+/); ns = split(suites, S, /[ \t]+/)
        for (i = 1; i <= nt; i++) {
          if (T[i] != "deb") continue
          for (j = 1; j <= nu; j++)
            for (k = 1; k <= ns; k++)
              if (U[j] != "" && S[k] != "")
                printf "%s\t%s\t%s\t%s\n", U[j], S[k], comps, opts
        }
      }
      # ---- deb822 (.sources) ----
      function flush822(    name) {
        if (have && tolower(f["enabled"]) != "no")
          emit(f["types"], f["uris"], f["suites"], f["components"], opts822())
        have = 0; delete f; nf = 0; cur = ""
      }
      function opts822(    i, o, n) {
        o = ""
        for (i = 1; i <= nf; i++) {
          n = order[i]
          if (n ~ /^(types|uris|suites|components|enabled|architectures)$/) continue
          o = o (o == "" ? "" : "\001") label[n] ": " f[n]
        }
        return o
      }
      kind == "sources" && /^#/ { next }
      kind == "sources" && /^[ \t]*$/ { flush822(); next }
      kind == "sources" && /^[ \t]/ {
        # continuation line: only multi-line values (an inline key) have them
        if (cur != "") f[cur] = f[cur] "\002" trim($0)
        next
      }
      kind == "sources" {
        i = index($0, ":"); if (i == 0) next
        name = tolower(trim(substr($0, 1, i - 1)))
        if (!(name in f)) { order[++nf] = name; label[name] = trim(substr($0, 1, i - 1)) }
        f[name] = trim(substr($0, i + 1)); cur = name; have = 1
        next
      }
      # ---- one-line (.list): deb [ opt=val ... ] URI SUITE [COMPONENT...] ----
      kind == "list" {
        line = $0; sub(/#.*/, "", line); line = trim(line)
        if (line == "") next
        type = line; sub(/[ \t].*/, "", type)
        if (type != "deb") next
        rest = trim(substr(line, length(type) + 1)); o = ""
        if (substr(rest, 1, 1) == "[") {
          e = index(rest, "]"); if (e == 0) next
          n = split(substr(rest, 2, e - 2), O, /[ \t]+/)
          for (i = 1; i <= n; i++) {
            if (O[i] == "" || index(O[i], "=") == 0) continue
            key = tolower(substr(O[i], 1, index(O[i], "=") - 1)); val = substr(O[i], index(O[i], "=") + 1)
            if (key ~ /[+-]$/ || key == "arch") continue          # arch+=, -= and arch: not carried
            if (key == "lang") key = "languages"; else if (key == "target") key = "targets"
            o = o (o == "" ? "" : "\001") key ": " val
          }
          rest = trim(substr(rest, e + 1))
        }
        n = split(rest, W, /[ \t]+/); if (n < 2) next
        comps = ""; for (i = 3; i <= n; i++) comps = comps (comps == "" ? "" : " ") W[i]
        emit("deb", W[1], W[2], comps, o)
      }
      END { if (kind == "sources") flush822() }
    ' "$file"
  done < <(source_files)
}

# matching SUITE_ERE: the records whose suite matches, first of each (URI, suite).
matching() {
  records | awk -F'\t' -v re="^($1)\$" '$2 ~ re && !seen[$1 "\t" $2]++'
}

# The Signed-By of an OPTIONS field when it names files (paths, comma or space separated).
signed_by_files() {
  awk -v o="$1" 'BEGIN {
    n = split(o, F, "\001")
    for (i = 1; i <= n; i++) if (tolower(F[i]) ~ /^signed-by: \//) {
      v = substr(F[i], 12); m = split(v, P, /[, \t]+/)
      for (j = 1; j <= m; j++) if (P[j] ~ /^\//) print P[j]
    }
  }'
}

cmd_deb822() {
  local type=$1 re=$2 comps_override=${3:-} uri suite comps opts found=0
  while IFS=$'\t' read -r uri suite comps opts; do
    found=1
    printf 'Types: %s\nURIs: %s\nSuites: %s\nComponents: %s\n' "$type" "$uri" "$suite" "${comps_override:-$comps}"
    if [ -n "$opts" ]; then
      # \001 separates fields; \002 a value's further lines (deb822 continuation: " " prefix, "." for empty)
      printf '%s\n' "$opts" | tr '\001' '\n' | awk '{ n = split($0, L, "\002"); if (n > 1) sub(/ +$/, "", L[1]); print L[1]
        for (i = 2; i <= n; i++) print " " (L[i] == "" ? "." : L[i]) }'
    fi
    echo
  done < <(matching "$re")
  [ $found = 1 ]
}

cmd_mirror() {
  local uri suite comps opts key
  IFS=$'\t' read -r uri suite comps opts < <(matching "$1") || return 1
  key=$(signed_by_files "$opts" | head -n1)
  printf '%s\t%s\n' "$uri" "$key"
}

cmd_keyrings() {
  local uri suite comps opts found=0
  while IFS=$'\t' read -r uri suite comps opts; do
    found=1; signed_by_files "$opts"
  done < <(matching "$1")
  [ $found = 1 ]
}

command -v apt-config >/dev/null || die "apt-config not found (this reads apt's configuration)"
[ $# -ge 1 ] || usage
case $1 in
  deb822) [ $# -ge 3 ] && [ $# -le 4 ] || usage; shift; cmd_deb822 "$@" ;;
  mirror) [ $# = 2 ] || usage; cmd_mirror "$2" ;;
  keyrings) [ $# = 2 ] || usage; cmd_keyrings "$2" | awk '!seen[$0]++' ;;
  records) records ;;   # for debugging: the parsed entries
  *) usage ;;
esac
