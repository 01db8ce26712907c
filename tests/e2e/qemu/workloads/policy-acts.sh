#!/bin/sh
# SPDX-License-Identifier: LGPL-2.1-or-later
# policy-acts (test, about 195 s of workload): memshare-hostd NOT in dry run
# (E2E_HOSTD_ACT=1), default memshare policy, guestd aging on its own
# (default 40 s), page cache that turns cold.  The policy must ask the guest
# to reclaim that cold memory, and the guest must free it with cgroup v2
# memory.reclaim.  No libvirt here, so no balloon: none is expected.
#
#   t=0     sampler (10 s), agents (hostd acting, guestd aging)
#   t=3     write 150 MiB (75 x 2 MiB, fsync'd)
#   t~5     hot set: f0000-f0014 (30 MiB) mapped and read every 5 s until t=195;
#           the other 120 MiB turn cold (>= 120 s) at about t=120, and the
#           policy (a round every 10 s) starts reclaiming 2% of the guest
#           (about 9.4 MiB) per round
#   every 5 s: memsharectl --json status -> polls/tNNN.json
#   t=60, 110, 195: snapshots
#
# Checks at the end:
#   - hostd acts (policy.dry_run false) and did nothing before t=110, when
#     nothing can be cold yet;
#   - policy.recent_actions has reclaims with result "ok", none failed, and
#     no balloon action;
#   - guests[0].last_reclaim: methods ["memory.reclaim"], status 0,
#     freed_file_bytes > 0; guestd logged every reclaim as ok, each with
#     freed bytes > 0;
#   - the guest's cold file bytes (bins >= 120 s) went down: at the end at
#     least half of what was freed below their peak;
#   - the hot set was not what got reclaimed: file refaults stay under a
#     quarter of the freed bytes.
# e2e-timeout-s: 600
. /e2e/lib.sh

E2E_HOSTD_ACT=1
COLD_MS=120000
MIB_B=1048576

sampler_start 10
agents_start || e2e_end
snapshot start
refault0=$(awk '$1 == "workingset_refault_file" { print $2 }' /proc/vmstat)
at 3
log "write 150 MiB"
$WL write "$E2E_DATA/files" 150 --file-mib 2 | tee -a "$E2E_OUT/timeline.txt"
snapshot written
hot=$(ls "$E2E_DATA"/files/f00[01][0-9] | head -n 15)
bg hot $WL hot --every 5 --for $((195 - $(e2e_now | cut -d. -f1))) $hot
HOT_PID=$BG_PID
log "hot set: $(echo $hot | wc -w) files (30 MiB) mapped, every 5 s, pid $HOT_PID"

mkdir -p "$E2E_OUT/polls"
fget() { # fget FLATFILE PATH: a value of json_flat's output
	awk -v k="$2" 'index($0, k "=") == 1 { print substr($0, length(k) + 2); exit }' "$1"
}
poll() { # poll TAG: hostd's status, and a line of what it says
	local f="$E2E_OUT/polls/$1.json" split
	memsharectl --host $CONTROL_EP --json status > "$f" 2>/dev/null || { rm -f "$f"; return; }
	split=$(status_file_split "$f" $COLD_MS) || { e2e_fail "poll $1: $split"; return; }
	json_flat "$f" > "$f.flat"
	echo "$1 $split $(fget "$f.flat" policy.actions)" >> "$E2E_OUT/cold.txt"
	log "poll $1: actions $(fget "$f.flat" policy.actions), cold file $(mib ${split#* }) MiB," \
		"young file $(mib ${split% *}) MiB, last reclaim freed" \
		"$(fget "$f.flat" guests.0.last_reclaim.freed_file_bytes) B"
	rm -f "$f.flat"
}
for t in $(seq 5 5 190); do
	at $t
	poll "t$(printf %03d $t)"
	case $t in 60|110) snapshot t$t ;; esac
done
bg_wait $HOT_PID hot
at 195
snapshot end
cp "$E2E_OUT/snap/end/status.json" "$E2E_OUT/polls/t195.json"
echo "t195 $(status_file_split "$E2E_OUT/polls/t195.json" $COLD_MS) $(jget "$E2E_OUT/polls/t195.json" policy.actions)" \
	>> "$E2E_OUT/cold.txt"
refault1=$(awk '$1 == "workingset_refault_file" { print $2 }' /proc/vmstat)
agents_stop

# ---- checks -----------------------------------------------------------------
S=$E2E_OUT/snap/end/status.json
json_flat "$S" > "$E2E_OUT/status.end.flat"
[ "$(jget "$S" policy.dry_run)" = false ] || e2e_fail "hostd is in dry run (policy.dry_run $(jget "$S" policy.dry_run))"
[ "$(jget "$S" policy.name)" = memshare ] || e2e_fail "policy is '$(jget "$S" policy.name)', not memshare"
early=$(jget "$E2E_OUT/snap/t110/status.json" policy.actions)
[ "$early" = 0 ] || e2e_fail "hostd acted $early times before t=110, when nothing could be 120 s old"

# policy.recent_actions: "policy.recent_actions.N.KEY=VALUE"
awk -F= '
	index($1, "policy.recent_actions.") == 1 {
		split($1, p, "."); i = p[3]; k = p[4]; v = substr($0, length($1) + 2)
		a[i, k] = v; if (i + 1 > n) n = i + 1
	}
	END {
		for (i = 0; i < n; i++)
			printf "%s %s %s %s\n", a[i, "round"], a[i, "action"],
				a[i, "bytes"] != "" ? a[i, "bytes"] : a[i, "target_bytes"], a[i, "result"]
	}' "$E2E_OUT/status.end.flat" > "$E2E_OUT/actions.txt"
