# SPDX-License-Identifier: LGPL-2.1-or-later
"""memshare-hostd + memshare-guestd + memsharectl over unix sockets, on this
machine's real /proc and on the captured 6.1 guest tree."""
import json
import os
import signal
import socket
import struct
import subprocess
import tempfile
import time
import shutil

from conftest import CTL, GUESTD, HOSTD, GUEST_61, run, wait_for, control_raw

KIB = 1024


def meminfo_kb(key):
    with open("/proc/meminfo") as f:
        for line in f:
            k, v = line.split(":", 1)
            if k == key:
                return int(v.split()[0])
    raise KeyError(key)


def test_status_shows_live_and_captured_guests(agents, fixture_copy):
    agents.start_hostd()
    agents.start_guest("live")
    agents.start_guest("capture", "--sysroot", fixture_copy)
    live = agents.wait_guest("live", reports=2)
    cap = agents.wait_guest("capture", reports=2)

    # The captured guest's figures are the capture's, exactly.
    rep = cap["report"]
    assert rep["meminfo"]["total_bytes"] == 481268 * KIB
    assert rep["meminfo"]["available_bytes"] == 364660 * KIB
    assert rep["psi"]["some"]["total_us"] == 6035076
    assert rep["psi"]["full"]["total_us"] == 5962034
    assert rep["psi"]["some"]["avg10"] == 40.11
    assert rep["lru"]["source"] == "mglru"
    bins = rep["lru"]["nodes"][0]["bins"]
    assert [b["min_age_ms"] for b in bins] == [0, 5000, 30000, 120000, 600000]
    assert bins[-1]["max_age_ms"] is None
    # lru_gen.before-aging: generations aged 24148..24192 ms fall in
    # [5 s, 30 s), the 32856..35332 ms ones in [30 s, 120 s).
    assert bins[1]["anon_bytes"] == (11 + 13 + 0) * 4096
    assert bins[2]["anon_bytes"] == (0 + 203 + 668 + 0 + 0 + 2 + 0 + 2 + 20492) * 4096
    assert bins[2]["file_bytes"] == (23 + 1 + 25603) * 4096
    assert rep["lru"]["nodes"][0]["slab_reclaimable_bytes"] == 19992 * KIB
    assert "mglru" in cap["capabilities"] and "psi" in cap["capabilities"]
    # Reports are periodic: rates exist once two have arrived.
    assert cap["rates"] is not None and cap["rates"]["refault_bytes_per_s"] == 0

    # The live guest is this machine.
    assert live["report"]["meminfo"]["total_bytes"] == meminfo_kb("MemTotal") * KIB
    assert live["report"]["lru"]["source"] in ("mglru", "classic")
    assert live["peer"].startswith("unix:pid=")

    # Text status names both guests.
    p = run(CTL, "--host", agents.control, "status", check=0)
    assert "guest live" in p.stdout and "guest capture" in p.stdout
    assert "LRU ages (source: mglru)" in p.stdout


def test_reclaim_slab_frees_measured_bytes(agents):
    agents.start_hostd()
    agents.start_guest("live")
    agents.wait_guest("live")
    d = tempfile.mkdtemp(prefix="memshare-slab-", dir="/var/tmp")
    try:
        for i in range(20000):
            open(os.path.join(d, "f%d" % i), "w").close()
        os.sync()
        res = json.loads(run(CTL, "--json", "--host", agents.control, "reclaim", "live", "1G",
                             "--kind", "slab", check=0).stdout)
    finally:
        shutil.rmtree(d, ignore_errors=True)
    r = res["result"]
    assert res["ok"] is True and res["guest"] == "live"
    assert r["status"] == 0 and r["methods"] == ["drop_caches"]
    assert r["freed_slab_bytes"] > 1 << 20   # 20000 dentries + inodes
    assert r["freed_bytes"] == r["freed_slab_bytes"]
    assert r["requested_bytes"] == 1 << 30
    assert res["asked_bytes"] == 1 << 30      # hostd's own figure, not the guest's
    # The guest reports again right after reclaiming, and status keeps the result.
    g = wait_for(lambda: (lambda g: g if g["last_reclaim"] else None)(agents.guest("live")))
    assert g["last_reclaim"]["freed_slab_bytes"] == r["freed_slab_bytes"]


