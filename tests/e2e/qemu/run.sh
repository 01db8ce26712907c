#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# Boot a Debian 6.1 guest under QEMU (TCG) and run one workload plug-in in it.
#
#   run.sh --workload NAME --out DIR [--memory MB] [--build BUILD_DIR]
#          [--timeout S] [--data-mb MB] [--env KEY=VALUE]... [--keep-work]
#          [--virtio-serial SOCKET]
#
# Builds the initramfs (mkinitrd.sh), makes a fresh ext4 data disk and a raw
# output disk, boots qemu-system-x86_64 -M q35 with TCG, waits (with a
# timeout) and unpacks the guest's /out into DIR.  Exits non-zero, loudly, on
# a timeout, a guest that reports failure, or results that do not check out.
# --virtio-serial (or a plug-in line "# e2e-virtio-serial: yes") gives the
# guest a virtio-serial port org.memshare.0 whose host side is QEMU's chardev
# socket SOCKET (default WORK/org.memshare.0.sock), for a memshare-hostd on
# this machine; never a vhost-vsock device.
# README.md in this directory has the details.
set -euo pipefail

# All of it in main(): bash then reads the whole script before running it,
# so editing run.sh does not break runs already going.
main() {
here=$(cd "$(dirname "$0")" && pwd)
src=$(cd "$here/../../.." && pwd)

usage() {
	sed -n '5,7p' "$0" | sed 's/^# \{0,1\}//' >&2
	echo "workloads: $(cd "$here/workloads" && ls *.sh | sed 's/\.sh$//' | tr '\n' ' ')" >&2
	exit 2
}

workload=; out=; memory=512; build=$src/build; timeout_s=; data_mb=768; keep=0; vser=
envs=()
while [ $# -gt 0 ]; do
	case "$1" in
	--workload) workload=${2:?}; shift 2 ;;
	--out) out=${2:?}; shift 2 ;;
	--memory) memory=${2:?}; shift 2 ;;
	--build) build=${2:?}; shift 2 ;;
	--timeout) timeout_s=${2:?}; shift 2 ;;
	--data-mb) data_mb=${2:?}; shift 2 ;;
	--env)
		[[ "${2:-}" =~ ^[A-Za-z_][A-Za-z0-9_]*=[^[:space:]\"]*$ ]] ||
			{ echo "run.sh: --env wants KEY=VALUE without spaces" >&2; exit 2; }
		envs+=("$2"); shift 2 ;;
	--keep-work) keep=1; shift ;;
	--virtio-serial) vser=${2:?}; shift 2 ;;
	-h|--help) usage ;;
	*) echo "run.sh: unknown argument $1" >&2; usage ;;
	esac
done
[ -n "$workload" ] && [ -n "$out" ] || usage
plugin=$here/workloads/$workload.sh
[ -f "$plugin" ] || { echo "run.sh: no workload plug-in $plugin" >&2; usage; }
[[ "$memory" =~ ^[0-9]+$ ]] || { echo "run.sh: --memory wants MiB" >&2; exit 2; }
if [ -z "$timeout_s" ]; then
	# A plug-in declares its own bound: "# e2e-timeout-s: N".
	timeout_s=$(sed -n 's/^# e2e-timeout-s: *\([0-9][0-9]*\).*/\1/p' "$plugin" | sed -n 1p)
	timeout_s=${timeout_s:-900}
fi
# A plug-in that wants a virtio-serial port says "# e2e-virtio-serial: yes".
if [ -z "$vser" ] && grep -q '^# e2e-virtio-serial: *yes' "$plugin"; then
	vser=WORK
fi
for tool in qemu-system-x86_64 mkfs.ext4 busybox tar; do
	command -v $tool >/dev/null ||
		{ echo "run.sh: $tool is missing (scripts/deps e2e installs it)" >&2; exit 1; }
done

kroot=${KERNEL_ROOT:-$("$here/fetch-kernel.sh")}
kver=$(ls "$kroot/lib/modules" | sed -n 1p)
work=$(mktemp -d "${TMPDIR:-/tmp}/memshare-e2e.XXXXXX")
cleanup() { [ "$keep" = 1 ] && echo "run.sh: work files kept in $work" >&2 || rm -rf "$work"; }
trap cleanup EXIT

KERNEL_ROOT=$kroot "$here/mkinitrd.sh" "$build" "$work/initrd.gz"
truncate -s "${data_mb}M" "$work/data.img"
mkfs.ext4 -q -F -L msdata "$work/data.img"
truncate -s 64M "$work/out.img"

append="console=ttyS0 psi=1 panic=-1 quiet ms_workload=$workload"
for e in "${envs[@]}"; do append+=" $e"; done
qemu=(qemu-system-x86_64 -M q35 -accel tcg -cpu max -smp 1 -m "$memory"
	-nodefaults -no-user-config -nographic -serial stdio -monitor none -no-reboot
	-kernel "$kroot/boot/vmlinuz-$kver" -initrd "$work/initrd.gz" -append "$append"
	-drive "file=$work/data.img,if=none,id=data,format=raw,cache=unsafe"
	-device virtio-blk-pci,drive=data,serial=msdata
	-drive "file=$work/out.img,if=none,id=out,format=raw"
	-device virtio-blk-pci,drive=out,serial=msout
	-device virtio-balloon-pci,id=balloon0)
