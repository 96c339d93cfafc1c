#!/usr/bin/env bash
# The benchmark suite of issue #6: every system on this machine, one after the
# other in the same run, the same workloads (W1-W6), one report.
#   bash scripts/bench.sh [--quick] [--out DIR] [--systems LIST] [--wal-uploads N]
# W7 (NFS systems only): the real Linux kernel client (a Debian kernel in qemu,
# scripts/kernel-client.sh) extracts ganesha's own source tree (890 files, from
# the headers scripts/setup.sh fetches) over NFSv4.2, reads it back, removes it.
# Systems (LIST is a comma-separated subset, default all, in this order):
#   zerofs-s3-sync   ganesha + our FSAL on Ceph RGW (bluestore on a file), Sync = true
#   zerofs-s3-async  the same with Sync = false
#   zerofs-local     ganesha + our FSAL on the local-directory store
#   vfs              ganesha + Debian's FSAL_VFS over a local directory
#   s3fs             Debian's s3fs on the same RGW (FUSE, POSIX calls)
#   rclone           rclone mount --vfs-cache-mode writes on the same RGW
# NFS systems are driven by tests/bench/nfs_load over libnfs (NFSv3; W1/W2 also
# NFSv4.0), FUSE mounts by the same program's POSIX backend. Writes DIR/report.md,
# DIR/report.png and DIR/raw/ (every result line, logs). DIR defaults to
# bench-results/<date>-<time>. The exit status says whether everything ran and
# read back right, never whether a target was met.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BUILD=$ROOT/build-bench
BENCH="nfs_load, s3_bench and the plugin"
ALL_SYSTEMS=(zerofs-s3-sync zerofs-s3-async zerofs-local vfs s3fs rclone)
QUICK=0
WAL_UPLOADS=""                   # our FSAL's WAL_Uploads (pipeline depth); "" = its default
OUT=""
SYSTEMS=("${ALL_SYSTEMS[@]}")
VFS_PLUGIN=/usr/lib/x86_64-linux-gnu/ganesha/libfsalvfs.so
BLUESTORE_GB=24
OSD_MEMORY_TARGET=$((1 << 30))  # so the OSD cannot keep the whole data set in RAM
MEMORY_CACHE_MB=64               # our FSAL's block cache: the "configured caches" of the RSS target
SETTLE_QUIET_S=3                 # S3 counters still for this long = background work settled

log() { printf 'bench: %s\n' "$*" >&2; }
die() { printf 'bench: ERROR: %s\n' "$*" >&2; exit 1; }
usage() { sed -n '4s/^#   /usage: /p' "$0" >&2; exit 2; }

parse_args() {
  local s ok
  while [ $# -gt 0 ]; do
    case "$1" in
      --quick) QUICK=1; shift ;;
      --wal-uploads) [ $# -ge 2 ] || usage; WAL_UPLOADS=$2; shift 2 ;;
      --out) [ $# -ge 2 ] || usage; OUT=$2; shift 2 ;;
      --systems)
        [ $# -ge 2 ] || usage
        IFS=, read -r -a SYSTEMS <<<"$2"
        for s in "${SYSTEMS[@]}"; do
          ok=0; for a in "${ALL_SYSTEMS[@]}"; do [ "$s" = "$a" ] && ok=1; done
          [ $ok = 1 ] || die "unknown system '$s' (one of: ${ALL_SYSTEMS[*]})"
        done
        shift 2 ;;
      -h | --help) usage ;;
      *) usage ;;
    esac
  done
  [ -n "$OUT" ] || OUT=$ROOT/bench-results/$(date +%Y%m%d-%H%M%S)
}

# Sizes: the issue's, and --quick's (a few minutes). The FUSE systems run a
# documented subset of W1 and W6 (s3fs needs ~13 requests per small file and
# re-uploads a file on every fsync): rates per second stay comparable.
set_sizes() {
  if [ $QUICK = 1 ]; then
    W1_FILES=1000; W1_DIRS=100; W1_QD1_FILES=100; W3_BYTES=$((128 << 20)); W4_OPS=2000; W5_OPS=2000
    W6_ROUNDS=200; FUSE_W1_FILES=300; FUSE_W6_ROUNDS=30; SETTLE_MAX_S=60
    RAW_SMALL=300; RAW_BIG=10; RAW_LAT=100
  else
    W1_FILES=10000; W1_DIRS=100; W1_QD1_FILES=1000; W3_BYTES=$((1 << 30)); W4_OPS=20000; W5_OPS=20000
    W6_ROUNDS=1000; FUSE_W1_FILES=2000; FUSE_W6_ROUNDS=100; SETTLE_MAX_S=180
    RAW_SMALL=1000; RAW_BIG=40; RAW_LAT=300
  fi
  INFLIGHT=64
}

