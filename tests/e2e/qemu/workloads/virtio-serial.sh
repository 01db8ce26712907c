#!/bin/sh
# SPDX-License-Identifier: LGPL-2.1-or-later
# virtio-serial (guest side, about 20 s of workload; at most
# E2E_SERIAL_WINDOW_S, default 90): memshare-guestd on the virtio-serial port
# org.memshare.0 (run.sh gives QEMU the port; its host side is QEMU's chardev
# socket on this machine), memshare-hostd OUTSIDE the guest: the host-side
# driver, ../host/virtio-serial.sh, which run-tests.sh starts beside run.sh.
# The driver cannot write into the guest, so the two keep to a timeline:
#   guest: write 32 MiB of files, start guestd --connect
#          serial:/dev/virtio-ports/org.memshare.0 --name serial-guest, log
#          "serial: guestd up" (the driver waits for that console line);
#   host:  hostd --connect serial:SOCKET; reclaim 16M --kind file; SIGKILL
#          hostd (no Goodbye), start another; SIGTERM it (Goodbye), start a
#          third; SIGTERM it; then the same behind a relay that keeps QEMU's
#          socket connected: hostd #4, SIGKILL, hostd #5, SIGTERM;
#   guest: once guestd has had five sessions and seen five ends (or when
#          the window is over), stop guestd (must exit 0) and check its log:
#          >= 5 "connected to serial:" lines, at least one session ended by
#          the port's hang-up (QEMU closes the port when hostd goes) and one
#          restarted by the new host's sync marker while the guest was READY
#          ("the host restarted the session": the relay kept the port open),
#          the reclaim done with freed file bytes > 0, no error, no warning
#          but disconnects.
# Both sides must pass (run-tests.sh).  Run alone (run.sh), the guest fails
# after the window: nothing connects to the port.
# e2e-timeout-s: 240
# e2e-virtio-serial: yes
. /e2e/lib.sh

PORT=org.memshare.0
WINDOW_S=${E2E_SERIAL_WINDOW_S:-90}

virtio_port_wait $PORT 10 || e2e_end
log "serial: /dev/virtio-ports/$PORT -> $(readlink /dev/virtio-ports/$PORT)"
$WL write "$E2E_DATA/files" 32 --file-mib 4 | tee -a "$E2E_OUT/timeline.txt"

GUESTD_CONNECT=serial:/dev/virtio-ports/$PORT
guestd_start serial-guest -v
log "serial: guestd up; the host side has $WINDOW_S s"

# Follow guestd's sessions as the host side comes and goes.
conn=0; ends=0; t_end=$(($(e2e_ms) + WINDOW_S * 1000))
while [ "$(e2e_ms)" -lt $t_end ]; do
	c=$(grep -c 'notice: connected to serial:' "$GUESTD_LOG")
	e=$(grep -cE 'warning: disconnected from serial:|the host restarted the session' "$GUESTD_LOG")
	if [ "$c" != "$conn" ] || [ "$e" != "$ends" ]; then
		log "serial: guestd sessions $c, ended $e"
		conn=$c; ends=$e
	fi
	[ "$c" -ge 5 ] && [ "$e" -ge 5 ] && break
	kill -0 $GUESTD_PID 2>/dev/null || { e2e_fail "guestd died: $(tail -3 "$GUESTD_LOG" | tr '\n' '|')"; break; }
	sleep 0.5
done
guestd_stop

restarted=$(grep -c 'the host restarted the session' "$GUESTD_LOG")
hangups=$(grep -c 'disconnected from serial:.*: connection closed by the host' "$GUESTD_LOG")
goodbyes=$(grep -c 'disconnected from serial:.*: host said Goodbye' "$GUESTD_LOG")
log "serial: $conn sessions; ends: $restarted sync markers from a READY guest's host," \
	"$hangups hang-ups, $goodbyes Goodbyes"
[ "$conn" -ge 5 ] || e2e_fail "guestd connected $conn times over the port, not >= 5 (the host side: ../host/virtio-serial.sh)"
[ "$hangups" -ge 1 ] || e2e_fail "no session ended by the port's hang-up (hostd killed)"
[ "$restarted" -ge 1 ] || e2e_fail "no session restarted by a sync marker from the host"
rec=$(grep '^memshare-guestd: reclaim [0-9]*: ok, freed' "$GUESTD_LOG" | head -1)
ffile=$(echo "$rec" | sed -n 's/.*(file \([0-9]*\),.*/\1/p')
us=$(echo "$rec" | sed -n 's/.*) in \([0-9]*\) us.*/\1/p')
log "serial: guestd's reclaim: ${rec:-none}"
[ "${ffile:-0}" -gt 0 ] 2>/dev/null || e2e_fail "no reclaim freed file bytes over the port (${rec:-none logged})"
if grep '^memshare-guestd: error: ' "$GUESTD_LOG" > /tmp/errors.txt; then
	e2e_fail "guestd logged errors: $(head -3 /tmp/errors.txt | tr '\n' '|')"
fi
if grep '^memshare-guestd: warning: ' "$GUESTD_LOG" | grep -v 'warning: disconnected from serial:' > /tmp/warnings.txt; then
	e2e_fail "guestd logged warnings: $(head -3 /tmp/warnings.txt | tr '\n' '|')"
fi
summary "guestd: $conn sessions over the port (ends: $hangups hang-ups, $goodbyes Goodbyes," \
	"$restarted sync-marker restarts); reclaim freed $(mib ${ffile:-0}) MiB in $((${us:-0} / 1000)) ms"
e2e_end
