#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# Host side of the virtio-serial e2e test (workloads/virtio-serial.sh is the
# guest side): memshare-hostd on THIS machine, reaching the guest's
# memshare-guestd through QEMU's chardev socket of the port org.memshare.0.
#
#   host/virtio-serial.sh --serial SOCKET --build DIR --out DIR
#                         [--progress FILE] [--timeout S]
#
# --serial    QEMU's chardev socket (run.sh --virtio-serial SOCKET)
# --build     the meson build whose memshare-hostd and memsharectl to run
# --out       this side's results: hostd-N.log, status and reclaim JSON,
#             driver.log, summary.txt
# --progress  run.sh's output: wait for the guest's "serial: guestd up"
#             line before starting hostd (else start once the socket exists:
#             hostd then finds the agent with its own backoff, later)
# --timeout   give up after S seconds in all (default 240)
#
# Steps (each hostd: --connect serial:SOCKET --control unix:OUT/control.sock
# --dry-run -v; never --listen, so no AF_VSOCK socket on this machine):
#   1. hostd #1; wait until `memsharectl --json status` lists serial-guest
#      with reports (its peer the serial endpoint, no vsock CID); reports
#      keep coming; reclaim serial-guest 16M --kind file: status 0 via
#      memory.reclaim, freed file bytes > 0 (the guest's own memory.reclaim)
#   2. SIGKILL hostd #1 (no Goodbye), start #2 at once: serial-guest back
#      with reports (hostd's marker restarts the guest's session)
#   3. SIGTERM #2 (Goodbye; exit 0), start #3 at once: back again; a second
#      reclaim (status 0); SIGTERM #3 (exit 0)
#   4. the same restart behind a relay that keeps QEMU's socket connected
#      (as a proxy or a multiplexer on the host side would): hostd #4 through
#      the relay, SIGKILL, hostd #5 at once.  The guest's port never hangs
#      up, so only hostd #5's sync marker tells the guest: its session
#      restarts ("the host restarted the session", checked in the guest)
#      and hostd #5 gets its reports.  SIGTERM #5 (exit 0).
# In 2 and 3 QEMU closes the port when hostd goes (the guest sees the hang-up
# and reopens the port); 4 is the guest that never noticed.
# No hostd logs an error.  Prints "FAIL: ..." lines, writes a one-line
# summary.txt; exits 0 when every check passed, 1 otherwise.
set -euo pipefail

main() {
sock=; build=; out=; progress=; timeout_s=240
while [ $# -gt 0 ]; do
	case "$1" in
	--serial) sock=${2:?}; shift 2 ;;
	--build) build=${2:?}; shift 2 ;;
	--out) out=${2:?}; shift 2 ;;
	--progress) progress=${2:?}; shift 2 ;;
	--timeout) timeout_s=${2:?}; shift 2 ;;
	*) sed -n '7,8p' "$0" | sed 's/^# \{0,1\}//' >&2; exit 2 ;;
	esac
done
[ -n "$sock" ] && [ -n "$build" ] && [ -n "$out" ] || { sed -n '7,8p' "$0" | sed 's/^# \{0,1\}//' >&2; exit 2; }
hostd=$build/agents/memshare-hostd
ctl=$build/tools/memsharectl
[ -x "$hostd" ] && [ -x "$ctl" ] || { echo "virtio-serial host: no $hostd or $ctl" >&2; exit 2; }
mkdir -p "$out"
out=$(cd "$out" && pwd)
control=unix:$out/control.sock
name=serial-guest
failed=0
t_begin=$(now_ms)
deadline=$((t_begin + timeout_s * 1000))

# 0. QEMU's socket, then the guest's agent.
until [ -S "$sock" ]; do
	[ "$(now_ms)" -lt $((t_begin + 60000)) ] || { fail "no QEMU chardev socket $sock after 60 s"; end; }
	sleep 0.2
