#!/bin/sh
# SPDX-License-Identifier: LGPL-2.1-or-later
# cache-reuse (300 s of workload): cold page cache that comes back.  Writes
# 150 MiB of files, leaves them untouched for about 190 s, then re-reads all
# of them and keeps using them (mapped, read page by page every 10 s) for
# 70 s: memory a policy would have evicted as cold is needed again.
#
#   t=0     agents up, sampler (10 s), MGLRU ager (E2E_AGE_EVERY_S; default 0:
#           guestd ages every 40 s; 45 s with a guestd that does not)
#   t=3     write 150 MiB (38 files, 4 MiB each but the last)   snapshot "written"
#   t=60, 120, 190  snapshots (files untouched)
#   t=200   re-read all 150 MiB through mappings, again every 10 s to t=270
#   t=215, 265, 295 snapshots; agents stopped at t=295
# e2e-timeout-s: 900
. /e2e/lib.sh

recording_start
at 3
log "write 150 MiB"
$WL write "$E2E_DATA/files" 150 --file-mib 4 | tee -a "$E2E_OUT/timeline.txt"
snapshot written
for t in 60 120 190; do
	at $t
	snapshot t$t
done
at 200
log "re-read all files (mapped), every 10 s until t=270"
bg reuse $WL hot --every 10 --for 70 "$E2E_DATA"/files/*
REUSE_PID=$BG_PID
at 215
snapshot t215
at 265
snapshot t265
bg_wait $REUSE_PID reuse
at 295
snapshot end
e2e_end
