#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# Build the libFuzzer targets with clang and run each for SECONDS (default
# 60) on a scratch copy of its seed corpus (the tree is not modified).
# Fails on any crash, leak, timeout or failed check; the input that did it
# is kept in tests/fuzz/artifacts/ (ignored by git).  Prints one line per
# target: executions, rate, corpus size.
#
#   tests/fuzz/run.sh [SECONDS]
#   BUILD=build-fuzz-x FUZZ_ARGS="-jobs=2 -workers=2" tests/fuzz/run.sh 300
set -euo pipefail
cd "$(dirname "$0")/../.."

seconds=${1:-60}
case "$seconds" in
'' | *[!0-9]*) echo "usage: $0 [SECONDS]" >&2; exit 2 ;;
esac
build=${BUILD:-build-fuzz}
targets=(frame host guest)

scripts/deps fuzz

if [ ! -f "$build/build.ninja" ]; then
	CC=clang meson setup "$build" -Dfuzz=true >/dev/null
else
	# A build dir's C compiler is fixed: leave any other build alone.
	if ! grep -A1 '^rule c_COMPILER$' "$build/build.ninja" | grep -q 'command = [^ ]*clang'; then
		echo "$0: $build is not a clang build: remove it, or set BUILD" >&2
		exit 1
	fi
	meson configure "$build" -Dfuzz=true >/dev/null
fi
ninja -C "$build" "${targets[@]/#/tests/fuzz/fuzz-}" >/dev/null

# Symbolized stacks in the reports.
for s in llvm-symbolizer /usr/lib/llvm-*/bin/llvm-symbolizer; do
	if command -v "$s" >/dev/null; then
		export ASAN_SYMBOLIZER_PATH
		ASAN_SYMBOLIZER_PATH=$(command -v "$s")
		break
	fi
done

work=$(mktemp -d /tmp/memshare-fuzz-run.XXXXXX)
trap 'rm -rf "$work"' EXIT
artifacts=tests/fuzz/artifacts
status=0

for t in "${targets[@]}"; do
	corpus="$work/corpus-$t"
	log="$work/$t.log"
	mkdir "$work/artifacts-$t"
	cp -r "tests/fuzz/corpus/$t" "$corpus"
	seeds=$(find "$corpus" -type f | wc -l)
	# fuzz-frame: inputs over one maximal frame + 4 KiB (128 + 4096 with
	# FF_SMALL) reach the decoder's "full" paths.
	max_len=4096
	[ "$t" = frame ] && max_len=8192
	rc=0
	# shellcheck disable=SC2086
	"$build/tests/fuzz/fuzz-$t" -max_total_time="$seconds" -timeout=10 \
		-rss_limit_mb=2048 -max_len=$max_len -print_final_stats=1 \
		-artifact_prefix="$work/artifacts-$t/fuzz-$t-" ${FUZZ_ARGS:-} "$corpus" \
		>"$log" 2>&1 || rc=$?
	runs=$(sed -n 's/^Done \([0-9]*\) runs in \([0-9]*\) second.*/\1/p' "$log" | tail -n1)
	secs=$(sed -n 's/^Done \([0-9]*\) runs in \([0-9]*\) second.*/\2/p' "$log" | tail -n1)
	size=$(find "$corpus" -type f | wc -l)
	bytes=$(($(find "$corpus" -type f -exec cat {} + | wc -c) / 1024))
	if [ "$rc" -ne 0 ] || [ -z "$runs" ]; then
		echo "fuzz-$t: FAILED (exit $rc); the end of its log:" >&2
		tail -n 60 "$log" >&2
		if [ -n "$(ls -A "$work/artifacts-$t")" ]; then
			mkdir -p "$artifacts"
			cp "$work/artifacts-$t"/* "$artifacts/"
			echo "fuzz-$t: the input is in $artifacts/:" >&2
			ls -l "$work/artifacts-$t" >&2
		fi
		status=1
		continue
	fi
	echo "fuzz-$t: $runs runs in $secs s ($((runs / (secs ? secs : 1))) exec/s)," \
		"corpus $seeds seeds -> $size inputs (${bytes} KiB)"
done
exit $status
