#!/usr/bin/env bash
# Installs everything ZeroFS needs to build and test on Debian 12, idempotently.
#   scripts/setup.sh            build + run dependencies (ganesha 4.3, headers, libraries, libnfs
#                               for the tests' build, the tools scripts/ganesha.sh runs)
#   scripts/setup.sh --test     also the test-only pieces (Ceph RGW, libnfs-utils, qemu client kit,
#                               debootstrap, packaging tools)
# Quick when already done: apt is only touched when a package is missing. The ganesha headers come
# from Debian's source package, through a deb-src entry derived from the machine's own apt sources.
set -euo pipefail

want_test=0
[ "${1:-}" = "--test" ] && want_test=1

src=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
DEPS_DIR=${ZEROFS_DEPS_DIR:-/var/cache/zerofs-deps}
GANESHA_SRC_VERSION=4.3

log() { printf 'setup: %s\n' "$*"; }
die() { printf 'setup: ERROR: %s\n' "$*" >&2; exit 1; }

[ "$(id -u)" = 0 ] || die "run as root (it installs Debian packages)"
[ -r /etc/debian_version ] || die "this script supports Debian 12 (bookworm) only"
case "$(cut -d. -f1 /etc/debian_version)" in
  12) ;;
  *) die "Debian $(cat /etc/debian_version) found; ZeroFS is built against Debian 12's nfs-ganesha 4.3" ;;
esac

# What README command 1 (scripts/serve.sh) needs on a minimal Debian 12 (debootstrap
# --variant=minbase; the firstrun_serve test checks it). The default configure builds the tests,
# whose NFS harness links libnfs: hence libnfs-dev here. scripts/ganesha.sh runs ss (iproute2),
# mount (mount), unshare and setsid (util-linux); util-linux is Essential in Debian 12 but listed
# so that a root without it gets it rather than a "command not found" mid-start.
build_pkgs=(build-essential cmake pkg-config git ca-certificates
  libcurl4-openssl-dev libssl-dev libzstd-dev liburcu-dev libexpat1-dev
  libntirpc-dev libkrb5-dev libxxhash-dev libmicrohttpd-dev libnfs-dev nfs-ganesha rpcbind dpkg-dev
  iproute2 mount util-linux)
# linux-image-amd64 and busybox-static are NOT installed: scripts/kernel-client.sh fetches them
# with apt-get download and unpacks them into its cache. nfs-ganesha-vfs/-mem: Debian's FSALs,
# to validate the ganesha harness (scripts/ganesha.sh) independently of ours. python3-minimal: a
# stand-in listener in tests/serve (a port held by "another server"); debootstrap: the fresh root
# of tests/serve/firstrun.sh.
test_pkgs=(radosgw ceph-mon ceph-osd ceph-common curl libnfs-utils
  qemu-system-x86 kmod cpio nfs-ganesha-vfs nfs-ganesha-mem valgrind python3-minimal debootstrap
  rpm lintian file)   # the last three: scripts/package.sh and tests/pkg (rpmbuild, rpm -qp)

missing=()
check() {
  local p
  for p in "$@"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
  done
}
check "${build_pkgs[@]}"
[ $want_test = 1 ] && check "${test_pkgs[@]}"

export DEBIAN_FRONTEND=noninteractive
if [ ${#missing[@]} -gt 0 ]; then
  log "installing: ${missing[*]}"
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# ganesha must be exactly 4.3: the FSAL ABI (API 11.0) and our config.h are pinned to it.
gv=$(dpkg-query -W -f='${Version}' nfs-ganesha)
case "$gv" in
  4.3|4.3-*) ;;
  *) die "nfs-ganesha $gv is installed; ZeroFS supports only nfs-ganesha 4.3 (Debian 12)" ;;
esac

# Headers: Debian ships no ganesha -dev package, so take them from the source package.
hdr="$DEPS_DIR/nfs-ganesha-$GANESHA_SRC_VERSION"
if [ ! -f "$hdr/src/include/fsal_api.h" ]; then
  srcs=/etc/apt/sources.list.d/zerofs-deb-src.sources
  if ! apt-get source --print-uris nfs-ganesha >/dev/null 2>&1; then
    # The deb-src entry mirrors this machine's own `deb ... bookworm` entries (same URIs, Signed-By
    # and options), so a local mirror or proxy keeps working and no archive is named here.
    want=$(bash "$src/scripts/apt-sources.sh" deb822 deb-src bookworm main) ||
      die "apt's sources have no enabled 'deb URI bookworm ...' entry to derive a deb-src entry" \
          "from; add a deb-src entry for bookworm main by hand, then run this again"
    want=$(printf '%s\n%s' "# Written by zerofs scripts/setup.sh from this machine's deb entries." "$want")
    # idempotent: rewritten only when the machine's sources changed
    if [ "$(cat "$srcs" 2>/dev/null)" != "$want" ]; then
      log "adding deb-src entries for bookworm, derived from the machine's apt sources ($srcs)"
      printf '%s\n' "$want" >"$srcs.tmp"
      mv "$srcs.tmp" "$srcs"
    fi
    apt-get update -qq
    apt-get source --print-uris nfs-ganesha >/dev/null ||
      die "apt-get source nfs-ganesha finds nothing even with the deb-src entries in $srcs"
  fi
  mkdir -p "$DEPS_DIR/dl"
  log "fetching nfs-ganesha $GANESHA_SRC_VERSION source (headers only are used)"
  ( cd "$DEPS_DIR/dl" && apt-get source --download-only nfs-ganesha >/dev/null 2>&1 || true )
  orig=$(ls "$DEPS_DIR"/dl/nfs-ganesha_"$GANESHA_SRC_VERSION".orig.tar.* 2>/dev/null | head -n1)
  [ -n "$orig" ] || die "could not download nfs-ganesha_$GANESHA_SRC_VERSION.orig.tar.* from Debian's source archive"
  rm -rf "$hdr.tmp" && mkdir -p "$hdr.tmp"
  tar -xf "$orig" -C "$hdr.tmp" --strip-components=1
  [ -f "$hdr.tmp/src/include/fsal_api.h" ] || die "$orig has no src/include/fsal_api.h"
  rm -rf "$hdr" && mv "$hdr.tmp" "$hdr"
fi
log "ganesha $gv, headers in $hdr"
echo "$hdr" > "$DEPS_DIR/ganesha-src-dir"
