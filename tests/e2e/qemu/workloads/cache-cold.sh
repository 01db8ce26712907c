#!/bin/sh
# SPDX-License-Identifier: LGPL-2.1-or-later
# cache-cold (300 s of workload): page cache that turns cold around a small
# hot set.  Writes 200 MiB of files once (50 x 4 MiB), then keeps the first
# 10 files (40 MiB) in use: mapped and read page by page every 5 s until the
# end.  The other 160 MiB stay untouched for about 280 s.
#
#   t=0     agents up, sampler (10 s), MGLRU ager (E2E_AGE_EVERY_S; default 0:
#           guestd ages every 40 s; 45 s with a guestd that does not)
#   t=5     write 200 MiB (fsync'd)                  snapshot "written"
#   t~15    hot set: f0000-f0009 every 5 s until t=295
#           snapshots at t=60, 150, 240
#   t=295   snapshot "end", agents stopped
# e2e-timeout-s: 900
. /e2e/lib.sh

recording_start
at 5
log "write 200 MiB"
$WL write "$E2E_DATA/files" 200 --file-mib 4 | tee -a "$E2E_OUT/timeline.txt"
snapshot written
hot=$(ls "$E2E_DATA"/files/f000[0-9])
bg hot $WL hot --every 5 --for $((295 - $(e2e_now | cut -d. -f1))) $hot
HOT_PID=$BG_PID
log "hot set: $(echo $hot | wc -w) files (40 MiB) every 5 s, pid $HOT_PID"
for t in 60 150 240; do
	at $t
	snapshot t$t
done
bg_wait $HOT_PID hot
at 295
snapshot end
e2e_end