install_deps() {
  local want=() p
  bash "$ROOT/scripts/setup.sh" --test >"$WORK/setup.log" 2>&1 ||
    { tail -n 20 "$WORK/setup.log" >&2; die "scripts/setup.sh --test failed"; }
  for p in s3fs rclone gnuplot-nox fuse3 python3; do
    dpkg -s "$p" >/dev/null 2>&1 || want+=("$p")
  done
  if [ ${#want[@]} -gt 0 ]; then
    log "installing ${want[*]}"
    DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "${want[@]}" \
      >"$WORK/apt.log" 2>&1 || { tail -n 20 "$WORK/apt.log" >&2; die "apt-get install failed"; }
  fi
  [ -e "$VFS_PLUGIN" ] || die "$VFS_PLUGIN missing (Debian package nfs-ganesha-vfs)"
  [ -e /dev/fuse ] || die "/dev/fuse missing: the FUSE systems cannot run"
}

# shellcheck source=bench-common.sh
. "$ROOT/scripts/bench-common.sh"

# ---- results ----------------------------------------------------------------

# rec SYSTEM TAG WORDS...: one line of raw/results.txt (read by bench-report.py)
rec() { echo "$*" >>"$RAW/results.txt"; }

# ---- RGW and its counters ----------------------------------------------------

env_get() { sed -n "s/^$1=//p" "$WORK/rgw/env"; }

start_rgw() {
  log "starting RGW (bluestore on a ${BLUESTORE_GB} GB file) in $WORK/rgw"
  bash "$ROOT/scripts/rgw.sh" start "$WORK/rgw" --bluestore "$BLUESTORE_GB" >"$RAW/rgw-start.log" 2>&1 ||
    { cat "$RAW/rgw-start.log" >&2; die "scripts/rgw.sh start failed"; }
  ENDPOINT=$(env_get ZEROFS_S3_ENDPOINT); BUCKET=$(env_get ZEROFS_S3_BUCKET)
  REGION=$(env_get ZEROFS_S3_REGION)
  ASOK=$WORK/rgw/run/client.rgw.asok
  # Bound the OSD's caches, so reads after a restart really go to the disk file.
  ceph -c "$WORK/rgw/ceph.conf" config set osd osd_memory_target "$OSD_MEMORY_TARGET" \
    >>"$RAW/rgw-start.log" 2>&1 || log "WARNING: could not lower osd_memory_target"
  (umask 077
   printf 'user = "%s:%s"\n' "$(env_get ZEROFS_S3_ACCESS_KEY)" "$(env_get ZEROFS_S3_SECRET_KEY)" >"$WORK/curl-auth.conf"
   printf 'access_key = %s\nsecret_key = %s\n' "$(env_get ZEROFS_S3_ACCESS_KEY)" "$(env_get ZEROFS_S3_SECRET_KEY)" >"$WORK/zerofs.cred"
   printf '%s:%s\n' "$(env_get ZEROFS_S3_ACCESS_KEY)" "$(env_get ZEROFS_S3_SECRET_KEY)" >"$WORK/s3fs.passwd")
}

make_bucket() {
  curl -sS -f -K "$WORK/curl-auth.conf" -X PUT --aws-sigv4 "aws:amz:$REGION:s3" \
    -H 'x-amz-content-sha256: UNSIGNED-PAYLOAD' -o /dev/null "$ENDPOINT/$1" || die "creating bucket $1 failed"
}

# RGW's own perf counters (admin socket, section "rgw"): requests, GETs, PUTs, bytes.
s3_counters() {
  ceph --admin-daemon "$ASOK" perf dump rgw 2>/dev/null |
    python3 -c 'import json,sys; r=json.load(sys.stdin)["rgw"]; print(r["req"], r["put"], r["get"], r["put_b"], r["get_b"])'
}

# Waits until RGW's PUT and request counters have not moved for SETTLE_QUIET_S
# (background uploads, flushes, compaction done), at most SETTLE_MAX_S; prints
# the seconds waited.
settle() {
  local t0=$SECONDS last cur still=0
  last=$(s3_counters)
  while [ $((SECONDS - t0)) -lt "$SETTLE_MAX_S" ]; do
    sleep 1
    cur=$(s3_counters)
    if [ "$cur" = "$last" ]; then
      still=$((still + 1)); [ $still -ge $SETTLE_QUIET_S ] && break
    else still=0; last=$cur; fi
  done
  [ $still -ge $SETTLE_QUIET_S ] || log "WARNING: S3 traffic still moving after ${SETTLE_MAX_S}s"
  echo $((SECONDS - t0))
}

# ---- systems -------------------------------------------------------------------

is_nfs() { case $1 in s3fs | rclone) return 1 ;; *) return 0 ;; esac; }
uses_s3() { case $1 in zerofs-local | vfs) return 1 ;; *) return 0 ;; esac; }

