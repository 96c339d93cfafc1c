#!/usr/bin/env bash
# A real Linux NFS client for tests: Debian 12's own kernel booted in qemu (TCG) from an
# initramfs (busybox-static + the NFS modules), which mounts the server and runs a test script.
#   kernel-client.sh build     fetch and build the cached kit (idempotent; `run` does it too)
#   kernel-client.sh run --nfs-port P --mount-port M --export /path --pseudo /pseudo --script FILE
#       [--vers 3|4.0|4.1|4.2] [--timeout S] [--log FILE] [--mount-opts OPTS] [--no-mount]
#       [--add FILE]...
# The guest reaches the host only through qemu guestfwd rules: TCP to 10.0.2.100:P and
# 10.0.2.100:M is carried (one `busybox nc` per connection) to 127.0.0.1:P / 127.0.0.1:M.
# The guest's /init mounts the export (v3: --export, v4.x: --pseudo; default --vers 4.2) at
# /mnt/nfs, runs FILE with busybox sh in /tmp, unmounts, prints "ZEROFS-KCLIENT-EXIT=<status>"
# and powers off. Each --add FILE (a static executable, say) is copied to the guest's /bin.
# FILE sees:
#   ZEROFS_MNT          the mount point (/mnt/nfs)
#   ZEROFS_NFS_VERS     3, 4.0, 4.1 or 4.2
#   ZEROFS_MOUNT_TYPE, ZEROFS_MOUNT_OPTS, ZEROFS_MOUNT_SRC   the mount's -t, -o and source
#   `nfs-mount [DIR]`   mounts the export again (at DIR, default ZEROFS_MNT) with those options
# With --no-mount FILE mounts itself (nfs-mount, or mount with its own options).
# Exit status: FILE's; 124 on timeout; 125 if the guest failed before or after FILE (boot,
# modules, network, mount, final umount). The console goes to --log (default: a fresh
# /tmp/zerofs-kclient.XXXXXX/console.log, kept when the run fails); its tail is shown on failure.
# Kit cache: ${ZEROFS_DEPS_DIR:-/var/cache/zerofs-deps}/kclient; linux-image-amd64 and
# busybox-static are fetched with `apt-get download` and unpacked there, never installed.
set -euo pipefail

DEPS_DIR=${ZEROFS_DEPS_DIR:-/var/cache/zerofs-deps}
KDIR=$DEPS_DIR/kclient
KIT_FORMAT=1   # bump when the kit's layout or module list changes
MODULES=(virtio_pci virtio_net sunrpc grace lockd nfs_acl auth_rpcgss dns_resolver fscache netfs
  nfs nfsv3 nfsv4)
SERVER=10.0.2.100   # the host as the guest sees it (guestfwd only)
GUEST_IP=10.0.2.15
MNT=/mnt/nfs

log() { printf 'kernel-client.sh: %s\n' "$*"; }
die() { printf 'kernel-client.sh: ERROR: %s\n' "$*" >&2; exit 125; }
usage() { sed -n '4,7{s/^#       /         /;s/^#   /usage: /;p}' "$0" >&2; exit 2; }
elapsed() { awk "BEGIN { printf \"%.1f\", $EPOCHREALTIME - $1 }"; }

# ---- the kit: vmlinuz, base initramfs (busybox + modules), host-side busybox for guestfwd ----

# fetch_deb PACKAGE: PACKAGE's .deb in $KDIR/debs (downloaded once; apt lists refreshed once
# if the mirror has moved on). Prints its path.
fetch_deb() {
  local deb
  deb=$(ls "$KDIR"/debs/"$1"_*.deb 2>/dev/null | head -n1)
  if [ -z "$deb" ]; then
    ( cd "$KDIR/debs" && apt-get download -q "$1" >/dev/null 2>"$KDIR/debs/apt.err" ) ||
      { apt-get update -qq && ( cd "$KDIR/debs" && apt-get download -q "$1" >/dev/null 2>"$KDIR/debs/apt.err" ); } ||
      { cat "$KDIR/debs/apt.err" >&2; die "apt-get download $1 failed"; }
    deb=$(ls "$KDIR"/debs/"$1"_*.deb 2>/dev/null | head -n1)
    [ -n "$deb" ] || die "apt-get download $1 left no .deb in $KDIR/debs"
  fi
  echo "$deb"
}

