#!/usr/bin/env bash
# The LSM engine's db_bench-style benchmark (tests/bench/lsm_bench) against the
# local store (a temp dir), then against a throwaway local RGW.
#   bash scripts/bench-lsm.sh [--quick] [--seed S]
# Local: fillrandom 1M x 100 B (not durable); fillseq 1M; the fillrandom
# database reopened for readrandom, readseq, scan and overwrite; fillrandom
# 20k x 64 KiB; durable16 (16 threads of durable single-key writes, 16k in
# all). RGW, with 8 MiB memtables and block cache so that reads go to SSTs:
# fillrandom 200k x 100 B; reopened for 20k readrandom and 200 scans;
# durable16 (8k writes). Engine defaults otherwise (64 MiB memtables, 64 MiB
# block cache). Each line "run N" is one lsm_bench process.
# --quick shrinks every count (about a minute, most of it starting the RGW).
# Prints a Markdown table of every row and PASS/MISS for the targets:
#   fillrandom 1M x 100 B, local, not durable: >= 200k ops/s
#   durable16: >= 8 writes per WAL upload
#   peak RSS < memtable limits + block cache + 64 MiB, for every process
# A benchmark: the exit status says whether everything ran and every value
# read back verified, never whether a target was met.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BUILD=$ROOT/build-bench
BENCH=$BUILD/tests/bench/lsm_bench
QUICK=0
SEED=""
TARGET_FILL_OPS=200000
TARGET_WPU=8
RSS_SLACK_MIB=64

log() { printf 'bench-lsm: %s\n' "$*" >&2; }
die() { printf 'bench-lsm: ERROR: %s\n' "$*" >&2; exit 1; }
usage() { sed -n '4p' "$0" | sed 's/^#   /usage: /' >&2; exit 2; }

parse_args() {
  while [ $# -gt 0 ]; do
    case "$1" in
      --quick) QUICK=1; shift ;;
      --seed) [ $# -ge 2 ] && [[ $2 =~ ^[0-9]+$ ]] || usage; SEED=$2; shift 2 ;;
      -h | --help) usage ;;
      *) usage ;;
    esac
  done
  [ -n "$SEED" ] || SEED=$(( $(date +%s) % 1000000 ))
}

# The sizes of every run, full or quick.
set_sizes() {
  if [ "$QUICK" = 1 ]; then
    N_FILL=100000 N_BIG=2000 N_DUR=2000 N_RGW=50000 N_RGW_READS=5000 N_RGW_DUR=1000 RGW_MEM=2
  else
    N_FILL=1000000 N_BIG=20000 N_DUR=16000 N_RGW=200000 N_RGW_READS=20000 N_RGW_DUR=8000 RGW_MEM=8
  fi
}

check_tools() {
  local t
  for t in cmake awk radosgw; do
    command -v "$t" >/dev/null || die "'$t' is not installed (scripts/setup.sh --test installs RGW)"
  done
}

# shellcheck source=bench-common.sh
. "$ROOT/scripts/bench-common.sh"

# The local databases go to $WORK on disk, not tmpfs: the local store fsyncs
# every object, as it would in production.
make_dirs() {
  umask 077
  WORK=$(mktemp -d /tmp/zerofs-bench-lsm-XXXXXX)
}

start_rgw() {
  log "starting a private RGW in $WORK/rgw"
  bash "$ROOT/scripts/rgw.sh" start "$WORK/rgw" >"$WORK/rgw-start.log" 2>&1 ||
    { cat "$WORK/rgw-start.log" >&2; die "scripts/rgw.sh start failed"; }
}

stop_rgw() {
  log "stopping the RGW"
  bash "$ROOT/scripts/rgw.sh" stop "$WORK/rgw" >"$WORK/rgw-stop.log" 2>&1 ||
    { cat "$WORK/rgw-stop.log" >&2; die "scripts/rgw.sh stop failed"; }
}

RUN=0
# run STORE_LABEL WHAT ARGS...: one lsm_bench process; its `result` lines go
# to $WORK/results, tab-separated: STORE RUN WHAT NAME <lsm_bench's other
# result fields>, so that 4 is the benchmark, 7 ops/s, 13 writes/upload,
# 16 peak RSS, 17 VmHWM, 18 the memory limits.
run() {
  local label=$1 what=$2 out
  shift 2
  RUN=$((RUN + 1))
  out=$WORK/run$RUN.out
  echo "run $RUN ($label, $what): lsm_bench $*"
  log "run $RUN: $label $what"
  if ! ZEROFS_RGW_DIR=$WORK/rgw "$BENCH" --seed "$((SEED + RUN))" "$@" >"$out" 2>&1; then
    sed 's/^/    /' "$out"
    die "lsm_bench failed (run $RUN: $label $what); see the lines above"
  fi
  grep -v '^result ' "$out" | sed 's/^/    /'
  awk -v s="$label" -v r="$RUN" -v w="$what" 'BEGIN { OFS = "\t" }
    $1 == "result" { $1 = w; print s, r, $0 }' "$out" >>"$WORK/results"
  grep -q "^result close " "$out" || die "no result lines from run $RUN"
}

# ---- report ----

