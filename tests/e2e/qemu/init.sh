#!/bin/busybox sh
# SPDX-License-Identifier: LGPL-2.1-or-later
# /init of the QEMU end-to-end guest (tests/e2e/qemu/mkinitrd.sh puts it in
# the initramfs).  Sets the guest up, runs the workload plug-in named by the
# kernel command line (ms_workload=NAME: /e2e/workloads/NAME.sh), writes
# /out as a plain tar to the disk with serial "msout" and powers off.
#
# Serial console protocol (run.sh reads it):
#   "@@ t=SECONDS message"           progress (SECONDS = guest uptime)
#   "@@E2E-RESULT status=ok|fail rc=N tar_bytes=N tar_md5=HEX reason=..."
#                                    exactly once, last; run.sh fails unless ok
# Any other KEY=VALUE of the command line reaches the plug-in as environment.
/bin/busybox --install -s /bin
export PATH=/bin:/sbin LD_LIBRARY_PATH=/lib HOME=/ TERM=dumb
umask 022

mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
mount -t debugfs debugfs /sys/kernel/debug
mkdir -p /sys/fs/cgroup && mount -t cgroup2 cgroup2 /sys/fs/cgroup
mount -t tmpfs -o mode=0755,size=16m tmpfs /run
hostname "e2e-${ms_workload:-none}"

OUT=/out
mkdir -p $OUT /tmp /mnt/data
log() { echo "@@ t=$(cut -d' ' -f1 /proc/uptime) $*" | tee -a $OUT/init.log; }
FAIL=

fail() { log "FAIL: $*"; FAIL="${FAIL:+$FAIL; }$*"; }

finish() {
	rc=$1
	dmesg > $OUT/dmesg.txt 2>/dev/null
	cat /proc/meminfo > $OUT/meminfo.end 2>/dev/null
	cat /proc/vmstat > $OUT/vmstat.end 2>/dev/null
	status=ok
	[ "$rc" = 0 ] && [ -z "$FAIL" ] || status=fail
	[ -n "$OUT_DEV" ] || { status=fail; FAIL="${FAIL:+$FAIL; }no output disk"; }
	echo "status=$status rc=$rc reason=${FAIL:-none}" > $OUT/result.txt
	sync
	tar -cf /tmp/out.tar -C $OUT . 2>/dev/null
	sz=$(wc -c < /tmp/out.tar)
	md5=$(md5sum < /tmp/out.tar | cut -d' ' -f1)
	if [ -n "$OUT_DEV" ]; then
		dd if=/tmp/out.tar of=/dev/$OUT_DEV bs=1M conv=fsync 2>/dev/null ||
			{ status=fail; FAIL="${FAIL:+$FAIL; }dd to /dev/$OUT_DEV failed"; }
		sync
	fi
	reason=$(echo "${FAIL:-none}" | tr ' ' '_')
	echo "@@E2E-RESULT status=$status rc=$rc tar_bytes=$sz tar_md5=$md5 reason=$reason"
	sleep 1
	poweroff -f
	sleep 10
}

log "init: kernel $(uname -r), cmdline: $(cat /proc/cmdline)"

# --- modules: the virtio stack (virtio_console: virtio-serial ports), then
# vsock with its loopback transport (AF_VSOCK inside the guest, CID 1) ---
KV=$(uname -r)
while read -r m; do
	insmod /lib/modules/$KV/$m.ko 2>> $OUT/init.log || fail "insmod $m"
done < /lib/modules/$KV/load-order

# --- disks, told apart by their serial numbers (run.sh sets them) ---
DATA_DEV=; OUT_DEV=
for i in $(seq 1 40); do
	for b in /sys/block/vd*; do
		[ -e "$b/serial" ] || continue
		case "$(cat $b/serial)" in
		msdata) DATA_DEV=${b##*/} ;;
		msout) OUT_DEV=${b##*/} ;;
		esac
	done
	[ -n "$DATA_DEV" ] && [ -n "$OUT_DEV" ] && break
	sleep 0.25
done
log "disks: data=${DATA_DEV:-none} out=${OUT_DEV:-none}; virtio: $(ls /sys/bus/virtio/drivers | tr '\n' ' ')"
if [ -n "$DATA_DEV" ]; then
	mount -t ext4 /dev/$DATA_DEV /mnt/data || fail "mount /dev/$DATA_DEV"
else
	fail "no data disk (serial msdata)"
fi

# --- virtio-serial ports by name, as udev would: /dev/virtio-ports/NAME ---
# (run.sh --virtio-serial gives the guest org.memshare.0; the driver, loaded
# above, has found it by the time the disks are there)
for p in /sys/class/virtio-ports/*; do
	[ -r "$p/name" ] && [ -n "$(cat "$p/name")" ] || continue
	mkdir -p /dev/virtio-ports
	ln -sf "../${p##*/}" "/dev/virtio-ports/$(cat "$p/name")"
	log "virtio port ${p##*/}: /dev/virtio-ports/$(cat "$p/name")"
done

# --- memory management as the agents expect it ---
echo y > /sys/kernel/mm/lru_gen/enabled || fail "cannot enable MGLRU"
echo +memory > /sys/fs/cgroup/cgroup.subtree_control || fail "cannot enable the memory controller"
[ -r /proc/pressure/memory ] || fail "no PSI (/proc/pressure/memory)"

{
	echo "kernel=$(uname -r)"
	echo "uname=$(uname -a)"
	echo "cmdline=$(cat /proc/cmdline)"
	echo "lru_gen_enabled=$(cat /sys/kernel/mm/lru_gen/enabled)"
	echo "lru_gen_min_ttl_ms=$(cat /sys/kernel/mm/lru_gen/min_ttl_ms)"
	echo "cgroup_subtree_control=$(cat /sys/fs/cgroup/cgroup.subtree_control)"
	echo "swaps=$(tail -n +2 /proc/swaps | wc -l)"
	echo "mem_total_kb=$(awk '/^MemTotal:/ {print $2}' /proc/meminfo)"
	echo "modules=$(cut -d' ' -f1 /proc/modules | tr '\n' ' ')"
	cat /e2e/build-info
} > $OUT/guest-info.txt

if [ -n "$FAIL" ]; then
	finish 1
fi

# --- the plug-in ---
W=/e2e/workloads/${ms_workload:-}.sh
if [ -z "${ms_workload:-}" ] || [ ! -f "$W" ]; then
	fail "no workload '${ms_workload:-}' (have: $(ls /e2e/workloads | tr '\n' ' '))"
	finish 2
fi
log "workload ${ms_workload}: start"
export E2E_OUT=$OUT E2E_DATA=/mnt/data E2E_NAME=$ms_workload
(sh "$W"; echo $? > /tmp/workload.rc) 2>&1 | tee $OUT/workload.log
rc=$(cat /tmp/workload.rc 2>/dev/null || echo 255)
log "workload ${ms_workload}: exit $rc"
[ "$rc" = 0 ] || fail "workload exited $rc"
umount /mnt/data 2>/dev/null
finish "$rc"