export_snippet() { # export_snippet SYSTEM FILE
  local sys=$1 fsal path=/bench
  local extra=""
  [ -n "$WAL_UPLOADS" ] && extra="WAL_Uploads = $WAL_UPLOADS;"
  case $sys in
    vfs) path=$SYSDIR/export; mkdir -p "$path"; fsal="Name = VFS;" ;;
    zerofs-local) fsal="Name = ZEROFS; Store = local; Directory = \"$SYSDIR/store\";
		Memory_Cache_MB = $MEMORY_CACHE_MB; $extra" ;;
    zerofs-s3-*)
      fsal="Name = ZEROFS; Store = s3; Endpoint = \"$ENDPOINT\"; Allow_Http = true;
		Bucket = \"$BUCKET\"; Region = \"$REGION\"; Prefix = \"$sys/\";
		Credentials_File = \"$WORK/zerofs.cred\";
		Cache_Dir = \"$SYSDIR/cache\"; Cache_Size_GB = 4; Memory_Cache_MB = $MEMORY_CACHE_MB; $extra"
      [ "$sys" = zerofs-s3-async ] && fsal+=" Sync = false;" || fsal+=" Sync = true;" ;;
  esac
  cat >"$2" <<EOF
EXPORT {
	Export_Id = 1;
	Path = $path;
	Pseudo = /bench;
	Access_Type = RW;
	Squash = No_Root_Squash;
	Protocols = 3, 4;
	SecType = sys;
	FSAL {
		$fsal
	}
}
EOF
  EXPORT_PATH=$path
}

RSS_MAX_KB=0
note_rss() { # the server's peak RSS so far (VmHWM), kept across restarts
  local kb
  [ -n "${SERVER_PID:-}" ] || return 0
  kb=$(awk '/^VmHWM:/ { print $2 }' "/proc/$SERVER_PID/status" 2>/dev/null || echo 0)
  [ "${kb:-0}" -gt "$RSS_MAX_KB" ] && RSS_MAX_KB=$kb
  return 0
}

