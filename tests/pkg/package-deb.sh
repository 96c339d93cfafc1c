#!/usr/bin/env bash
# ctest package_deb: the .deb that scripts/package.sh built (fixture package_build), checked and
# then really installed on this machine:
#   package-deb.sh SRC PKGDIR WORKDIR VERSION HAS_TOOL
# 1. the archive: lintian has no error; control fields and dependencies (every library the FSAL
#    links, nfs-ganesha pinned to 4.3); the exact file list, modes and owners; stripped binaries
#    without RPATH; /etc/ganesha/zerofs.conf a conffile;
# 2. dpkg -i; Debian's ganesha.nfsd started from the system paths with no Plugins_Dir (so it loads
#    /usr/lib/x86_64-linux-gnu/ganesha/libfsalzerofs.so itself) and the installed sample export
#    /etc/ganesha/zerofs.conf (its store moved to WORKDIR); a file written over NFSv3 and read
#    back over NFSv3 and NFSv4 with libnfs; the admin tool answers --help;
# 3. dpkg --purge: no file of the package is left, dpkg's status and the system's FSAL and
#    /etc/ganesha directories are as before, nfs-ganesha itself still installed.
# Refuses to run if the package, or any file it would install, is already on the system.
# Holds /run/lock/zerofs-system-packages.lock (other worktrees' test runs) besides ctest's
# RESOURCE_LOCK system_packages.
set -euo pipefail