done
say "QEMU's socket $sock is there"
if [ -n "$progress" ]; then
	until grep -aq 'serial: guestd up' "$progress" 2>/dev/null; do
		[ "$(now_ms)" -lt "$deadline" ] || { fail "the guest never said 'serial: guestd up'"; end; }
		grep -aq 'run.sh: qemu exited' "$progress" 2>/dev/null &&
			{ fail "QEMU exited before the guest's agent started"; end; }
		sleep 0.2
	done
	say "the guest's agent is up (console)"
fi

# 1. First hostd, a reclaim.
EP=serial:$sock
hostd_start 1 || end
wait_guest 120 first || end
say "hostd #1: serial-guest: peer $G_PEER, vsock_cid $G_CID, $G_REPORTS reports, first" \
	"$G_FIRST ms after hostd #1 started"
[[ "$G_PEER" == serial:* ]] || fail "hostd #1: peer '$G_PEER' is not the serial endpoint"
[ "$G_CID" = None ] || fail "hostd #1: vsock_cid '$G_CID' on a serial port"
r1=$G_REPORTS
sleep 2.5
wait_guest 5 reports || end
say "hostd #1: reports $r1 -> $G_REPORTS in 2.5 s"
[ "$G_REPORTS" -ge $((r1 + 2)) ] || fail "hostd #1: reports $r1 -> $G_REPORTS in 2.5 s (1 a second asked)"
reclaim 16M 1 || true
[ "$R_STATUS" = 0 ] || fail "reclaim over the port: status '$R_STATUS'"
[ "$R_METHODS" = memory.reclaim ] || fail "reclaim over the port went through [$R_METHODS]"
[ "${R_FILE:-0}" -gt 0 ] || fail "reclaim over the port freed '$R_FILE' file bytes"
RC1="freed $(mib "$R_FILE") MiB in $((R_US / 1000)) ms (round trip $((R_RTT_US / 1000)) ms, memsharectl $R_WALL_MS ms)"

# 2. SIGKILL: no Goodbye; a new hostd at once.
hostd_stop KILL
hostd_start 2 || end
if wait_guest 30 "after SIGKILL"; then
	BACK_KILL=$G_FIRST
	say "hostd #2 (after SIGKILL of #1): serial-guest's first report $BACK_KILL ms after the start"
fi

# 3. SIGTERM: Goodbye; a new hostd at once.
hostd_stop TERM
hostd_start 3 || end
if wait_guest 30 "after SIGTERM"; then
	BACK_TERM=$G_FIRST
	say "hostd #3 (after SIGTERM of #2): serial-guest's first report $BACK_TERM ms after the start"
	reclaim 8M 3 || true
	[ "$R_STATUS" = 0 ] || fail "reclaim after the restarts: status '$R_STATUS'"
	RC3="$(mib "$R_FILE") MiB in $((R_US / 1000)) ms (round trip $((R_RTT_US / 1000)) ms)"
fi
hostd_stop TERM

# 4. Behind a relay that keeps QEMU's socket connected.
python3 -c "$PY_RELAY" "$sock" "$out/relay.sock" >> "$out/relay.log" 2>&1 &
RELAY_PID=$!
for i in $(seq 1 50); do [ -S "$out/relay.sock" ] && break; sleep 0.1; done
EP=serial:$out/relay.sock
hostd_start 4 || end
if wait_guest 30 "through the relay"; then
	say "hostd #4 (through the relay): serial-guest's first report $G_FIRST ms after the start"
fi
hostd_stop KILL
hostd_start 5 || end
if wait_guest 30 "after SIGKILL behind the relay"; then
	BACK_RELAY=$G_FIRST
	say "hostd #5 (after SIGKILL of #4, the port kept open): serial-guest's first report" \
		"$BACK_RELAY ms after the start; $G_SYNC_DROPPED stale bytes dropped before its marker"
fi
hostd_stop TERM
sleep 0.5
kill "$RELAY_PID" 2>/dev/null || true
wait "$RELAY_PID" 2>/dev/null || true
RELAY_PID=
say "$(tr '\n' ' ' < "$out/relay.log")"
if grep -h '^memshare-hostd: error: ' "$out"/hostd-*.log > "$out/errors.txt"; then
	fail "hostd logged errors: $(head -3 "$out/errors.txt" | tr '\n' '|')"