start_system() { # start_system SYSTEM
  local sys=$1
  SERVER_PID=""
  if is_nfs "$sys"; then
    export_snippet "$sys" "$SYSDIR/export.conf"
    bash "$ROOT/scripts/ganesha.sh" start "$SYSDIR/ganesha" --fsal-dir "$PLUGINS" \
      --export-snippet "$SYSDIR/export.conf" >>"$SYSDIR/server.log" 2>&1 ||
      { tail -n 20 "$SYSDIR/server.log" >&2; die "$sys: ganesha failed to start"; }
    NFS_PORT=$(sed -n 's/^GANESHA_NFS_PORT=//p' "$SYSDIR/ganesha/env")
    MNT_PORT=$(sed -n 's/^GANESHA_MOUNT_PORT=//p' "$SYSDIR/ganesha/env")
    SERVER_PID=$(sed -n 's/^GANESHA_PID=//p' "$SYSDIR/ganesha/env")
  else
    MNT=$SYSDIR/mnt; mkdir -p "$MNT" "$SYSDIR/cache"
    if [ "$sys" = s3fs ]; then
      s3fs "bench-s3fs" "$MNT" -f -o url="$ENDPOINT" -o use_path_request_style \
        -o passwd_file="$WORK/s3fs.passwd" -o endpoint="$REGION" </dev/null >>"$SYSDIR/server.log" 2>&1 &
    else
      env -u AWS_CA_BUNDLE RCLONE_CONFIG_RGW_TYPE=s3 RCLONE_CONFIG_RGW_PROVIDER=Ceph \
        RCLONE_CONFIG_RGW_ENDPOINT="$ENDPOINT" RCLONE_CONFIG_RGW_REGION="$REGION" \
        RCLONE_CONFIG_RGW_ACCESS_KEY_ID="$(env_get ZEROFS_S3_ACCESS_KEY)" \
        RCLONE_CONFIG_RGW_SECRET_ACCESS_KEY="$(env_get ZEROFS_S3_SECRET_KEY)" \
        rclone --config /dev/null mount rgw:bench-rclone "$MNT" --vfs-cache-mode writes \
        --cache-dir "$SYSDIR/cache" </dev/null >>"$SYSDIR/server.log" 2>&1 &
    fi
    SERVER_PID=$!
    echo "$SERVER_PID" >"$SYSDIR/fuse.pid"
    local i
    for ((i = 0; i < 100; i++)); do
      mountpoint -q "$MNT" && break
      kill -0 "$SERVER_PID" 2>/dev/null || { tail -n 20 "$SYSDIR/server.log" >&2; die "$sys exited while mounting"; }
      sleep 0.2
    done
    mountpoint -q "$MNT" || die "$sys did not mount $MNT within 20 s"
  fi
}

stop_system() { # stop_system SYSTEM: by PID; FUSE: unmount, then wait for the daemon
  local sys=$1 i
  note_rss
  if is_nfs "$sys"; then
    [ -e "$SYSDIR/ganesha/ganesha.conf" ] && bash "$ROOT/scripts/ganesha.sh" stop "$SYSDIR/ganesha" >>"$SYSDIR/server.log" 2>&1
  elif [ -n "${SERVER_PID:-}" ]; then
    mountpoint -q "$MNT" && { umount "$MNT" 2>/dev/null || umount -l "$MNT" || true; }
    for ((i = 0; i < 100; i++)); do kill -0 "$SERVER_PID" 2>/dev/null || break; sleep 0.1; done
    if kill -0 "$SERVER_PID" 2>/dev/null; then kill -TERM "$SERVER_PID" 2>/dev/null || true; sleep 1; fi
    kill -0 "$SERVER_PID" 2>/dev/null && kill -KILL "$SERVER_PID" 2>/dev/null
    wait "$SERVER_PID" 2>/dev/null || true
  fi
  SERVER_PID=""
  return 0
}

# rclone acknowledges close and fsync before uploading, and retries failed
# uploads after 10 s (seen: "source file is being updated"); emptying its cache
# before the upload landed would lose the file. So wait (bounded) until the
# object is in the bucket with its full size.
rclone_wait_uploaded() { # KEY SIZE
  local t0=$SECONDS len
  while [ $((SECONDS - t0)) -lt "$SETTLE_MAX_S" ]; do
    len=$(curl -sS -I -K "$WORK/curl-auth.conf" --aws-sigv4 "aws:amz:$REGION:s3" \
      -H 'x-amz-content-sha256: UNSIGNED-PAYLOAD' "$ENDPOINT/bench-rclone/$1" 2>/dev/null |
      tr -d '\r' | awk 'tolower($1) == "content-length:" { print $2 }')
    [ "${len:-0}" = "$2" ] && return 0
    sleep 2
  done
  die "rclone: $1 was not uploaded within ${SETTLE_MAX_S}s (its local cache holds the only copy)"
}

# Cold: the server stopped, its caches emptied (our FSAL's disk cache, rclone's
# VFS cache), the kernel's page cache dropped, the server started again.
restart_cold() {
  local sys=$1
  [ "$sys" = rclone ] && rclone_wait_uploaded big/big "$W3_BYTES"
  stop_system "$sys"
  rm -rf "${SYSDIR:?}/cache"
  sync; echo 3 >/proc/sys/vm/drop_caches
  start_system "$sys"
}

# ---- workloads -----------------------------------------------------------------

