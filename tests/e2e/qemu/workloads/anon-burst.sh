#!/bin/sh
# SPDX-License-Identifier: LGPL-2.1-or-later
# anon-burst (300 s of workload): the guest's need changes.  A mostly steady
# page cache (120 MiB written at the start; 60 MiB of it used every 5 s, the
# rest cold) plus an anonymous working set that grows to 200 MiB over 30 s,
# is held (rewritten every 5 s) for 60 s, is freed, and 60 s later grows
# again the same way.
#
#   t=0     agents up, sampler (10 s), MGLRU ager (E2E_AGE_EVERY_S; default 0:
#           guestd ages every 40 s; 45 s with a guestd that does not)
#   t=3     write 120 MiB (30 x 4 MiB); hot: f0000-f0014 (60 MiB) every 5 s to t=295
#   t=30    anon grows 0 -> 200 MiB until t=60, held to t=120, freed at t=120
#   t=180   anon grows 0 -> 200 MiB until t=210, held to t=270, freed at t=270
#           snapshots at t=25, 65, 115, 150, 215, 265, 295
# e2e-timeout-s: 900
. /e2e/lib.sh

recording_start
at 3
log "write 120 MiB"
$WL write "$E2E_DATA/files" 120 --file-mib 4 | tee -a "$E2E_OUT/timeline.txt"
hot=$(ls "$E2E_DATA"/files/f000[0-9] "$E2E_DATA"/files/f001[0-4])
bg hot $WL hot --every 5 --for $((295 - $(e2e_now | cut -d. -f1))) $hot
HOT_PID=$BG_PID
log "hot page cache: $(echo $hot | wc -w) files (60 MiB) every 5 s, pid $HOT_PID"
at 25
snapshot t25
for start in 30 180; do
	at $start
	log "anon burst: grow to 200 MiB over 30 s, hold to +90 s, free"
	bg anon-$start $WL anon 200 --grow-s 30 --for 90 --touch-every 5
	ANON_PID=$BG_PID
	at $((start + 35))
	snapshot t$((start + 35))
	at $((start + 85))
	snapshot t$((start + 85))
	bg_wait $ANON_PID anon-$start
	log "anon burst freed: $(memsum)"
	if [ $start = 30 ]; then
		at 150
		snapshot t150
	fi
done
bg_wait $HOT_PID hot
at 295
snapshot end
e2e_end
