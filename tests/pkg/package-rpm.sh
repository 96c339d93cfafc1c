#!/usr/bin/env bash
# ctest package_rpm: the .rpm that scripts/package.sh built (fixture package_build), checked with
# rpm -qp (this machine is Debian: nothing is installed):
#   package-rpm.sh SRC PKGDIR WORKDIR VERSION HAS_TOOL
# - name, version-release, arch, license;
# - rpm -qlp: the same files as the .deb with Fedora/EL's paths (the FSAL in /usr/lib64/ganesha,
#   the license in /usr/share/licenses); it owns no directory but its own doc and license ones;
#   modes and owners; /etc/ganesha/zerofs.conf %config(noreplace), LICENSE %license;
# - rpm -qp --requires: nfs-ganesha pinned to 4.3, the Fedora packages of the libraries, and the
#   soname of every library the packaged FSAL links;
# - the packaged binaries: stripped, no RPATH.
set -euo pipefail

[ $# = 5 ] || { echo "usage: package-rpm.sh SRC PKGDIR WORKDIR VERSION HAS_TOOL" >&2; exit 2; }
SRC=$1 PKGDIR=$2 WORK=$3 VERSION=$4 HAS_TOOL=$5
. "$SRC/tests/pkg/pkg-common.sh"

rpms=$(ls "$PKGDIR/$PKG-$VERSION"-*.x86_64.rpm 2>/dev/null || true)
[ -n "$rpms" ] || fail "no $PKG-$VERSION-*.x86_64.rpm in $PKGDIR (the package_build test makes it)"
[ "$(wc -l <<<"$rpms")" = 1 ] || fail "several .rpm files in $PKGDIR: $rpms"
rpm=$rpms
rm -rf "$WORK"; mkdir -p "$WORK"
note "package: $rpm"

q() { rpm -qp --nosignature "$@" "$rpm"; }
[ "$(q --qf '%{NAME}')" = "$PKG" ] || fail "Name: $(q --qf '%{NAME}')"
[ "$(q --qf '%{VERSION}')" = "$VERSION" ] || fail "Version: $(q --qf '%{VERSION}'), want $VERSION"
[[ $(q --qf '%{RELEASE}') =~ ^[0-9]+$ ]] || fail "Release: $(q --qf '%{RELEASE}')"
[ "$(q --qf '%{ARCH}')" = x86_64 ] || fail "Arch: $(q --qf '%{ARCH}')"
[ "$(q --qf '%{LICENSE}')" = LGPL-3.0-or-later ] || fail "License: $(q --qf '%{LICENSE}')"
[ "$(q --qf '%{PREFIXES}')" = "(none)" ] || fail "the package is relocatable: $(q --qf '%{PREFIXES}')"

note "rpm -qlp"
q -l
# mode user group flags=FLAGS path, one line per entry (FLAGS is empty for plain files)
entries=$(q --qf '[%{FILEMODES:perms} %{FILEUSERNAME} %{FILEGROUPNAME} flags=%{FILEFLAGS:fflags} %{FILENAMES}\n]')
files=$(awk '$1 !~ /^d/ { print $5 }' <<<"$entries" | LC_ALL=C sort)
same_list "rpm -qlp (files)" "$(expected_files rpm)" "$files"
dirs=$(awk '$1 ~ /^d/ { print $5 }' <<<"$entries" | LC_ALL=C sort)
same_list "rpm -qlp (directories)" \
  "$(printf '%s\n' "$DOC" "$DOC/examples" "/usr/share/licenses/$PKG" | LC_ALL=C sort)" "$dirs"
while read -r mode user group flags path; do
  case $mode in
    d*) want=drwxr-xr-x ;;
    *) want=-rw-r--r--; [ "$path" != /usr/bin/zerofs ] || want=-rwxr-xr-x ;;
  esac
  [ "$mode" = "$want" ] && [ "$user:$group" = root:root ] || fail "$path: $mode $user:$group, want $want root:root"
  flags=${flags#flags=}
  case $path in
    /etc/ganesha/zerofs.conf) [ "$flags" = cn ] || fail "$path: flags '$flags', want %config(noreplace) (cn)" ;;
    /usr/share/licenses/$PKG/LICENSE) [[ $flags == *l* ]] || fail "$path: flags '$flags', want %license (l)" ;;
  esac
done <<<"$entries"

note "rpm -qp --requires"
requires=$(q --requires)
echo "$requires"
req_has() { grep -qxF -- "$1" <<<"$requires" || fail "Requires lacks '$1'"; }
req_has "nfs-ganesha >= 4.3"
req_has "nfs-ganesha < 4.4"
for p in libcurl openssl-libs libzstd expat; do req_has "$p"; done

x=$WORK/extract
mkdir -p "$x"
(cd "$x" && rpm2cpio "$rpm" | cpio -idm --quiet)
so=$x/usr/lib64/ganesha/libfsalzerofs.so
check_elf "$so"
[ "$HAS_TOOL" = 0 ] || check_elf "$x/usr/bin/zerofs"
# rpmbuild's own dependency generator saw every library the FSAL links
for lib in $(needed_libs "$so"); do req_has "$lib()(64bit)"; done
cmp "$x/usr/share/licenses/$PKG/LICENSE" "$SRC/LICENSE" || fail "the packaged LICENSE is not the tree's"
echo "PASS"
