#!/bin/sh
# SPDX-License-Identifier: LGPL-2.1-or-later
# agent-aging (test, about 195 s of workload): memshare-guestd ages MGLRU by
# itself (--mglru-aging-ms, default 40 s) and its reports tell the hot page
# cache from the cold.  The harness's own ager stays OFF: every new
# generation in this guest comes from guestd (the guest is never under
# memory pressure, so the kernel never ages on its own).
#
#   t=0     lru_gen before the agents; sampler (10 s); agents (guestd's
#           first aging pass at once, then every 40 s: t~1, 41, 81, 121, 161)
#   t=3     write 120 MiB (60 x 2 MiB, fsync'd)
#   t~5     hot set: f0000-f0014 (30 MiB) mapped and read every 5 s until t=195;
#           the other 90 MiB are never touched again
#   t=60, 100                 snapshots (before anything can be 120 s old)
#   t=135, 165, 195           snapshots, checked (below)
#
# Checks, at t=135, 165 and 195 (the untouched files sit in a generation at
# least three passes old, >= 120 s, from t~121; see README.md "The tests"):
#   - hostd's view (memsharectl --json status, the guest's LRU bins): file
#     bytes in bins >= 120 s cover the 90 MiB untouched (>= 84 MiB) and not
#     the hot set (< 90 + 10 MiB); bins < 120 s hold the hot 30 MiB (>= 28);
#   - the same from the guest kernel's /sys/kernel/debug/lru_gen;
# and at the end:
#   - guestd aged: lru_gen's max_seq grew by one per 40 s (first pass at
#     once), and the generations it made were born 40 s (39.5-50) apart;
#   - guestd's log has no error or warning, in particular none about aging.
# e2e-timeout-s: 600
. /e2e/lib.sh

COLD_MS=120000
MIB_B=1048576
TOTAL_MIB=120
HOT_MIB=30
UNTOUCHED=$(((TOTAL_MIB - HOT_MIB) * MIB_B))
HOT=$((HOT_MIB * MIB_B))

cat /sys/kernel/debug/lru_gen > "$E2E_OUT/lru_gen.pre"
sampler_start 10
agents_start || e2e_end
T_AGENTS=$(e2e_now)
snapshot start
at 3
log "write $TOTAL_MIB MiB"
$WL write "$E2E_DATA/files" $TOTAL_MIB --file-mib 2 | tee -a "$E2E_OUT/timeline.txt"
snapshot written
hot=$(ls "$E2E_DATA"/files/f00[01][0-9] | head -n 15)
bg hot $WL hot --every 5 --for $((195 - $(e2e_now | cut -d. -f1))) $hot
HOT_PID=$BG_PID
log "hot set: $(echo $hot | wc -w) files ($HOT_MIB MiB) mapped, every 5 s, pid $HOT_PID"

# check_split TAG: the hot/cold split of snapshot TAG, from hostd and lru_gen.
RESULTS=
check_split() {
	local d="$E2E_OUT/snap/$1" src split y o
	for src in hostd lru_gen; do
		if [ $src = hostd ]; then
			split=$(status_file_split "$d/status.json" $COLD_MS) ||
				{ e2e_fail "$1: cannot read the LRU bins of status.json: $split"; continue; }
		else
			split=$(lru_gen_file_split "$d/lru_gen" $COLD_MS)
		fi
		y=${split% *}; o=${split#* }
		log "$1 $src: file < 120 s $(mib $y) MiB, >= 120 s $(mib $o) MiB" \
			"(untouched $(mib $UNTOUCHED), hot $(mib $HOT))"
		[ "$o" -ge $((UNTOUCHED - 6 * MIB_B)) ] ||
			e2e_fail "$1 $src: only $(mib $o) MiB of file memory >= 120 s old; the $(mib $UNTOUCHED) MiB untouched since t=3 should all be"
		[ "$o" -lt $((UNTOUCHED + HOT / 3)) ] ||
			e2e_fail "$1 $src: $(mib $o) MiB of file memory >= 120 s old: the hot set ($(mib $HOT) MiB, used every 5 s) is counted as cold"
		[ "$y" -ge $((HOT - 2 * MIB_B)) ] ||
			e2e_fail "$1 $src: only $(mib $y) MiB of file memory < 120 s old; the hot set is $(mib $HOT) MiB"
	done
	RESULTS="$RESULTS $1:$(mib $o)/$(mib $y)"
}

for t in 60 100; do
	at $t
	snapshot t$t
done
for t in 135 165; do
	at $t
	snapshot t$t
	check_split t$t
done
bg_wait $HOT_PID hot
at 195
snapshot end
T_END=$(e2e_now)
check_split end

# guestd's own aging: max_seq grew once per pass, passes 40 s apart.
seq0=$(lru_gen_max_seq "$E2E_OUT/lru_gen.pre")
seq1=$(lru_gen_max_seq "$E2E_OUT/snap/end/lru_gen")
passes=$((seq1 - seq0))
elapsed=$(awk -v a="$T_AGENTS" -v b="$T_END" 'BEGIN { printf "%d", b - a }')
lo=$((elapsed / 45)); hi=$((elapsed / 35 + 1))
log "aging: max_seq $seq0 -> $seq1: $passes passes in $elapsed s (expected $lo-$hi)"
[ "$passes" -ge "$lo" ] && [ "$passes" -le "$hi" ] ||
	e2e_fail "guestd aging: $passes new generations in $elapsed s, expected $lo-$hi (one pass at once, then one per 40 s)"
# Birth spacing of the generations guestd made (all of them are by now).
gaps=$(awk 'NF == 4 && $1 ~ /^[0-9]+$/ { age[n++] = $2 }
	END { for (i = 1; i < n; i++) printf "%s%.1f", (i > 1 ? " " : ""), (age[i - 1] - age[i]) / 1000 }' \
	"$E2E_OUT/snap/end/lru_gen")
log "aging: generations born $gaps s apart"
bad=
for g in $gaps; do
	awk -v g="$g" 'BEGIN { exit !(g >= 39.5 && g <= 50) }' || bad=1
done
[ -z "$bad" ] || [ "$passes" -lt 2 ] ||
	e2e_fail "guestd aging: generations born $gaps s apart (expected about 40 s): $(tr '\n' '|' < "$E2E_OUT/snap/end/lru_gen")"

e2e_checks_logs() {
	# Stopped agents only: their logs are complete.
	# (debug lines, with E2E_GUESTD_ARGS=-vv, may name lru_gen harmlessly)
	if grep -iE 'aging|lru_gen' "$E2E_OUT/guestd.log" | grep -v '^memshare-guestd: debug: ' \
		> "$E2E_OUT/aging-errors.txt"; then
		e2e_fail "guestd logged about aging: $(head -3 "$E2E_OUT/aging-errors.txt" | tr '\n' '|')"
	else
		rm -f "$E2E_OUT/aging-errors.txt"
	fi
	[ ! -s "$E2E_OUT/agent-errors.txt" ] ||
		e2e_fail "agent logs have errors or warnings: $(head -3 "$E2E_OUT/agent-errors.txt" | tr '\n' '|')"
}
agents_stop
e2e_checks_logs
summary "guestd aged $passes times in $elapsed s (generations born $gaps s apart);" \
	"file >= 120 s / < 120 s (MiB):$RESULTS; 90 MiB untouched, 30 MiB hot"
e2e_end
