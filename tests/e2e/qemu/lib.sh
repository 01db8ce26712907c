# SPDX-License-Identifier: LGPL-2.1-or-later
# Helpers for the workload plug-ins of the QEMU end-to-end harness.  Runs in
# the guest (busybox sh); a plug-in starts with `. /e2e/lib.sh`.
#
# Environment set by /init: E2E_OUT (results, packed as a tar at the end),
# E2E_DATA (an empty ext4 file system on a virtio disk), E2E_NAME (the
# plug-in's name).  Everything a plug-in writes under $E2E_OUT comes back to
# the host in run.sh's --out directory.
#
#   log MSG...              timeline line (seconds since the plug-in began)
#   e2e_ms                  milliseconds since the plug-in began (10 ms steps)
#   at SECONDS              sleep until SECONDS after the plug-in began
#   agents_start [NAME]     memshare-hostd (recording $E2E_OUT/trace.mstrace,
#                           --dry-run unless E2E_HOSTD_ACT=1) and
#                           memshare-guestd, over unix sockets in /run (or
#                           the endpoints below); returns once the host has
#                           the guest's first report.
#                           E2E_HOSTD_ARGS / E2E_GUESTD_ARGS: more options,
#                           commas for spaces (the kernel command line has
#                           none): E2E_GUESTD_ARGS=--mglru-aging-ms=0,-v
#   hostd_start [OPT...]    agents_start's two halves, for plug-ins that
#   guestd_start [NAME [OPT...]]  start, stop and restart the agents
#                           themselves (transports, restarts); hostd_start
#                           returns once the control socket answers
#   hostd_stop [SIGNAL]     SIGTERM (default: must exit 0) or e.g. KILL
#   guestd_stop             SIGTERM; must exit 0
#   guest_wait NAME SECONDS [FILE]
#                           until memsharectl --json status lists guest NAME
#                           with a report; the status is left in FILE
#                           (default /tmp/status.json), its index in GUEST_IDX,
#                           when it was asked for (e2e_ms) in WAIT_T_MS
#   virtio_port_wait NAME [SECONDS]
#                           until /dev/virtio-ports/NAME exists (/init makes
#                           the links from /sys/class/virtio-ports)
#   reclaim GUEST SIZE KIND TAG
#                           memsharectl --json reclaim through hostd, answer in
#                           $E2E_OUT/reclaim-TAG.json; sets R_STATUS, R_FREED,
#                           R_FILE (bytes), R_US (the guest's reclaim), R_RTT_US
#                           (hostd's round trip), R_WALL_MS, R_METHODS
#
# Where the agents meet (set before agents_start / hostd_start /
# guestd_start; lists are space-separated, empty means none):
#   HOSTD_LISTEN            hostd --listen (default unix:/run/guests.sock)
#   HOSTD_CONNECT           hostd --connect (default none)
#   GUESTD_CONNECT          guestd --connect (default unix:/run/guests.sock)
#   GUESTD_LISTEN           guestd --listen instead, when set
#   CONTROL_EP              hostd's control socket (unix:/run/control.sock)
#   HOSTD_RECORD            hostd --record (default $E2E_OUT/trace.mstrace)
#   HOSTD_LOG, GUESTD_LOG   the agents' stderr, appended to
#                           ($E2E_OUT/hostd.log, $E2E_OUT/guestd.log)
#   snapshot TAG            memsharectl --json status, meminfo, vmstat, PSI and
#                           lru_gen into $E2E_OUT/snap/TAG/
#   sampler_start SECONDS   append meminfo/PSI/lru_gen to $E2E_OUT/samples.txt
#                           every SECONDS (sampler_stop ends it)
#   ager_start SECONDS      MGLRU aging every SECONDS (see README.md)
#   ager_default            the recording plug-ins' E2E_AGE_EVERY_S default:
#                           0 (no harness ager) when memshare-guestd ages by
#                           itself (--mglru-aging-ms), else 45
#   bg NAME CMD...          run CMD in the background, output in
#                           $E2E_OUT/NAME.log, pid in $BG_PID
#   bg_wait PID NAME        wait for it; fails the plug-in if it failed
#   agents_stop             SIGTERM guestd, then hostd; both must exit 0
#   e2e_fail MSG            note a failure (the plug-in then exits 1)
#
# For tests (plug-ins that check what they measured):
#   summary MSG...          the test's one-line result, $E2E_OUT/summary.txt
#                           (run-tests.sh prints it)
#   json_flat FILE          JSON -> "path=value" lines (guests.0.name=x)
#   jget FILE PATH          one value of FILE (JSON) by flat path
#   status_file_split FILE AGE_MS [GUEST]
#                           "YOUNG OLD": file bytes of the guest's LRU bins
#                           (memsharectl --json status; GUEST index, default
#                           0) that start below / at or above AGE_MS, which
#                           must be a bin edge
#   lru_gen_file_split FILE AGE_MS
#                           the same from the kernel's lru_gen text
#   lru_gen_max_seq FILE    the youngest generation number of lru_gen
#   mib BYTES               bytes as MiB, one decimal
#
# The plug-in ends with `e2e_end`, which stops what is still running and
# exits 0, or 1 after any failure.

