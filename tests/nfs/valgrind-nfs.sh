#!/usr/bin/env bash
# An NFS test program (test_nfs or test_v4_state, local stores) with every ganesha.nfsd it
# starts running under valgrind's memcheck, so that the plugin's memory errors and leaks in the
# real server fail the test: each valgrind log must report 0 errors, and none may show a definite leak or an invalid
# access, including the instance the crash test SIGKILLs (it leaves no summary, but whatever it
# reported before is checked).
#   valgrind-nfs.sh TEST SRC_DIR PLUGIN_DIR WORK_DIR [filter]
set -euo pipefail
[ $# -ge 4 ] || { echo "usage: $0 TEST SRC_DIR PLUGIN_DIR WORK_DIR [filter]" >&2; exit 2; }
test_nfs=$1 src=$2 plugins=$3 work=$4 filter=${5:-}
command -v valgrind >/dev/null || { echo "valgrind is not installed (scripts/setup.sh --test)" >&2; exit 1; }

vg=$work/valgrind
rm -rf "$vg" && mkdir -p "$vg"
export GANESHA_START_TIMEOUT=240
# memcheck's leak check runs after SIGTERM: let it finish before any SIGKILL
export GANESHA_STOP_TIMEOUT=300
export GANESHA_WRAPPER="valgrind --tool=memcheck --leak-check=full --show-leak-kinds=definite \
--errors-for-leak-kinds=definite --num-callers=40 --log-file=$vg/valgrind.%p.log"
status=0
"$test_nfs" "$src" "$plugins" "$work/nfs" ${filter:+"$filter"} || status=$?

shopt -s nullglob
logs=("$vg"/valgrind.*.log)
[ ${#logs[@]} -gt 0 ] || { echo "FAIL: no valgrind log in $vg: ganesha did not run under valgrind" >&2; exit 1; }
summaries=0
for log in "${logs[@]}"; do
  # a memcheck error is reported as a block starting "==PID== <kind>" followed by a stack
  if grep -qE '^==[0-9]+== (Invalid (read|write|free)|Mismatched free|Conditional jump|Use of uninitialised|Syscall param|Source and destination overlap|Argument .* of function .* has a fishy)' "$log"; then
    echo "FAIL: memory errors in $log:" >&2
    grep -E -A25 '^==[0-9]+== (Invalid|Mismatched|Conditional|Use of uninit|Syscall param|Source and dest)' "$log" | head -80 >&2
    status=1
  fi
  if grep -qE 'definitely lost: [1-9]' "$log"; then
    echo "FAIL: definite leaks in $log:" >&2
    grep -B2 -A30 'definitely lost in loss record' "$log" | head -120 >&2
    status=1
  fi
  if grep -q 'ERROR SUMMARY:' "$log"; then
    summaries=$((summaries + 1))
    grep -q 'ERROR SUMMARY: 0 errors' "$log" || { echo "FAIL: $(grep 'ERROR SUMMARY' "$log") in $log" >&2; status=1; }
  fi
done
echo "valgrind: ${#logs[@]} ganesha processes, $summaries ran to a clean exit and summary"
[ "$summaries" -gt 0 ] || { echo "FAIL: no ganesha under valgrind exited cleanly" >&2; status=1; }
exit "$status"
