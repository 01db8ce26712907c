#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# The QEMU end-to-end tests: boot the real Debian 6.1 guest once per test
# plug-in (run.sh) and report PASS/FAIL for each.
#
#   run-tests.sh [--build DIR] [--only NAME[,NAME...]] [--jobs N]
#                [--budget SECONDS] [--results DIR] [--env KEY=VALUE]...
#
# --build    meson build dir to take the programs from (default build-e2e in
#            the source tree); created with -Dlibvirt=disabled when it does
#            not exist, and only the four programs the guest needs are built
# --only     run only these tests (smoke, agent-aging, policy-acts,
#            vsock-loopback, virtio-serial); repeatable
# --jobs     guests at once (default: the number of CPUs, at least 2)
# --budget   total time for all of it, seconds (default 1200): a test gets
#            what is left as its QEMU timeout, one that cannot start in
#            time fails as "not run"
# --results  keep every test's results (the guest's /out) in DIR/NAME;
#            otherwise they are deleted at the end, like all temporary files
# --env      passed to every run.sh (e.g. E2E_GUESTD_ARGS=--mglru-aging-ms=0
#            to see agent-aging fail)
#
# A test with a host-side driver, host/NAME.sh (virtio-serial), has it run
# on this machine beside its guest (with the guest's virtio-serial socket
# when the plug-in asks for a port); both must pass.
#
# Prints "PASS|FAIL NAME SECONDS s SUMMARY" per test and a closing
# "e2e: N passed, N failed"; exits 1 if any test failed, 2 on bad usage.
# Needs root (QEMU TCG only: no KVM, no vhost-vsock; AF_VSOCK only inside
# the guests, over their loopback transport), the e2e packages
# (scripts/deps e2e: it is run when one is missing) and apt for the kernel
# (fetch-kernel.sh; cached in /var/cache/memshare-e2e).  README.md here.
set -euo pipefail

main() {
here=$(cd "$(dirname "$0")" && pwd)
src=$(cd "$here/../../.." && pwd)
all_tests=(smoke agent-aging policy-acts vsock-loopback virtio-serial psi-trigger)

usage() {
	sed -n '6,7p' "$0" | sed 's/^# \{0,1\}//' >&2
	exit 2
}

build=$src/build-e2e; only=(); envs=(); jobs=$(nproc 2>/dev/null || echo 2); budget=1200; results=
[ "$jobs" -ge 2 ] || jobs=2
while [ $# -gt 0 ]; do
	case "$1" in
	--build) build=${2:?}; shift 2 ;;
	--only) IFS=, read -r -a more <<< "${2:?}"; only+=("${more[@]}"); shift 2 ;;
	--jobs) jobs=${2:?}; shift 2 ;;
	--budget) budget=${2:?}; shift 2 ;;
	--results) results=${2:?}; shift 2 ;;
	--env) envs+=(--env "${2:?}"); shift 2 ;;
	-h|--help) usage ;;
	*) echo "run-tests.sh: unknown argument $1" >&2; usage ;;
	esac
