#!/bin/sh
# SPDX-License-Identifier: LGPL-2.1-or-later
# smoke (about 22 s of workload, 30 s in all): the harness itself.  Starts
# the agents, writes 32 MiB of files, asks the guest through hostd to reclaim
# 16 MiB of file memory and then slab (memory.reclaim / drop_caches under the
# real guest kernel), runs four MGLRU aging passes, stops the agents.
# e2e-timeout-s: 300
. /e2e/lib.sh

sampler_start 5
agents_start || e2e_end
snapshot start
$WL write "$E2E_DATA/files" 32 --file-mib 4 | tee -a "$E2E_OUT/timeline.txt"
sleep 3
snapshot written
for kind in file slab; do
	if memsharectl --host $CONTROL_EP reclaim "$E2E_NAME" 16M --kind $kind \
		> "$E2E_OUT/reclaim-$kind.txt" 2>&1; then
		log "reclaim $kind: $(tr '\n' ' ' < "$E2E_OUT/reclaim-$kind.txt")"
	else
		e2e_fail "reclaim $kind: $(tr '\n' ' ' < "$E2E_OUT/reclaim-$kind.txt")"
	fi
	sleep 2
done
snapshot reclaimed
$WL age --every 2 --for 6 > "$E2E_OUT/age.log" 2>&1 || e2e_fail "aging: $(cat "$E2E_OUT/age.log")"
log "aging: $(tr '\n' '|' < "$E2E_OUT/age.log")"
$WL reread "$E2E_DATA"/files/* | tee -a "$E2E_OUT/timeline.txt"
sleep 3
snapshot end
e2e_end
