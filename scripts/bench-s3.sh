#!/usr/bin/env bash
# Throughput of ZeroFS's S3 client (tests/bench/s3_bench) next to curl's, the
# reference, on a throwaway local RGW: 1000 x 64 KiB and 20 x 8 MiB objects,
# 16 requests in flight, PUT then GET; every GET is verified byte for byte.
#   bash scripts/bench-s3.sh [--runs N] [--order alternate|zerofs-first]
# Each run does every workload with both clients; the table shows the MEDIAN
# over the runs (default 4) of each figure. So that which client goes first
# cannot bias the medians, odd runs start with zerofs and even runs with curl
# (--order zerofs-first: always zerofs). Before the warm-up and the garbage
# collection below were added, the order swung 8 MiB PUTs by up to 2x; with
# them both orders agree within noise. Target: zerofs reaches at least 0.90 x curl's
# throughput. A benchmark: the exit status says whether everything ran and
# verified, never whether the target was met.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BUILD=$ROOT/build-bench
BENCH=$BUILD/tests/bench/s3_bench
INFLIGHT=16
TARGET=0.90
WORKLOADS=("1000 65536" "20 8388608")   # objects, bytes per object
RUNS=4
ORDER=alternate
CURL_MAX_TIME=300   # per transfer: a wedged server (e.g. a full OSD) fails the run, not hangs it

log() { printf 'bench-s3: %s\n' "$*" >&2; }
die() { printf 'bench-s3: ERROR: %s\n' "$*" >&2; exit 1; }
usage() { sed -n '5s/^#   /usage: /p' "$0" >&2; exit 2; }

parse_args() {
  while [ $# -gt 0 ]; do
    case "$1" in
      --runs) [ $# -ge 2 ] && [[ $2 =~ ^[1-9][0-9]*$ ]] || usage; RUNS=$2; shift 2 ;;
      --order) [ $# -ge 2 ] && [[ $2 =~ ^(alternate|zerofs-first)$ ]] || usage; ORDER=$2; shift 2 ;;
      -h | --help) usage ;;
      *) usage ;;
    esac
  done
}

check_tools() {
  local t
  for t in cmake curl sha256sum split awk radosgw; do
    command -v "$t" >/dev/null || die "'$t' is not installed (scripts/setup.sh --test installs RGW)"
  done
  curl --help all | grep -q -- --aws-sigv4 || die "this curl has no --aws-sigv4 (needs 7.75+)"
  curl --help all | grep -q -- --parallel-max || die "this curl has no --parallel (needs 7.66+)"
}

# shellcheck source=bench-common.sh
. "$ROOT/scripts/bench-common.sh"

# Temp dirs private to this run (umask 077: the curl configs hold the secret).
# Object files go to tmpfs when there is one, so curl is not timed on a disk.
make_dirs() {
  umask 077
  WORK=$(mktemp -d /tmp/zerofs-bench-XXXXXX)
  if [ -d /dev/shm ] && [ -w /dev/shm ]; then
    DATA=$(mktemp -d /dev/shm/zerofs-bench-XXXXXX)
  else
    DATA=$WORK/data; mkdir "$DATA"
  fi
}

env_get() { sed -n "s/^$1=//p" "$WORK/rgw/env"; }

start_rgw() {
  log "starting a private RGW in $WORK/rgw"
  bash "$ROOT/scripts/rgw.sh" start "$WORK/rgw" >"$WORK/rgw-start.log" 2>&1 ||
    { cat "$WORK/rgw-start.log" >&2; die "scripts/rgw.sh start failed"; }
  ENDPOINT=$(env_get ZEROFS_S3_ENDPOINT); BUCKET=$(env_get ZEROFS_S3_BUCKET)
  REGION=$(env_get ZEROFS_S3_REGION)
  [ -n "$ENDPOINT" ] && [ -n "$BUCKET" ] && [ -n "$REGION" ] || die "incomplete $WORK/rgw/env"
  # The keys go into curl's config files only, never onto a command line.
  printf 'user = "%s:%s"\n' "$(env_get ZEROFS_S3_ACCESS_KEY)" "$(env_get ZEROFS_S3_SECRET_KEY)" \
    >"$DATA/auth.conf"
}

