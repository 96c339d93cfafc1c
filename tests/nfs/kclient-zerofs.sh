#!/usr/bin/env bash
# ctest driver: Debian's ganesha.nfsd with our plugin on a local store, and the
# real Linux kernel NFS client (a Debian kernel in qemu) running
# tests/nfs/kclient-smoke.sh over NFSv3, v4.1 and v4.2, with kclient_tool (exclusive create,
# SEEK_DATA/SEEK_HOLE, byte-range locks) in the guest.
#   kclient-zerofs.sh SRC_DIR PLUGIN_DIR WORK_DIR KCLIENT_TOOL
set -euo pipefail
src=$1 plugins=$2 work=$3 tool=$4

rm -rf "$work"
mkdir -p "$work/store"
cleanup() { bash "$src/scripts/ganesha.sh" stop "$work/ganesha" >/dev/null 2>&1 || true; }
trap cleanup EXIT

sed "s|Directory = \"/var/lib/zerofs/fs1\";|Directory = \"$work/store\";|" \
  "$src/ganesha.conf.d/local.conf" > "$work/export.conf"
bash "$src/scripts/kernel-client.sh" build
bash "$src/scripts/ganesha.sh" start "$work/ganesha" --fsal-dir "$plugins" \
  --export-snippet "$work/export.conf"
. "$work/ganesha/env"

status=0 passed=0 failed=0
for v in 3 4.1 4.2; do
  if bash "$src/scripts/kernel-client.sh" run --nfs-port "$GANESHA_NFS_PORT" \
      --mount-port "$GANESHA_MOUNT_PORT" --export /zerofs --pseudo /zerofs --vers "$v" \
      --script "$src/tests/nfs/kclient-smoke.sh" --timeout 180 --log "$work/kclient-$v.log" \
      --add "$tool"; then
    # the tool's checks ran (a guest without it would skip them)
    want="ok excl|ok seek"; [ "$v" = 3 ] || want+="|ok locks"
    if [ "$(grep -cE "kclient_tool: ($want)" "$work/kclient-$v.log")" -ne "$(echo "$want" | tr '|' '\n' | wc -l)" ]; then
      echo "FAIL kernel client vers=$v: kclient_tool's checks did not all run (console log: $work/kclient-$v.log)"
      status=1; failed=$((failed + 1)); continue
    fi
    echo "ok   kernel client vers=$v"
    passed=$((passed + 1))
  else
    echo "FAIL kernel client vers=$v (console log: $work/kclient-$v.log)"
    status=1
    failed=$((failed + 1))
  fi
done
echo "$passed passed, $failed failed"
exit $status
