#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# Install libmemshare into a scratch DESTDIR, then compile and run a program
# against the *installed* headers and library found by pkg-config alone.
set -euo pipefail
src=$1 build=$2 sanitize=${3:-none} agents=${4:-agents}
dest=$(mktemp -d)
trap 'rm -rf "$dest"' EXIT

meson install -C "$build" --destdir "$dest" --quiet >/dev/null

pcdir=$(dirname "$(find "$dest" -name memshare.pc | head -n1)")
[ -f "$pcdir/memshare.pc" ] || { echo "memshare.pc not installed"; exit 1; }
export PKG_CONFIG_PATH=$pcdir PKG_CONFIG_SYSROOT_DIR=$dest
cflags=$(pkg-config --cflags memshare)
libs=$(pkg-config --libs memshare)
echo "pkg-config: $(pkg-config --modversion memshare): $cflags $libs"

extra=()
if [ "$sanitize" != none ]; then
	extra=(-fsanitize="$sanitize")
fi
cc -Wall -Wextra -Werror "${extra[@]}" $cflags "$src/examples/pressure.c" $libs -o "$dest/pressure"

libdir=$(dirname "$(find "$dest" -name 'libmemshare.so.0' | head -n1)")
out=$(LD_LIBRARY_PATH=$libdir ASAN_OPTIONS=detect_leaks=1 "$dest/pressure" "$src/tests/fixtures/linux-6.1-guest")
echo "$out"
grep -qx 'psi some avg10=40.11 total_us=6035076' <<<"$out"
grep -qx 'lru source=mglru nodes=1' <<<"$out"
# Installed: headers, the .so with its SONAME, agents, tool, man pages.
test -f "$(find "$dest" -path '*include/memshare/memshare.h')"
readelf -d "$libdir/libmemshare.so.0" | grep -q 'SONAME.*libmemshare.so.0'
if [ "$agents" = agents ]; then
	test -x "$(find "$dest" -name memshare-hostd)"
	test -x "$(find "$dest" -name memshare-guestd)"
	test -x "$(find "$dest" -name memsharectl)"
	test -f "$(find "$dest" -name memsharectl.1)"
fi
echo "installed library, headers and programs work"