def test_reclaim_file_without_memory_reclaim_is_eopnotsupp(agents, fixture_copy):
    agents.start_hostd()
    agents.start_guest("capture", "--sysroot", fixture_copy)
    agents.wait_guest("capture")
    # The capture has no memory.reclaim (write-only files were not copied).
    p = run(CTL, "--host", agents.control, "reclaim", "capture", "16M", "--kind", "file")
    assert p.returncode == 1
    assert "Operation not supported" in p.stdout
    p = run(CTL, "--json", "--host", agents.control, "reclaim", "capture", "16M", "--kind", "file")
    res = json.loads(p.stdout)["result"]
    assert res["status"] == -95 and res["freed_bytes"] == 0 and res["methods"] == []
    # Slab on the copy: drop_caches is a plain file there, nothing is freed.
    res = json.loads(run(CTL, "--json", "--host", agents.control, "reclaim", "#%d"
                         % agents.guest("capture")["id"], "0", "--kind", "slab", check=0).stdout)
    assert res["result"]["status"] == 0 and res["result"]["freed_bytes"] == 0
    with open(os.path.join(fixture_copy, "proc/sys/vm/drop_caches")) as f:
        assert f.read() == "2"


def test_reclaim_bad_requests(agents):
    agents.start_hostd()
    agents.start_guest("live")
    agents.wait_guest("live")
    p = run(CTL, "--host", agents.control, "reclaim", "nosuch", "1M", "--kind", "slab")
    assert p.returncode == 1 and "no connected guest 'nosuch'" in p.stderr
    for bad in (["live", "1M", "--kind", "bogus"], ["live", "12Q", "--kind", "slab"],
                ["live", "1M"], ["live", "-5", "--kind", "slab"]):
        p = run(CTL, "--host", agents.control, "reclaim", *bad)
        assert p.returncode == 2, bad
    p = run(CTL, "--host", agents.control, "reclaim", "live", "0", "--kind", "file")
    assert p.returncode == 1 and "Invalid argument" in p.stderr
    # Numbers json-c would clamp, and deadlines that would block the guest.
    for body in ('"bytes": 18446744073709551616', '"bytes": 99999999999999999999999',
                 '"bytes": 18446744073709551615', '"bytes": -1', '"bytes": 1.5',
                 '"bytes": 1048576, "deadline_ms": 3600001',
                 '"bytes": 1048576, "deadline_ms": 4294967295'):
        req = '{"cmd": "reclaim", "guest": "live", "kinds": "slab", %s}\n' % body
        reply = json.loads(control_raw(agents.control_sock, req.encode()))
        assert reply["ok"] is False and reply["errno"] == 22, body
        assert "deadline_ms" in reply["error"] and "an hour" in reply["error"]


def test_control_socket_rejects_garbage(agents):
    agents.start_hostd()
    reply = json.loads(control_raw(agents.control_sock, b"this is not json\n"))
    assert reply["ok"] is False and reply["errno"] == 22
    reply = json.loads(control_raw(agents.control_sock, b'{"cmd": "format-disk"}\n'))
    assert reply["ok"] is False and reply["errno"] == 95 and "unknown command" in reply["error"]
    reply = json.loads(control_raw(agents.control_sock, b'[1, 2]\n'))
    assert reply["ok"] is False
    reply = json.loads(control_raw(agents.control_sock, b'{"cmd": "reclaim"}\n'))
    assert reply["ok"] is False and reply["errno"] == 22
    # An over-long line is refused and the connection closed.
    reply = json.loads(control_raw(agents.control_sock, b"x" * (70 * 1024)))
    assert reply["ok"] is False and reply["errno"] == 90
    assert agents.status()["ok"] is True


def test_control_socket_only_root_and_hostd_user(agents):
    # An abstract socket has no file mode: the peer's uid decides.
    name = "memshare-test-ctl-%d" % os.getpid()
    log = open(os.path.join(agents.tmp, "hostd.log"), "a")
    agents.hostd = subprocess.Popen([HOSTD, "--listen", "unix:" + agents.guest_sock,
                                     "--control", "unix:@" + name], stdout=log,
                                    stderr=subprocess.STDOUT)
    wait_for(lambda: run(CTL, "--host", "unix:@" + name, "status").returncode == 0)
    p = subprocess.run([CTL, "--host", "unix:@" + name, "status"], capture_output=True,
                       text=True, user=65534, group=65534, extra_groups=[], timeout=30)
    assert p.returncode != 0 and p.stdout == ""
    wait_for(lambda: "refused a client of uid 65534 (only root and uid 0 may command hostd)"
             in agents.log("hostd.log"))
    assert run(CTL, "--host", "unix:@" + name, "status").returncode == 0


