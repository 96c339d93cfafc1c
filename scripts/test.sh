#!/usr/bin/env bash
# README command 2: install what is needed, build (normal, ASan/UBSan and
# TSan), and run every test with ctest. Exit status: 0 only if everything passed.
#   bash scripts/test.sh [ctest args...]     e.g. -R s3_ to run a subset, -L unit
# The sanitizer builds have no plugin: they run the ganesha-free tests (the
# unit tests, and the s3/, lsm/ and admin tool tests against RGW).
set -euo pipefail

src=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
jobs=$(nproc)
cd "$src"

bash scripts/setup.sh --test

build() { # build DIR [cmake args...]
  local dir=$1 out; shift
  # quiet when it works; on failure all of it (a missing package is named on stdout, not stderr)
  out=$(cmake -S "$src" -B "$dir" -DCMAKE_BUILD_TYPE=RelWithDebInfo "$@" 2>&1) ||
    { printf '%s\n' "$out" >&2; echo "== CMake configure of $dir failed" >&2; exit 1; }
  cmake --build "$dir" -j"$jobs"
}

echo "== build (RelWithDebInfo)"
build build
echo "== build (ASan/UBSan)"
build build-asan -DZEROFS_SANITIZE=ON
echo "== build (TSan)"
build build-tsan -DZEROFS_TSAN=ON

status=0
echo "== tests"
ctest --test-dir build --output-on-failure -j"$jobs" "$@" || status=1
echo "== tests under ASan/UBSan"
# halt_on_error: the first report fails the test, so none hides in a log.
ASAN_OPTIONS=detect_leaks=1:halt_on_error=1:abort_on_error=0 \
UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
  ctest --test-dir build-asan --output-on-failure -j"$jobs" "$@" || status=1
echo "== tests under TSan"
# halt_on_error: the first data race (or lock-order inversion, with both
# stacks) ends its process with exit code 66. log_path: every instrumented
# process writes its reports there, also the children a test forks or runs
# (the admin tool, lsm_crash's writers), whose exit status a test may not see:
# any report fails the run. No suppressions: none has been needed.
tsan_reports=$src/build-tsan/tsan-reports
rm -rf "$tsan_reports" && mkdir -p "$tsan_reports"
TSAN_OPTIONS="halt_on_error=1:exitcode=66:second_deadlock_stack=1:log_path=$tsan_reports/report" \
  ctest --test-dir build-tsan --output-on-failure -j"$jobs" "$@" || status=1
if [ -n "$(ls -A "$tsan_reports")" ]; then
  echo "ThreadSanitizer reports (in $tsan_reports):"
  for r in "$tsan_reports"/*; do head -n 60 "$r"; done
  status=1
fi

if [ $status = 0 ]; then echo "== all tests passed"; else echo "== some tests FAILED"; fi
exit $status