human() { # human BYTES: 65536 -> 64KiB
  if [ $(($1 % 1048576)) = 0 ]; then echo "$(($1 / 1048576))MiB"
  elif [ $(($1 % 1024)) = 0 ]; then echo "$(($1 / 1024))KiB"
  else echo "${1}B"; fi
}

now() { date +%s.%N; }

# record WORKLOAD OP CLIENT SECS OPS MIBS P50 P99: one line of $WORK/results.
record() { echo "$*" >>"$WORK/results"; }

# ---- zerofs: tests/bench/s3_bench ----

run_zerofs() { # run_zerofs N SIZE PREFIX LABEL
  local n=$1 size=$2 prefix=$3 label=$4 out=$WORK/zerofs.out op fields
  ZEROFS_RGW_DIR=$WORK/rgw "$BENCH" --objects "$n" --size "$size" --inflight "$INFLIGHT" \
    --prefix "$prefix" >"$out" 2>&1 || { cat "$out" >&2; die "s3_bench failed ($label)"; }
  sed 's/^/    /' "$out"
  for op in put get; do
    fields=$(sed -n "s/^zerofs $op [0-9]* x [0-9]* B: \([0-9.]*\) s, \([0-9.]*\) ops\/s, \([0-9.]*\) MiB\/s, p50 \([0-9.]*\) ms, p99 \([0-9.]*\) ms$/\1 \2 \3 \4 \5/p" "$out")
    [ -n "$fields" ] || die "no '$op' result line in s3_bench's output ($label)"
    record "$label" "$op" zerofs "$fields"
  done
}

# ---- curl: the reference client ----

# Fresh random files for every run, so no run can pass on another's data.
make_files() { # make_files N SIZE
  rm -rf "$DATA/put" "$DATA/get" && mkdir "$DATA/put" "$DATA/get"
  head -c $(($1 * $2)) /dev/urandom | split -b "$2" -a 6 -d - "$DATA/put/obj-"
  [ "$(find "$DATA/put" -type f -size "$2c" | wc -l)" = "$1" ] || die "generating $1 files failed"
  (cd "$DATA/put" && sha256sum obj-*) >"$DATA/put.sha256"
}

# curl_conf OP PREFIX: one config per phase, one url (+ file) per object.
# -w gives each transfer's status and time, to check and to take latencies from.
# no-progress-meter, not silent: curl 7.88.1 ignores --silent with --parallel
# (curl/curl#10573) and would draw its meter into the error log.
curl_conf() {
  local op=$1 prefix=$2 f name
  cat "$DATA/auth.conf"
  printf '%s\n' "aws-sigv4 = \"aws:amz:$REGION:s3\"" \
    'header = "x-amz-content-sha256: UNSIGNED-PAYLOAD"' \
    no-progress-meter show-error "max-time = $CURL_MAX_TIME" \
    'write-out = "%{http_code} %{time_total}\n"'
  [ "$op" != delete ] || echo 'request = "DELETE"'
  for f in "$DATA"/put/obj-*; do
    name=${f##*/}
    echo "url = \"$ENDPOINT/$BUCKET/$prefix$name\""
    case "$op" in
      put) echo "upload-file = \"$f\""; echo 'output = "/dev/null"' ;;
      get) echo "output = \"$DATA/get/$name\"" ;;
      delete) echo 'output = "/dev/null"' ;;
    esac
  done
}

# curl_phase OP PREFIX N EXPECTED_STATUS: runs one phase; prints its seconds.
curl_phase() {
  local op=$1 prefix=$2 n=$3 want=$4 t0 t1 bad
  curl_conf "$op" "$prefix" >"$DATA/$op.conf"
  t0=$(now)
  curl --parallel --parallel-max "$INFLIGHT" -K "$DATA/$op.conf" >"$WORK/curl-$op.out" \
    2>"$WORK/curl-$op.err" || { cat "$WORK/curl-$op.err" >&2; die "curl $op failed"; }
  t1=$(now)
  bad=$(awk -v want="$want" '$1 != want' "$WORK/curl-$op.out" | wc -l)
  [ "$(wc -l <"$WORK/curl-$op.out")" = "$n" ] && [ "$bad" = 0 ] ||
    die "curl $op: expected $n x HTTP $want, got: $(sort "$WORK/curl-$op.out" | awk '{print $1}' | uniq -c | tr -s ' \n' ' ')"
  awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.3f\n", b - a }'
}

