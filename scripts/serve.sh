#!/usr/bin/env bash
# README command 1: install what is needed, build, and start Debian's ganesha.nfsd
# with the ZEROFS FSAL on the embedded default store (a local directory) on
# 127.0.0.1, then print how to mount it and how to stop it.
#   bash scripts/serve.sh            start (or say it is already running)
#   bash scripts/serve.sh stop       stop it
# Settings (environment): ZEROFS_SERVE_DIR (state: store, logs; default
# /var/lib/zerofs/serve), ZEROFS_NFS_PORT (2049), ZEROFS_MOUNT_PORT (20048).
set -euo pipefail

src=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
state=${ZEROFS_SERVE_DIR:-/var/lib/zerofs/serve}
nfs_port=${ZEROFS_NFS_PORT:-2049}
mount_port=${ZEROFS_MOUNT_PORT:-20048}
cd "$src"

if [ "${1:-}" = stop ]; then
  exec bash scripts/ganesha.sh stop "$state/ganesha"
fi

bash scripts/setup.sh
# Quiet when it works; on failure the whole configure output (which names a missing package on
# stdout, not in the error on stderr) is shown.
if ! out=$(cmake -S "$src" -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo 2>&1); then
  printf '%s\n' "$out" >&2
  echo "serve: ERROR: CMake configure of build/ failed (output above)" >&2
  exit 1
fi
cmake --build build -j"$(nproc)"

plugin=$src/build/fsal_zerofs/libfsalzerofs.so
if [ ! -f "$plugin" ]; then
  cat >&2 <<MSG

The build succeeded, but this tree does not contain the ZEROFS FSAL
(libfsalzerofs.so) yet, so there is no server to start. Run the tests instead:
bash scripts/test.sh
MSG
  exit 3
fi

if bash scripts/ganesha.sh status "$state/ganesha" >/dev/null 2>&1; then
  echo "serve: already running (state in $state); 'bash scripts/serve.sh stop' stops it"
else
  mkdir -p "$state/plugins" "$state/store"
  ln -sf "$plugin" "$state/plugins/libfsalzerofs.so"
  # the sample config, pointed at this state directory
  sed "s|Directory = \"/var/lib/zerofs/fs1\";|Directory = \"$state/store\";|" \
    ganesha.conf.d/local.conf > "$state/export.conf"
  grep -q "Directory = \"$state/store\";" "$state/export.conf" ||
    { echo "serve: ganesha.conf.d/local.conf has no Directory line to point at $state/store" >&2; exit 1; }
  bash scripts/ganesha.sh start "$state/ganesha" --fsal-dir "$state/plugins" \
    --export-snippet "$state/export.conf" --nfs-port "$nfs_port" --mount-port "$mount_port"
fi

cat <<MSG

ZeroFS is serving 127.0.0.1:/zerofs (store: $state/store; log: $state/ganesha/ganesha.log).

Mount it from Linux:
  mount -t nfs -o vers=3,tcp,port=$nfs_port,mountport=$mount_port,nolock 127.0.0.1:/zerofs /mnt
  mount -t nfs -o vers=4.1,port=$nfs_port 127.0.0.1:/zerofs /mnt
Mount it from macOS:
  mount -t nfs -o nolocks,vers=3,tcp,port=$nfs_port,mountport=$mount_port 127.0.0.1:/zerofs mnt
Stop it:
  bash scripts/serve.sh stop
MSG