fi
printf '%s\n' "hostd: reclaim over the port $RC1, after two restarts ${RC3:-?};" \
	"first report from a new hostd after SIGKILL ${BACK_KILL:-?} ms, after SIGTERM" \
	"${BACK_TERM:-?} ms, after SIGKILL with the port kept open ${BACK_RELAY:-?} ms" |
	tr '\n' ' ' | sed 's/ $/\n/' > "$out/summary.txt"
say "summary: $(cat "$out/summary.txt")"
end
}

now_ms() { echo $(($(date +%s%N) / 1000000)); }
say() {
	local d=$(($(now_ms) - t_begin))
	echo "host: +$((d / 1000)).$((d % 1000 / 100)) s $*" | tee -a "$out/driver.log"
}
fail() { say "FAIL: $*"; failed=1; }
mib() { awk -v b="$1" 'BEGIN { printf "%.1f", b / 1048576 }'; }

end() {
	hostd_stop TERM
	[ -z "${RELAY_PID:-}" ] || kill "$RELAY_PID" 2>/dev/null || true
	rm -f "${control#unix:}"
	say "host side: $([ $failed = 0 ] && echo ok || echo FAILED)"
	exit $failed
}

HOSTD_PID=; HOSTD_N=; RELAY_PID=
hostd_start() {
	local i
	HOSTD_N=$1
	T_START=$(now_ms)
	# --connect only: hostd opens no listening socket, no AF_VSOCK.
	"$hostd" --connect "$EP" --control "$control" --report-interval-ms 1000 \
		--dry-run -v >> "$out/hostd-$1.log" 2>&1 &
	HOSTD_PID=$!
	for i in $(seq 1 100); do
		"$ctl" --host "$control" status > /dev/null 2>&1 && return 0
		kill -0 $HOSTD_PID 2>/dev/null || break
		sleep 0.1
	done
	fail "hostd #$1 did not start: $(tail -3 "$out/hostd-$1.log" | tr '\n' '|')"
	if ! kill -0 $HOSTD_PID 2>/dev/null; then
		wait $HOSTD_PID 2>/dev/null || say "hostd #$1 exited $?"
		HOSTD_PID=
	fi
	return 1
}

hostd_stop() {
	local rc=0
	[ -n "$HOSTD_PID" ] || return 0
	kill -"$1" "$HOSTD_PID" 2>/dev/null || true
	wait "$HOSTD_PID" 2>/dev/null || rc=$?
	HOSTD_PID=
	say "hostd #$HOSTD_N: SIG$1, exit $rc"
	if [ "$1" = TERM ] && [ $rc != 0 ]; then fail "hostd #$HOSTD_N exited $rc after SIGTERM"; fi
	if [ "$1" = KILL ] && [ $rc != 137 ]; then fail "hostd #$HOSTD_N exited $rc after SIGKILL"; fi
	return 0
}

# The guest's line of a `memsharectl --json status` (stdin): "REPORTS
# LAST_REPORT_AGE_MS SYNC_BYTES_DROPPED VSOCK_CID PEER" of guest argv[1]
# once it has a report.
PY_GUEST='
import json, sys
try:
    guests = json.load(sys.stdin).get("guests") or []
except ValueError:
    sys.exit(1)
for g in guests:
    if g.get("name") == sys.argv[1] and g.get("reports", 0) > 0:
        print(g["reports"], g["last_report_age_ms"],
              (g.get("rejected") or {}).get("sync_bytes_dropped"), g.get("vsock_cid"), g.get("peer"))
        sys.exit(0)
sys.exit(1)
'
# A `memsharectl --json reclaim` answer (stdin): "STATUS FREED FREED_FILE
# DURATION_US ROUND_TRIP_US METHODS".
PY_RECLAIM='
import json, sys
try:
    d = json.load(sys.stdin)
except ValueError:
    sys.exit(1)
r = d.get("result") or {}
print(r.get("status"), r.get("freed_bytes") or 0, r.get("freed_file_bytes") or 0,
      r.get("duration_us") or 0, d.get("round_trip_us") or 0, ",".join(r.get("methods") or []) or "-")
