#!/usr/bin/env bash
# Throwaway single-node Ceph cluster (1 mon, 1 OSD) + radosgw as an S3 server for tests and
# benchmarks. Loopback only; every file (conf, mon/osd data, sockets, logs, pids) lives in DIR,
# never in /etc/ceph or /var/lib/ceph.
#   rgw.sh start DIR [--bluestore SIZE_GB]  start (memstore in OSD RAM, or bluestore on a file)
#   rgw.sh stop DIR                         stop everything and remove DIR
#   rgw.sh stop-gw DIR | start-gw DIR       SIGKILL radosgw / start it again on the same port
#   rgw.sh pause-gw DIR | resume-gw DIR     SIGSTOP / SIGCONT radosgw
#   rgw.sh status DIR                       which daemons are alive; exit 0 iff all three
# `start` writes DIR/env (sourceable ZEROFS_S3_* lines) with a fresh user's keys and a bucket.
set -euo pipefail

BUCKET=zerofs-test
REGION=us-east-1
MEMSTORE_BYTES=$((4 << 30))
HTTP_WAIT_S=90
DAEMONS=(rgw osd mon)   # stop order

log() { printf 'rgw.sh: %s\n' "$*"; }
die() { printf 'rgw.sh: ERROR: %s\n' "$*" >&2; exit 1; }
usage() { sed -n '5,9s/^#   /usage: /p' "$0" >&2; exit 2; }

# Absolute DIR (it may not exist yet). Characters ceph.conf would misread are refused.
set_dir() {
  DIR=$(realpath -m -- "$1")
  [[ $DIR =~ ^[A-Za-z0-9/._+-]+$ ]] || die "DIR '$DIR' must contain only [A-Za-z0-9/._+-]"
  CONF=$DIR/ceph.conf
  MARK=$DIR/.zerofs-rgw   # proves DIR is ours before anything deletes it
}

pid_of() { cat "$DIR/pids/$1.pid" 2>/dev/null || true; }

# Alive = the recorded PID exists and is still one of our daemons (guards against PID reuse;
# an exited but unreaped zombie has an empty cmdline, so it counts as dead).
alive() {
  local pid; pid=$(pid_of "$1")
  [ -n "$pid" ] && [ -r "/proc/$pid/cmdline" ] && tr '\0' ' ' <"/proc/$pid/cmdline" | grep -qF -- "$CONF"
}

rgw_port() { sed -n 's/.*endpoint=127\.0\.0\.1:\([0-9]*\).*/\1/p' "$CONF" 2>/dev/null; }
endpoint() { echo "http://127.0.0.1:$(rgw_port)"; }
answers() { [ "$(curl -s -o /dev/null -m 2 -w '%{http_code}' "$(endpoint)/" || true)" != 000 ]; }
port_free() { [ -z "$(ss -Hltn "sport = :$1")" ]; }

# A random free port below the kernel's ephemeral range and outside Ceph's OSD range 6800-7300.
pick_port() {
  local p tries=10
  while [ $((tries -= 1)) -ge 0 ]; do
    p=$((10000 + RANDOM % 22000))
    [ "$p" != "${1:-}" ] && port_free "$p" && { echo "$p"; return; }
  done
  die "no free TCP port found after 10 tries"
}

