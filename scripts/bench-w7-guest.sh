#!/bin/sh
# W7 in the kernel-client guest (scripts/kernel-client.sh runs it with busybox sh; bench.sh
# adds the tarball as /bin/w7-tree.tar): extract a real source tree onto the NFS mount and
# sync, read it all back after dropping the page cache and compare it with a copy extracted
# to the guest's RAM, then remove it. Prints the NFS client's per-op counts after the extract
# ("W7OP name count", from /proc/self/mountstats) and one line
#   W7RESULT files=N extract_s=S read_s=S rm_s=S
set -e
up() { cut -d' ' -f1 /proc/uptime; }
since() { awk -v a="$1" -v b="$(up)" 'BEGIN { printf "%.2f", b - a }'; }

mkdir -p /tmp/ref
tar xf /bin/w7-tree.tar -C /tmp/ref
files=$(find /tmp/ref -type f | wc -l)
cd "$ZEROFS_MNT"
mkdir w7
t=$(up)
tar xf /bin/w7-tree.tar -C w7
sync
extract=$(since "$t")
# the client's own count of each NFS operation so far (mount, mkdir and the extract)
awk '/per-op statistics/ { on = 1; next } on && NF > 1 && $2 > 0 { sub(":", "", $1); print "W7OP", $1, $2 }' \
  /proc/self/mountstats
echo 3 >/proc/sys/vm/drop_caches
t=$(up)
diff -r /tmp/ref w7 >/tmp/w7.diff || { echo "W7: the tree read back differs:"; head -20 /tmp/w7.diff; exit 1; }
read=$(since "$t")
t=$(up)
rm -rf w7
sync
rm_s=$(since "$t")
echo "W7RESULT files=$files extract_s=$extract read_s=$read rm_s=$rm_s"