def test_control_socket_idle_clients_cannot_lock_it(agents):
    # 70 connections that never say anything: the newest client still gets
    # its answer (the one idle longest makes room), and so does the next.
    agents.start_hostd()
    idle = []
    for _ in range(70):
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.connect(agents.control_sock)
        idle.append(s)
    try:
        for _ in range(3):
            assert agents.status()["ok"] is True
        wait_for(lambda: "full: dropped the client idle longest" in agents.log("hostd.log"))
        # The first idle ones were dropped (EOF), the latest are still open.
        idle[0].settimeout(5)
        assert idle[0].recv(1) == b""
    finally:
        for s in idle:
            s.close()


# docs/protocol.md's worked Hello frame: guest "vm1".
HELLO_VM1 = bytes.fromhex("00000023080110015 21d0801100118 4d22053 02e312e302a03766d31320038802040 80a0ffea01"
                          .replace(" ", ""))


def test_hostd_log_survives_a_connect_loop(agents):
    # A peer that says Hello and leaves, 300 times as fast as it can: the
    # arrival and departure lines are capped (10 a second, bursts of 20) and
    # the rest counted, so the log stays small; hostd still answers.
    agents.start_hostd()
    t0 = time.monotonic()
    for _ in range(300):
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.connect(agents.guest_sock)
        s.sendall(HELLO_VM1)
        s.recv(4096)                     # the Welcome: the guest is ready
        s.close()
    elapsed = time.monotonic() - t0
    assert agents.status()["agents"]["accepted"] >= 300
    log = agents.log("hostd.log")
    lines = log.count("'vm1' connected") + log.count("'vm1' gone")
    assert lines <= 20 + 10 * (elapsed + 2) + 2, (lines, elapsed)
    assert lines < 300
    # What was left out is counted in the next line that goes out.
    time.sleep(0.3)
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.connect(agents.guest_sock)
    s.sendall(HELLO_VM1)
    s.recv(4096)
    s.close()
    wait_for(lambda: "'vm1' gone" in agents.log("hostd.log").split("lines left out)")[-1])
    assert agents.status()["ok"] is True


def test_hostd_drops_a_garbage_guest_and_keeps_the_others(agents):
    agents.start_hostd()
    agents.start_guest("honest")
    agents.wait_guest("honest")
    for payload in (b"\xff" * 64,                       # frame length 4 GiB
                    struct.pack(">I", 5) + b"\x01\x02\x03\x04\x05",   # not protobuf
                    struct.pack(">I", 200 * 1024)):        # over the 64 KiB limit
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.settimeout(5)
        s.connect(agents.guest_sock)
        s.sendall(payload)
        assert s.recv(100) == b""     # the host closed it
        s.close()
    before = agents.guest("honest")["reports"]
    wait_for(lambda: agents.guest("honest")["reports"] > before)
    log = agents.log("hostd.log")
    assert "frame larger than the 65536-byte limit" in log
    assert "not a valid protobuf Envelope" in log


def test_guest_reconnects_after_host_restart(agents):
    agents.start_hostd()
    g = agents.start_guest("roamer")
    agents.wait_guest("roamer")
    agents.stop_hostd()
    agents.start_hostd()
    agents.wait_guest("roamer")
    assert g.poll() is None
    assert "host said Goodbye: host shutting down" in agents.log("guest-roamer.log")


def test_agents_stop_cleanly_with_goodbye(agents):
    agents.start_hostd()
    g = agents.start_guest("polite")
    agents.wait_guest("polite")
    g.send_signal(signal.SIGTERM)
    assert g.wait(10) == 0
    wait_for(lambda: agents.guest("polite") is None)
    assert "Goodbye: guest agent stopping" in agents.log("hostd.log")
    agents.stop_hostd()
    assert not os.path.exists(agents.control_sock)
    assert not os.path.exists(agents.guest_sock)