done
[[ "$jobs" =~ ^[1-9][0-9]*$ ]] || { echo "run-tests.sh: --jobs wants a number" >&2; exit 2; }
[[ "$budget" =~ ^[1-9][0-9]*$ ]] || { echo "run-tests.sh: --budget wants seconds" >&2; exit 2; }
tests=()
if [ ${#only[@]} -eq 0 ]; then
	tests=("${all_tests[@]}")
else
	for t in "${only[@]}"; do
		[ -f "$here/workloads/$t.sh" ] ||
			{ echo "run-tests.sh: no test '$t' (have: ${all_tests[*]})" >&2; exit 2; }
		tests+=("$t")
	done
fi

t_start=$(date +%s)
deadline=$((t_start + budget))
say() { echo "run-tests: $*" >&2; }

# --- what the harness needs on this machine ---
need=0
for tool in qemu-system-x86_64 mkfs.ext4 busybox meson ninja; do
	command -v $tool >/dev/null || need=1
done
if [ $need = 1 ]; then
	say "installing the e2e packages (scripts/deps e2e)"
	"$src/scripts/deps" e2e >&2
fi

# --- the programs: only the four the guest gets (mkinitrd.sh) ---
if [ ! -f "$build/build.ninja" ]; then
	say "meson setup $build -Dlibvirt=disabled"
	meson setup "$build" "$src" -Dlibvirt=disabled >&2
fi
say "building the guest's programs in $build"
ninja -C "$build" agents/memshare-hostd agents/memshare-guestd tools/memsharectl \
	tests/e2e/qemu/memshare-e2e-workload >&2 ||
	{ say "cannot build them in $build (a build with agents and tests on is needed)"; exit 1; }
if ldd "$build/agents/memshare-hostd" 2>/dev/null | grep -q libvirt; then
	say "warning: $build links libvirt: about 60 MiB of libraries go to the guest's RAM;" \
		"use a build made with -Dlibvirt=disabled"
fi

# --- the kernel, once for all the runs ---
KERNEL_ROOT=$("$here/fetch-kernel.sh")
export KERNEL_ROOT

# --- temporary files: run.sh's disks, initramfs and kept work dirs too ---
tmp=$(mktemp -d "${TMPDIR:-/tmp}/memshare-e2e-tests.XXXXXX")
declare -A pid_of=() t0_of=() rc_of=() dur_of=()
cleanup() {
	local p
	for p in "${pid_of[@]}"; do kill_tree "$p"; done
	rm -rf "$tmp"
}
trap cleanup EXIT
trap 'say "interrupted"; exit 130' INT TERM
export TMPDIR=$tmp

say "${#tests[@]} tests (${tests[*]}), $jobs at once, budget $budget s; kernel $(basename "$KERNEL_ROOT")"
queue=("${tests[@]}")
while [ ${#queue[@]} -gt 0 ] || [ ${#pid_of[@]} -gt 0 ]; do
	while [ ${#queue[@]} -gt 0 ] && [ ${#pid_of[@]} -lt "$jobs" ]; do
		t=${queue[0]}; queue=("${queue[@]:1}")
		left=$((deadline - $(date +%s)))
		declared=$(sed -n 's/^# e2e-timeout-s: *\([0-9][0-9]*\).*/\1/p' "$here/workloads/$t.sh" | sed -n 1p)
		declared=${declared:-900}
		timeout_s=$((declared < left ? declared : left))
		if [ "$timeout_s" -lt 60 ]; then
			rc_of[$t]=budget; dur_of[$t]=0
			continue
		fi
		mkdir -p "$tmp/res"
		run_one "$t" "$timeout_s" > "$tmp/$t.log" 2>&1 < /dev/null &
		pid_of[$t]=$!
		t0_of[$t]=$(date +%s)
		say "started $t (pid ${pid_of[$t]}, timeout $timeout_s s)"
	done
	[ ${#pid_of[@]} -gt 0 ] || break
	sleep 2
	for t in "${!pid_of[@]}"; do
		kill -0 "${pid_of[$t]}" 2>/dev/null && continue
		rc=0
		wait "${pid_of[$t]}" || rc=$?
		rc_of[$t]=$rc
		dur_of[$t]=$(($(date +%s) - ${t0_of[$t]}))
		unset "pid_of[$t]"
		report "$t"
	done
done
for t in "${tests[@]}"; do
	[ "${rc_of[$t]:-}" = budget ] && report "$t"
done

passed=0; failed=0
for t in "${tests[@]}"; do
	if [ "${rc_of[$t]:-x}" = 0 ]; then passed=$((passed + 1)); else failed=$((failed + 1)); fi
done
if [ -n "$results" ]; then
	mkdir -p "$results"
	for t in "${tests[@]}"; do
		[ -d "$tmp/res/$t" ] || continue
		rm -rf "${results:?}/$t"
		cp -a "$tmp/res/$t" "$results/$t"
		cp "$tmp/$t.log" "$results/$t/run-tests.log"
	done
	say "results in $results"
fi
say "all done in $(($(date +%s) - t_start)) s"
echo "e2e: $passed passed, $failed failed"
[ "$failed" = 0 ]
}

# run_one NAME TIMEOUT: run.sh for the test and, when it has one, its
# host-side driver host/NAME.sh beside it (given the guest's virtio-serial
# socket when the plug-in asks for a port, and run.sh's output to follow the
# guest's progress lines).  Exit status: run.sh's, else the driver's.  The
# driver's results end up in the test's results as host/.
run_one() {
	local t=$1 timeout_s=$2 hdir=$tmp/host/$1 serial=() rpid hpid rc=0 hrc=0 i
	if [ ! -x "$here/host/$t.sh" ]; then
		exec setsid "$here/run.sh" --workload "$t" --out "$tmp/res/$t" --build "$build" \
			--timeout "$timeout_s" "${envs[@]}"
	fi
	mkdir -p "$hdir"
	if grep -q '^# e2e-virtio-serial: *yes' "$here/workloads/$t.sh"; then
		serial=(--serial "$hdir/org.memshare.0.sock")
	fi
	setsid "$here/run.sh" --workload "$t" --out "$tmp/res/$t" --build "$build" \
		--timeout "$timeout_s" "${envs[@]}" ${serial[1]:+--virtio-serial "${serial[1]}"} &
	rpid=$!
	setsid "$here/host/$t.sh" --out "$hdir" --build "$build" --timeout "$timeout_s" \
		--progress "$tmp/$t.log" "${serial[@]}" > "$hdir/driver.out" 2>&1 < /dev/null &
	hpid=$!
	wait $rpid || rc=$?
	# The driver's steps fit in the guest's window: it is done, or nearly.
	for i in $(seq 1 30); do
		kill -0 $hpid 2>/dev/null || break
		sleep 1
	done
	kill -0 $hpid 2>/dev/null && { echo "run-tests: stopping host/$t.sh"; kill_tree $hpid; }
	wait $hpid || hrc=$?
	echo "---- host side: host/$t.sh exited $hrc ----"
	cat "$hdir/driver.out"
	mkdir -p "$tmp/res/$t"
	cp -a "$hdir" "$tmp/res/$t/host"
	[ $rc != 0 ] && exit $rc
	exit $hrc
}

# kill_tree PID: SIGTERM PID and everything below it (run.sh's qemu runs
# under timeout(1), which has its own process group), children first.
kill_tree() {
	local c
	for c in $(ps -o pid= --ppid "$1" 2>/dev/null); do kill_tree "$c"; done
	kill -TERM "$1" 2>/dev/null || true
}

# report NAME: the PASS/FAIL line, and on failure why.
report() {
	local t=$1 res=$tmp/res/$1 sum hsum why
	sum=$(cat "$res/summary.txt" 2>/dev/null || true)
	hsum=$(cat "$res/host/summary.txt" 2>/dev/null || true)
	[ -z "$hsum" ] || sum="${sum:+$sum; }$hsum"
	if [ "${rc_of[$t]}" = 0 ]; then
		printf 'PASS  %-12s %4d s  %s\n' "$t" "${dur_of[$t]}" "${sum:-(no summary)}"
		return
	fi
	if [ "${rc_of[$t]}" = budget ]; then
		printf 'FAIL  %-12s %4d s  not run: the time budget (--budget) was used up\n' "$t" 0
		return
	fi
	why=$(grep -h 'FAIL: ' "$res/timeline.txt" "$res/host/driver.log" 2>/dev/null |
		sed 's/^@@ //' | head -n 3 | tr '\n' ' ' || true)
	[ -n "$why" ] || why=$(grep -h 'run.sh: FAILED' "$tmp/$t.log" | head -n 1 || true)
	printf 'FAIL  %-12s %4d s  %s\n' "$t" "${dur_of[$t]}" "${why:-run.sh exited ${rc_of[$t]}}"
	[ -z "$sum" ] || echo "      measured: $sum"
	echo "      ---- last lines of run.sh for $t ----"
	tail -n 25 "$tmp/$t.log" | sed 's/^/      /'
}

main "$@"