report() {
  local fill_row
  echo
  echo "## LSM engine: lsm_bench (seed $SEED$([ "$QUICK" = 1 ] && echo ', --quick'))"
  echo
  echo "$(nproc) CPUs shared with anything else on the host; local store on $(df -T "$WORK" | awk 'NR == 2 { print $2 }') ($WORK)," \
       "RGW $(radosgw --version 2>/dev/null | awk '{ print $3 }') (memstore) on 127.0.0.1." \
       "Keys 16 B; values incompressible. \`close\` rows: lsm_flush + lsm_close time, and" \
       "write-amp/uploads/flushes/compactions over the whole process (open to close); peak RSS" \
       "is the process's. Latency: per lsm_write, lsm_get, iterator step, or scan of 100 keys." \
       "Write-amp: bytes the store received / key+value bytes written. mem limit: memtable x" \
       "(max_frozen 2 + 1) + block cache; peak malloc: glibc's bytes in use, sampled every 10 ms."
  echo
  echo "| store | run | workload | benchmark | ops | s | ops/s | MiB/s | p50 µs | p99 µs | write-amp | WAL uploads | writes/upload | L0 flushes | compactions | peak RSS MiB | VmHWM MiB | mem limit MiB | peak malloc MiB |"
  echo "|---|---:|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
  awk -F'\t' '{ printf "| %s | %s | %s | %s |", $1, $2, $3, $4
         for (i = 5; i <= NF; i++) printf " %s |", $i
         printf "\n" }' "$WORK/results"
  echo
  echo "Targets (informational):"
  echo
  # 1: fillrandom of the first local run
  fill_row=$(awk -F'\t' '$1 == "local" && $4 == "fillrandom" { print; exit }' "$WORK/results")
  echo "$fill_row" | awk -F'\t' -v t="$TARGET_FILL_OPS" '{
    v = $7; verdict = v >= t ? "PASS" : "MISS"
    printf "- %s (local, not durable): %.0f ops/s vs >= %d: **%s** (%+.0f%%)\n",
           $3, v, t, verdict, (v / t - 1) * 100 }'
  # 2: every durable16 row
  awk -F'\t' -v t="$TARGET_WPU" '$4 == "durable16" {
    v = $13; verdict = v >= t ? "PASS" : "MISS"
    printf "- durable16 (%s, %s): %.2f writes per WAL upload vs >= %d: **%s** (%+.1f%%)\n",
           $1, $3, v, t, verdict, (v / t - 1) * 100 }' "$WORK/results"
  # 3: the peak RSS of every process (its close row holds the process peak)
  awk -F'\t' -v slack="$RSS_SLACK_MIB" '$4 == "close" {
    lim = $18 + slack; v = ($17 > $16 ? $17 : $16); verdict = v < lim ? "PASS" : "MISS"
    printf "- peak RSS, run %s (%s, %s): %.1f MiB vs < %.1f MiB (limits %.1f + %d): **%s** (%+.1f MiB)\n",
           $2, $1, $3, v, lim, $18, slack, verdict, v - lim }' "$WORK/results"
}

main() {
  local A B C D
  parse_args "$@"
  set_sizes
  check_tools
  trap bench_cleanup EXIT
  trap 'exit 130' INT
  trap 'exit 143' TERM
  make_dirs
  bench_build lsm_bench
  : >"$WORK/results"
  echo "seed $SEED; sizes: fill $N_FILL, 64 KiB fill $N_BIG, durable16 $N_DUR;" \
       "RGW (memtable and block cache $RGW_MEM MiB) fill $N_RGW, reads $N_RGW_READS, durable16 $N_RGW_DUR"

  A=$WORK/db-fillrandom B=$WORK/db-fillseq C=$WORK/db-64k D=$WORK/db-durable
  run local "fillrandom ${N_FILL}x100B" --store "local:$A" --benchmarks fillrandom --num "$N_FILL"
  run local "fillseq ${N_FILL}x100B" --store "local:$B" --benchmarks fillseq --num "$N_FILL"
  rm -rf "$B"
  run local "reopen the fillrandom db" --store "local:$A" \
    --benchmarks readrandom,readseq,scan,overwrite --num "$N_FILL"
  rm -rf "$A"
  run local "fillrandom ${N_BIG}x64KiB" --store "local:$C" --benchmarks fillrandom --num "$N_BIG" \
    --value-size 65536
  rm -rf "$C"
  run local "durable16 ${N_DUR}x100B" --store "local:$D" --benchmarks durable16 --num "$N_DUR" \
    --threads 16
  rm -rf "$D"

  # Small memtables and cache on RGW, so that the data lands in SSTs and most
  # reads are range GETs over HTTP rather than memtable or cache hits.
  start_rgw
  run rgw "fillrandom ${N_RGW}x100B, ${RGW_MEM} MiB" --store "rgw:lsm-bench-$SEED/fill/" \
    --benchmarks fillrandom --num "$N_RGW" --memtable-mb "$RGW_MEM" --block-cache-mb "$RGW_MEM"
  run rgw "reopen the fillrandom db" --store "rgw:lsm-bench-$SEED/fill/" \
    --benchmarks readrandom,scan --num "$N_RGW" --reads "$N_RGW_READS" \
    --memtable-mb "$RGW_MEM" --block-cache-mb "$RGW_MEM"
  run rgw "durable16 ${N_RGW_DUR}x100B" --store "rgw:lsm-bench-$SEED/durable/" \
    --benchmarks durable16 --num "$N_RGW_DUR" --threads 16
  stop_rgw

  report
}

main "$@"
