#!/usr/bin/env bash
# ctest firstrun_serve: README command 1, `bash scripts/serve.sh`, on a fresh machine: a minimal
# Debian 12 root (debootstrap --variant=minbase bookworm) in which nothing was installed by hand.
#   firstrun.sh SRC WORKDIR
# 1. the root: debootstrap from the first `deb ... bookworm` entry of this machine's apt sources
#    (scripts/apt-sources.sh), or, after the first run, the tarball of that pristine root kept in
#    CACHE (ZEROFS_DEPS_DIR/firstrun, default /var/cache/zerofs-deps/firstrun);
# 2. what a freshly installed machine has besides: this machine's Debian entries for bookworm,
#    -updates and -security as its apt sources (same URIs, Signed-By and keys), this machine's apt
#    proxy and validity settings, its resolv.conf; and a policy-rc.d that keeps package scripts
#    from starting daemons (the root shares this machine's network: rpcbind or dbus started there
#    would listen here and outlive the test);
# 3. SRC's files (git ls-files: tracked and untracked-not-ignored, as in the working tree) in
#    /root/zerofs; `bash scripts/serve.sh` run there by chroot with a clean environment and two free
#    ports (ZEROFS_NFS_PORT, ZEROFS_MOUNT_PORT); it must install, build and serve by itself;
# 4. from this machine: the printed mount commands name those ports, the server is the root's
#    ganesha, and a file written with nfs-cp reads back the same over NFSv3 and NFSv4;
# 5. `bash scripts/serve.sh stop` in the root; then, also on failure, every process left in the
#    root is killed, every mount under it undone and the root deleted (ZEROFS_FIRSTRUN_KEEP=1 keeps
#    it, unmounted, for a look).
# The root's downloaded .deb files live in CACHE/archives (bind-mounted at its
# /var/cache/apt/archives, also debootstrap's --cache-dir), so a second run downloads little.
# The mounts are made in a private mount namespace (unshare --mount): whatever happens, none of
# them outlives this script. Runs hold CACHE/lock (another build tree running this test waits).
set -euo pipefail