'

# A relay between QEMU's chardev socket (argv[1]) and a socket hostd
# connects to (argv[2]): connects to QEMU when the first hostd comes and
# stays connected, one hostd at a time; what the guest sends while no hostd
# is there is dropped (and counted).
PY_RELAY='
import os, selectors, socket, sys
up_path, down_path = sys.argv[1], sys.argv[2]
ls = socket.socket(socket.AF_UNIX)
ls.bind(down_path)
ls.listen(1)
sel = selectors.DefaultSelector()
sel.register(ls, selectors.EVENT_READ, "listen")
up = down = None
dropped = 0
def say(m):
    print("relay:", m, flush=True)
while True:
    for key, _ in sel.select():
        if key.data == "listen":
            c, _ = ls.accept()
            if down:
                c.close()
                continue
            down = c
            sel.register(down, selectors.EVENT_READ, "down")
            if not up:
                up = socket.socket(socket.AF_UNIX)
                up.connect(up_path)
                sel.register(up, selectors.EVENT_READ, "up")
                say("hostd connected; connected to QEMU")
            else:
                say("hostd connected; %d bytes from the guest dropped meanwhile" % dropped)
            dropped = 0
        elif key.data == "up":
            b = up.recv(65536)
            if not b:
                say("QEMU closed")
                sys.exit(0)
            if not down:
                dropped += len(b)
                continue
            try:
                down.sendall(b)
            except OSError:
                dropped += len(b)
        else:
            try:
                b = down.recv(65536)
            except OSError:
                b = b""
            if b:
                up.sendall(b)
                continue
            sel.unregister(down)
            down.close()
            down = None
            say("hostd gone; QEMU stays connected")
'

# wait_guest SECONDS WHAT: until hostd lists serial-guest with a report.
# Sets G_FIRST (ms from hostd_start to the guest's first report: the session
# is up), G_REPORTS, G_CID, G_PEER, G_SYNC_DROPPED.
wait_guest() {
	local until_t=$(($(now_ms) + $1 * 1000)) f=$out/status-$HOSTD_N.json line
	while [ "$(now_ms)" -lt $until_t ] && [ "$(now_ms)" -lt "$deadline" ]; do
		WAIT_T=$(now_ms)
		if "$ctl" --host "$control" --json status > "$f.tmp" 2>/dev/null &&
			line=$(python3 -c "$PY_GUEST" "$name" < "$f.tmp"); then
			mv "$f.tmp" "$f"
			read -r G_REPORTS G_AGE_MS G_SYNC_DROPPED G_CID G_PEER <<< "$line"
			# The guest reports at once after Welcome, then every 1000 ms.
			G_FIRST=$((WAIT_T - G_AGE_MS - (G_REPORTS - 1) * 1000 - T_START))
			return 0
		fi
		sleep 0.05
	done
	fail "hostd #$HOSTD_N: no report from $name ($2) within $1 s"
	return 1
}

# reclaim SIZE TAG: memsharectl --json reclaim through hostd.
reclaim() {
	local f=$out/reclaim-$2.json t0 rc=0 vals
	t0=$(now_ms)
	"$ctl" --host "$control" --json reclaim "$name" "$1" --kind file > "$f" 2>&1 || rc=$?
	R_WALL_MS=$(($(now_ms) - t0))
	vals=$(python3 -c "$PY_RECLAIM" < "$f" || true)
	read -r R_STATUS R_FREED R_FILE R_US R_RTT_US R_METHODS <<< "${vals:-? 0 0 0 0 -}"
	say "reclaim $name $1 --kind file: status $R_STATUS, freed $R_FREED bytes (file $R_FILE) in" \
		"$R_US us via [$R_METHODS]; round trip $R_RTT_US us, memsharectl $R_WALL_MS ms"
	[ $rc = 0 ] || { fail "memsharectl reclaim exited $rc: $(tr '\n' ' ' < "$f")"; return 1; }
}

main "$@"
