# Sourced by tests/pkg/package-deb.sh and package-rpm.sh: what the packages must contain.
# Expects SRC (the source tree) and HAS_TOOL (1 when the tree builds the admin tool `zerofs`).

PKG=nfs-ganesha-zerofs
DOC=/usr/share/doc/$PKG

fail() { printf 'FAIL: %s\n' "$*" >&2; exit 1; }
note() { printf -- '-- %s\n' "$*"; }

# The admin tool comes with its man page; a man page in the tree is packaged in any case.
HAS_MAN=0
{ [ "$HAS_TOOL" = 1 ] || [ -f "$SRC/docs/zerofs.1" ]; } && HAS_MAN=1

# expected_files deb|rpm: every regular file the package must hold (sorted), as literal paths:
# the distribution's layout, not a copy of packaging/CMakeLists.txt's variables.
expected_files() {
  local f
  {
    echo /etc/ganesha/zerofs.conf
    # every sample configuration of the tree
    for f in "$SRC"/ganesha.conf.d/*; do echo "$DOC/examples/${f##*/}"; done
    case $1 in
      deb)
        echo /usr/lib/x86_64-linux-gnu/ganesha/libfsalzerofs.so
        echo "$DOC/copyright"
        echo "$DOC/changelog.Debian.gz"
        echo "$DOC/LICENSE"
        echo "/usr/share/lintian/overrides/$PKG" ;;
      rpm)
        echo /usr/lib64/ganesha/libfsalzerofs.so
        echo "/usr/share/licenses/$PKG/LICENSE" ;;
    esac
    [ "$HAS_TOOL" = 0 ] || echo /usr/bin/zerofs
    [ "$HAS_MAN" = 0 ] || echo /usr/share/man/man1/zerofs.1.gz
  } | LC_ALL=C sort
}

# same_list WHAT EXPECTED ACTUAL: fail with a diff unless the two sorted lists are equal.
same_list() {
  if [ "$2" != "$3" ]; then
    printf 'FAIL: %s differs from the expected list:\n' "$1" >&2
    diff <(echo "$2") <(echo "$3") | grep '^[<>]' | sed 's/^</  missing:   /; s/^>/  unexpected:/' >&2
    exit 1
  fi
}

# check_elf FILE: stripped (no symbol table, no .comment), no RPATH or RUNPATH.
check_elf() {
  local f=$1 desc sections dyn
  desc=$(file -b "$f") sections=$(readelf -SW "$f") dyn=$(readelf -d "$f")
  [[ $desc == *"ELF 64-bit"* ]] || fail "$f is not a 64-bit ELF file: $desc"
  [[ $desc == *", stripped"* ]] || fail "$f is not stripped: $desc"
  ! grep -qE '\.(symtab|comment|debug_)' <<<"$sections" ||
    fail "$f keeps sections a packaged binary does not need: $(grep -oE '\.(symtab|comment|debug_[a-z]+)' <<<"$sections" | tr '\n' ' ')"
  ! grep -qE '\((RPATH|RUNPATH)\)' <<<"$dyn" || fail "$f has an RPATH/RUNPATH: $(grep -E 'RPATH|RUNPATH' <<<"$dyn")"
}

# needed_libs FILE: the sonames FILE links (DT_NEEDED).
needed_libs() { readelf -d "$1" | sed -n 's/.*(NEEDED).*\[\(.*\)\]/\1/p'; }
