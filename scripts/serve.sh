#!/usr/bin/env bash
# README command 1: install what is needed, build, and start Debian's ganesha.nfsd
# with the ZEROFS FSAL on the embedded default store (a local directory) on
# 127.0.0.1, then print how to mount it and how to stop it.
#   bash scripts/serve.sh            start (or say it is already running)
#   bash scripts/serve.sh stop       stop it
# Settings (environment): ZEROFS_SERVE_DIR (state: store, logs; default
# /var/lib/zerofs/serve), ZEROFS_NFS_PORT (2049), ZEROFS_MOUNT_PORT (20048),
# ZEROFS_BUILD_DIR (the CMake build tree; default build/ in the source tree).
# Ports: a port set explicitly must be free, or serve.sh fails saying what holds
# it. A default port held by something else (the system's nfs-ganesha service,
# which Debian starts when the package is installed, or the kernel's NFS server)
# is replaced by another free port: the one used last time if it is free, else a
# random one. The printed mount commands carry the ports really served on.
set -euo pipefail

DEFAULT_NFS_PORT=2049
DEFAULT_MOUNT_PORT=20048

src=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
state=${ZEROFS_SERVE_DIR:-/var/lib/zerofs/serve}
build=${ZEROFS_BUILD_DIR:-$src/build}
cd "$src"

log() { printf 'serve: %s\n' "$*"; }
die() { printf 'serve: ERROR: %s\n' "$*" >&2; exit 1; }

if [ "${1:-}" = stop ]; then
  exec bash scripts/ganesha.sh stop "$state/ganesha"
fi
[ $# = 0 ] || die "usage: bash scripts/serve.sh [stop]"
for v in ZEROFS_NFS_PORT ZEROFS_MOUNT_PORT; do
  p=${!v:-}
  [ -z "$p" ] || { [[ $p =~ ^[0-9]+$ ]] && [ "$p" -ge 1 ] && [ "$p" -le 65535 ]; } ||
    die "$v='$p' is not a port number"
done

bash scripts/setup.sh
# Quiet when it works; on failure the whole configure output (which names a missing package on
# stdout, not in the error on stderr) is shown.
if ! out=$(cmake -S "$src" -B "$build" 2>&1); then
  printf '%s\n' "$out" >&2
  die "CMake configure of $build failed (output above)"
fi
cmake --build "$build" -j"$(nproc)" || die "build in $build failed (output above)"

plugin=$build/fsal_zerofs/libfsalzerofs.so
if [ ! -f "$plugin" ]; then
  cat >&2 <<MSG

The build succeeded, but this tree does not contain the ZEROFS FSAL
(libfsalzerofs.so) yet, so there is no server to start. Run the tests instead:
bash scripts/test.sh
MSG
  exit 3
fi

# holders PORT: who listens on TCP PORT, on any address ("" if nobody), e.g.
# "ganesha.nfsd (pid 812) on 0.0.0.0:2049". A socket without a process is a kernel one (knfsd).
holders() {
  ss -Hltnp "sport = :$1" | awk '{
    who = "a kernel socket (the kernel NFS server, nfs-kernel-server?)"
    if (match($0, /users:\(\(.*\)\)/)) {
      u = substr($0, RSTART + 8, RLENGTH - 10); n = split(u, P, /\),\(/); who = ""
      for (i = 1; i <= n; i++) {
        split(P[i], F, ","); name = F[1]; gsub(/"/, "", name); pid = F[2]; sub(/^pid=/, "", pid)
        if (index(who, "pid " pid ")") == 0) who = who (who == "" ? "" : ", ") name " (pid " pid ")"
      }
    }
    printf "%s%s on %s", (NR > 1 ? "; " : ""), who, $4
  }'
}

# advice HOLDERS: what to do about them, for the messages. Debian's nfs-ganesha.service runs
# ganesha.nfsd without -f (the default /etc/ganesha/ganesha.conf); other instances name theirs.
advice() {
  local pid conf
  case $1 in
    *ganesha.nfsd*)
      pid=$(sed -n 's/.*ganesha\.nfsd (pid \([0-9]*\)).*/\1/p' <<<"$1")
      conf=$(tr '\0' '\n' <"/proc/$pid/cmdline" 2>/dev/null | sed -n '/^-f$/{n;p;q}' || true)
      if [ -z "$conf" ] || [ "$conf" = /etc/ganesha/ganesha.conf ]; then
        echo "stop the system's NFS-Ganesha (systemctl disable --now nfs-ganesha)"
      else
        echo "stop that ganesha.nfsd (pid $pid, config $conf)"
      fi ;;
    *"kernel socket"*) echo "stop the kernel NFS server (systemctl disable --now nfs-server)" ;;
    *) echo "stop it" ;;
  esac
}

