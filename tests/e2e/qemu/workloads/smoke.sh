#!/bin/sh
# SPDX-License-Identifier: LGPL-2.1-or-later
# smoke (about 22 s of workload, 30 s in all): the harness itself.  Starts
# the agents, writes 32 MiB of files, asks the guest through hostd to reclaim
# 16 MiB of file memory and then slab (memory.reclaim / drop_caches under the
# real guest kernel), runs four MGLRU aging passes, stops the agents.
# As a test it checks that the file reclaim went through memory.reclaim and
# freed file bytes, that the slab one went through drop_caches without an
# error (freeing nothing is fine: the initramfs's dentries stay), and that
# the aging passes all went in.
# e2e-timeout-s: 300
. /e2e/lib.sh

sampler_start 5
agents_start || e2e_end
snapshot start
$WL write "$E2E_DATA/files" 32 --file-mib 4 | tee -a "$E2E_OUT/timeline.txt"
sleep 3
snapshot written
for kind in file slab; do
	if memsharectl --host $CONTROL_EP --json reclaim "$E2E_NAME" 16M --kind $kind \
		> "$E2E_OUT/reclaim-$kind.json" 2>&1; then
		f=$E2E_OUT/reclaim-$kind.json
		methods=$(json_flat "$f" | awk -F= 'index($1, "result.methods.") == 1 { printf "%s%s", s, $2; s = "," }')
		freed=$(jget "$f" result.freed_bytes); ffile=$(jget "$f" result.freed_file_bytes)
		us=$(jget "$f" result.duration_us); st=$(jget "$f" result.status)
		log "reclaim $kind: status $st, freed $freed bytes (file $ffile) in $us us via [$methods]"
		eval "R_${kind}_freed=\$freed R_${kind}_us=\$us"
		[ "$st" = 0 ] || e2e_fail "reclaim $kind: status $st: $(tr '\n' ' ' < "$f")"
		case $kind in
		file)
			[ "$methods" = memory.reclaim ] || e2e_fail "reclaim file went through [$methods]"
			[ "${ffile:-0}" -gt 0 ] 2>/dev/null || e2e_fail "reclaim file freed $ffile file bytes"
			;;
		slab)
			[ "$methods" = drop_caches ] || e2e_fail "reclaim slab went through [$methods]" ;;
		esac
	else
		e2e_fail "reclaim $kind: $(tr '\n' ' ' < "$E2E_OUT/reclaim-$kind.json")"
	fi
	sleep 2
done
snapshot reclaimed
$WL age --every 2 --for 6 > "$E2E_OUT/age.log" 2>&1 || e2e_fail "aging: $(cat "$E2E_OUT/age.log")"
log "aging: $(tr '\n' '|' < "$E2E_OUT/age.log")"
grep -q '^WL age done passes=4 writes_ok=4 .*failures=0' "$E2E_OUT/age.log" ||
	e2e_fail "aging: not 4 clean passes: $(tr '\n' '|' < "$E2E_OUT/age.log")"
$WL reread "$E2E_DATA"/files/* | tee -a "$E2E_OUT/timeline.txt"
sleep 3
snapshot end
summary "file reclaim freed $(mib ${R_file_freed:-0}) MiB via memory.reclaim in $((${R_file_us:-0} / 1000)) ms;" \
	"slab reclaim freed $(mib ${R_slab_freed:-0}) MiB via drop_caches; 4 aging passes"
e2e_end