# load TAG PROTO ARGS...: runs nfs_load, records its result lines under TAG,
# and, on S3 systems, RGW's counters from the start until the traffic settles.
load() {
  local tag=$1 proto=$2 before after waited line; shift 2
  local target=() out=$SYSDIR/$tag.out
  if is_nfs "$SYS"; then
    target=(--backend "$proto" --target "$EXPORT_PATH" --port "$NFS_PORT")
    [ "$proto" = nfs4 ] && target=(--backend nfs4 --target /bench --port "$NFS_PORT")
    [ "$proto" = nfs3 ] && target+=(--mount-port "$MNT_PORT")
  else
    target=(--backend posix --target "$MNT")
  fi
  log "$SYS: $tag"
  uses_s3 "$SYS" && before=$(s3_counters)
  if ! "$BUILD/tests/bench/nfs_load" "${target[@]}" --inflight "$INFLIGHT" "$@" >"$out" 2>&1; then
    cat "$out" >&2; note_rss
    is_nfs "$SYS" && die "$SYS: nfs_load failed in $tag (output in $out)"
    # A FUSE peer that returns wrong data (or fails) is a finding, not the end of the run:
    # it goes into the report, and its result for this workload is left out.
    echo "$SYS $tag $(grep -m1 -E 'ERROR|FAILED' "$out" || echo 'nfs_load failed')" >>"$RAW/failures.txt"
    log "WARNING: $SYS failed $tag (in the report's failures; output in $out)"
    return 0
  fi
  sed -n 's/^result //p' "$out" | while read -r line; do rec "$SYS" "$tag" "$line"; done
  if uses_s3 "$SYS"; then
    waited=$(settle); after=$(s3_counters)
    read -r a0 a1 a2 a3 a4 <<<"$before"; read -r b0 b1 b2 b3 b4 <<<"$after"
    rec "$SYS" "$tag" "s3 req=$((b0 - a0)) put=$((b1 - a1)) get=$((b2 - a2)) put_b=$((b3 - a3)) get_b=$((b4 - a4)) settle_s=$waited"
  fi
  note_rss
}

