# SPDX-License-Identifier: LGPL-2.1-or-later
"""memsharectl on captured kernel trees (exact values) and on this machine."""
import json

from conftest import CTL, GUEST_61, HOST_618, run, ctl_json

KIB = 1024


def test_pressure_capture():
    psi = ctl_json("--sysroot", GUEST_61, "pressure")
    assert psi == {"some": {"avg10": 40.11, "avg60": 10.0, "avg300": 2.2, "total_us": 6035076},
                   "full": {"avg10": 39.47, "avg60": 9.87, "avg300": 2.17, "total_us": 5962034}}
    vmb = ctl_json("--sysroot", GUEST_61, "pressure", "--memcg", "vm-b")
    assert vmb["some"]["total_us"] == 6035054
    p = run(CTL, "--sysroot", GUEST_61, "pressure")
    assert "some" in p.stdout and "6035076" in p.stdout


def test_pressure_missing():
    p = run(CTL, "--sysroot", GUEST_61, "pressure", "--memcg", "no-such-vm")
    assert p.returncode == 1 and "cgroup no-such-vm: no such cgroup" in p.stderr
    assert len(p.stderr.splitlines()) == 1      # said once, not twice
    # cgroup v1 host: the unified hierarchy root has no memory.pressure here
    p = run(CTL, "--sysroot", HOST_618, "pressure", "--memcg", "memory")
    assert p.returncode == 1 and "this cgroup has no memory pressure file" in p.stderr


def test_meminfo_vmstat_numa_capture():
    mi = ctl_json("--sysroot", GUEST_61, "meminfo")
    assert mi["total_bytes"] == 481268 * KIB
    assert mi["sreclaimable_bytes"] == 19992 * KIB
    assert mi["used_bytes"] is None        # per-node only
    vs = ctl_json("--sysroot", GUEST_61, "vmstat")
    assert vs["pgscan_bytes"] == 0 and vs["refault_bytes"] == 0
    nodes = ctl_json("--sysroot", HOST_618, "numa")
    assert len(nodes) == 1 and nodes[0]["node"] == 0
    assert nodes[0]["total_bytes"] == 5203744 * KIB   # deferred init: < MemTotal
    assert ctl_json("--sysroot", HOST_618, "meminfo")["total_bytes"] == 24683620 * KIB


def test_lru_capture():
    lru = ctl_json("--sysroot", GUEST_61, "lru", "--bins", "30000")
    assert lru["source"] == "mglru"
    b = lru["nodes"][0]["bins"]
    assert b[0] == {"min_age_ms": 0, "max_age_ms": 30000, "anon_bytes": 24 * 4096, "file_bytes": 0}
    assert b[1]["max_age_ms"] is None
    assert b[1]["file_bytes"] == 25627 * 4096
    vma = ctl_json("--sysroot", GUEST_61, "lru", "--memcg", "vm-a", "--bins", "30000")
    assert vma["nodes"][0]["bins"][1]["file_bytes"] == 25603 * 4096
    classic = ctl_json("--sysroot", GUEST_61, "lru", "--source", "classic")
    assert classic["source"] == "classic"
    assert classic["nodes"][0]["bins"][1] == {"list": "inactive", "anon_bytes": 820 * KIB,
                                              "file_bytes": 102508 * KIB}
    # No MGLRU on the 6.18 host capture.
    assert ctl_json("--sysroot", HOST_618, "lru")["source"] == "classic"
    p = run(CTL, "--sysroot", HOST_618, "lru", "--source", "mglru")
    assert p.returncode == 1 and "kernel without CONFIG_LRU_GEN" in p.stderr


def test_bad_invocations():
    assert run(CTL).returncode == 2
    assert run(CTL, "frobnicate").returncode == 2
    assert run(CTL, "lru", "--bins", "300,200").returncode == 2
    assert run(CTL, "lru", "--source", "tarot").returncode == 2
    assert run(CTL, "status").returncode == 2                  # needs --host
    p = run(CTL, "--host", "unix:/nonexistent/control.sock", "status")
    assert p.returncode == 1 and "cannot reach memshare-hostd" in p.stderr
    p = run(CTL, "--sysroot", "/nonexistent", "meminfo")
    assert p.returncode == 1


def test_live_machine():
    mi = ctl_json("meminfo")
    with open("/proc/meminfo") as f:
        total = int(next(l for l in f if l.startswith("MemTotal:")).split()[1]) * KIB
    assert mi["total_bytes"] == total
    lru = ctl_json("lru")
    assert lru["source"] in ("mglru", "classic") and lru["nodes"]
    rep = ctl_json("report")
    assert rep["meminfo"]["total_bytes"] == total and rep["reason"] == "periodic"