# Nearest-rank p50 and p99 (ms) of the time_total column.
curl_latency() {
  awk '{ print $2 * 1000 }' "$WORK/curl-$1.out" | sort -g |
    awk '{ v[NR] = $1 } END { r50 = int(NR * 0.5); if (r50 < NR * 0.5) r50++
                               r99 = int(NR * 0.99); if (r99 < NR * 0.99) r99++
                               printf "%.3f %.3f\n", v[r50 ? r50 : 1], v[r99 ? r99 : 1] }'
}

curl_record() { # curl_record LABEL OP N SIZE SECS
  local lat rate
  lat=$(curl_latency "$2")
  rate=$(awk -v n="$3" -v s="$4" -v t="$5" 'BEGIN { printf "%.1f %.1f", n / t, n * s / t / 1048576 }')
  printf '    curl %s %s x %s B: %s s, %s ops/s, %s MiB/s, p50 %s ms, p99 %s ms\n' "$2" "$3" "$4" \
    "$5" "${rate% *}" "${rate#* }" "${lat% *}" "${lat#* }"
  record "$1" "$2" curl "$5" "$rate" "$lat"
}

run_curl() { # run_curl N SIZE PREFIX LABEL
  local n=$1 size=$2 prefix=$3 label=$4 secs
  make_files "$n" "$size"
  secs=$(curl_phase put "$prefix" "$n" 200)
  curl_record "$label" put "$n" "$size" "$secs"
  secs=$(curl_phase get "$prefix" "$n" 200)
  # Verified after the clock stopped, as curl itself does not check content.
  (cd "$DATA/get" && sha256sum --check --quiet --strict "$DATA/put.sha256" >"$WORK/verify.out" 2>&1) ||
    { cat "$WORK/verify.out" >&2; die "curl get: downloaded objects differ from the uploaded ones"; }
  [ "$(find "$DATA/get" -type f | wc -l)" = "$n" ] || die "curl get: wrong number of files"
  curl_record "$label" get "$n" "$size" "$secs"
  curl_phase delete "$prefix" "$n" 204 >/dev/null   # keeps the memstore from filling up
}

# Deleting an object larger than RGW's 4 MiB head leaves its tail to the
# garbage collector, which waits 2 hours by default; without this the memstore
# OSD (4 GiB) fills after ~20 runs and every request then hangs.
collect_garbage() {
  radosgw-admin -c "$WORK/rgw/ceph.conf" gc process --include-all >>"$WORK/gc.log" 2>&1 ||
    die "radosgw-admin gc process failed (see $WORK/gc.log)"
}

# A fresh RGW is slow for its first few hundred requests (pool and bucket
# index set-up, memory growth): that must not land on whichever client is
# measured first.
warm_up() {
  local spec n size
  log "warming up the RGW (not measured)"
  for spec in "${WORKLOADS[@]}"; do
    read -r n size <<<"$spec"
    ZEROFS_RGW_DIR=$WORK/rgw "$BENCH" --objects "$n" --size "$size" --inflight "$INFLIGHT" \
      --prefix "warmup/$n/" >"$WORK/warmup.out" 2>&1 ||
      { cat "$WORK/warmup.out" >&2; die "warm-up run of s3_bench failed"; }
  done
  collect_garbage
}

run_workload() { # run_workload RUN N SIZE PREFIX LABEL
  local run=$1 n=$2 size=$3 prefix=$4 label=$5 client
  local clients=(zerofs curl)
  [ "$ORDER" = alternate ] && [ $((run % 2)) = 0 ] && clients=(curl zerofs)
  echo "run $run/$RUNS, $n x $size B, $INFLIGHT in flight, ${clients[0]} first:"
  for client in "${clients[@]}"; do
    log "run $run/$RUNS $label: $client"
    "run_$client" "$n" "$size" "$prefix/$client/" "$label"
  done
}