# kernel_pkg: the versioned package linux-image-amd64 points at (linux-image-6.1.0-N-amd64).
kernel_pkg() {
  local p
  p=$(apt-cache depends linux-image-amd64 2>/dev/null | sed -n 's/^ *Depends: \(linux-image-[0-9][^ ]*\)$/\1/p' | head -n1)
  [ -n "$p" ] || { apt-get update -qq; p=$(apt-cache depends linux-image-amd64 2>/dev/null |
    sed -n 's/^ *Depends: \(linux-image-[0-9][^ ]*\)$/\1/p' | head -n1); }
  [ -n "$p" ] || die "cannot resolve linux-image-amd64 to a kernel package (apt-cache depends)"
  echo "$p"
}

# mod_order KVER_DIR NAME...: the .ko paths (relative to KVER_DIR) to load, dependencies first.
mod_order() {
  local kd=$1; shift
  awk -v want="$*" '
    function norm(s) { gsub(/-/, "_", s); return s }
    function base(p,  b) { b = p; sub(/.*\//, "", b); sub(/\.ko(\.[a-z]+)?$/, "", b); return norm(b) }
    function visit(p,  n, i, d) {
      if (p in done) return
      done[p] = 1
      n = split(deps[p], d, " ")
      for (i = n; i >= 1; i--) visit(d[i])   # modprobe loads the last-listed dependency first
      print p
    }
    FILENAME ~ /modules\.builtin$/ { builtin[base($0)] = 1; next }
    { p = $1; sub(/:$/, "", p); sub(/^[^:]*: ?/, ""); deps[p] = $0; path[base(p)] = p }
    END {
      n = split(want, w, " ")
      for (i = 1; i <= n; i++) {
        m = norm(w[i])
        if (m in path) visit(path[m])
        else if (!(m in builtin)) { print "missing module " m > "/dev/stderr"; exit 1 }
      }
    }' "$kd/modules.builtin" "$kd/modules.dep"
}

# build_kit: idempotent, under a lock; sets KIT to the kit directory.
build_kit() {
  local cur kpkg kdeb bdeb tmp kver kd stage m out t0=$EPOCHREALTIME
  mkdir -p "$KDIR/debs"
  exec 9>"$KDIR/.lock"
  flock 9
  cur=$(readlink -f "$KDIR/current" 2>/dev/null || true)
  if [ -n "$cur" ] && [ -f "$cur/.complete-$KIT_FORMAT" ]; then KIT=$cur; exec 9>&-; return; fi
  command -v qemu-system-x86_64 >/dev/null && command -v cpio >/dev/null && command -v depmod >/dev/null ||
    die "qemu-system-x86_64, cpio and depmod (kmod) are needed: bash scripts/setup.sh --test"
  log "building the kernel client kit in $KDIR (once)"
  kpkg=$(kernel_pkg)
  kdeb=$(fetch_deb "$kpkg"); bdeb=$(fetch_deb busybox-static)
  tmp=$KDIR/tmp.$$; rm -rf "$tmp"; mkdir -p "$tmp/k" "$tmp/b"
  trap 'rm -rf "$tmp"' EXIT
  dpkg -x "$kdeb" "$tmp/k"; dpkg -x "$bdeb" "$tmp/b"
  kver=$(ls "$tmp/k/lib/modules" | head -n1)
  kd=$tmp/k/lib/modules/$kver
  [ -f "$tmp/k/boot/vmlinuz-$kver" ] && [ -f "$kd/modules.builtin" ] || die "$kdeb: no vmlinuz or modules"
  # The package ships no modules.dep (its postinst runs depmod): make it here.
  depmod -b "$tmp/k" "$kver" || die "depmod failed for $kver"
  [ -x "$tmp/b/bin/busybox" ] || die "$bdeb: no bin/busybox"
  KIT=$KDIR/kit-$kver-f$KIT_FORMAT
  rm -rf "$KIT"; mkdir -p "$KIT"
  cp "$tmp/k/boot/vmlinuz-$kver" "$KIT/vmlinuz"
  cp "$tmp/b/bin/busybox" "$KIT/busybox"   # also the host side of guestfwd (busybox nc)
  stage=$tmp/root
  mkdir -p "$stage"/{bin,sbin,usr/bin,usr/sbin,dev,proc,sys,tmp,mnt,etc,lib/modules,zerofs}
  cp "$KIT/busybox" "$stage/bin/busybox"
  mknod -m 600 "$stage/dev/console" c 5 1
  mknod -m 666 "$stage/dev/null" c 1 3
  : >"$stage/etc/modules.order"
  mod_order "$kd" "${MODULES[@]}" >"$tmp/order" || die "module dependencies not resolvable in $kver"
  while read -r m; do
    out=$(basename "$m"); out=${out%.xz}; out=${out%.zst}; out=${out%.gz}
    case $m in
      *.ko.xz) xz -dc "$kd/$m" >"$stage/lib/modules/$out" ;;
      *.ko.zst) zstd -qdc "$kd/$m" >"$stage/lib/modules/$out" ;;
      *.ko.gz) gzip -dc "$kd/$m" >"$stage/lib/modules/$out" ;;
      *) cp "$kd/$m" "$stage/lib/modules/$out" ;;
    esac
    echo "$out" >>"$stage/etc/modules.order"
  done <"$tmp/order"
  ( cd "$stage" && find . -mindepth 1 | LC_ALL=C sort | cpio -o -H newc -R 0:0 --quiet ) |
    gzip -6 >"$KIT/base.cpio.gz"
  printf '%s\n' "kernel=$kpkg ($kver) $(basename "$kdeb")" "busybox=$(basename "$bdeb")" \
    "modules=$(tr '\n' ' ' <"$stage/etc/modules.order")" >"$KIT/VERSION"
  rm -rf "$tmp"; trap - EXIT
  touch "$KIT/.complete-$KIT_FORMAT"
  ln -sfn "$(basename "$KIT")" "$KDIR/current.tmp" && mv -T "$KDIR/current.tmp" "$KDIR/current"
  exec 9>&-
  log "kit ready in $(elapsed "$t0") s: $KIT"
}