run_system() {
  local sys=$1 files rounds p
  SYS=$sys; SYSDIR=$WORK/$sys; RSS_MAX_KB=0
  mkdir -p "$SYSDIR"
  log "==== $sys"
  start_system "$sys"
  files=$W1_FILES; rounds=$W6_ROUNDS
  is_nfs "$sys" || { files=$FUSE_W1_FILES; rounds=$FUSE_W6_ROUNDS; }
  p=nfs3
  # W1, W2: 64 in flight over NFSv3 (FUSE: 64 threads), again over NFSv4.0,
  # and W1 with one request in flight.
  load W1 $p --workload smallfiles --dir w1 --files "$files" --dirs "$W1_DIRS"
  load W2 $p --workload meta --dir w1 --files "$files" --dirs "$W1_DIRS"
  if is_nfs "$sys"; then
    load W1v4 nfs4 --workload smallfiles --dir w1v4 --files "$files" --dirs "$W1_DIRS"
    load W2v4 nfs4 --workload meta --dir w1v4 --files "$files" --dirs "$W1_DIRS"
  fi
  INFLIGHT=1 load W1qd1 $p --workload smallfiles --dir w1qd1 --files "$W1_QD1_FILES" --dirs 10
  # W3: sequential write, warm read, cold read.
  load W3 $p --workload seqwrite --dir big --size "$W3_BYTES"
  load W3warm $p --workload seqread --dir big --size "$W3_BYTES"
  restart_cold "$sys"
  load W3cold $p --workload seqread --dir big --size "$W3_BYTES"
  # W4: random writes; the S3 counters run until background work settles.
  load W4 $p --workload randwrite --dir big --size "$W3_BYTES" --count "$W4_OPS" --w4-seed 4
  # W5: random reads, cold then warm (same offsets).
  restart_cold "$sys"
  load W5cold $p --workload randread --dir big --size "$W3_BYTES" --count "$W5_OPS" --w4-count "$W4_OPS" --w4-seed 4
  load W5warm $p --workload randread --dir big --size "$W3_BYTES" --count "$W5_OPS" --w4-count "$W4_OPS" --w4-seed 4
  # W6: (write 4 KiB, COMMIT) rounds, 1 and 16 clients.
  load W6c1 $p --workload sync --dir sync1 --clients 1 --rounds "$rounds"
  load W6c16 $p --workload sync --dir sync16 --clients 16 --rounds "$rounds"
  is_nfs "$sys" && w7_tar
  stop_system "$sys"
  rec "$sys" - "rss hwm_kb=$RSS_MAX_KB"
  cp "$SYSDIR"/*.out "$SYSDIR/server.log" "$RAW/$sys/" 2>/dev/null || true
  [ -f "$SYSDIR/ganesha/ganesha.log" ] && cp "$SYSDIR/ganesha/ganesha.log" "$RAW/$sys/"
  rm -rf "${SYSDIR:?}/export" "${SYSDIR:?}/store" "${SYSDIR:?}/cache"   # free the disk for the next one
}

# W7: tar x of a real source tree through the Linux kernel client, read back,
# rm (scripts/bench-w7-guest.sh in the guest). Records the guest's timings, its
# per-op NFS counts after the extract, and (S3 systems) RGW's counters.
w7_tar() {
  local out=$SYSDIR/W7.out before after line waited a0 a1 a2 a3 a4 b0 b1 b2 b3 b4 op n
  log "$SYS: W7 (kernel client: tar x, read back, rm)"
  uses_s3 "$SYS" && before=$(s3_counters)
  bash "$ROOT/scripts/kernel-client.sh" run --nfs-port "$NFS_PORT" --mount-port "$MNT_PORT" \
    --export "$EXPORT_PATH" --pseudo /bench --vers 4.2 --script "$ROOT/scripts/bench-w7-guest.sh" \
    --timeout 3600 --log "$out" --add "$W7_TAR" >"$SYSDIR/W7.run" 2>&1 ||
    { tail -n 30 "$out" >&2; die "$SYS: W7 failed (console log in $out)"; }
  line=$(tr -d '\r' <"$out" | sed -n 's/^W7RESULT //p')
  [ -n "$line" ] || die "$SYS: W7 printed no result (console log in $out)"
  rec "$SYS" W7 tar "$line"
  tr -d '\r' <"$out" | sed -n 's/^W7OP //p' | while read -r op n; do rec "$SYS" W7ops "$op" "n=$n"; done
  if uses_s3 "$SYS"; then
    waited=$(settle); after=$(s3_counters)
    read -r a0 a1 a2 a3 a4 <<<"$before"; read -r b0 b1 b2 b3 b4 <<<"$after"
    rec "$SYS" W7 "s3 req=$((b0 - a0)) put=$((b1 - a1)) get=$((b2 - a2)) put_b=$((b3 - a3)) get_b=$((b4 - a4)) settle_s=$waited"
  fi
  note_rss
}

# The physical limit: our S3 client (tests/bench/s3_bench), 16 in flight, on
# the same RGW; and one small PUT's latency with one in flight.
raw_s3() {
  local spec n size inflight label out line
  for spec in "$RAW_SMALL 65536 16 put64k" "$RAW_BIG 8388608 16 put8m" "$RAW_LAT 4096 1 put4k-qd1"; do
    read -r n size inflight label <<<"$spec"
    log "raw S3: $n x $size B, $inflight in flight"
    out=$RAW/raw-s3-$label.out
    ZEROFS_RGW_DIR=$WORK/rgw "$BUILD/tests/bench/s3_bench" --objects "$n" --size "$size" \
      --inflight "$inflight" --prefix "raw-s3/$label/" >"$out" 2>&1 || { cat "$out" >&2; die "s3_bench failed"; }
    for op in put get; do
      line=$(sed -n "s/^zerofs $op [0-9]* x [0-9]* B: \([0-9.]*\) s, \([0-9.]*\) ops\/s, \([0-9.]*\) MiB\/s, p50 \([0-9.]*\) ms, p99 \([0-9.]*\) ms$/secs=\1 rate=\2 mibs=\3 p50_ms=\4 p99_ms=\5/p" "$out")
      [ -n "$line" ] || die "no $op line in $out"
      rec raw-s3 "$label" "$op size=$size inflight=$inflight $line"
    done
  done
}

# ---- teardown --------------------------------------------------------------------

cleanup() {
  local rc=$? s d
  trap - EXIT INT TERM
  set +e   # best effort from here: one failed kill must not skip the rest
  [ -n "${SYS:-}" ] && [ -n "${SYSDIR:-}" ] && { stop_system "$SYS" || true; }
  # anything a failure left behind, by PID file
  for s in "${ALL_SYSTEMS[@]}"; do
    d=${WORK:-/nonexistent}/$s
    [ -e "$d/ganesha/ganesha.conf" ] && bash "$ROOT/scripts/ganesha.sh" stop "$d/ganesha" >/dev/null 2>&1
    if [ -e "$d/fuse.pid" ]; then
      mountpoint -q "$d/mnt" && umount -l "$d/mnt" 2>/dev/null
      kill "$(cat "$d/fuse.pid")" 2>/dev/null
    fi
    if [ $rc != 0 ] && [ -d "$d" ]; then
      mkdir -p "$RAW/$s"; cp "$d"/*.out "$d/server.log" "$d/ganesha/ganesha.log" "$RAW/$s/" 2>/dev/null
    fi
  done
  [ $rc = 0 ] || log "FAILED: partial results and logs in $RAW"
  (exit $rc)
  bench_cleanup
}

main() {
  local t0=$SECONDS sys
  parse_args "$@"
  set_sizes
  [ "$(id -u)" = 0 ] || die "run as root (ganesha's namespaces, FUSE, drop_caches)"
  mkdir -p "$OUT"; OUT=$(cd "$OUT" && pwd); RAW=$OUT/raw
  rm -rf "$RAW"; mkdir -p "$RAW"
  WORK=$(mktemp -d /var/tmp/zerofs-bench-XXXXXX)   # on disk, not tmpfs: local stores are disk
  trap cleanup EXIT
  trap 'exit 130' INT
  trap 'exit 143' TERM
  install_deps
  bench_build nfs_load; bench_build s3_bench; bench_build fsalzerofs
  PLUGINS=$WORK/plugins; mkdir -p "$PLUGINS"
  # W7's tree: the ganesha source setup.sh fetched for the headers
  local tree=${ZEROFS_DEPS_DIR:-/var/cache/zerofs-deps}/nfs-ganesha-4.3
  [ -d "$tree" ] || die "W7 needs $tree (scripts/setup.sh --test fetches it)"
  W7_TAR=$WORK/w7-tree.tar
  tar cf "$W7_TAR" -C "$(dirname "$tree")" "$(basename "$tree")"
  bash "$ROOT/scripts/kernel-client.sh" build >"$RAW/kclient-build.log" 2>&1 ||
    { tail -n 20 "$RAW/kclient-build.log" >&2; die "building the kernel-client kit failed"; }
  ln -s "$BUILD/fsal_zerofs/libfsalzerofs.so" "$PLUGINS/"; ln -s "$VFS_PLUGIN" "$PLUGINS/"
  {
    echo "quick=$QUICK w1_files=$W1_FILES w1_dirs=$W1_DIRS w1_qd1_files=$W1_QD1_FILES w3_bytes=$W3_BYTES"
    echo "w4_ops=$W4_OPS w5_ops=$W5_OPS w6_rounds=$W6_ROUNDS fuse_w1_files=$FUSE_W1_FILES"
    echo "fuse_w6_rounds=$FUSE_W6_ROUNDS inflight=$INFLIGHT memory_cache_mb=$MEMORY_CACHE_MB wal_uploads=${WAL_UPLOADS:-default}"
    echo "bluestore_gb=$BLUESTORE_GB osd_memory_target=$OSD_MEMORY_TARGET nproc=$(nproc)"
    echo "kernel=$(uname -r) date=$(date -u +%FT%TZ) commit=$(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo unknown)"
    echo "loadavg_start=$(cut -d' ' -f1-3 /proc/loadavg | tr ' ' ,)"
    echo "systems=$(IFS=,; echo "${SYSTEMS[*]}")"
  } >"$RAW/config.txt"
  start_rgw
  make_bucket bench-s3fs; make_bucket bench-rclone
  raw_s3
  for sys in "${SYSTEMS[@]}"; do mkdir -p "$RAW/$sys"; run_system "$sys"; done
  SYS=""
  echo "loadavg_end=$(cut -d' ' -f1-3 /proc/loadavg | tr ' ' ,) elapsed_s=$((SECONDS - t0))" >>"$RAW/config.txt"
  python3 "$ROOT/scripts/bench-report.py" "$OUT" || die "writing the report failed"
  log "done in $((SECONDS - t0)) s: $OUT/report.md, $OUT/report.png"
}

main "$@"