# ---- report ----

# median WORKLOAD OP CLIENT FIELD (4 secs, 5 ops/s, 6 MiB/s, 7 p50, 8 p99)
median() {
  awk -v w="$1" -v op="$2" -v c="$3" -v f="$4" '$1 == w && $2 == op && $3 == c { print $f }' \
    "$WORK/results" | sort -g |
    awk '{ v[NR] = $1 } END { if (NR == 0) exit 1
                             if (NR % 2) print v[(NR + 1) / 2]; else print (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}

report() {
  local spec n size label op zo zm co cm ratio below=""
  echo
  echo "## S3 throughput: zerofs (s3_bench) vs curl --parallel, $INFLIGHT in flight"
  echo
  echo "Median of $RUNS run(s), client order: $ORDER; RGW $(radosgw --version 2>/dev/null | awk '{ print $3 }') (memstore)" \
       "on 127.0.0.1, $(nproc) CPUs shared by client and server; $(curl --version | head -n 1 | awk '{ print $1, $2 }')."
  echo
  echo "| workload | op | zerofs ops/s | zerofs MiB/s | curl ops/s | curl MiB/s | ratio (zerofs/curl) |"
  echo "|---|---|---:|---:|---:|---:|---:|"
  for spec in "${WORKLOADS[@]}"; do
    read -r n size <<<"$spec"; label="${n}x$(human "$size")"
    for op in put get; do
      zo=$(median "$label" $op zerofs 5); zm=$(median "$label" $op zerofs 6)
      co=$(median "$label" $op curl 5); cm=$(median "$label" $op curl 6)
      ratio=$(awk -v a="$zm" -v b="$cm" 'BEGIN { printf "%.2f", a / b }')
      awk -v r="$ratio" -v t="$TARGET" 'BEGIN { exit !(r < t) }' && below+=" $label/$op"
      printf '| %s x %s | %s | %.1f | %.1f | %.1f | %.1f | %s |\n' "$n" "$(human "$size")" \
        "${op^^}" "$zo" "$zm" "$co" "$cm" "$ratio"
    done
  done
  echo
  echo "| workload | op | zerofs p50 ms | zerofs p99 ms | curl p50 ms | curl p99 ms |"
  echo "|---|---|---:|---:|---:|---:|"
  for spec in "${WORKLOADS[@]}"; do
    read -r n size <<<"$spec"; label="${n}x$(human "$size")"
    for op in put get; do
      printf '| %s x %s | %s | %.1f | %.1f | %.1f | %.1f |\n' "$n" "$(human "$size")" "${op^^}" \
        "$(median "$label" $op zerofs 7)" "$(median "$label" $op zerofs 8)" \
        "$(median "$label" $op curl 7)" "$(median "$label" $op curl 8)"
    done
  done
  echo
  if [ -z "$below" ]; then
    echo "Target ratio >= $TARGET: met on every workload and op."
  else
    echo "Target ratio >= $TARGET: NOT met on:$below."
  fi
}

main() {
  local run spec n size label runid
  parse_args "$@"
  check_tools
  trap 'bench_cleanup "${DATA:-}"' EXIT
  trap 'exit 130' INT
  trap 'exit 143' TERM
  make_dirs
  bench_build s3_bench
  start_rgw
  warm_up
  : >"$WORK/results"
  # Distinct key prefixes per invocation, run, workload and client: no run
  # can read objects that another one wrote.
  runid=$(date +%Y%m%d-%H%M%S)-$$
  for ((run = 1; run <= RUNS; run++)); do
    for spec in "${WORKLOADS[@]}"; do
      read -r n size <<<"$spec"; label="${n}x$(human "$size")"
      run_workload "$run" "$n" "$size" "bench-$runid/run$run/$label" "$label"
      collect_garbage
    done
  done
  report
}

main "$@"
