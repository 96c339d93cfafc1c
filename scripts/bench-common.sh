# Sourced by the benchmark scripts (bench-s3.sh, bench-lsm.sh): building the
# Release tree and tearing down their work directory. They set ROOT, BUILD,
# BENCH and WORK, and define log and die, before calling these.

# bench_build TARGET: cmake is incremental, so this is cheap when nothing changed.
bench_build() {
  log "building $BENCH (Release)"
  cmake -S "$ROOT" -B "$BUILD" -DCMAKE_BUILD_TYPE=Release -DZEROFS_TESTS=ON >"$WORK/cmake.log" 2>&1 ||
    { tail -n 20 "$WORK/cmake.log" >&2; die "cmake configure failed"; }
  cmake --build "$BUILD" -j"$(nproc)" --target "$1" >>"$WORK/cmake.log" 2>&1 ||
    { tail -n 30 "$WORK/cmake.log" >&2; die "build failed"; }
}

# bench_cleanup [EXTRA_DIR]: the EXIT trap. Stops the RGW in $WORK/rgw if one
# was started, removes $WORK (kept if the RGW could not be stopped) and
# EXTRA_DIR, and exits with the script's status (1 if the RGW would not stop).
bench_cleanup() {
  local rc=$?
  trap - EXIT INT TERM
  if [ -n "${WORK:-}" ] && [ -d "$WORK" ]; then
    if [ -e "$WORK/rgw" ] && ! bash "$ROOT/scripts/rgw.sh" stop "$WORK/rgw" >/dev/null 2>&1; then
      log "WARNING: stopping the RGW failed; its files are kept in $WORK/rgw"
      rc=1
    else
      rm -rf "$WORK"
    fi
  fi
  if [ -n "${1:-}" ]; then rm -rf "$1"; fi
  exit $rc
}
