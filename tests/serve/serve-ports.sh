#!/usr/bin/env bash
# ctest serve_ports: README command 1 (scripts/serve.sh) on a machine where something already
# listens on the NFS and MOUNT ports, as Debian's own nfs-ganesha.service does (2049, 20048):
#   serve-ports.sh SRC BUILD WORKDIR
# 1. ZEROFS_NFS_PORT=2049 set explicitly while 2049 is held: serve.sh fails, naming the holder
#    (its PID) and what to do, and starts nothing;
# 2. defaults while both are held: serve.sh says what holds them and serves on other ports; the
#    printed mount commands carry those ports, and libnfs clients (nfs-cp, nfs-cat over v3 and v4,
#    nfs-ls) reach the export there;
# 3. serve.sh again: "already running", the same ports printed;
# 4. stop and start again: the same fallback ports (a mount command keeps working), the file kept;
# 5. serve.sh stop: nothing listens on them any more.
# It runs in a network namespace of its own (unshare --net), where 2049 and 20048 are free
# whatever this machine runs, and where a Python listener stands in for the other server. So the
# real default ports are tested, with no test-only setting, and no other test can be disturbed.
# BUILD is the build tree (ZEROFS_BUILD_DIR): serve.sh reconfigures it, a no-op after ctest's build.
set -euo pipefail