E2E_OUT=${E2E_OUT:-/out}
E2E_DATA=${E2E_DATA:-/mnt/data}
E2E_NAME=${E2E_NAME:-e2e}
WL=memshare-e2e-workload
GUESTS_EP=unix:/run/guests.sock
CONTROL_EP=unix:/run/control.sock
HOSTD_LISTEN=$GUESTS_EP
HOSTD_CONNECT=
GUESTD_CONNECT=$GUESTS_EP
GUESTD_LISTEN=
HOSTD_RECORD=$E2E_OUT/trace.mstrace
HOSTD_LOG=$E2E_OUT/hostd.log
GUESTD_LOG=$E2E_OUT/guestd.log
E2E_FAILED=
HOSTD_PID=; GUESTD_PID=; SAMPLER_PID=; AGER_PID=
E2E_T0=$(cut -d' ' -f1 /proc/uptime)
mkdir -p "$E2E_OUT/snap"

e2e_now() { awk -v t0="$E2E_T0" '{ printf "%.1f", $1 - t0 }' /proc/uptime; }

e2e_ms() { awk -v t0="$E2E_T0" '{ printf "%.0f", ($1 - t0) * 1000 }' /proc/uptime; }

log() { echo "@@ t=$(e2e_now) $*" | tee -a "$E2E_OUT/timeline.txt"; }

e2e_fail() { log "FAIL: $*"; E2E_FAILED=1; }

at() {
	local d
	# (no "x > 0 ? :" in printf: busybox awk reads ">" as a redirection)
	d=$(awk -v t0="$E2E_T0" -v at="$1" '{ d = t0 + at - $1; if (d < 0) d = 0; printf "%.2f", d }' /proc/uptime)
	sleep "$d"
}

memsum() {
	awk '/^(MemTotal|MemFree|MemAvailable|Cached|AnonPages|Shmem|SReclaimable):/ {
		printf "%s%d ", $1, $2 / 1024 } END { print "(MiB)" }' /proc/meminfo
}

agents_start() {
	local name=${1:-$E2E_NAME}
	hostd_start || return 1
	guestd_start "$name"
	[ -z "${E2E_GUESTD_ARGS:-}" ] || log "memshare-guestd options: ${E2E_GUESTD_ARGS}"
	if guest_wait "$name" 30; then
		log "agents up: hostd pid $HOSTD_PID, guestd pid $GUESTD_PID ('$name')"
		return 0
	fi
	e2e_fail "no report from memshare-guestd: $(cat "$GUESTD_LOG")"
	return 1
}

