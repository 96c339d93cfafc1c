# shellcheck shell=bash
# Sourced by the tests of README command 1 (tests/serve/*.sh): helpers.

fail() { printf 'FAIL: %s\n' "$*" >&2; exit 1; }
note() { printf -- '-- %s\n' "$*"; }

# printed_ports OUTPUT: "NFS MOUNT", the ports of the Linux NFSv3 mount command scripts/serve.sh
# printed (what a user would type), checked against the NFSv4 and macOS commands.
printed_ports() {
  local v3 v4 mac
  v3=$(sed -n 's/^ *mount -t nfs -o vers=3,tcp,port=\([0-9]*\),mountport=\([0-9]*\),nolock .*/\1 \2/p' <<<"$1")
  v4=$(sed -n 's/^ *mount -t nfs -o vers=4\.1,port=\([0-9]*\) .*/\1/p' <<<"$1")
  mac=$(sed -n 's/^ *mount -t nfs -o nolocks,vers=3,tcp,port=\([0-9]*\),mountport=\([0-9]*\) .*/\1 \2/p' <<<"$1")
  [ -n "$v3" ] && [ "$(wc -l <<<"$v3")" = 1 ] || fail "serve.sh printed no (or several) NFSv3 mount commands"
  [ "$v4" = "${v3% *}" ] || fail "the NFSv4 mount command has port '$v4', the NFSv3 one '${v3% *}'"
  [ "$mac" = "$v3" ] || fail "the macOS mount command has ports '$mac', the Linux one '$v3'"
  echo "$v3"
}

# listener_pids PORT: the PIDs listening on TCP PORT (any address), one a line.
listener_pids() { ss -Hltnp "sport = :$1" | { grep -o 'pid=[0-9]*' || true; } | cut -d= -f2 | sort -u; }

# nfs_roundtrip NFS_PORT MOUNT_PORT NAME WORKDIR: write WORKDIR/NAME.in to the export 127.0.0.1:/zerofs
# over NFSv3 with libnfs's nfs-cp, read it back over NFSv3 and NFSv4 with nfs-cat, list it with
# nfs-ls; fail unless the bytes are the same.
nfs_roundtrip() {
  local p=$1 m=$2 name=$3 work=$4 v
  url() { echo "nfs://127.0.0.1/zerofs/$1?version=$2&nfsport=$p&mountport=$m"; }
  nfs-cp "$work/$name.in" "$(url "$name" 3)" >/dev/null || fail "nfs-cp to 127.0.0.1:$p (mount port $m) failed"
  for v in 3 4; do
    nfs-cat "$(url "$name" $v)" >"$work/$name.v$v" || fail "nfs-cat over NFSv$v from port $p failed"
    cmp "$work/$name.in" "$work/$name.v$v" || fail "NFSv$v read back other bytes than were written"
  done
  # (through a variable: with pipefail, grep -q leaving early could fail the pipeline)
  v=$(nfs-ls "nfs://127.0.0.1/zerofs?version=3&nfsport=$p&mountport=$m") || fail "nfs-ls of the export failed"
  grep -q " $name\$" <<<"$v" || fail "nfs-ls of the export does not list $name: $v"
  note "port $p (mount $m): $name written over NFSv3, read back over NFSv3 and NFSv4, listed"
}
