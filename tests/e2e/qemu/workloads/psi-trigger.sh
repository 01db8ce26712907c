#!/bin/sh
# SPDX-License-Identifier: LGPL-2.1-or-later
# psi-trigger (about 40 s of workload): a guest that starts to stall is seen
# at once.  hostd asks the guest for its default PSI trigger (the policy's
# stall_backoff over 2 s: "some 4000 2000000"); its policy interval is set to
# 10 minutes, so every round in this test comes from a trigger.
#
#   t=0     agents up (hostd -s interval_ms=600000); write 64 MiB of files
#   quiet   10 s with nothing running: the trigger must not fire
#   stress  the files' page cache dropped, then a process in cgroup /sys/fs/cgroup/thrash (memory.max 16 MiB)
#           reads the 64 MiB through mappings, page by page, every 0.2 s for
#           15 s: every pass reclaims inside the cgroup and refaults, which
#           the kernel counts as memory stall (PSI "some")
#   after   10 s quiet again
# Checks: the guest armed the trigger; no trigger report in the quiet
# period; during the stress the guest sent trigger reports, the first
# within 5 s of the stress starting (the guest's own PSI avg10 in it is
# logged), at most one a second; hostd logged "PSI trigger fired ... policy
# round now" and ran policy rounds although its interval is 10 minutes;
# the reports the trigger sent were accepted (none dropped by the rate
# limit).
# e2e-timeout-s: 240
. /e2e/lib.sh

HOSTD_RECORD=
S=/tmp/status.json

# trigger_reports: the guest's psi_trigger_reports in hostd's status now.
trigger_reports() {
	memsharectl --host $CONTROL_EP --json status > $S 2>/dev/null || { echo -1; return; }
	jget $S guests.0.psi_trigger_reports
}

hostd_start -v -s interval_ms=600000 || e2e_end
guestd_start "$E2E_NAME" -v
guest_wait "$E2E_NAME" 30 $S || { e2e_fail "no report from memshare-guestd"; e2e_end; }
spec=$(jget $S guest_psi_trigger)
log "agents up; hostd asks guests for PSI trigger '$spec'"
[ "$spec" = "some 4000 2000000" ] || e2e_fail "guest trigger is '$spec', not the default"
$WL write "$E2E_DATA/files" 64 --file-mib 4 | tee -a "$E2E_OUT/timeline.txt"
sync
i=0
until grep -q 'PSI trigger armed' "$GUESTD_LOG" || [ $i -ge 25 ]; do sleep 0.2; i=$((i + 1)); done
grep -q 'PSI trigger armed' "$GUESTD_LOG" ||
	e2e_fail "guestd did not arm the trigger: $(grep -i trigger "$GUESTD_LOG" | tail -2 | tr '\n' '|')"

# Quiet: nothing stalls, nothing fires.
sleep 10
q=$(trigger_reports)
rounds_quiet=$(jget $S policy.rounds)
log "quiet 10 s: trigger reports $q, policy rounds $rounds_quiet;" \
	"PSI now: $(head -1 /proc/pressure/memory)"
[ "$q" = 0 ] || e2e_fail "$q trigger reports while nothing stalled"

# Stress: a 16 MiB cgroup reading 64 MiB through mappings.  The files'
# page cache is dropped first: a page stays charged to the cgroup that
# first read it, and the files must come in charged to this one.
echo 1 > /proc/sys/vm/drop_caches
mkdir -p /sys/fs/cgroup/thrash
echo 16M > /sys/fs/cgroup/thrash/memory.max || e2e_fail "cannot set memory.max"
t_stress=$(e2e_ms)
log "stress: 64 MiB mapped and read every 0.2 s in a 16 MiB cgroup, for 15 s"
sh -c "echo \$\$ > /sys/fs/cgroup/thrash/cgroup.procs && exec $WL hot --every 0.2 --for 15 $E2E_DATA/files/*" \
	> "$E2E_OUT/stress.log" 2>&1 &
STRESS_PID=$!
first_ms=
while kill -0 $STRESS_PID 2>/dev/null; do
	n=$(trigger_reports)
	if [ -z "$first_ms" ] && [ "${n:-0}" -gt 0 ] 2>/dev/null; then
		first_ms=$(($(e2e_ms) - t_stress))
		log "first trigger report ${first_ms} ms after the stress began; guest's PSI some avg10" \
			"$(jget $S guests.0.report.psi.some.avg10)%, hostd policy rounds $(jget $S policy.rounds)"
	fi
	sleep 0.2
done
wait $STRESS_PID || e2e_fail "stress exited $?: $(tail -2 "$E2E_OUT/stress.log" | tr '\n' '|')"
stress_s=$(( ($(e2e_ms) - t_stress) / 1000 ))
n_stress=$(trigger_reports)
rounds=$(jget $S policy.rounds)
log "stress done ($(grep '^WL hot done' "$E2E_OUT/stress.log")):" \
	"trigger reports $n_stress in ${stress_s} s, policy rounds $rounds;" \
	"memory.stat pgscan/refault: $(awk '$1 == "pgscan" || $1 == "workingset_refault_file" { printf "%s=%s ", $1, $2 }' /sys/fs/cgroup/thrash/memory.stat)" \
	"memory.pressure: $(head -1 /sys/fs/cgroup/thrash/memory.pressure)"
[ -n "$first_ms" ] || e2e_fail "no trigger report during the stress"
[ -z "$first_ms" ] || [ "$first_ms" -le 5000 ] || e2e_fail "first trigger report after $first_ms ms"
# The guest sends at most one trigger report a second.
[ "${n_stress:-0}" -le $((stress_s + 2)) ] || e2e_fail "$n_stress trigger reports in $stress_s s"
# Only triggers can have run rounds (the interval is 10 minutes).
[ "${rounds:-0}" -gt "${rounds_quiet:-0}" ] || e2e_fail "no policy round after the triggers"
dropped=$(jget $S guests.0.rejected.reports_rate_limited)
[ "${dropped:-0}" = 0 ] || e2e_fail "$dropped reports dropped by the rate limit"

sleep 10
n_after=$(trigger_reports)
log "10 s after: trigger reports $n_after; PSI now: $(head -1 /proc/pressure/memory)"
grep -q "PSI trigger fired (some avg10 .*): policy round now" "$HOSTD_LOG" ||
	e2e_fail "hostd did not log the trigger report"
guestd_stop
hostd_stop
summary "first trigger report ${first_ms:-never} ms into a 16 MiB-cgroup thrash;" \
	"$n_stress trigger reports in ${stress_s} s; $((rounds - rounds_quiet)) policy rounds from the" \
	"guest's and the host's triggers (interval 10 min); none in 10 s quiet"
e2e_end