# Is hostd up: its control socket answers, its unix listeners exist?
hostd_ready() {
	local ep
	[ -S "${CONTROL_EP#unix:}" ] || return 1
	for ep in $HOSTD_LISTEN; do
		case $ep in unix:/*) [ -S "${ep#unix:}" ] || return 1 ;; esac
	done
	memsharectl --host $CONTROL_EP status > /dev/null 2>&1
}

hostd_start() {
	local act= args= ep i
	# Recordings are passive: a hostd that balances would reclaim from the
	# guest it records.  E2E_HOSTD_ACT=1 lets it act (hostds without a
	# policy, older than --dry-run, never act).
	if [ "${E2E_HOSTD_ACT:-0}" != 1 ] && memshare-hostd --help 2>&1 | grep -q -- --dry-run; then
		act=--dry-run
	fi
	for ep in $HOSTD_LISTEN; do args="$args --listen $ep"; done
	for ep in $HOSTD_CONNECT; do args="$args --connect $ep"; done
	args="$args --control $CONTROL_EP"
	[ -z "$HOSTD_RECORD" ] || args="$args --record $HOSTD_RECORD"
	memshare-hostd $args --report-interval-ms 1000 $act \
		$(echo "${E2E_HOSTD_ARGS:-}" | tr , ' ') "$@" >> "$HOSTD_LOG" 2>&1 &
	HOSTD_PID=$!
	log "memshare-hostd$args $act ${E2E_HOSTD_ARGS:-} $*: $(memshare-hostd --version 2>&1)"
	for i in $(seq 1 100); do
		hostd_ready && return 0
		kill -0 $HOSTD_PID 2>/dev/null || break
		sleep 0.1
	done
	e2e_fail "memshare-hostd did not start: $(tail -5 "$HOSTD_LOG" | tr '\n' ' ')"
	return 1
}

guestd_start() {
	local name=${1:-$E2E_NAME} how="--connect $GUESTD_CONNECT"
	[ $# -gt 0 ] && shift
	[ -z "$GUESTD_LISTEN" ] || how="--listen $GUESTD_LISTEN"
	memshare-guestd $how --name "$name" $(echo "${E2E_GUESTD_ARGS:-}" | tr , ' ') "$@" \
		>> "$GUESTD_LOG" 2>&1 &
	GUESTD_PID=$!
	log "memshare-guestd $how --name $name $* (pid $GUESTD_PID)"
}

guest_wait() {
	local name=$1 tries=$(($2 * 5)) f=${3:-/tmp/status.json} i
	GUEST_IDX=
	for i in $(seq 1 $tries); do
		WAIT_T_MS=$(e2e_ms)
		if memsharectl --host $CONTROL_EP --json status > "$f" 2>/dev/null &&
			grep -q "\"name\": \"$name\"" "$f"; then
			GUEST_IDX=$(json_flat "$f" | awk -F= -v n="$name" '
				$1 ~ /^guests\.[0-9]+\.name$/ && $2 == n { split($1, p, "."); i = p[2] }
				$1 ~ /^guests\.[0-9]+\.reports$/ { split($1, p, "."); r[p[2]] = $2 + 0 }
				END { if (i != "" && r[i] > 0) print i }')
			[ -n "$GUEST_IDX" ] && return 0
		fi
		sleep 0.2
	done
	return 1
}

hostd_stop() {
	local sig=${1:-TERM} rc
	[ -n "$HOSTD_PID" ] || return 0
	kill -$sig $HOSTD_PID 2>/dev/null
	wait $HOSTD_PID
	rc=$?
	HOSTD_PID=
	[ "$sig" != TERM ] || [ $rc = 0 ] || e2e_fail "memshare-hostd exited $rc after SIGTERM"
	return 0
}

guestd_stop() {
	local rc
	[ -n "$GUESTD_PID" ] || return 0
	kill -TERM $GUESTD_PID 2>/dev/null
	wait $GUESTD_PID
	rc=$?
	GUESTD_PID=
	[ $rc = 0 ] || e2e_fail "memshare-guestd exited $rc after SIGTERM"
	return 0
}

virtio_port_wait() {
	local i p
	for i in $(seq 1 $((${2:-10} * 5))); do
		[ -e "/dev/virtio-ports/$1" ] && return 0
		# A port that showed up after /init made the links.
		for p in /sys/class/virtio-ports/*; do
			[ "$(cat "$p/name" 2>/dev/null)" = "$1" ] || continue
			mkdir -p /dev/virtio-ports && ln -sf "../${p##*/}" "/dev/virtio-ports/$1"
		done
		[ -e "/dev/virtio-ports/$1" ] && return 0
		sleep 0.2
	done
	e2e_fail "no /dev/virtio-ports/$1 (ports: $(cat /sys/class/virtio-ports/*/name 2>/dev/null | tr '\n' ' '))"
	return 1
}

reclaim() {
	local f="$E2E_OUT/reclaim-$4.json" t0 rc=0
	t0=$(e2e_ms)
	memsharectl --host $CONTROL_EP --json reclaim "$1" "$2" --kind "$3" > "$f" 2>&1 || rc=1
	R_WALL_MS=$(($(e2e_ms) - t0))
	R_STATUS=$(jget "$f" result.status); R_FREED=$(jget "$f" result.freed_bytes)
	R_FILE=$(jget "$f" result.freed_file_bytes); R_US=$(jget "$f" result.duration_us)
	R_RTT_US=$(jget "$f" round_trip_us)
	R_METHODS=$(json_flat "$f" | awk -F= 'index($1, "result.methods.") == 1 { printf "%s%s", s, $2; s = "," }')
	log "reclaim $4 ($1 $2 $3): status ${R_STATUS:-?}, freed ${R_FREED:-?} bytes (file ${R_FILE:-?})" \
		"in ${R_US:-?} us via [$R_METHODS]; round trip ${R_RTT_US:-?} us, memsharectl ${R_WALL_MS} ms"
	[ $rc = 0 ] || log "memsharectl reclaim: $(tr '\n' ' ' < "$f")"
	return $rc
}