rand_alnum() {   # rand_alnum N: N random characters from [A-Za-z0-9]
  local s=""
  while [ ${#s} -lt "$1" ]; do s+=$(head -c 512 /dev/urandom | LC_ALL=C tr -dc 'A-Za-z0-9'); done
  echo "${s:0:$1}"
}

write_conf() {   # write_conf FSID MON_PORT RGW_PORT BLUESTORE_GB (0 = memstore)
  local store="osd objectstore = memstore
memstore device bytes = $MEMSTORE_BYTES"
  [ "$4" = 0 ] || store="osd objectstore = bluestore
bluestore block path = $DIR/bluestore.img
bluestore block create = true
bluestore block size = $(($4 << 30))"
  cat >"$CONF" <<EOF
[global]
fsid = $1
mon host = v2:127.0.0.1:$2
public network = 127.0.0.0/8
ms bind ipv6 = false
auth cluster required = none
auth service required = none
auth client required = none
# The default (secure crc) makes radosgw retry forever under auth none ("returned -13").
ms mon client mode = crc secure
keyring = $DIR/keyring
run dir = $DIR/run
admin socket = $DIR/run/\$name.asok
log file = $DIR/log/\$name.log
mon cluster log file = $DIR/log/cluster.log
crash dir = $DIR/crash
mon data = $DIR/mon
osd data = $DIR/osd
rgw data = $DIR/rgw
osd pool default size = 1
osd pool default min size = 1
osd pool default pg num = 8
osd pool default pg autoscale mode = off
mon allow pool size one = true
osd crush chooseleaf type = 0
# radosgw creates its pools with one mon command after another, each waiting out this
# batching interval: the default 1 s made start take 14 s instead of 2 s.
paxos propose interval = 0.1
$store

[client.rgw]
# Without tcp_nodelay small requests stall ~40 ms each (Nagle + delayed ACK).
rgw frontends = beast endpoint=127.0.0.1:$3 tcp_nodelay=1
EOF
}

# launch NAME CMD...: run a daemon in the foreground (-f) in its own session, record its PID.
# (setsid execs in place here, so $! is the daemon itself.)
launch() {
  local name=$1; shift
  setsid "$@" -c "$CONF" -f </dev/null >>"$DIR/log/$name.out" 2>&1 &
  echo $! >"$DIR/pids/$name.pid"
}

# log_tail NAME: the end of a daemon's logs (tail names each file), for error messages.
log_tail() { tail -n 15 "$DIR/log/$1.out" "$DIR"/log/*"$1"*.log 2>/dev/null || true; }

# Wait until radosgw answers HTTP; fail early, with its log, if a daemon dies meanwhile.
wait_http() {
  local name deadline=$((SECONDS + HTTP_WAIT_S))
  until answers; do
    for name in "${DAEMONS[@]}"; do
      alive "$name" || { log_tail "$name" >&2; die "$name exited (logs in $DIR/log)"; }
    done
    [ $SECONDS -lt $deadline ] ||
      { log_tail rgw >&2; die "radosgw did not answer on $(endpoint) within ${HTTP_WAIT_S}s"; }
    sleep 0.2
  done
}

# gone NAME TENTHS: wait up to TENTHS/10 s for a daemon to exit; false if it is still there.
gone() {
  local n=$2
  while alive "$1"; do [ $((n -= 1)) -ge 0 ] || return 1; sleep 0.1; done
  rm -f "$DIR/pids/$1.pid"
}

# kill_daemon NAME: TERM (and CONT, in case it is paused), up to 10 s, then KILL.
kill_daemon() {
  local pid; pid=$(pid_of "$1")
  alive "$1" && kill -TERM "$pid" && kill -CONT "$pid"
  gone "$1" 100 && return 0
  log "$1 (pid $pid) ignored TERM for 10 s: sending KILL"
  kill -KILL "$pid" 2>/dev/null || true
  gone "$1" 50 || die "$1 (pid $pid) is still running after SIGKILL"
}

# s3 METHOD PATH [curl args...]: a SigV4-signed request; the keys go in via stdin, not argv.
s3() {
  local method=$1 path=$2; shift 2
  printf 'user = "%s:%s"\n' "$ACCESS_KEY" "$SECRET_KEY" |
    curl -sS -K - -X "$method" --aws-sigv4 "aws:amz:$REGION:s3" \
      -H 'x-amz-content-sha256: UNSIGNED-PAYLOAD' "$@" "$(endpoint)$path"
}

cleanup_failed_start() {
  local name
  [ "$START_OK" = 1 ] && return 0
  log "start failed: stopping what it started (logs kept in $DIR/log; 'stop $DIR' removes it)" >&2
  for name in "${DAEMONS[@]}"; do kill_daemon "$name" || true; done
}

# Refuse a DIR that is someone else's; wipe one of ours whose daemons are all dead.
prepare_dir() {
  local name
  if [ -e "$MARK" ]; then
    for name in "${DAEMONS[@]}"; do
      alive "$name" && die "$DIR holds a partly running cluster ($name alive): use start-gw, or stop"
    done
    log "$DIR holds a dead cluster: recreating it"; rm -rf "$DIR"
  elif [ -d "$DIR" ] && [ -n "$(ls -A "$DIR")" ]; then
    die "$DIR is not empty and was not made by rgw.sh: refusing to use it"
  fi
  mkdir -p "$DIR"/{pids,log,run,crash,mon,osd,rgw} && touch "$MARK"
}

cmd_start() {
  local gb=0 t0=$EPOCHREALTIME fsid osd_uuid mon_port osd_id code
  if [ $# -gt 0 ]; then
    { [ "$1" = --bluestore ] && [ $# = 2 ] && [[ $2 =~ ^[1-9][0-9]*$ ]]; } || usage
    gb=$2
  fi
  if [ -e "$MARK" ] && alive mon && alive osd && alive rgw && answers; then
    log "already running: $(endpoint)"; return 0
  fi
  prepare_dir
  START_OK=0; trap cleanup_failed_start EXIT
  fsid=$(cat /proc/sys/kernel/random/uuid); osd_uuid=$(cat /proc/sys/kernel/random/uuid)
  mon_port=$(pick_port)
  write_conf "$fsid" "$mon_port" "$(pick_port "$mon_port")" "$gb"

  monmaptool --create --fsid "$fsid" --addv a "[v2:127.0.0.1:$mon_port]" "$DIR/monmap" >/dev/null ||
    die "monmaptool failed"
  ceph-mon -c "$CONF" -i a --mkfs --monmap "$DIR/monmap" >>"$DIR/log/mon.out" 2>&1 ||
    { log_tail mon >&2; die "ceph-mon --mkfs failed"; }
  launch mon ceph-mon -i a
  # `osd create` doubles as the wait for the mon to come up.
  osd_id=$(ceph -c "$CONF" --connect-timeout 30 osd create "$osd_uuid" 2>>"$DIR/log/ceph-cli.out") ||
    { log_tail mon >&2; die "'ceph osd create' failed (is the mon up?)"; }
  ceph-osd -c "$CONF" -i "$osd_id" --mkfs --osd-uuid "$osd_uuid" >>"$DIR/log/osd.out" 2>&1 ||
    { log_tail osd >&2; die "ceph-osd --mkfs failed"; }
  launch osd ceph-osd -i "$osd_id"
  launch rgw radosgw -n client.rgw   # it waits for the OSD by itself, then creates its pools
  wait_http
  ACCESS_KEY=$(rand_alnum 20); SECRET_KEY=$(rand_alnum 40)
  radosgw-admin -c "$CONF" user create --uid=zerofs --display-name=ZeroFS \
    --access-key="$ACCESS_KEY" --secret="$SECRET_KEY" >/dev/null 2>>"$DIR/log/ceph-cli.out" ||
    { tail -n 5 "$DIR/log/ceph-cli.out" >&2; die "radosgw-admin user create failed"; }
  s3 PUT "/$BUCKET" -f -o /dev/null || die "creating bucket $BUCKET failed"
  code=$(s3 HEAD "/$BUCKET" -I -o /dev/null -w '%{http_code}') || true
  [ "$code" = 200 ] || die "bucket $BUCKET is missing right after creating it (HEAD gave $code)"
  (umask 077; printf '%s\n' "ZEROFS_S3_ENDPOINT=$(endpoint)" "ZEROFS_S3_BUCKET=$BUCKET" \
    "ZEROFS_S3_REGION=$REGION" "ZEROFS_S3_ACCESS_KEY=$ACCESS_KEY" \
    "ZEROFS_S3_SECRET_KEY=$SECRET_KEY" >"$DIR/env")
  START_OK=1
  log "started in $(awk "BEGIN { printf \"%.1f\", $EPOCHREALTIME - $t0 }") s" \
    "($([ "$gb" = 0 ] && echo memstore || echo "bluestore $gb GB")); env in $DIR/env"
  endpoint
}

cmd_stop() {
  local name
  [ -e "$DIR" ] || { log "nothing at $DIR"; return 0; }
  [ -e "$MARK" ] || [ -z "$(ls -A "$DIR")" ] || die "$DIR was not made by rgw.sh: refusing to delete it"
  for name in "${DAEMONS[@]}"; do kill_daemon "$name"; done
  rm -rf "$DIR"
  log "stopped; removed $DIR"
}

cmd_stop_gw() {
  alive rgw || { log "radosgw is not running"; return 0; }
  kill -KILL "$(pid_of rgw)"
  gone rgw 50 || die "radosgw survived SIGKILL"
  log "radosgw killed"
}

cmd_start_gw() {
  alive rgw && { log "radosgw already running"; return 0; }
  { alive mon && alive osd; } || die "mon or osd is not running: stop, then start again"
  port_free "$(rgw_port)" || die "port $(rgw_port) has been taken by another process"
  launch rgw radosgw -n client.rgw
  wait_http
  log "radosgw answering on $(endpoint)"
}

cmd_signal_gw() {   # cmd_signal_gw SIG
  alive rgw || die "radosgw is not running"
  kill -"$1" "$(pid_of rgw)" && log "sent SIG$1 to radosgw"
}

cmd_status() {
  local name state rc=0
  for name in mon osd rgw; do
    if alive "$name"; then
      state="alive (pid $(pid_of "$name"))"
      [ "$(awk '{ print $3 }' "/proc/$(pid_of "$name")/stat")" != T ] || state+=", paused"
    else state=dead; rc=1; fi
    printf '%-4s %s\n' "$name" "$state"
  done
  if alive rgw; then
    if answers; then echo "S3   $(endpoint) answering"; else echo "S3   $(endpoint) NOT answering"; fi
  fi
  return $rc
}

[ $# -ge 2 ] || usage
cmd=$1; set_dir "$2"; shift 2
[ "$cmd" = start ] || [ $# = 0 ] || usage
case "$cmd" in *-gw | status) [ -e "$MARK" ] || die "no cluster in $DIR (run start first)" ;; esac
case "$cmd" in
  start) cmd_start "$@" ;;
  stop) cmd_stop ;;
  stop-gw) cmd_stop_gw ;;
  start-gw) cmd_start_gw ;;
  pause-gw) cmd_signal_gw STOP ;;
  resume-gw) cmd_signal_gw CONT ;;
  status) cmd_status ;;
  *) usage ;;
esac