# ---- one run ----

# The per-run cpio: /init, the nfs-mount helper, the settings and the test script. It is
# appended to the base initramfs (the kernel unpacks concatenated gzip'd cpios in order).
write_run_cpio() {   # write_run_cpio STAGE_DIR OUT
  local st=$1
  mkdir -p "$st/bin" "$st/zerofs"
  cat >"$st/init" <<'EOF'
#!/bin/busybox sh
/bin/busybox --install -s
export PATH=/bin:/sbin:/usr/bin:/usr/sbin HOME=/tmp TZ=UTC
mount -t proc proc /proc; mount -t sysfs sys /sys; mount -t devtmpfs dev /dev; mount -t tmpfs tmp /tmp
. /zerofs/settings
up() { cut -d' ' -f1 /proc/uptime; }
say() { echo "kclient: $*"; }
finish() {   # finish STATUS: the marker line the host looks for, then power off
  dmesg -n 1; sync
  echo; echo "ZEROFS-KCLIENT-EXIT=$1"
  poweroff -f; sleep 30
}
fail() { say "SETUP FAILED: $*"; finish 125; }
say "init at $(up)s (guest uptime)"
while read -r m; do insmod "/lib/modules/$m" || fail "insmod $m"; done </etc/modules.order
ip link set lo up && ip link set eth0 up && ip addr add $ZEROFS_GUEST_IP/24 dev eth0 ||
  fail "network set-up (eth0)"
mkdir -p "$ZEROFS_MNT"
if [ "$ZEROFS_AUTOMOUNT" = 1 ]; then
  say "mount -t $ZEROFS_MOUNT_TYPE -o $ZEROFS_MOUNT_OPTS $ZEROFS_MOUNT_SRC $ZEROFS_MNT"
  nfs-mount || fail "mount failed"
  say "mounted (NFS $ZEROFS_NFS_VERS) at $(up)s"
fi
say "running the test script"
cd /tmp && sh /zerofs/test.sh </dev/null; rc=$?
cd /
say "test script exited $rc at $(up)s"
if grep -q " $ZEROFS_MNT nfs" /proc/mounts; then
  umount "$ZEROFS_MNT" || { say "final umount of $ZEROFS_MNT failed"; [ $rc != 0 ] || rc=125; }
fi
finish $rc
EOF
  cat >"$st/bin/nfs-mount" <<'EOF'
#!/bin/busybox sh
# nfs-mount [DIR]: mount the test export at DIR (default $ZEROFS_MNT) with the run's options.
exec mount -t "$ZEROFS_MOUNT_TYPE" -o "$ZEROFS_MOUNT_OPTS" "$ZEROFS_MOUNT_SRC" "${1:-$ZEROFS_MNT}"
EOF
  chmod 755 "$st/init" "$st/bin/nfs-mount"
  cp "$SCRIPT" "$st/zerofs/test.sh"
  local f
  for f in "${ADD[@]}"; do install -m 755 "$f" "$st/bin/$(basename "$f")"; done
  {
    printf 'export %s\n' "ZEROFS_MNT=$MNT" "ZEROFS_NFS_VERS=$VERS" "ZEROFS_MOUNT_TYPE=$MTYPE" \
      "ZEROFS_MOUNT_SRC=$MSRC" "ZEROFS_GUEST_IP=$GUEST_IP" "ZEROFS_AUTOMOUNT=$AUTOMOUNT"
    printf "export ZEROFS_MOUNT_OPTS='%s'\n" "$MOPTS"
  } >"$st/zerofs/settings"
  ( cd "$st" && find . -mindepth 1 | LC_ALL=C sort | cpio -o -H newc -R 0:0 --quiet ) | gzip -1 >"$2"
}

