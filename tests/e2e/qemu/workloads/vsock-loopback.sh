#!/bin/sh
# SPDX-License-Identifier: LGPL-2.1-or-later
# vsock-loopback (about 25-35 s of workload): the agents talk AF_VSOCK, both
# inside the guest, over the guest kernel's vsock loopback transport (CID 1,
# module vsock_loopback).  This machine's vsock is never touched: QEMU has no
# vhost-vsock device, and nothing outside the guest opens an AF_VSOCK socket.
#
#   1. the guest calls the host (QEMU / libvirt): hostd --listen vsock:-1:5252,
#      guestd --connect vsock:1:5252.  Checks: hostd lists the guest with
#      vsock_cid 1 (the kernel's word for the peer) and a vsock peer, reports
#      keep arriving, `memsharectl reclaim vsock-guest 16M --kind file` over
#      vsock answers status 0 via memory.reclaim with freed file bytes > 0.
#      Then hostd gets SIGTERM (Goodbye; exit 0) and is started again 2 s
#      later: guestd, backing off (100 ms doubling), reconnects by itself, the
#      new hostd has its reports, and a reclaim works again.
#   2. the host calls the guest (Firecracker / Cloud Hypervisor): guestd
#      --listen vsock:-1:5253 --host-cid 1, hostd --connect vsock:1:5253.
#      Checks: vsock_cid 1, hostd's link is up, a reclaim round trip.
#   3. refusal: guestd --listen vsock:-1:5254 with the default --host-cid 2,
#      hostd --connect vsock:1:5254.  Checks: guestd refuses every attempt
#      ("vsock peer CID 1 is not the host (CID 2)") and never connects;
#      hostd shows its link down, no guest, the closed connections counted.
# Every agent exits 0 on SIGTERM; no agent logs an error.
# e2e-timeout-s: 240
. /e2e/lib.sh

HOSTD_RECORD=
S=/tmp/status.json

# check_vsock GUEST TAG PEER: the guest in $S (guest_wait's) came over vsock
# from CID 1; hostd names its peer PEER (a shell pattern).
check_vsock() {
	local cid peer
	cid=$(jget $S guests.$GUEST_IDX.vsock_cid)
	peer=$(jget $S guests.$GUEST_IDX.peer)
	log "$2: hostd sees '$1': vsock_cid $cid, peer $peer," \
		"reports $(jget $S guests.$GUEST_IDX.reports)"
	[ "$cid" = 1 ] || e2e_fail "$2: vsock_cid is '$cid', not 1 (loopback)"
	case "$peer" in
	$3) ;;
	*) e2e_fail "$2: peer is '$peer', not $3" ;;
	esac
}

# check_reclaim TAG: the last reclaim() went through and freed file memory.
check_reclaim() {
	[ "$R_STATUS" = 0 ] || e2e_fail "$1: reclaim status '$R_STATUS'"
	[ "$R_METHODS" = memory.reclaim ] || e2e_fail "$1: reclaim went through [$R_METHODS]"
	[ "${R_FILE:-0}" -gt 0 ] 2>/dev/null || e2e_fail "$1: reclaim freed '$R_FILE' file bytes"
}

# no_errors LOG...: the agents logged no error.
no_errors() {
	if grep -h '^memshare-[a-z]*: error: ' "$@" > /tmp/errors.txt; then
		e2e_fail "errors logged: $(head -3 /tmp/errors.txt | tr '\n' '|')"
	fi
}

$WL write "$E2E_DATA/files" 32 --file-mib 4 | tee -a "$E2E_OUT/timeline.txt"

# ---- 1. guest calls host ----------------------------------------------------
HOSTD_LISTEN=vsock:-1:5252; HOSTD_CONNECT=; GUESTD_CONNECT=vsock:1:5252; GUESTD_LISTEN=
HOSTD_LOG=$E2E_OUT/hostd-connect.log; GUESTD_LOG=$E2E_OUT/guestd-connect.log
hostd_start -v || e2e_end
guestd_start vsock-guest -vv
guest_wait vsock-guest 30 || { e2e_fail "connect: no report over vsock: $(tail -5 "$GUESTD_LOG" | tr '\n' '|')"; e2e_end; }
check_vsock vsock-guest connect "vsock:cid=1,port=*"
r1=$(jget $S guests.$GUEST_IDX.reports)
sleep 3
guest_wait vsock-guest 5
r2=$(jget $S guests.$GUEST_IDX.reports)
log "connect: reports $r1 -> $r2 in 3 s"
[ "${r2:-0}" -ge $((r1 + 2)) ] 2>/dev/null || e2e_fail "connect: reports $r1 -> $r2 in 3 s (1 a second asked)"

reclaim vsock-guest 16M file vsock-connect || e2e_fail "connect: memsharectl reclaim failed"
check_reclaim connect
C_FREED=$R_FILE C_US=$R_US C_RTT=$R_RTT_US C_WALL=$R_WALL_MS

# hostd restarts: Goodbye, 2 s away, back; guestd finds it again.
t_stop=$(e2e_ms)
hostd_stop TERM
sleep 2
t_start=$(e2e_ms)
hostd_start -v || e2e_end
if guest_wait vsock-guest 40; then
	t_conn=$((WAIT_T_MS - $(jget $S guests.$GUEST_IDX.connected_ms)))
	RC_AFTER=$((t_conn - t_start)) RC_DOWN=$((t_conn - t_stop)) RC_SEEN=$((WAIT_T_MS - t_start))
	log "restart: hostd down at ${t_stop} ms, up at ${t_start} ms; guestd reconnected at" \
		"${t_conn} ms: ${RC_AFTER} ms after the start, ${RC_DOWN} ms after the stop;" \
		"its report seen ${RC_SEEN} ms after the start"
	check_vsock vsock-guest restart "vsock:cid=1,port=*"
