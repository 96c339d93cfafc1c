#!/usr/bin/env bash
# The architecture, checked on the built objects (nm) and the sources:
#   1. no file depends on itself through others: within each module, no cycle of
#      "file A uses a function or variable defined in file B";
#   2. layers call only downward: s3/ uses nothing of lsm/ or above, lsm/ nothing of the
#      filesystem core or above, the core and the metrics endpoint nothing of the glue;
#   3. only the glue (fsal_zerofs/*.c, *.h) includes ganesha's headers;
#   4. each layer includes only the public headers of the ones below (their include/
#      folders), never another module's internal header.
#   check_layering.sh SRC_DIR BUILD_DIR
set -euo pipefail
[ $# -eq 2 ] || { echo "usage: $0 SRC_DIR BUILD_DIR" >&2; exit 2; }
src=$1 build=$2
status=0
fail() { printf 'FAIL %s\n' "$*"; status=1; }

# objects of a module: its static library, or the plugin's object files
objs_of() {
  case $1 in
    plugin) find "$build/fsal_zerofs/CMakeFiles/fsalzerofs.dir" -name '*.o' | sort ;;
    admin) find "$build/fsal_zerofs/admin/CMakeFiles/zerofs.dir" -name '*.o' | sort ;;
    *) find "$build" -name "lib$1.a" | head -n1 ;;
  esac
}

# "FILE D SYMBOL" for what each object defines, "FILE U SYMBOL" for what it uses
symbols() {
  local f
  for f in "$@"; do
    nm -A --defined-only "$f" 2>/dev/null | awk '$(NF-1) ~ /^[TDBRC]$/ { sub(/:[^:]*$/, "", $1); print $1, "D", $NF }'
    nm -A -u "$f" 2>/dev/null | awk '{ sub(/:[^:]*$/, "", $1); print $1, "U", $NF }'
  done | sed -E 's#^[^ ]*[/:]([^/: ]+)\.o #\1 #'
}

cycles() { # cycles NAME OBJECT...: the files in a dependency cycle, one line each
  local name=$1; shift
  symbols "$@" | awk -v mod="$name" '
    $2 == "D" { def[$3] = $1; files[$1] = 1 }
    $2 == "U" { use[$1, $3] = 1; files[$1] = 1 }
    END {
      for (k in use) { split(k, p, SUBSEP); d = def[p[2]]; if (d != "" && d != p[1]) { dep[p[1], d] = 1; why[p[1], d] = p[2] } }
      n = 0; for (f in files) name[n++] = f
      for (i = 0; i < n; i++) for (j = 0; j < n; j++) reach[i, j] = ((name[i], name[j]) in dep)
      for (k = 0; k < n; k++) for (i = 0; i < n; i++) if (reach[i, k]) for (j = 0; j < n; j++) if (reach[k, j]) reach[i, j] = 1
      for (i = 0; i < n; i++) for (j = i + 1; j < n; j++)
        if (reach[i, j] && reach[j, i]) {
          a = name[i]; b = name[j]
          printf "%s: %s and %s depend on each other", mod, a, b
          if ((a, b) in dep) printf " (%s uses %s)", a, why[a, b]
          if ((b, a) in dep) printf " (%s uses %s)", b, why[b, a]
          printf "\n"
        }
    }'
}

modules=(zs3 zlsm zfscore zfsmetrics admin plugin)
for m in "${modules[@]}"; do
  mapfile -t o < <(objs_of "$m")
  [ ${#o[@]} -gt 0 ] && [ -n "${o[0]}" ] || { fail "$m: no objects found under $build (build it first)"; continue; }
  while IFS= read -r line; do [ -n "$line" ] && fail "$line"; done < <(cycles "$m" "${o[@]}")
done

# 2. downward only: what a lower module uses must not be defined above it
defined_by() { mapfile -t o < <(objs_of "$1"); symbols "${o[@]}" | awk '$2 == "D" { print $3 }' | sort -u; }
used_by() { mapfile -t o < <(objs_of "$1"); symbols "${o[@]}" | awk '$2 == "U" { print $3 }' | sort -u; }
check_below() { # check_below LOWER UPPER...
  local low=$1 up s; shift
  for up in "$@"; do
    while IFS= read -r s; do
      [ -n "$s" ] && fail "$low uses $s, defined above it in $up"
    done < <(comm -12 <(used_by "$low") <(defined_by "$up"))
  done
}
check_below zs3 zlsm zfscore zfsmetrics plugin admin
check_below zlsm zfscore zfsmetrics plugin admin
check_below zfscore zfsmetrics plugin admin
check_below zfsmetrics plugin admin

# 3. ganesha's headers: the glue only
ganesha_headers='#include[[:space:]]*[<"](fsal_api|fsal|fsal_types|fsal_convert|nfs_core|nfs_exports|export_mgr|FSAL/[a-z_]+|log|common_utils|gsh_[a-z_]+)\.h[">]'
while IFS= read -r hit; do
  fail "a ganesha header outside the glue: $hit"
done < <(grep -rEn "$ganesha_headers" "$src/s3" "$src/lsm" "$src/fsal_zerofs/fs" \
           "$src/fsal_zerofs/metrics" "$src/fsal_zerofs/admin" --include='*.c' --include='*.h' || true)

# 4. public headers only from the layer below: an upper module may include only what a lower
#    module's include/ folder holds (internal headers stay in the module's own folder)
internal_of() { # the internal header names of a module folder
  find "$1" -maxdepth 1 -name '*.h' -printf '%f\n' | sort -u
}
check_includes() { # check_includes LOWER_DIR UPPER_DIR...
  local low=$1 up h hit; shift
  for h in $(internal_of "$low"); do
    for up in "$@"; do
      while IFS= read -r hit; do
        fail "$hit includes $h, internal to $(basename "$low")/"
      done < <(grep -rlE "#include[[:space:]]*\"$h\"" "$up" --include='*.c' --include='*.h' || true)
    done
  done
}
if [ -d "$src/s3/include" ] && [ -d "$src/lsm/include" ] && [ -d "$src/fsal_zerofs/fs/include" ]; then
  check_includes "$src/s3" "$src/lsm" "$src/fsal_zerofs"
  check_includes "$src/lsm" "$src/fsal_zerofs"
  check_includes "$src/fsal_zerofs/fs" "$src/fsal_zerofs/metrics" "$src/fsal_zerofs/admin"
  for f in "$src"/fsal_zerofs/*.c "$src"/fsal_zerofs/*.h; do
    for h in $(internal_of "$src/fsal_zerofs/fs"); do
      grep -qE "#include[[:space:]]*\"$h\"" "$f" && fail "$f includes $h, internal to fs/"
    done
  done
else
  fail "s3/include, lsm/include and fsal_zerofs/fs/include must hold the public headers"
fi

if [ $status = 0 ]; then echo "1 passed, 0 failed"; else echo "0 passed, 1 failed"; fi
exit $status