[ $# = 5 ] || { echo "usage: package-deb.sh SRC PKGDIR WORKDIR VERSION HAS_TOOL" >&2; exit 2; }
SRC=$1 PKGDIR=$2 WORK=$3 VERSION=$4 HAS_TOOL=$5
. "$SRC/tests/pkg/pkg-common.sh"

FSAL_DIR=/usr/lib/x86_64-linux-gnu/ganesha
LOCK=/run/lock/zerofs-system-packages.lock

[ "$(id -u)" = 0 ] || fail "run as root (dpkg -i)"
debs=$(ls "$PKGDIR/${PKG}_${VERSION}"-*_amd64.deb 2>/dev/null || true)
[ -n "$debs" ] || fail "no ${PKG}_${VERSION}-*_amd64.deb in $PKGDIR (the package_build test makes it)"
[ "$(wc -l <<<"$debs")" = 1 ] || fail "several .deb files in $PKGDIR: $debs"
deb=$debs
rm -rf "$WORK"; mkdir -p "$WORK"
note "package: $deb"

# ---- 1. the archive --------------------------------------------------------------------------
note "lintian"
lint=$(lintian --display-info --fail-on error "$deb" 2>&1) || { echo "$lint" >&2; fail "lintian reports errors"; }
grep -v 'running with root privileges' <<<"$lint" || echo "(no tags)"

field() { dpkg-deb -f "$deb" "$1"; }
[ "$(field Package)" = "$PKG" ] || fail "Package: $(field Package)"
[[ $(field Version) =~ ^${VERSION//./\\.}-[0-9]+$ ]] || fail "Version: $(field Version), want $VERSION-<revision>"
[ "$(field Architecture)" = amd64 ] || fail "Architecture: $(field Architecture)"
[ "$(field Section)" = net ] || fail "Section: $(field Section), want net (as nfs-ganesha)"
[ "$(field Priority)" = optional ] || fail "Priority: $(field Priority)"
[ -n "$(field Maintainer)" ] && [ -n "$(field Description)" ] || fail "no Maintainer or Description"
depends=$(field Depends)
note "Depends: $depends"
# dep_has NAME [RELATION]: an entry of Depends is NAME (with exactly RELATION, if given)
# (whole outputs go through variables: with pipefail, grep -q or head exiting early could make
# the writer die of SIGPIPE and a pipeline fail or pass by accident)
dep_list=$(tr ',' '\n' <<<"$depends" | sed 's/^ *//; s/ *$//')
dep_names=$(sed 's/[ (].*//' <<<"$dep_list")
dep_has() { grep -qxF -- "$1${2:+ ($2)}" <<<"$dep_list"; }
dep_name() { grep -qxF -- "$1" <<<"$dep_names"; }
dep_has nfs-ganesha ">= 4.3" && dep_has nfs-ganesha "<< 4.4~" ||
  fail "Depends does not pin nfs-ganesha to 4.3 (>= 4.3, << 4.4~)"
for p in libcurl4 libssl3 libzstd1 libc6; do dep_name "$p" || fail "Depends lacks $p"; done

conffiles=$(dpkg-deb --ctrl-tarfile "$deb" | tar -xOf - ./conffiles)
[ "$conffiles" = /etc/ganesha/zerofs.conf ] || fail "conffiles: '$conffiles', want /etc/ganesha/zerofs.conf"

# file list, modes and owners (dpkg-deb -c: mode owner/group size date time ./path)
listing=$(dpkg-deb -c "$deb")
files=$(awk '$1 !~ /^d/ { sub(/^\./, "", $6); print $6 }' <<<"$listing" | LC_ALL=C sort)
same_list "the .deb's files" "$(expected_files deb)" "$files"
while read -r mode owner _ _ _ path; do
  path=${path#.}
  case $mode in
    d*) want=drwxr-xr-x ;;
    *) want=-rw-r--r--; [ "$path" != /usr/bin/zerofs ] || want=-rwxr-xr-x ;;
  esac
  [ "$mode" = "$want" ] && [ "$owner" = root/root ] || fail "$path: $mode $owner, want $want root/root"
done <<<"$listing"

x=$WORK/extract
dpkg-deb -x "$deb" "$x"
check_elf "$x$FSAL_DIR/libfsalzerofs.so"
[ "$HAS_TOOL" = 0 ] || check_elf "$x/usr/bin/zerofs"
# every library an ELF file links comes from a package the .deb depends on
ldcache=$(ldconfig -p)
for elf in "$x$FSAL_DIR/libfsalzerofs.so" $([ "$HAS_TOOL" = 0 ] || echo "$x/usr/bin/zerofs"); do
  for so in $(needed_libs "$elf"); do
    if [ "$so" = libganesha_nfsd.so.4.3 ]; then path=/usr/lib/ganesha/$so
    else path=$(awk -v so="$so" '$1 == so && /x86-64/ && !p { p = $NF } END { print p }' <<<"$ldcache"); fi
    [ -n "$path" ] || fail "${elf#"$x"} links $so, which this machine does not have"
    # merged /usr: the package may list the path under /lib or /usr/lib, as linked or resolved
    owner=""
    for f in "$path" "$(realpath "$path")" "/usr$path" "${path#/usr}"; do
      owner=$(dpkg -S "$f" 2>/dev/null | sed -n '1s/[:,].*//p') && [ -n "$owner" ] && break
    done
    [ -n "$owner" ] || fail "no package owns $path ($so)"
    dep_name "$owner" || fail "${elf#"$x"} links $so (package $owner), which Depends lacks"
    note "${elf#"$x"}: $so -> $owner"
  done
done

# ---- 2. install, serve, read back ---------------------------------------------------------------
exec 9>"$LOCK"
flock -w 900 9 || fail "$LOCK is held by another test run for 15 minutes"

status_of() { dpkg-query -W -f='${Status}' "$1" 2>/dev/null || true; }
case $(status_of "$PKG") in
  "" | "unknown ok not-installed" | "purge ok not-installed") ;;
  *) fail "$PKG is already known to dpkg here ($(status_of "$PKG")): refusing to replace or purge" \
          "it; remove it first (dpkg --purge $PKG) if it may go" ;;
esac
for f in $(expected_files deb); do
  [ ! -e "$f" ] || fail "$f already exists (copied by hand?): refusing to install over it"
done

# what must be the same after the purge
snapshot() {
  dpkg-query -W -f='${Package} ${Version} ${Status}\n' 'nfs-ganesha*' 2>/dev/null
  for d in "$FSAL_DIR" /etc/ganesha; do
    find "$d" -printf '%p %M %u:%g\n' | LC_ALL=C sort
    find "$d" -type f -exec sha256sum {} + | LC_ALL=C sort -k2
  done
}
before=$(snapshot)
[ "$(status_of nfs-ganesha)" = "install ok installed" ] || fail "nfs-ganesha is not installed (scripts/setup.sh)"

installed=0 gdir=$WORK/ganesha
cleanup() {
  local rc=$?
  bash "$SRC/scripts/ganesha.sh" stop "$gdir" >/dev/null 2>&1 || true
  if [ $installed = 1 ]; then
    echo "-- cleaning up: dpkg --purge $PKG" >&2
    dpkg --purge "$PKG" >&2 || true
  fi
  exit $rc
}
trap cleanup EXIT
trap 'exit 1' INT TERM

# dpkg waits for nobody: retry while apt or dpkg (another engineer's set-up) holds its lock
dpkg_locked() {
  local i out
  for i in $(seq 60); do
    if out=$(dpkg "$@" 2>&1); then printf '%s\n' "$out"; return 0; fi
    grep -qi 'lock' <<<"$out" || { printf '%s\n' "$out" >&2; return 1; }
    sleep 2
  done
  printf '%s\n' "$out" >&2; return 1
}

note "dpkg -i"
installed=1
dpkg_locked -i "$deb" || fail "dpkg -i $deb failed"
[ "$(status_of "$PKG")" = "install ok installed" ] || fail "after dpkg -i: $(status_of "$PKG")"
dpkg --verify "$PKG" || fail "dpkg --verify $PKG reports changed files"
owned=$(dpkg -L "$PKG" | while read -r f; do [ -d "$f" ] || echo "$f"; done | LC_ALL=C sort)
same_list "dpkg -L $PKG (files)" "$(expected_files deb)" "$owned"
[ "$(stat -c %a "$FSAL_DIR/libfsalzerofs.so")" = 644 ] || fail "$FSAL_DIR/libfsalzerofs.so is not 0644"

# ganesha from the system paths: no Plugins_Dir; the installed sample export, its local store
# moved into WORKDIR
snippet=$WORK/export.conf
sed "s|^\([[:space:]]*Directory = \).*|\1\"$WORK/store\";|" /etc/ganesha/zerofs.conf >"$snippet"
grep -q "Directory = \"$WORK/store\";" "$snippet" || fail "/etc/ganesha/zerofs.conf has no Directory line"
grep -q 'Name = ZEROFS;' "$snippet" || fail "/etc/ganesha/zerofs.conf does not use FSAL ZEROFS"
note "ganesha.nfsd with no Plugins_Dir and /etc/ganesha/zerofs.conf"
bash "$SRC/scripts/ganesha.sh" start "$gdir" --fsal-dir system --export-snippet "$snippet"
! grep -qi 'plugins_dir *=' "$gdir/ganesha.conf" || fail "ganesha.conf sets Plugins_Dir"
. "$gdir/env"
[ "$(readlink "/proc/$GANESHA_PID/exe")" = /usr/bin/ganesha.nfsd ] || fail "ganesha is not /usr/bin/ganesha.nfsd"
grep -q " $FSAL_DIR/libfsalzerofs.so\$" "/proc/$GANESHA_PID/maps" ||
  fail "ganesha (pid $GANESHA_PID) has not mapped $FSAL_DIR/libfsalzerofs.so"

# 200 KiB of random bytes: four 64 KiB chunks, the last partial
head -c 204800 /dev/urandom >"$WORK/in.bin"
url() { echo "nfs://127.0.0.1/zerofs/$1?version=$2&nfsport=$GANESHA_NFS_PORT&mountport=$GANESHA_MOUNT_PORT"; }
nfs-cp "$WORK/in.bin" "$(url pkg-test.bin 3)" >/dev/null || fail "nfs-cp to the export failed"
for v in 3 4; do
  nfs-cat "$(url pkg-test.bin $v)" >"$WORK/out-v$v.bin" || fail "nfs-cat over NFSv$v failed"
  cmp "$WORK/in.bin" "$WORK/out-v$v.bin" || fail "NFSv$v read back other bytes than were written"
  note "NFSv$v: read back the 204800 bytes written"
done
[ -n "$(find "$WORK/store" -type f -print -quit)" ] || fail "the store $WORK/store holds no object"

if [ "$HAS_TOOL" = 1 ]; then
  out=$(/usr/bin/zerofs --help 2>&1) || fail "/usr/bin/zerofs --help failed: $out"
  [ -n "$out" ] || fail "/usr/bin/zerofs --help printed nothing"
  [ "$(MANWIDTH=80 man -l /usr/share/man/man1/zerofs.1.gz 2>/dev/null | wc -l)" -gt 5 ] ||
    fail "man -l /usr/share/man/man1/zerofs.1.gz renders nothing"
  note "/usr/bin/zerofs --help and its man page work"
fi

bash "$SRC/scripts/ganesha.sh" stop "$gdir"
# gone, or a zombie nobody reaped yet (its parent exited; the command line is empty)
[ -z "$(tr -d '\0' <"/proc/$GANESHA_PID/cmdline" 2>/dev/null)" ] ||
  fail "ganesha (pid $GANESHA_PID) still runs after stop"

# ---- 3. purge: nothing left ---------------------------------------------------------------------
note "dpkg --purge"
dpkg_locked --purge "$PKG" || fail "dpkg --purge $PKG failed"
installed=0
case $(status_of "$PKG") in
  "" | "unknown ok not-installed" | "purge ok not-installed") ;;
  *) fail "after the purge dpkg says $PKG is: $(status_of "$PKG")" ;;
esac
for f in $(expected_files deb) "$DOC" /var/lib/dpkg/info/"$PKG".list /var/lib/dpkg/info/"$PKG".md5sums; do
  [ ! -e "$f" ] || fail "$f is left after the purge"
done
after=$(snapshot)
[ "$before" = "$after" ] || {
  diff <(echo "$before") <(echo "$after") >&2 || true
  fail "the system differs from before the install (above: nfs-ganesha's status, $FSAL_DIR, /etc/ganesha)"
}
[ "$(status_of nfs-ganesha)" = "install ok installed" ] || fail "nfs-ganesha is no longer installed"
note "purged; nfs-ganesha, $FSAL_DIR and /etc/ganesha as before"
echo "PASS"