# kill_forwarders WORKDIR: the guestfwd `nc`s of this run that outlived qemu (one whose guest
# connection was still open when qemu was killed keeps its host connection open).
kill_forwarders() {
  local f pid arg0
  for f in /proc/[0-9]*/cmdline; do
    arg0=""; { IFS= read -r -d '' arg0 <"$f"; } 2>/dev/null || true
    [ "$arg0" = "$1/nc" ] || continue
    pid=${f#/proc/}; kill -TERM "${pid%/cmdline}" 2>/dev/null || true
  done
}

cmd_run() {
  local nfs_port="" mnt_port="" export_path="" pseudo="" timeout_s=180 logf="" extra="" work
  local t0=$EPOCHREALTIME qpid rc status mounted
  SCRIPT=""; VERS=4.2; AUTOMOUNT=1; ADD=()
  while [ $# -gt 0 ]; do
    case $1 in
      --no-mount) AUTOMOUNT=0; shift; continue ;;
    esac
    [ $# -ge 2 ] || usage
    case $1 in
      --nfs-port) nfs_port=$2 ;;
      --mount-port) mnt_port=$2 ;;
      --export) export_path=$2 ;;
      --pseudo) pseudo=$2 ;;
      --script) SCRIPT=$2 ;;
      --vers) VERS=$2 ;;
      --timeout) timeout_s=$2 ;;
      --log) logf=$2 ;;
      --mount-opts) extra=$2 ;;
      --add) [ -f "$2" ] && [ -r "$2" ] || die "--add $2: not a readable file"; ADD+=("$2") ;;
      *) usage ;;
    esac
    shift 2
  done
  [ -n "$nfs_port" ] && [ -n "$SCRIPT" ] || usage
  [ -f "$SCRIPT" ] && [ -r "$SCRIPT" ] || die "--script $SCRIPT: not a readable file"
  [[ $timeout_s =~ ^[1-9][0-9]*$ ]] || die "bad --timeout '$timeout_s'"
  [[ $extra =~ ^[A-Za-z0-9=,._:/-]*$ ]] || die "bad --mount-opts '$extra'"
  for p in "$nfs_port" ${mnt_port:+"$mnt_port"}; do
    [[ $p =~ ^[0-9]+$ ]] && [ "$p" -ge 1 ] && [ "$p" -le 65535 ] || die "bad port '$p'"
  done
  case $VERS in
    3)
      [ -n "$mnt_port" ] && [ -n "$export_path" ] || die "--vers 3 needs --mount-port and --export"
      MTYPE=nfs; MSRC=$SERVER:$export_path
      MOPTS="vers=3,proto=tcp,port=$nfs_port,mountport=$mnt_port,mountproto=tcp,nolock,addr=$SERVER,mountaddr=$SERVER" ;;
    4|4.0|4.1|4.2)
      [ "$VERS" != 4 ] || VERS=4.0
      [ -n "$pseudo" ] || die "--vers $VERS needs --pseudo"
      MTYPE=nfs4; MSRC=$SERVER:$pseudo
      MOPTS="vers=$VERS,port=$nfs_port,addr=$SERVER,clientaddr=$GUEST_IP" ;;
    *) die "--vers must be 3, 4.0, 4.1 or 4.2" ;;
  esac
  [[ $MSRC =~ ^[A-Za-z0-9/._:+-]+$ ]] || die "export path '$MSRC' must contain only [A-Za-z0-9/._+-]"
  [ -z "$extra" ] || MOPTS+=",$extra"

  build_kit
  work=$(mktemp -d /tmp/zerofs-kclient.XXXXXX)
  [ -n "$logf" ] || logf=$work/console.log
  mkdir -p "$(dirname "$logf")"; : >"$logf"
  write_run_cpio "$work/stage" "$work/run.cpio.gz"
  cat "$KIT/base.cpio.gz" "$work/run.cpio.gz" >"$work/initrd"

  # qemu runs one `nc` per guest connection, each in its own session: a per-run name for
  # busybox lets kill_forwarders find exactly ours once qemu is gone.
  local fwd="" p
  ln -s "$KIT/busybox" "$work/nc"
  for p in "$nfs_port" ${mnt_port:+"$mnt_port"}; do
    fwd+=",guestfwd=tcp:$SERVER:$p-cmd:$work/nc 127.0.0.1 $p"
  done
  # TCG, not KVM: /dev/kvm here is a PVM host on which a stock kernel hangs.
  timeout -k 5 "$timeout_s" qemu-system-x86_64 -accel tcg -cpu max -smp 1 -m 512 \
    -nographic -vga none -no-reboot \
    -kernel "$KIT/vmlinuz" -initrd "$work/initrd" \
    -append "console=ttyS0 panic=-1 loglevel=4 mitigations=off rdinit=/init" \
    -netdev "user,id=n0,restrict=on,net=10.0.2.0/24$fwd" \
    -device virtio-net-pci,netdev=n0,romfile= \
    </dev/null >"$logf" 2>&1 &
  qpid=$!
  trap 'kill -TERM '"$qpid"' 2>/dev/null || true; wait '"$qpid"' 2>/dev/null; kill_forwarders '"$work"'
    rm -rf '"$work"'/{stage,initrd,run.cpio.gz,nc}; rmdir '"$work"' 2>/dev/null' EXIT
  trap 'exit 130' INT TERM
  rc=0; wait "$qpid" || rc=$?
  trap - EXIT INT TERM
  kill_forwarders "$work"
  status=$(tr -d '\r' <"$logf" | sed -n 's/^ZEROFS-KCLIENT-EXIT=\([0-9][0-9]*\)$/\1/p' | tail -n1)
  mounted=$(tr -d '\r' <"$logf" | sed -n 's/^kclient: mounted .* at \([0-9.]*\)s$/\1/p' | tail -n1)
  if [ -z "$status" ]; then
    if [ $rc = 124 ]; then status=124; log "TIMEOUT: the guest did not finish within ${timeout_s}s" >&2
    else status=125; log "qemu exited ($rc) without the guest's exit marker" >&2; fi
  fi
  log "NFS $VERS: status $status; mounted at ${mounted:-?} s guest uptime; whole run $(elapsed "$t0") s"
  rm -rf "$work/stage" "$work/initrd" "$work/run.cpio.gz" "$work/nc"
  if [ "$status" != 0 ]; then
    log "console log: $logf; its tail:" >&2
    tr -d '\r' <"$logf" | sed 's/\x1b\[[0-9;?]*[A-Za-z]//g' | tail -n 40 | sed 's/^/    /' >&2
  fi
  # The work dir holds nothing but the default log: kept only for a failed run.
  [ "$status" != 0 ] && [ "$logf" = "$work/console.log" ] || rm -rf "$work"
  return "$status"
}

[ $# -ge 1 ] || usage
case $1 in
  build) [ $# = 1 ] || usage; build_kit; cat "$KIT/VERSION" ;;
  run) shift; cmd_run "$@" ;;
  *) usage ;;
esac