if [ "${1:-}" != __ns ]; then
  [ $# = 2 ] || { echo "usage: firstrun.sh SRC WORKDIR" >&2; exit 2; }
  [ "$(id -u)" = 0 ] || { echo "FAIL: run as root (debootstrap, chroot, mounts)" >&2; exit 1; }
  exec unshare --mount --propagation private -- bash "$0" __ns "$@"
fi
shift
SRC=$1 WORK=$(realpath -m "$2")
. "$SRC/tests/serve/common.sh"
CACHE=${ZEROFS_DEPS_DIR:-/var/cache/zerofs-deps}/firstrun
ROOT=$WORK/root
TARBALL=$CACHE/bookworm-minbase-amd64.tar.gz
T0=$SECONDS
phase() { note "[$((SECONDS - T0)) s] $*"; }

for t in debootstrap nfs-cp nfs-cat nfs-ls ss git chroot flock apt-config tar gzip; do
  command -v "$t" >/dev/null || fail "$t not found (scripts/setup.sh --test installs it)"
done
git -C "$SRC" rev-parse --is-inside-work-tree >/dev/null 2>&1 ||
  fail "$SRC is not a git work tree: the test copies the files git knows (git ls-files)"

mkdir -p "$CACHE/archives" "$WORK"
exec 9>>"$CACHE/lock"
flock -n 9 || { phase "waiting for $CACHE/lock (another run of this test)"; flock 9; }

# mounts_under DIR: the mount points at or below DIR in this namespace, deepest first.
mounts_under() {
  awk -v r="$1" '$5 == r || index($5, r "/") == 1 { print $5 }' /proc/self/mountinfo | sort -r
}
# in_root PID: the process runs inside ROOT (its root directory is ROOT); root_pids: all of them.
in_root() { [ "$(readlink "/proc/$1/root" 2>/dev/null)" = "$ROOT" ]; }
root_pids() {
  local d
  for d in /proc/[0-9]*; do in_root "${d#/proc/}" && echo "${d#/proc/}"; done; true
}

cleanup() {
  local rc=$? left m sig
  trap - EXIT
  if [ -d "$ROOT/proc/self" ]; then
    chroot "$ROOT" /usr/bin/env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin \
      bash -c 'cd /root/zerofs && bash scripts/serve.sh stop' >>"$WORK/serve.log" 2>&1 || true
  fi
  # anything still running in the root (only processes of this test run there): TERM, then KILL
  for sig in TERM KILL; do
    left=$(root_pids)
    [ -n "$left" ] || break
    note "SIG$sig to processes left in the root: $(echo $left)"
    kill -"$sig" $left 2>/dev/null || true
    for _ in $(seq 100); do [ -n "$(root_pids)" ] || break; sleep 0.1; done
  done
  for m in $(mounts_under "$ROOT"); do umount "$m" 2>/dev/null || umount -l "$m" || true; done
  if [ -n "$(mounts_under "$ROOT")" ]; then
    echo "firstrun: still mounted under $ROOT (left in place): $(mounts_under "$ROOT" | xargs)" >&2
    [ $rc != 0 ] || rc=1
  elif [ "${ZEROFS_FIRSTRUN_KEEP:-0}" = 1 ]; then
    note "kept $ROOT (ZEROFS_FIRSTRUN_KEEP=1)"
  else
    rm -rf "$ROOT"
  fi
  exit $rc
}
trap cleanup EXIT

# ---- 1. the pristine root ------------------------------------------------------------------------
if [ -n "$(mounts_under "$ROOT")" ]; then fail "something is mounted under $ROOT"; fi
rm -rf "$ROOT" "$ROOT.new"
if [ -f "$TARBALL" ]; then
  phase "unpacking the cached fresh root $TARBALL"
  mkdir -p "$ROOT"
  tar -xpzf "$TARBALL" --numeric-owner -C "$ROOT"
else
  IFS=$'\t' read -r mirror keyring < <(bash "$SRC/scripts/apt-sources.sh" mirror bookworm) ||
    fail "this machine's apt sources have no 'deb URI bookworm' entry to debootstrap from"
  # debootstrap's downloader reads only the environment, apt's proxy setting is in apt.conf
  HP=""; eval "$(apt-config shell HP Acquire::http::Proxy)"
  [ -n "${http_proxy:-}" ] || [ -z "$HP" ] || [ "$HP" = DIRECT ] || export http_proxy=$HP
  phase "debootstrap --variant=minbase bookworm from $mirror (once; then cached in $TARBALL)"
  debootstrap --variant=minbase ${keyring:+--keyring="$keyring"} --cache-dir="$CACHE/archives" \
    bookworm "$ROOT.new" "$mirror" >"$WORK/debootstrap.log" 2>&1 ||
    { tail -n 40 "$WORK/debootstrap.log" >&2; fail "debootstrap failed (log $WORK/debootstrap.log)"; }
  tar -cpzf "$TARBALL.tmp" --numeric-owner -C "$ROOT.new" .
  mv "$TARBALL.tmp" "$TARBALL"
  mv "$ROOT.new" "$ROOT"
fi
[ -x "$ROOT/bin/bash" ] && [ -f "$ROOT/etc/debian_version" ] || fail "$ROOT is not a Debian root"
[ "$(cut -d. -f1 "$ROOT/etc/debian_version")" = 12 ] || fail "the root is Debian $(cat "$ROOT/etc/debian_version"), not 12"

# ---- 2. what a fresh machine has besides ---------------------------------------------------------
phase "configuring the root: apt sources, apt settings, resolv.conf, policy-rc.d"
rm -f "$ROOT/etc/apt/sources.list"   # debootstrap's one line for the mirror, replaced by:
{
  echo "# This machine's Debian entries (tests/serve/firstrun.sh; scripts/apt-sources.sh)."
  bash "$SRC/scripts/apt-sources.sh" deb822 deb 'bookworm(-updates|-security)?'
} >"$ROOT/etc/apt/sources.list.d/debian.sources" || fail "no bookworm entries in this machine's apt sources"
for k in $(bash "$SRC/scripts/apt-sources.sh" keyrings 'bookworm(-updates|-security)?' || true); do
  [ -e "$ROOT$k" ] || { mkdir -p "$(dirname "$ROOT$k")"; cp -L "$k" "$ROOT$k"; }
done
if [ -d /etc/apt/trusted.gpg.d ]; then cp -nL /etc/apt/trusted.gpg.d/* "$ROOT/etc/apt/trusted.gpg.d/" 2>/dev/null || true; fi
# a proxy and validity checks are part of how this machine reaches its mirror
apt-config dump | grep -E '^Acquire::((https?|ftp)::Proxy|Check-Valid-Until|Check-Date)( |::)' \
  >"$ROOT/etc/apt/apt.conf.d/00host-acquire" || true
cp -L /etc/resolv.conf "$ROOT/etc/resolv.conf"
printf '#!/bin/sh\n# firstrun test: no daemons from package scripts (shared network)\nexit 101\n' \
  >"$ROOT/usr/sbin/policy-rc.d"
chmod 755 "$ROOT/usr/sbin/policy-rc.d"

mkdir -p "$ROOT/root/zerofs"
# (a tracked file deleted in the work tree is left out, as it would be from a commit of it)
(cd "$SRC" && git ls-files -z --cached --others --exclude-standard --deduplicate |
  while IFS= read -r -d '' f; do if [ -e "$f" ] || [ -L "$f" ]; then printf '%s\0' "$f"; fi; done |
  tar -c --null -T -) | tar -x -C "$ROOT/root/zerofs"
[ -f "$ROOT/root/zerofs/scripts/serve.sh" ] || fail "the source tree was not copied into the root"

# ---- mounts (this namespace only) --------------------------------------------------------------
# / of the root must be a mount point: scripts/ganesha.sh makes its namespace's mounts private.
mount --bind "$ROOT" "$ROOT"
mount -t proc proc "$ROOT/proc"
mount --rbind /sys "$ROOT/sys"
mount --rbind /dev "$ROOT/dev"
mount -t tmpfs -o mode=0755 tmpfs "$ROOT/run"
mount --bind "$CACHE/archives" "$ROOT/var/cache/apt/archives"

# ---- 3. README command 1 -----------------------------------------------------------------------
# free_port [OTHER]: a free TCP port below the ephemeral range (as scripts/ganesha.sh picks them)
free_port() {
  local p _
  for _ in $(seq 50); do
    p=$((10000 + RANDOM % 22000))
    [ "$p" != "${1:-}" ] && [ -z "$(ss -Hltn "sport = :$p")" ] && { echo "$p"; return; }
  done
  fail "no free TCP port found in 50 tries"
}
proxy_env=()
for v in http_proxy https_proxy no_proxy HTTP_PROXY HTTPS_PROXY NO_PROXY; do
  [ -z "${!v:-}" ] || proxy_env+=("$v=${!v}")
done
for attempt in 1 2 3; do
  port=$(free_port); mport=$(free_port "$port")
  phase "bash scripts/serve.sh in the root, ZEROFS_NFS_PORT=$port ZEROFS_MOUNT_PORT=$mport (log $WORK/serve.log)"
  if chroot "$ROOT" /usr/bin/env -i HOME=/root TERM=dumb USER=root LOGNAME=root \
      PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin "${proxy_env[@]}" \
      ZEROFS_NFS_PORT="$port" ZEROFS_MOUNT_PORT="$mport" \
      bash -c 'cd /root/zerofs && bash scripts/serve.sh' >"$WORK/serve.log" 2>&1; then
    break
  fi
  # another process may take a free port between the choice and the start: choose again
  if [ $attempt -lt 3 ] && grep -qE 'is taken|Address already in use' "$WORK/serve.log"; then
    note "a chosen port was taken meanwhile: again with others"; continue
  fi
  tail -n 80 "$WORK/serve.log" >&2
  fail "README command 1 (bash scripts/serve.sh) failed in a fresh Debian 12 root (log above)"
done
phase "serve.sh succeeded"
sed -n '/^ZeroFS is serving/,$p' "$WORK/serve.log"

# ---- 4. the export from this machine -----------------------------------------------------------
read -r p m <<<"$(printed_ports "$(cat "$WORK/serve.log")")"
[ "$p $m" = "$port $mport" ] || fail "serve.sh printed ports $p $m, was given $port $mport"
env=$ROOT/var/lib/zerofs/serve/ganesha/env
[ -f "$env" ] || fail "no $env: serve.sh did not start ganesha through scripts/ganesha.sh"
gpid=$(sed -n 's/^GANESHA_PID=//p' "$env")
in_root "$gpid" || fail "ganesha (pid $gpid) does not run in the root"
[ "$(listener_pids "$port")" = "$gpid" ] || fail "the root's ganesha (pid $gpid) does not listen on $port"
printf 'written on the host into a fresh root via NFS (%s)\n' "$(date)" >"$WORK/hello.txt.in"
head -c 300000 /dev/zero | tr '\0' 'z' >>"$WORK/hello.txt.in"   # several 64 KiB chunks
nfs_roundtrip "$port" "$mport" hello.txt "$WORK"
[ -n "$(find "$ROOT/var/lib/zerofs/serve/store" -type f -print -quit)" ] ||
  fail "the root's store /var/lib/zerofs/serve/store holds no object"

# The deb-src entry setup.sh derived: this machine's bookworm URI, no archive of its own.
srcs=$ROOT/etc/apt/sources.list.d/zerofs-deb-src.sources
grep -qx 'Types: deb-src' "$srcs" && grep -qxF "URIs: $(bash "$SRC/scripts/apt-sources.sh" mirror bookworm | cut -f1)" "$srcs" ||
  fail "the root's $srcs is not derived from this machine's bookworm entry: $(cat "$srcs" 2>&1)"

# The command again: nothing installed or written, the same ports, "already running".
again=$(chroot "$ROOT" /usr/bin/env -i HOME=/root PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
  "${proxy_env[@]}" bash -c 'cd /root/zerofs && bash scripts/serve.sh' 2>&1) ||
  { echo "$again" >&2; fail "README command 1 failed when run a second time"; }
grep -q 'already running' <<<"$again" || { echo "$again" >&2; fail "the second run did not say 'already running'"; }
! grep -qE '^setup: (installing|adding|fetching)' <<<"$again" ||
  { echo "$again" >&2; fail "the second run installed, added or fetched something again"; }
[ "$(printed_ports "$again")" = "$port $mport" ] || fail "the second run printed other ports"
note "the command again: already running, nothing set up again, the same ports"

# ---- 5. stop ---------------------------------------------------------------------------------------
chroot "$ROOT" /usr/bin/env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin \
  bash -c 'cd /root/zerofs && bash scripts/serve.sh stop' || fail "serve.sh stop failed in the root"
[ -z "$(listener_pids "$port")" ] && [ -z "$(listener_pids "$mport")" ] ||
  fail "something still listens on $port or $mport after serve.sh stop"
phase "served, read back and stopped"
echo "PASS"
