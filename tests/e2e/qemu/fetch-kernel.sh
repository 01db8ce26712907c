#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# Fetch a Debian 6.1 cloud kernel for the QEMU end-to-end harness and unpack
# it (never install it: nothing goes to /boot).  Prints the kernel root, a
# directory holding boot/vmlinuz-KVER and lib/modules/KVER/.
#
#   fetch-kernel.sh [PACKAGE]
#
# PACKAGE (or $MEMSHARE_E2E_KERNEL_PKG) pins the package, e.g.
# linux-image-6.1.0-57-cloud-amd64; by default the one the
# linux-image-cloud-amd64 meta-package points at when it is a 6.1 kernel,
# else the newest linux-image-6.1.0-N-cloud-amd64 apt knows.  Cache:
# ${MEMSHARE_E2E_CACHE:-/var/cache/memshare-e2e}/kernels/PACKAGE.  Idempotent:
# a kernel already unpacked there is reused without asking apt.
set -euo pipefail

cache=${MEMSHARE_E2E_CACHE:-/var/cache/memshare-e2e}
pkg=${1:-${MEMSHARE_E2E_KERNEL_PKG:-}}

say() { echo "fetch-kernel: $*" >&2; }
die() { say "$*"; exit 1; }

valid() { # valid DIR: an unpacked kernel with a vmlinuz and its modules
	[ -f "$1/.complete" ] && ls "$1"/boot/vmlinuz-* >/dev/null 2>&1 &&
		[ -d "$1/lib/modules" ]
}

pick_package() {
	local p
	# The meta-package tracks the current ABI of the release.
	p=$(apt-cache depends linux-image-cloud-amd64 2>/dev/null |
		sed -n 's/^ *Depends: \(linux-image-6\.1\.0-[0-9]*-cloud-amd64\)$/\1/p' | sed -n 1p || true)
	if [ -n "$p" ] && apt-cache show "$p" >/dev/null 2>&1; then
		echo "$p"
		return
	fi
	apt-cache search --names-only '^linux-image-6\.1\.0-[0-9]+-cloud-amd64$' 2>/dev/null |
		awk '{print $1}' | sort -V | tail -n 1 || true
}

if [ -z "$pkg" ]; then
	# Offline or no apt lists: reuse whatever is already unpacked.
	for d in $(ls -d "$cache"/kernels/linux-image-6.1.*-cloud-amd64 2>/dev/null | sort -V -r); do
		if valid "$d" && ! apt-cache show linux-image-cloud-amd64 >/dev/null 2>&1; then
			echo "$d"
			exit 0
		fi
	done
	pkg=$(pick_package)
	if [ -z "$pkg" ]; then
		say "apt knows no linux-image-6.1.0-N-cloud-amd64; running apt-get update"
		apt-get update -qq >&2 || true
		pkg=$(pick_package)
	fi
	[ -n "$pkg" ] || die "no Debian 6.1 cloud kernel package found (apt-cache search 'linux-image-6.1.*-cloud-amd64')"
fi
case "$pkg" in
linux-image-*) ;;
*) die "'$pkg' is not a linux-image package" ;;
esac

root=$cache/kernels/$pkg
if valid "$root"; then
	echo "$root"
	exit 0
fi

mkdir -p "$cache/kernels"
work=$(mktemp -d "$cache/kernels/.fetch.XXXXXX")
trap 'rm -rf "$work"' EXIT
say "downloading $pkg"
# apt-get download writes into the current directory; as root it drops to
# the _apt user, which must be able to write there.
chmod 0777 "$work"
(cd "$work" && apt-get download -q "$pkg" >&2) || die "apt-get download $pkg failed"
deb=$(ls "$work"/*.deb 2>/dev/null | sed -n 1p || true)
[ -n "$deb" ] || die "apt-get download $pkg left no .deb"
mkdir "$work/root"
dpkg-deb -x "$deb" "$work/root"
ls "$work"/root/boot/vmlinuz-* >/dev/null 2>&1 || die "$deb has no boot/vmlinuz-*"
dpkg-deb -f "$deb" Package Version > "$work/root/.package"
touch "$work/root/.complete"
rm -rf "$root"
mv "$work/root" "$root"
say "unpacked $(basename "$deb") into $root"
echo "$root"