if [ -n "$vser" ]; then
	# The port libvirt would make for <channel type='unix'> with target
	# org.memshare.0: QEMU listens on the socket (wait=off: the guest boots
	# without a host side; one host side at a time connects to it).
	[ "$vser" = WORK ] && vser=$work/org.memshare.0.sock
	case "$vser" in /*) ;; *) vser=$PWD/$vser ;; esac
	[ ${#vser} -lt 108 ] || { echo "run.sh: --virtio-serial $vser: path too long for a unix socket" >&2; exit 2; }
	[ ! -e "$vser" ] || { echo "run.sh: --virtio-serial $vser exists already" >&2; exit 2; }
	mkdir -p "$(dirname "$vser")"
	qemu+=(-device virtio-serial-pci,id=vser0
		-chardev "socket,id=ms0,path=$vser,server=on,wait=off"
		-device virtserialport,bus=vser0.0,chardev=ms0,name=org.memshare.0)
fi

echo "run.sh: workload $workload, ${memory} MiB, kernel $kver, timeout ${timeout_s} s" >&2
[ -z "$vser" ] || echo "run.sh: virtio-serial port org.memshare.0: host side at $vser" >&2
t0=$(date +%s)
timeout -k 10 "$timeout_s" "${qemu[@]}" < /dev/null > "$work/serial.log" 2>&1 &
qpid=$!
# Echo the guest's progress lines while it runs.
shown=0
while kill -0 $qpid 2>/dev/null; do
	sleep 2
	n=$(wc -l < "$work/serial.log")
	if [ "$n" -gt "$shown" ]; then
		sed -n "$((shown + 1)),${n}p" "$work/serial.log" | grep -ao '@@.*' | tr -d '\r' >&2 || true
		shown=$n
	fi
done
qrc=0
wait $qpid || qrc=$?
t1=$(date +%s)
sed -n "$((shown + 1)),\$p" "$work/serial.log" | grep -ao '@@.*' | tr -d '\r' >&2 || true
echo "run.sh: qemu exited $qrc after $((t1 - t0)) s" >&2

fail() {
	echo "run.sh: FAILED: $*" >&2
	echo "---- last lines of the serial console ($work/serial.log) ----" >&2
	tail -n 40 "$work/serial.log" | tr -d '\r' >&2
	[ -d "$out" ] && cp "$work/serial.log" "$out/serial.log" 2>/dev/null
	keep=1          # cleanup() keeps the disks and the serial log, and says where
	exit 1
}

result=$(grep -ao '@@E2E-RESULT .*' "$work/serial.log" | tail -1 | tr -d '\r' || true)
extract() { # unpack the guest's tar into $out (replacing an older result)
	local size md5 new
	size=$(sed -n 's/.* tar_bytes=\([0-9]*\).*/\1/p' <<< "$result")
	md5=$(sed -n 's/.* tar_md5=\([0-9a-f]*\).*/\1/p' <<< "$result")
	[ -n "$size" ] && [ "$(head -c "$size" "$work/out.img" | md5sum | cut -d' ' -f1)" = "$md5" ] ||
		return 1
	if [ -d "$out" ] && [ -n "$(ls -A "$out")" ] && [ ! -f "$out/result.txt" ]; then
		echo "run.sh: $out exists and is not an e2e result; not replacing it" >&2
		return 1
	fi
	new=$out.new.$$
	rm -rf "$new" && mkdir -p "$new"
	tar -xf "$work/out.img" -C "$new"
	cp "$work/serial.log" "$new/serial.log"
	{
		echo "workload=$workload"
		echo "memory_mib=$memory"
		echo "kernel_root=$kroot"
		echo "kernel_package=$(tr '\n' ' ' < "$kroot/.package" 2>/dev/null)"
		echo "qemu=$(qemu-system-x86_64 --version | sed -n 1p)"
		echo "qemu_cmdline=${qemu[*]}"
		echo "virtio_serial=${vser:-none}"
		echo "wall_seconds=$((t1 - t0))"
		echo "qemu_exit=$qrc"
		echo "result=$result"
	} | sed "s|$work/|WORK/|g" > "$new/run-info.txt"
	rm -rf "$out"
	mv "$new" "$out"
}

if [ "$qrc" = 124 ] || [ "$qrc" = 137 ]; then
	fail "timeout after ${timeout_s} s (no poweroff)"
fi
[ -n "$result" ] || fail "the guest printed no @@E2E-RESULT line (qemu exit $qrc)"
extract || fail "cannot read the guest's results from the output disk ($result)"
case "$result" in
*" status=ok "*) ;;
*) fail "the guest reports failure: $result (results in $out)" ;;
esac
echo "run.sh: ok, results in $out ($(find "$out" -type f | wc -l) files, $((t1 - t0)) s)" >&2
}

main "$@"
