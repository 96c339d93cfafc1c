#!/bin/sh
# Smoke test of an NFS export through the real Linux client. Runs INSIDE the qemu guest of
# scripts/kernel-client.sh (busybox sh), which has mounted the export at $ZEROFS_MNT and
# provides `nfs-mount` to mount it again:
#   bash scripts/kernel-client.sh run ... --script tests/nfs/kclient-smoke.sh
# Every step is checked; the first failure prints "smoke: FAIL [step] why" and exits 1.
# Each passing step prints its duration. Works in a fresh directory under the mount and
# removes it at the end (on failure it is left for inspection).
set -u

MNT=${ZEROFS_MNT:?ZEROFS_MNT is not set: run me through scripts/kernel-client.sh}
VERS=${ZEROFS_NFS_VERS:-?}
D=$MNT/smoke-$(cut -c1-8 /proc/sys/kernel/random/uuid)
LOCAL=/tmp/smoke.$$
BIG=2097152                      # 2 MiB
MTIME_STR='2001-02-03 04:05:06'  # UTC (the guest runs with TZ=UTC)
MTIME=981173106

# Milliseconds of guest uptime (/proc/uptime has two decimals; strip a leading 0 for ash).
now_ms() {
  read -r up _ </proc/uptime
  frac=${up#*.}; frac=${frac#0}
  echo $(( ${up%.*} * 1000 + frac * 10 ))
}
STEP=""
T_STEP=0
T_ALL=$(now_ms)
step() {
  end_step
  STEP=$1; T_STEP=$(now_ms)
}
end_step() {
  [ -z "$STEP" ] || printf 'smoke: ok   %-34s %6d ms\n' "$STEP" $(( $(now_ms) - T_STEP ))
  STEP=""
}
fail() { echo "smoke: FAIL [$STEP] $*"; exit 1; }
run() { "$@" || fail "command failed: $*"; }
eq() { [ "$1" = "$2" ] || fail "$3: expected '$2', got '$1'"; }
exists() { [ -e "$1" ] || [ -L "$1" ] || fail "$1 does not exist"; }
absent() { ! [ -e "$1" ] && ! [ -L "$1" ] || fail "$1 still exists"; }
sum() { sha256sum <"$1" | cut -d' ' -f1; }
st() { stat -c "$1" "$2" || fail "stat $2 failed"; }
mounted() { grep -q " $MNT nfs" /proc/mounts; }
remount() {
  cd / || fail "cd /"
  run umount "$MNT"
  ! mounted || fail "$MNT still mounted after umount"
  run nfs-mount
  mounted || fail "$MNT not mounted after nfs-mount"
}

echo "smoke: NFS $VERS at $MNT, working in $D"
mounted || fail "$MNT is not an NFS mount"
run mkdir -p "$LOCAL"

step "mkdir"
run mkdir "$D"
[ -d "$D" ] || fail "$D is not a directory"
run mkdir -p "$D/sub/deeper"
[ -d "$D/sub/deeper" ] || fail "mkdir -p $D/sub/deeper"
eq "$(st %F "$D/sub")" directory "type of sub"

step "write + read back (small)"
printf 'hello\n' >"$D/small" || fail "write small"
printf 'world\n' >>"$D/small" || fail "append small"
eq "$(cat "$D/small")" "$(printf 'hello\nworld')" "content of small"
eq "$(st %s "$D/small")" 12 "size of small"

step "write 2 MiB random"
run head -c $BIG /dev/urandom >"$LOCAL/big"
want=$(sum "$LOCAL/big")
run cp "$LOCAL/big" "$D/big"
eq "$(st %s "$D/big")" $BIG "size of big"
eq "$(sum "$D/big")" "$want" "checksum of big (cached)"

step "sync + drop caches + re-read"
run sync
if [ -w /proc/sys/vm/drop_caches ]; then
  echo 3 >/proc/sys/vm/drop_caches || fail "drop_caches"
else
  echo "smoke: note: no /proc/sys/vm/drop_caches, re-reading without dropping caches"
fi
eq "$(sum "$D/big")" "$want" "checksum of big after sync + drop_caches"

step "umount + mount + re-read"
remount
eq "$(sum "$D/big")" "$want" "checksum of big after remount"
eq "$(cat "$D/small")" "$(printf 'hello\nworld')" "content of small after remount"

step "readdir"
eq "$(ls "$D" | tr '\n' ' ')" "big small sub " "listing of $D"

step "rename"
run mv "$D/small" "$D/renamed"
absent "$D/small"
eq "$(cat "$D/renamed")" "$(printf 'hello\nworld')" "content after rename"
run mv "$D/renamed" "$D/sub/moved"
absent "$D/renamed"
eq "$(cat "$D/sub/moved")" "$(printf 'hello\nworld')" "content after rename across directories"
printf 'first\n' >"$D/ra" && printf 'second\n' >"$D/rb" || fail "write ra/rb"
run mv "$D/ra" "$D/rb"
absent "$D/ra"
eq "$(cat "$D/rb")" first "rename over an existing file"
run mv "$D/sub/deeper" "$D/deeper2"
[ -d "$D/deeper2" ] && ! [ -e "$D/sub/deeper" ] || fail "directory rename"

step "symlink"
run ln -s big "$D/link"
[ -L "$D/link" ] || fail "$D/link is not a symlink"
eq "$(readlink "$D/link")" big "symlink target"
eq "$(st %F "$D/link")" "symbolic link" "type of link"
eq "$(sum "$D/link")" "$want" "checksum through the symlink"
run ln -s "dangling/target with space" "$D/dangling"
eq "$(readlink "$D/dangling")" "dangling/target with space" "dangling symlink target"

step "hard link"
run ln "$D/big" "$D/hard"
eq "$(st %h "$D/big")" 2 "link count of big"
eq "$(st %i "$D/hard")" "$(st %i "$D/big")" "inode of the hard link"
eq "$(sum "$D/hard")" "$want" "checksum through the hard link"

step "chmod"
run chmod 640 "$D/big"
eq "$(st %a "$D/big")" 640 "mode of big"
eq "$(st %a "$D/hard")" 640 "mode of big through the hard link"
run chmod 751 "$D/sub"
eq "$(st %a "$D/sub")" 751 "mode of sub"
run chmod 0600 "$D/rb"
eq "$(st %a "$D/rb")" 600 "mode of rb"

step "touch -d (set mtime)"
run touch -d "$MTIME_STR" "$D/big"
eq "$(st %Y "$D/big")" $MTIME "mtime of big"
run touch -d "$MTIME_STR" "$D/sub"
eq "$(st %Y "$D/sub")" $MTIME "mtime of sub"

step "truncate"
run cp "$LOCAL/big" "$D/trunc"
run truncate -s 1000 "$D/trunc"
eq "$(st %s "$D/trunc")" 1000 "size after shrinking"
head -c 1000 "$LOCAL/big" >"$LOCAL/t1000" || fail "local prefix"
eq "$(sum "$D/trunc")" "$(sum "$LOCAL/t1000")" "content after shrinking"
run truncate -s 300000 "$D/trunc"
eq "$(st %s "$D/trunc")" 300000 "size after growing"
{ cat "$LOCAL/t1000"; head -c 299000 /dev/zero; } >"$LOCAL/t300k" || fail "local expected"
eq "$(sum "$D/trunc")" "$(sum "$LOCAL/t300k")" "content after growing (zeros past the old end)"
run truncate -s 0 "$D/trunc"
eq "$(st %s "$D/trunc")" 0 "size after truncating to 0"

step "stat after umount + mount"
remount
eq "$(st %F "$D/big")" "regular file" "type of big"
eq "$(st %s "$D/big")" $BIG "size of big"
eq "$(st %a "$D/big")" 640 "mode of big"
eq "$(st %h "$D/big")" 2 "link count of big"
eq "$(st %Y "$D/big")" $MTIME "mtime of big"
eq "$(st '%u:%g' "$D/big")" 0:0 "owner of big (root, no squash)"
eq "$(st %F "$D/sub")" directory "type of sub"
eq "$(st %a "$D/sub")" 751 "mode of sub"
eq "$(st %Y "$D/sub")" $MTIME "mtime of sub"
eq "$(readlink "$D/link")" big "symlink target"
eq "$(st %s "$D/trunc")" 0 "size of trunc"
eq "$(cat "$D/sub/moved")" "$(printf 'hello\nworld')" "content of moved"
eq "$(sum "$D/hard")" "$want" "checksum of big through the hard link"

step "rm"
run rm "$D/hard"
absent "$D/hard"
eq "$(st %h "$D/big")" 1 "link count of big after removing the hard link"
eq "$(sum "$D/big")" "$want" "checksum of big after removing the hard link"
run rm "$D/link"
absent "$D/link"
exists "$D/big"
run rm "$D/big" "$D/dangling" "$D/trunc" "$D/rb" "$D/sub/moved"
absent "$D/big"
eq "$(ls "$D" | tr '\n' ' ')" "deeper2 sub " "listing after rm"

# Exclusive create, SEEK_DATA/SEEK_HOLE and byte-range locks need system calls busybox has no
# applet for: kclient_tool (tests/nfs/kclient_tool.c, copied in with kernel-client.sh --add).
if command -v kclient_tool >/dev/null; then
  step "exclusive create (O_EXCL)"
  run kclient_tool excl "$D"
  step "SEEK_DATA / SEEK_HOLE"
  run kclient_tool seek "$D" "$VERS"
  if [ "$VERS" != 3 ]; then   # v3 mounts use nolock (no NLM in the test server): local locks
    step "byte-range locks, two processes"
    run kclient_tool locks "$D"
  fi
fi

step "rmdir"
run touch "$D/sub/keep"
! rmdir "$D/sub" 2>/dev/null || fail "rmdir of a non-empty directory succeeded"
exists "$D/sub/keep"
run rm "$D/sub/keep"
run rmdir "$D/sub" "$D/deeper2"
absent "$D/sub"
run rmdir "$D"
absent "$D"

step "df"
line=$(df -P -k "$MNT" | tail -n 1) || fail "df failed"
set -- $line
# df -P: Filesystem 1024-blocks Used Available Capacity Mounted-on, one line per filesystem
[ $# -ge 6 ] || fail "unexpected df output: $line"
[ "$2" -gt 0 ] 2>/dev/null || fail "df reports no size: $line"
[ "$4" -ge 0 ] 2>/dev/null || fail "df reports no free space: $line"
echo "smoke: df: $line"

end_step
rm -rf "$LOCAL"
echo "smoke: PASS (NFS $VERS) in $(( $(now_ms) - T_ALL )) ms"