def test_agent_command_lines():
    assert run(HOSTD, "--listen", "unix:/tmp/x").returncode == 2           # no --control
    assert run(HOSTD, "--listen", "tcp:1.2.3.4:5", "--control", "unix:/tmp/memshare-c").returncode == 2
    assert run(HOSTD, "--listen", "unix:/tmp/x", "--control", "unix:relative.sock").returncode == 2
    assert run(HOSTD, "--bins", "5,3", "--listen", "unix:/tmp/x", "--control", "unix:/tmp/y").returncode == 2
    assert run(GUESTD).returncode == 2
    assert run(GUESTD, "--connect", "unix:/tmp/x", "--interval-ms", "abc").returncode == 2
    p = run(GUESTD, "--connect", "carrier-pigeon:7")
    assert p.returncode == 2 and "unix:/path" in p.stderr and "serial:/dev/virtio-ports" in p.stderr
    p = run(GUESTD, "--listen", "serial:/dev/vport0p1")
    assert p.returncode == 2 and "want vsock:-1:PORT or unix:/path" in p.stderr
    assert run(GUESTD, "--listen", "unix:/tmp/x", "--connect", "unix:/tmp/y").returncode == 2
    p = run(GUESTD, "--connect", "unix:/tmp/x", "--reclaim-floor", "lots")
    assert p.returncode == 2 and "--reclaim-floor wants a size" in p.stderr
    p = run(GUESTD, "--connect", "unix:/tmp/x", "--host-uid", "root")
    assert p.returncode == 2 and "--host-uid wants a uid or 'any'" in p.stderr
    p = run(GUESTD, "--listen", "vsock:-1:5252", "--host-cid", "0")
    assert p.returncode == 2 and "--host-cid wants a CID" in p.stderr
    p = run(HOSTD, "--connect", "tcp:1.2.3.4:5", "--control", "unix:/tmp/y")
    assert p.returncode == 2 and "--connect tcp:1.2.3.4:5: want serial:/path" in p.stderr
    p = run(HOSTD, "--listen", "unix:/tmp/x", "--control", "unix:/tmp/y", "--keepalive-ms", "5")
    assert p.returncode == 2 and "--keepalive-ms wants a number >= 100" in p.stderr
    for bad in ("some 1000 100000", "some 0 2000000", "most 1000 2000000",
                "full 3000000 2000000", "some 1000", "some 1000 2000000 x"):
        p = run(HOSTD, "--listen", "unix:/tmp/x", "--control", "unix:/tmp/y",
                "--guest-psi-trigger", bad)
        assert p.returncode == 2 and "--guest-psi-trigger wants" in p.stderr, bad
    p = run(HOSTD, "--listen", "unix:/tmp/x", "--control", "unix:/tmp/y", "--guest-uid", "nobody")
    assert p.returncode == 2 and "--guest-uid wants a uid, 'same' or 'any'" in p.stderr
    p = run(GUESTD, "--connect", "unix:/tmp/x", "--memcg", "../../etc")
    assert p.returncode == 2
    # Names the host would refuse (or cut) are refused at once, shown safely.
    for bad, shown in (("a\nb", "a?b"), ("x" * 64, "x" * 64), ("", ""),
                       ("vm\u009b31m", "vm??31m")):
        p = run(GUESTD, "--connect", "unix:/tmp/x", "--name", bad)
        assert p.returncode == 2, bad
        assert "name '%s' must be 1..63 bytes of UTF-8 text" % shown in p.stderr, p.stderr
    assert run(GUESTD, "--once", "--sysroot", GUEST_61).returncode == 0
    p = run(GUESTD, "--once", "--sysroot", "/nonexistent")
    assert p.returncode == 1
    assert run(HOSTD, "--version", check=0).stdout.startswith("memshare-hostd ")


def test_guest_psi_trigger_default_and_settings(agents, fixture_copy):
    # By default every guest is asked to arm a PSI trigger at the policy's
    # stall_backoff (2000 us/s: 4000 us over a 2 s window), so that a
    # stalling guest reports at once and hostd runs its policy then.
    agents.start_hostd()
    assert agents.status()["guest_psi_trigger"] == "some 4000 2000000"
    agents.start_guest("live")                               # this machine's /proc, as root
    agents.start_guest("captured", "--sysroot", fixture_copy)
    agents.wait_guest("live")
    agents.wait_guest("captured")
    assert agents.guest("live")["psi_trigger_reports"] >= 0
    wait_for(lambda: "trigger armed" in agents.log("guest-live.log"))
    # A captured tree is no procfs: the trigger is refused with the reason,
    # and the guest carries on reporting.
    wait_for(lambda: "trigger none" in agents.log("guest-captured.log"))
    assert "PSI trigger (some 4000 us per 2000000 us)" in agents.log("guest-captured.log")
    agents.wait_guest("captured", reports=3)
    # hostd shows what the guest could not do.
    captured = agents.guest("captured")
    assert captured["errors"] == 1
    assert captured["last_error"] == {
        "code": 95, "message": "PSI trigger (some 4000 us per 2000000 us): Operation not supported"}
    assert agents.guest("live")["errors"] == 0 and agents.guest("live")["last_error"] is None
    text = run(CTL, "--host", agents.control, "status", check=0).stdout
    assert "  error     PSI trigger (some 4000 us per 2000000 us): Operation not supported (1 in all)" in text
    agents.close()

    for args, want in ((["-s", "stall_backoff=5000"], "some 10000 2000000"),
                       (["--guest-psi-trigger", "full 150000 1000000"], "full 150000 1000000"),
                       (["--guest-psi-trigger", "off"], None)):
        agents.start_hostd(*args)
        assert agents.status()["guest_psi_trigger"] == want, args
        agents.stop_hostd()