snapshot() {
	local d="$E2E_OUT/snap/$1"
	mkdir -p "$d"
	memsharectl --host $CONTROL_EP --json status > "$d/status.json" 2> "$d/status.err" ||
		e2e_fail "memsharectl status at '$1': $(cat "$d/status.err")"
	[ -s "$d/status.err" ] || rm -f "$d/status.err"
	cat /proc/meminfo > "$d/meminfo"
	cat /proc/vmstat > "$d/vmstat"
	cat /proc/pressure/memory > "$d/pressure.memory"
	cat /sys/kernel/debug/lru_gen > "$d/lru_gen"
	log "snapshot $1: $(memsum)"
}

sampler_start() {
	(
		while :; do
			echo "== t=$(e2e_now) $(memsum)"
			echo "psi $(tr '\n' ' ' < /proc/pressure/memory)"
			grep -E '^(workingset_refault_file|workingset_refault_anon|pgscan_kswapd|pgscan_direct|pgsteal_kswapd|pgsteal_direct) ' /proc/vmstat | tr '\n' ' '
			echo
			cat /sys/kernel/debug/lru_gen
			sleep "$1"
		done
	) >> "$E2E_OUT/samples.txt" 2>&1 &
	SAMPLER_PID=$!
}

sampler_stop() {
	[ -n "$SAMPLER_PID" ] && kill $SAMPLER_PID 2>/dev/null && wait $SAMPLER_PID 2>/dev/null
	SAMPLER_PID=
}

ager_start() {
	$WL age --every "$1" > "$E2E_OUT/ager.log" 2>&1 &
	AGER_PID=$!
	log "MGLRU aging every $1 s (pid $AGER_PID)"
}

# memshare-guestd ages MGLRU itself since --mglru-aging-ms (default 40 s); a
# second ager on top makes the generations younger than either interval
# says (with both, nothing ever reached 120 s in cache-cold).
ager_default() {
	if memshare-guestd --help 2>&1 | grep -q -- --mglru-aging-ms; then
		echo 0
	else
		echo 45
	fi
}

# The start of every recording plug-in: samples every 10 s, the agents
# (hostd recording), the harness's ager only if guestd cannot age
# (or E2E_AGE_EVERY_S asks for it), and the "start" snapshot.
recording_start() {
	sampler_start 10
	agents_start || e2e_end
	AGE_S=${E2E_AGE_EVERY_S:-$(ager_default)}
	if [ "$AGE_S" = 0 ]; then log "harness ager off (guestd ages)"; else ager_start "$AGE_S"; fi
	snapshot start
}

ager_stop() {
	[ -n "$AGER_PID" ] || return 0
	kill $AGER_PID 2>/dev/null
	wait $AGER_PID || e2e_fail "ager exited $?: $(tail -3 "$E2E_OUT/ager.log")"
	log "ager: $(grep '^WL age done' "$E2E_OUT/ager.log")"
	AGER_PID=
}

bg() {
	local name=$1
	shift
	"$@" > "$E2E_OUT/$name.log" 2>&1 &
	BG_PID=$!
}

bg_wait() {
	if wait "$1"; then
		log "$2 done: $(grep '^WL' "$E2E_OUT/$2.log" | tail -1)"
	else
		e2e_fail "$2 exited $?: $(tail -3 "$E2E_OUT/$2.log")"
	fi
}

