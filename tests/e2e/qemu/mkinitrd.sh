#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# Build the guest initramfs of the QEMU end-to-end harness.
#
#   mkinitrd.sh BUILD_DIR OUT
#
# BUILD_DIR is a meson build of this project (agents, tools and tests on).
# The kernel comes from $KERNEL_ROOT (an unpacked linux-image .deb) or, when
# unset, from fetch-kernel.sh.  OUT gets a gzipped newc cpio holding:
#   /bin/busybox (static; applets installed at boot), the project's programs
#   memshare-hostd, memshare-guestd, memsharectl and memshare-e2e-workload,
#   the shared libraries ldd lists for them (and the dynamic loader),
#   /lib/modules/KVER/*.ko of the virtio (and vsock) stack, /init (init.sh),
#   /e2e/lib.sh and /e2e/workloads/*.sh.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
build=${1:?usage: mkinitrd.sh BUILD_DIR OUT}
out=${2:?usage: mkinitrd.sh BUILD_DIR OUT}
build=$(cd "$build" && pwd)
busybox=${BUSYBOX:-/bin/busybox}

die() { echo "mkinitrd: $*" >&2; exit 1; }

# Modules, in load order (virtio_pci needs both transports' helpers).
modules=(virtio_ring virtio virtio_pci_modern_dev virtio_pci_legacy_dev virtio_pci
	 virtio_blk virtio_console virtio_balloon
	 vsock vmw_vsock_virtio_transport_common vsock_loopback)

progs=(
	"agents/memshare-hostd"
	"agents/memshare-guestd"
	"tools/memsharectl"
	"tests/e2e/qemu/memshare-e2e-workload"
)

kroot=${KERNEL_ROOT:-$("$here/fetch-kernel.sh")}
[ -d "$kroot/lib/modules" ] || die "$kroot is not an unpacked kernel (no lib/modules)"
kver=$(ls "$kroot/lib/modules" | sed -n 1p)
[ -f "$kroot/boot/vmlinuz-$kver" ] || die "no $kroot/boot/vmlinuz-$kver"
# (no "| grep -q" under pipefail: grep quits early, the writer gets SIGPIPE)
applets=$("$busybox" --list 2>/dev/null || true)
grep -qx cpio <<< "$applets" || die "$busybox is not a busybox with cpio (apt-get install busybox-static)"
case "$(ldd "$busybox" 2>&1 || true)" in
*"not a dynamic"*) ;;
*) die "$busybox is not static (apt-get install busybox-static)" ;;
esac

stage=$(mktemp -d "${TMPDIR:-/tmp}/memshare-initrd.XXXXXX")
trap 'rm -rf "$stage"' EXIT
mkdir -p "$stage"/{bin,sbin,lib,lib64,proc,sys,dev,run,tmp,out,mnt/data,etc,e2e/workloads}
mkdir -p "$stage/lib/modules/$kver"

install -m 0755 "$busybox" "$stage/bin/busybox"

# The project's programs and the libraries they need: the loader at its own
# path (it is written into each ELF), every other library in /lib (the
# programs' RUNPATH $ORIGIN/../lib is /lib from /bin; init also sets
# LD_LIBRARY_PATH=/lib).
for p in "${progs[@]}"; do
	[ -x "$build/$p" ] || die "$build/$p is missing: build with meson (tests and agents on)"
	install -m 0755 "$build/$p" "$stage/bin/"
	while read -r lib; do
		case "$lib" in
		*ld-linux*) mkdir -p "$stage$(dirname "$lib")"; cp -L "$lib" "$stage$lib" ;;
		*) cp -L "$lib" "$stage/lib/$(basename "$lib")" ;;
		esac
	done < <(ldd "$build/$p" | awk '/=> \// {print $3} /^\t\/[^ ]+ \(/ {print $1}')
done
if grep -q 'not found' <<< "$(ldd "$build/agents/memshare-hostd" 2>&1)"; then
	die "ldd cannot resolve memshare-hostd's libraries: $(ldd "$build/agents/memshare-hostd" | grep 'not found')"
fi

# The initramfs lives in the guest's RAM (as unevictable shmem): say when
# the libraries weigh (a hostd built with libvirt pulls in about 60 MiB).
libkib=$(du -sk "$stage/lib" | cut -f1)
if [ "$libkib" -gt 20480 ]; then
	echo "mkinitrd: warning: $((libkib / 1024)) MiB of libraries end up in guest RAM;" \
		"configure the build with -Dlibvirt=disabled" >&2
fi

cp "$kroot/lib/modules/$kver/modules.builtin" "$stage/lib/modules/$kver/"
: > "$stage/lib/modules/$kver/load-order"
for m in "${modules[@]}"; do
	f=$(find "$kroot/lib/modules/$kver" -name "$m.ko" | sed -n 1p)
	if [ -n "$f" ]; then
		cp "$f" "$stage/lib/modules/$kver/"
		echo "$m" >> "$stage/lib/modules/$kver/load-order"
	elif grep -q "/$m.ko\$" "$kroot/lib/modules/$kver/modules.builtin"; then
		echo "mkinitrd: $m is built in" >&2
	else
		die "module $m is neither in $kroot/lib/modules/$kver nor built in"
	fi
done

install -m 0755 "$here/init.sh" "$stage/init"
install -m 0644 "$here/lib.sh" "$stage/e2e/lib.sh"
for w in "$here"/workloads/*.sh; do
	install -m 0755 "$w" "$stage/e2e/workloads/"
done
echo "root:x:0:0:root:/:/bin/sh" > "$stage/etc/passwd"
echo "root:x:0:" > "$stage/etc/group"
{
	echo "kernel_package=$(cat "$kroot/.package" 2>/dev/null | tr '\n' ' ')"
	echo "kernel_release=$kver"
	echo "build_dir=$build"
	echo "harness_commit=$(git -C "$here" rev-parse HEAD 2>/dev/null || echo unknown)"
	echo "harness_changed_files=$(git -C "$here" status --porcelain -- . 2>/dev/null | grep -c . || true)"
	echo "initrd_built=$(date -u +%Y-%m-%dT%H:%M:%SZ)"
} > "$stage/e2e/build-info"

(cd "$stage" && find . | sort | "$busybox" cpio -o -H newc 2>/dev/null | gzip -1) > "$out.tmp"
mv "$out.tmp" "$out"
echo "mkinitrd: $out ($(du -k "$out" | cut -f1) KiB, kernel $kver)" >&2
