# SPDX-License-Identifier: LGPL-2.1-or-later
"""The examples/ programs, built against the public API only."""
import os
import subprocess

from conftest import GUEST_61, run

PRESSURE = os.environ.get("EXAMPLE_PRESSURE")
HOST_PRINT = os.environ.get("EXAMPLE_HOST_PRINT")


def test_example_pressure_on_capture():
    out = run(PRESSURE, GUEST_61, check=0).stdout.splitlines()
    assert out[0] == "psi some avg10=40.11 total_us=6035076"
    assert out[1] == "lru source=mglru nodes=1"
    assert "node 0 bin 2 anon_bytes=%d file_bytes=%d" % (21367 * 4096, 25627 * 4096) in out


def test_example_host_print_with_a_guest(agents):
    sock = os.path.join(agents.tmp, "print.sock")
    host = subprocess.Popen([HOST_PRINT, "unix:" + sock, "3"], stdout=subprocess.PIPE, text=True)
    assert host.stdout.readline().startswith("listening on")
    guest = subprocess.Popen([os.environ["MEMSHARE_GUESTD"], "--connect", "unix:" + sock,
                              "--sysroot", GUEST_61, "--name", "ex", "--interval-ms", "100"])
    try:
        out, _ = host.communicate(timeout=30)
    finally:
        guest.terminate()
        guest.wait(10)
    assert host.returncode == 0
    lines = out.splitlines()
    assert lines[0] == "guest 1 'ex' connected"
    reports = [l for l in lines if l.startswith("report from 'ex'")]
    assert len(reports) == 3
    assert "total_bytes=%d" % (481268 * 1024) in reports[0]
    assert "psi_some_total_us=6035076 lru=mglru cold_bytes=0" in reports[0]
