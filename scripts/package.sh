#!/usr/bin/env bash
# Builds the nfs-ganesha-zerofs packages (a DEB and an RPM) from this tree, as root on Debian 12:
#   bash scripts/package.sh [OUTDIR]      packages go to OUTDIR (default: build-pkg/packages)
# Installs what it needs (scripts/setup.sh's build dependencies; rpm, lintian, file), builds a
# Release tree in build-pkg/ (ZEROFS_PKG_BUILD_DIR) with Debian's compiler and linker flags
# (dpkg-buildflags, all hardening on), runs cpack for DEB and RPM, prints the packages' paths
# and runs lintian on the .deb. Exit status non-zero if anything failed or lintian reports an
# error. See packaging/CMakeLists.txt for what goes where.
set -euo pipefail

src=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
bdir=$(realpath -m -- "${ZEROFS_PKG_BUILD_DIR:-$src/build-pkg}")
out=$(realpath -m -- "${1:-$bdir/packages}")

log() { printf 'package: %s\n' "$*"; }
die() { printf 'package: ERROR: %s\n' "$*" >&2; exit 1; }

[ $# -le 1 ] || die "usage: bash scripts/package.sh [OUTDIR]"
[ "$(id -u)" = 0 ] || die "run as root (it installs Debian packages)"

bash "$src/scripts/setup.sh"
need=()
for p in rpm lintian file dpkg-dev; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || need+=("$p")
done
if [ ${#need[@]} -gt 0 ]; then
  log "installing: ${need[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi

# Debian's flags for a package build. -ffile-prefix-map (from the source dir) keeps build paths
# out of the binaries; -g is stripped again by cpack (CPACK_STRIP_FILES).
cd "$src"
flags() { DEB_BUILD_MAINT_OPTIONS=hardening=+all dpkg-buildflags --get "$1"; }
cflags="$(flags CPPFLAGS) $(flags CFLAGS)"
ldflags=$(flags LDFLAGS)

log "building (Release) in $bdir"
# quiet when it works; on failure all of it (a missing package is named on stdout, not stderr)
cfg=$(cmake -S "$src" -B "$bdir" -DCMAKE_BUILD_TYPE=Release -DZEROFS_TESTS=OFF \
  -DCMAKE_INSTALL_PREFIX=/usr \
  -DCMAKE_C_FLAGS="$cflags" -DCMAKE_C_FLAGS_RELEASE="-DNDEBUG" \
  -DCMAKE_MODULE_LINKER_FLAGS="$ldflags" -DCMAKE_SHARED_LINKER_FLAGS="$ldflags" \
  -DCMAKE_EXE_LINKER_FLAGS="$ldflags" 2>&1) || { printf '%s\n' "$cfg" >&2; die "CMake configure of $bdir failed"; }
cmake --build "$bdir" -j"$(nproc)"

log "cpack (DEB, RPM) into $out"
mkdir -p "$out"
rm -f "$out"/nfs-ganesha-zerofs[_-]*.deb "$out"/nfs-ganesha-zerofs-*.rpm
( cd "$bdir" && cpack -G "DEB;RPM" -B "$out" ) >"$out/cpack.log" 2>&1 ||
  { tail -n 40 "$out/cpack.log" >&2; die "cpack failed (log: $out/cpack.log)"; }
rm -rf "$out/_CPack_Packages"

deb=$(ls "$out"/nfs-ganesha-zerofs_*.deb 2>/dev/null) || die "cpack made no .deb"
rpm=$(ls "$out"/nfs-ganesha-zerofs-*.rpm 2>/dev/null) || die "cpack made no .rpm"
[ "$(wc -l <<<"$deb")" = 1 ] && [ "$(wc -l <<<"$rpm")" = 1 ] || die "more than one package in $out"

log "lintian $deb"
# Tags of every severity but the pedantic and experimental ones; fails on errors only.
lintian --display-info --fail-on error "$deb" | tee "$out/lintian.log" ||
  die "lintian reports errors (log: $out/lintian.log)"
[ -s "$out/lintian.log" ] || echo "(no tags)"

echo "DEB: $deb"
echo "RPM: $rpm"