# choose_port NAME VAR DEFAULT PREVIOUS: the port to ask ganesha.sh for ("" = a random free one).
choose_port() {
  local name=$1 var=$2 def=$3 prev=$4 who
  if [ -n "${!var:-}" ]; then
    who=$(holders "${!var}")
    [ -z "$who" ] && { echo "${!var}"; return; }
    die "$var=${!var} is taken: $name port ${!var} is held by $who." \
      "Either $(advice "$who"), or set $var to a free port, or unset $var to let serve.sh pick one."
  fi
  who=$(holders "$def")
  [ -z "$who" ] && { echo "$def"; return; }
  log "the default $name port $def is held by $who: serving on another port" \
    "(to have $def: $(advice "$who"), then 'bash scripts/serve.sh stop' and start again)" >&2
  if [ -n "$prev" ] && [ "$prev" != "$def" ] && [ -z "$(holders "$prev")" ]; then echo "$prev"; fi
}

if bash scripts/ganesha.sh status "$state/ganesha" >/dev/null 2>&1; then
  log "already running (state in $state); 'bash scripts/serve.sh stop' stops it"
else
  mkdir -p "$state/plugins" "$state/store"
  ln -sf "$plugin" "$state/plugins/libfsalzerofs.so"
  # the sample config, pointed at this state directory
  sed "s|Directory = \"/var/lib/zerofs/fs1\";|Directory = \"$state/store\";|" \
    ganesha.conf.d/local.conf > "$state/export.conf"
  grep -q "Directory = \"$state/store\";" "$state/export.conf" ||
    die "ganesha.conf.d/local.conf has no Directory line to point at $state/store"
  # the ports of the last start, so that a fallback port stays the same from one start to the next
  prev_nfs="" prev_mount=""
  [ -f "$state/ports" ] && read -r prev_nfs prev_mount <"$state/ports" || true
  nfs_port=$(choose_port NFS ZEROFS_NFS_PORT $DEFAULT_NFS_PORT "$prev_nfs")
  mount_port=$(choose_port MOUNT ZEROFS_MOUNT_PORT $DEFAULT_MOUNT_PORT "$prev_mount")
  [ -z "$nfs_port" ] || [ "$nfs_port" != "$mount_port" ] ||
    die "the NFS and MOUNT ports must differ (both $nfs_port)"
  bash scripts/ganesha.sh start "$state/ganesha" --fsal-dir "$state/plugins" \
    --export-snippet "$state/export.conf" ${nfs_port:+--nfs-port "$nfs_port"} \
    ${mount_port:+--mount-port "$mount_port"}
fi

# The ports really served on, as ganesha.sh recorded them at start.
GANESHA_NFS_PORT="" GANESHA_MOUNT_PORT=""
# shellcheck disable=SC1091
. "$state/ganesha/env" 2>/dev/null || true
[ -n "$GANESHA_NFS_PORT" ] && [ -n "$GANESHA_MOUNT_PORT" ] ||
  die "$state/ganesha/env does not name the ports; 'bash scripts/serve.sh stop' and start again"
nfs_port=$GANESHA_NFS_PORT mount_port=$GANESHA_MOUNT_PORT
echo "$nfs_port $mount_port" >"$state/ports"

cat <<MSG

ZeroFS is serving 127.0.0.1:/zerofs on NFS port $nfs_port, MOUNT port $mount_port
(store: $state/store; log: $state/ganesha/ganesha.log).

Mount it from Linux:
  mount -t nfs -o vers=3,tcp,port=$nfs_port,mountport=$mount_port,nolock 127.0.0.1:/zerofs /mnt
  mount -t nfs -o vers=4.1,port=$nfs_port 127.0.0.1:/zerofs /mnt
Mount it from macOS:
  mount -t nfs -o nolocks,vers=3,tcp,port=$nfs_port,mountport=$mount_port 127.0.0.1:/zerofs mnt
Stop it:
  bash scripts/serve.sh stop
MSG