else
	e2e_fail "restart: guestd did not come back to the new hostd within 40 s"
fi
grep -q 'disconnected from vsock:1:5252: host said Goodbye' "$GUESTD_LOG" ||
	e2e_fail "restart: guestd did not log the host's Goodbye"
n=$(grep -c 'notice: connected to vsock:1:5252' "$GUESTD_LOG")
[ "$n" = 2 ] || e2e_fail "restart: guestd connected $n times, not 2"
RETRIES=$(grep -o 'connect to vsock:1:5252: [^;]*; retry in [0-9]* ms' "$GUESTD_LOG" |
	sed 's/.*retry in \([0-9]*\) ms/\1/' | tr '\n' ',' | sed 's/,$//')
log "restart: guestd's retries (ms): ${RETRIES:-none logged}"
reclaim vsock-guest 8M file vsock-reconnected || e2e_fail "restart: memsharectl reclaim failed"
[ "$R_STATUS" = 0 ] || e2e_fail "restart: reclaim status '$R_STATUS'"
guestd_stop
hostd_stop
no_errors "$HOSTD_LOG" "$GUESTD_LOG"

# ---- 2. host calls guest ----------------------------------------------------
$WL reread "$E2E_DATA"/files/* > /dev/null
HOSTD_LISTEN=; HOSTD_CONNECT=vsock:1:5253; GUESTD_CONNECT=; GUESTD_LISTEN=vsock:-1:5253
HOSTD_LOG=$E2E_OUT/hostd-listen.log; GUESTD_LOG=$E2E_OUT/guestd-listen.log
guestd_start vsock-listen --host-cid 1 -v
sleep 0.5
hostd_start -v || e2e_end
if guest_wait vsock-listen 30; then
	# (a connection hostd made is named by its endpoint)
	check_vsock vsock-listen listen vsock:1:5253
	links="$(jget $S agents.links)/$(jget $S agents.links_up)"
	log "listen: hostd links/up $links"
	[ "$links" = 1/1 ] || e2e_fail "listen: hostd's links/up are $links, not 1/1"
	reclaim vsock-listen 16M file vsock-listen || e2e_fail "listen: memsharectl reclaim failed"
	check_reclaim listen
	L_FREED=$R_FILE L_US=$R_US L_RTT=$R_RTT_US
else
	e2e_fail "listen: hostd did not get guestd's reports: $(tail -5 "$GUESTD_LOG" | tr '\n' '|')"
fi
guestd_stop
hostd_stop
no_errors "$HOSTD_LOG" "$GUESTD_LOG"

# ---- 3. a listening guest refuses a peer that is not its host --------------
HOSTD_LISTEN=; HOSTD_CONNECT=vsock:1:5254; GUESTD_CONNECT=; GUESTD_LISTEN=vsock:-1:5254
HOSTD_LOG=$E2E_OUT/hostd-refused.log; GUESTD_LOG=$E2E_OUT/guestd-refused.log
guestd_start vsock-refuse -v
sleep 0.5
hostd_start -v || e2e_end
sleep 4
memsharectl --host $CONTROL_EP --json status > $S 2>&1 || e2e_fail "refused: memsharectl status: $(cat $S)"
cp $S "$E2E_OUT/status-refused.json"
json_flat $S | grep -q '^guests\.0\.' && e2e_fail "refused: hostd lists a guest: $(jget $S guests.0.name)"
links="$(jget $S agents.links)/$(jget $S agents.links_up)"
drops=$(json_flat $S | awk -F= 'index($1, "agents.dropped.") == 1 { n += $2 } END { print n + 0 }')
REFUSED=$(grep -c 'refusing a connection on vsock:-1:5254: vsock peer CID 1 is not the host (CID 2)' "$GUESTD_LOG")
log "refused: guestd refused $REFUSED connections in 4 s; hostd: links/up $links," \
	"connections dropped $drops ($(json_flat $S | grep '^agents\.dropped\.' | grep -v '=0$' | tr '\n' ' '))"
[ "$links" = 1/0 ] || e2e_fail "refused: hostd's links/up are $links, not 1/0"
[ "$drops" -ge 1 ] || e2e_fail "refused: hostd counted no dropped connection"
[ "$REFUSED" -ge 2 ] || e2e_fail "refused: guestd logged $REFUSED refusals (hostd retries: want >= 2)"
! grep -q 'connected to' "$GUESTD_LOG" || e2e_fail "refused: guestd connected: $(grep 'connected to' "$GUESTD_LOG" | head -1)"
guestd_stop
hostd_stop
no_errors "$HOSTD_LOG" "$GUESTD_LOG"

summary "connect: cid 1, reclaim freed $(mib ${C_FREED:-0}) MiB in $((${C_US:-0} / 1000)) ms" \
	"(round trip $((${C_RTT:-0} / 1000)) ms, memsharectl ${C_WALL:-?} ms);" \
	"hostd SIGTERM + 2 s: guestd back ${RC_AFTER:-?} ms after the restart (retries ${RETRIES:-?} ms);" \
	"listen --host-cid 1: reclaim freed $(mib ${L_FREED:-0}) MiB in $((${L_US:-0} / 1000)) ms" \
	"(round trip $((${L_RTT:-0} / 1000)) ms); host-cid 2 refused CID 1 ${REFUSED:-0} times"
e2e_end