if [ "${1:-}" != __netns ]; then
  [ $# = 3 ] || { echo "usage: serve-ports.sh SRC BUILD WORKDIR" >&2; exit 2; }
  [ "$(id -u)" = 0 ] || { echo "FAIL: run as root (network namespace, ganesha)" >&2; exit 1; }
  exec unshare --net -- bash "$0" __netns "$@"
fi
shift
SRC=$1 BUILD=$2 WORK=$3
. "$SRC/tests/serve/common.sh"
NFS=2049 MNT=20048   # serve.sh's defaults, as README says

for t in python3 nfs-cp nfs-cat nfs-ls ss ip; do
  command -v "$t" >/dev/null || fail "$t not found (scripts/setup.sh --test installs it)"
done

# A fresh namespace has only a down loopback. ganesha resolves Bind_addr 127.0.0.1 with
# AI_ADDRCONFIG, which wants an address other than loopback's: a documentation address (TEST-NET-1)
# that routes nowhere.
ip link set lo up
ip addr add 192.0.2.1/32 dev lo

rm -rf "$WORK"; mkdir -p "$WORK"
export ZEROFS_SERVE_DIR=$WORK/serve ZEROFS_BUILD_DIR=$BUILD
unset ZEROFS_NFS_PORT ZEROFS_MOUNT_PORT

holder=""
cleanup() {
  bash "$SRC/scripts/serve.sh" stop >/dev/null 2>&1 || true
  [ -z "$holder" ] || kill "$holder" 2>/dev/null || true
}
trap cleanup EXIT

# The "other server": listens on 0.0.0.0 (as the system's ganesha and knfsd do) on both ports.
python3 -c '
import socket, sys, time
socks = []
for p in sys.argv[1:]:
    s = socket.socket()
    s.bind(("0.0.0.0", int(p)))
    s.listen()
    socks.append(s)
while True:
    time.sleep(3600)
' "$NFS" "$MNT" &
holder=$!
deadline=$((SECONDS + 120))   # generous: a loaded machine may take long to start python
until [ "$(listener_pids $NFS)" = "$holder" ] && [ "$(listener_pids $MNT)" = "$holder" ]; do
  kill -0 "$holder" 2>/dev/null || fail "the stand-in listener (python3) died"
  [ $SECONDS -lt $deadline ] || fail "the stand-in listener did not listen on $NFS and $MNT in 120 s"
  sleep 0.2
done
hname=$(cat "/proc/$holder/comm")   # as ss names it (python3, or python3.11 through a wrapper)
note "$hname (pid $holder) listens on 0.0.0.0:$NFS and 0.0.0.0:$MNT"

# ---- 1. an explicit port that is taken: a clear failure ------------------------------------------
if out=$(ZEROFS_NFS_PORT=$NFS bash "$SRC/scripts/serve.sh" 2>&1); then
  echo "$out"; fail "serve.sh with ZEROFS_NFS_PORT=$NFS succeeded although $NFS is taken"
fi
err=$(grep 'serve: ERROR' <<<"$out" || true)
[ -n "$err" ] || { echo "$out"; fail "serve.sh failed without its own error message"; }
for want in "ZEROFS_NFS_PORT=$NFS is taken" "$hname (pid $holder)" "0.0.0.0:$NFS" "unset ZEROFS_NFS_PORT"; do
  grep -qF -- "$want" <<<"$err" || fail "the error does not say '$want': $err"
done
[ "$(listener_pids $NFS)" = "$holder" ] || fail "something else listens on $NFS now"
[ ! -e "$ZEROFS_SERVE_DIR/ganesha/env" ] || fail "serve.sh failed but left a started instance"
note "explicit ZEROFS_NFS_PORT=$NFS: $err"

# ---- 2. the defaults taken: other ports, printed, reachable -------------------------------------
out=$(bash "$SRC/scripts/serve.sh" 2>&1) || { echo "$out"; fail "serve.sh failed with its default ports taken"; }
for want in "default NFS port $NFS is held by $hname (pid $holder) on 0.0.0.0:$NFS" \
            "default MOUNT port $MNT is held by $hname (pid $holder) on 0.0.0.0:$MNT"; do
  grep -qF -- "$want" <<<"$out" || { echo "$out"; fail "serve.sh did not say '$want'"; }
done
read -r port mport <<<"$(printed_ports "$out")"
[ "$port" != $NFS ] && [ "$mport" != $MNT ] && [ "$port" != "$mport" ] ||
  fail "serve.sh printed ports $port and $mport with $NFS and $MNT taken"
. "$ZEROFS_SERVE_DIR/ganesha/env"
for p in "$port" "$mport"; do
  [ "$(listener_pids "$p")" = "$GANESHA_PID" ] || fail "ganesha (pid $GANESHA_PID) does not listen on printed port $p"
done
[ "$(listener_pids $NFS)" = "$holder" ] && [ "$(listener_pids $MNT)" = "$holder" ] ||
  fail "the stand-in listener lost its ports"
note "serve.sh serves on printed ports $port (NFS) and $mport (MOUNT)"
head -c 100000 /dev/urandom >"$WORK/fallback.bin.in"
nfs_roundtrip "$port" "$mport" fallback.bin "$WORK"

# ---- 3. already running: the same ports -----------------------------------------------------------
out=$(bash "$SRC/scripts/serve.sh" 2>&1) || { echo "$out"; fail "serve.sh (already running) failed"; }
grep -q 'already running' <<<"$out" || { echo "$out"; fail "serve.sh did not say it is already running"; }
[ "$(printed_ports "$out")" = "$port $mport" ] || fail "serve.sh (already running) printed other ports"
note "serve.sh again: already running, ports $port and $mport printed"

# ---- 4. a restart keeps the fallback ports ------------------------------------------------------
bash "$SRC/scripts/serve.sh" stop >/dev/null
out=$(bash "$SRC/scripts/serve.sh" 2>&1) || { echo "$out"; fail "serve.sh failed to start again"; }
[ "$(printed_ports "$out")" = "$port $mport" ] ||
  fail "started again on $(printed_ports "$out"), not on the previous fallback ports $port $mport"
nfs-cat "nfs://127.0.0.1/zerofs/fallback.bin?version=3&nfsport=$port&mountport=$mport" >"$WORK/again.bin" ||
  fail "nfs-cat after the restart failed"
cmp "$WORK/fallback.bin.in" "$WORK/again.bin" || fail "the file read back after the restart differs"
note "stopped and started again: the same ports, the file still there"

# ---- 5. stop ----------------------------------------------------------------------------------------
. "$ZEROFS_SERVE_DIR/ganesha/env"
bash "$SRC/scripts/serve.sh" stop >/dev/null || fail "serve.sh stop failed"
[ -z "$(listener_pids "$port")" ] && [ -z "$(listener_pids "$mport")" ] ||
  fail "something still listens on $port or $mport after serve.sh stop"
[ -z "$(tr -d '\0' <"/proc/$GANESHA_PID/cmdline" 2>/dev/null)" ] ||
  fail "ganesha (pid $GANESHA_PID) still runs after serve.sh stop"
note "serve.sh stop: ports $port and $mport closed"
echo "PASS"