# SIGTERM guestd (it says Goodbye), then hostd; both must exit 0.
agents_stop() {
	local logs= f
	[ -n "$GUESTD_PID$HOSTD_PID" ] || return 0      # already stopped
	if [ -n "$GUESTD_PID" ]; then
		guestd_stop
		sleep 0.5
	fi
	hostd_stop
	log "agents stopped; trace $([ -f "$HOSTD_RECORD" ] && wc -c < "$HOSTD_RECORD" || echo 0) bytes"
	# The agents log "PROGRAM: error: ..." and "PROGRAM: warning: ...".
	for f in "$HOSTD_LOG" "$GUESTD_LOG"; do [ -f "$f" ] && logs="$logs $f"; done
	if [ -n "$logs" ] && grep -E '^memshare-[a-z]+: (error|warning): ' $logs \
		> "$E2E_OUT/agent-errors.txt"; then
		log "agent logs have errors or warnings: $(head -5 "$E2E_OUT/agent-errors.txt" | tr '\n' '|')"
	else
		rm -f "$E2E_OUT/agent-errors.txt"
	fi
	return 0
}

e2e_end() {
	ager_stop
	sampler_stop
	agents_stop
	if [ -n "$E2E_FAILED" ]; then
		log "plug-in $E2E_NAME: FAILED"
		exit 1
	fi
	log "plug-in $E2E_NAME: ok"
	exit 0
}

# ---- helpers for tests ------------------------------------------------------

summary() {
	echo "$*" > "$E2E_OUT/summary.txt"
	log "summary: $*"
}

# JSON -> "path=value" lines: objects by key, arrays by index, strings
# without their quotes (escapes left as they are), null/true/false/numbers as
# written.  Enough for memsharectl --json (busybox has no jq).
JSON_FLAT_AWK='
{ s = s $0 "\n" }
END {
	n = length(s); d = 0; i = 1
	while (i <= n) {
		c = substr(s, i, 1)
		if (c == " " || c == "\t" || c == "\n" || c == "\r" || c == ":") { i++; continue }
		if (c == "{" || c == "[") {
			d++; typ[d] = (c == "{") ? "o" : "a"; idx[d] = 0; key[d] = ""
			wantkey[d] = (c == "{"); i++; continue
		}
		if (c == "}" || c == "]") { d--; i++; continue }
		if (c == ",") {
			if (typ[d] == "o") wantkey[d] = 1; else idx[d]++
			i++; continue
		}
		if (c == "\"") {
			j = i + 1
			while (j <= n) {
				cj = substr(s, j, 1)
				if (cj == "\\") { j += 2; continue }
				if (cj == "\"") break
				j++
			}
			v = substr(s, i + 1, j - i - 1); i = j + 1
		} else {
			j = i
			while (j <= n && index(" \t\r\n,}]", substr(s, j, 1)) == 0) j++
			v = substr(s, i, j - i); i = j
		}
		if (d > 0 && typ[d] == "o" && wantkey[d]) { key[d] = v; wantkey[d] = 0; continue }
		p = ""
		for (k = 1; k <= d; k++) p = p (k > 1 ? "." : "") (typ[k] == "o" ? key[k] : idx[k])
		print p "=" v
	}
}'

json_flat() { awk "$JSON_FLAT_AWK" "$1"; }

jget() {
	json_flat "$1" | awk -v k="$2" 'index($0, k "=") == 1 { print substr($0, length(k) + 2); exit }'
}

status_file_split() {
	json_flat "$1" | awk -v age="$2" -v g="guests.${3:-0}.report.lru.nodes." '
		index($0, g) != 1 { next }
		{ split(substr($0, length(g) + 1), a, "="); split(a[1], p, ".") }
		p[2] == "bins" && p[4] == "min_age_ms" { min[p[1] "." p[3]] = a[2] + 0; edge[a[2] + 0] = 1 }
		p[2] == "bins" && p[4] == "file_bytes" { fb[p[1] "." p[3]] = a[2] + 0 }
		END {
			if (!(age in edge)) { print "no-bin-edge-at-" age; exit 1 }
			y = 0; o = 0
			for (b in fb) if (min[b] >= age) o += fb[b]; else y += fb[b]
			printf "%.0f %.0f\n", y, o
		}'
}

# lru_gen: "memcg ID PATH", " node N", then "GEN AGE_MS NR_ANON NR_FILE" lines.
lru_gen_file_split() {
	awk -v age="$2" -v pg=4096 '
		NF == 4 && $1 ~ /^[0-9]+$/ { if ($2 >= age) o += $4; else y += $4 }
		END { printf "%.0f %.0f\n", y * pg, o * pg }' "$1"
}

lru_gen_max_seq() {
	awk 'NF == 4 && $1 ~ /^[0-9]+$/ && $1 + 0 > m { m = $1 + 0 } END { print m + 0 }' "$1"
}

mib() { awk -v b="$1" 'BEGIN { printf "%.1f", b / 1048576 }'; }