n_ok=$(awk '$2 == "reclaim" && $4 == "ok"' "$E2E_OUT/actions.txt" | wc -l)
n_bad=$(awk '$2 == "reclaim" && $4 != "ok"' "$E2E_OUT/actions.txt" | wc -l)
n_balloon=$(awk '$2 == "balloon"' "$E2E_OUT/actions.txt" | wc -l)
log "policy actions (round action bytes result): $(tr '\n' '|' < "$E2E_OUT/actions.txt")"
[ "$n_ok" -ge 1 ] || e2e_fail "the policy sent no reclaim that ended ok: $(tr '\n' '|' < "$E2E_OUT/actions.txt")"
[ "$n_bad" = 0 ] || e2e_fail "$n_bad reclaims did not end ok: $(tr '\n' '|' < "$E2E_OUT/actions.txt")"
[ "$n_balloon" = 0 ] || e2e_fail "$n_balloon balloon actions without a balloon driver (no libvirt)"

lr=guests.0.last_reclaim
methods=$(awk -F= -v k="$lr.methods." 'index($1, k) == 1 { printf "%s%s", s, $2; s = "," }' \
	"$E2E_OUT/status.end.flat")
lr_status=$(jget "$S" $lr.status)
lr_file=$(jget "$S" $lr.freed_file_bytes)
lr_req=$(jget "$S" $lr.requested_bytes)
lr_us=$(jget "$S" $lr.duration_us)
log "last reclaim: status $lr_status, methods [$methods], asked $lr_req B, freed file $lr_file B in $lr_us us"
[ "$methods" = memory.reclaim ] || e2e_fail "last reclaim used [$methods], not [memory.reclaim]"
[ "$lr_status" = 0 ] || e2e_fail "last reclaim: status $lr_status ($(jget "$S" $lr.error))"
[ "${lr_file:-0}" -gt 0 ] 2>/dev/null || e2e_fail "last reclaim freed $lr_file file bytes"

# guestd's log, one line per reclaim it ran:
# "memshare-guestd: reclaim ID: ok, freed N bytes (file N, anon N, slab N) in N us"
grep '^memshare-guestd: reclaim ' "$E2E_OUT/guestd.log" > "$E2E_OUT/reclaims.txt"
n_log=$(wc -l < "$E2E_OUT/reclaims.txt")
n_log_bad=$(grep -vc ': ok, freed [1-9]' "$E2E_OUT/reclaims.txt")
set -- $(sed 's/[(),]/ /g' "$E2E_OUT/reclaims.txt" | awk '
	{ for (i = 1; i < NF; i++) {
		if ($i == "freed") f += $(i + 1)
		if ($i == "file") ff += $(i + 1)
		if ($i == "in") us += $(i + 1) } }
	END { printf "%.0f %.0f %.0f\n", f, ff, us }')
freed=$1; freed_file=$2; freed_us=$3
log "guestd ran $n_log reclaims: freed $(mib $freed) MiB (file $(mib $freed_file) MiB) in $freed_us us"
[ "$n_log" -ge "$n_ok" ] && [ "$n_log" -ge 1 ] ||
	e2e_fail "guestd logged $n_log reclaims, hostd $n_ok ok"
[ "$n_log_bad" = 0 ] || e2e_fail "$n_log_bad reclaims in guestd's log did not free anything: $(grep -v ': ok, freed [1-9]' "$E2E_OUT/reclaims.txt" | head -3 | tr '\n' '|')"

# Cold file memory, from every poll (cold.txt: TAG YOUNG COLD ACTIONS): peak,
# and at the end.
peak=$(awk '$3 + 0 > m { m = $3 + 0; t = $1 } END { printf "%.0f %s\n", m, t }' "$E2E_OUT/cold.txt")
peak_t=${peak#* }; peak=${peak% *}
cold_end=$(awk 'END { print $3 }' "$E2E_OUT/cold.txt")
log "cold file: peak $(mib $peak) MiB at $peak_t, $(mib $cold_end) MiB at the end"
[ "$cold_end" -le $((peak - freed_file / 2)) ] && [ "$cold_end" -lt $((peak - 4 * MIB_B)) ] ||
	e2e_fail "cold file bytes did not go down: peak $(mib $peak) MiB, end $(mib $cold_end) MiB, freed $(mib $freed_file) MiB"

refault=$(((refault1 - refault0) * 4096))
log "file refaults during the run: $(mib $refault) MiB"
[ "$refault" -le $((freed_file / 4)) ] ||
	e2e_fail "$(mib $refault) MiB of file refaults for $(mib $freed_file) MiB freed: the reclaims hit memory in use"
[ ! -s "$E2E_OUT/agent-errors.txt" ] ||
	e2e_fail "agent logs have errors or warnings: $(head -3 "$E2E_OUT/agent-errors.txt" | tr '\n' '|')"

summary "$n_ok policy reclaims ok, 0 balloon; freed $(mib $freed_file) MiB via memory.reclaim" \
	"in $((freed_us / 1000)) ms ($n_log runs; last $(mib $lr_file) MiB in $((lr_us / 1000)) ms);" \
	"cold file $(mib $peak) -> $(mib $cold_end) MiB; refaults $(mib $refault) MiB"
e2e_end
