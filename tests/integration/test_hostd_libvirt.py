# SPDX-License-Identifier: LGPL-2.1-or-later
"""memshare-hostd acting through libvirt (the test driver: no daemon), its
policy loop and its configuration file."""
import json
import os
import subprocess

import pytest

from conftest import CTL, HOSTD, FIXTURES, run, wait_for

NODE = "test://" + os.path.abspath(os.path.join(FIXTURES, "libvirt", "node.xml"))
MIB = 1 << 20


def has_libvirt():
    p = run(HOSTD, "--help")
    return "--libvirt" in p.stdout


pytestmark = pytest.mark.skipif(not has_libvirt(), reason="built without libvirt")


def domain(agents, name):
    for d in agents.status()["domains"]:
        if d["name"] == name:
            return d
    return None


def test_status_lists_domains_with_warnings(agents):
    agents.start_hostd("--libvirt=" + NODE, "--policy", "static")
    st = agents.status()
    names = [d["name"] for d in st["domains"]]
    assert names == ["alpha", "bravo", "charlie", "delta", "echo"]       # sorted, foxtrot is off
    alpha = domain(agents, "alpha")
    assert alpha["vsock_cid"] == 3 and alpha["agent"] == "not connected"
    assert alpha["balloon"]["max_bytes"] == 4 << 30
    assert alpha["balloon"]["current_bytes"] == 2 << 30
    assert alpha["balloon"]["min_guarantee_bytes"] == 512 * MIB
    assert alpha["warnings"] == []
    bravo = domain(agents, "bravo")
    assert bravo["channel_path"] == "/run/memshare/bravo.sock"
    assert bravo["warnings"] == ["balloon stats period is 0", "free page reporting off",
                                 "autodeflate off"]
    assert "no balloon device" in domain(agents, "charlie")["warnings"]
    # No balloon: the test driver reports no statistics at all (qemu would
    # still report rss).
    assert all(v is None for v in domain(agents, "charlie")["stats"].values())
    # The test driver reports made-up stats for ballooned domains: actual =
    # total = current, free = usable = rss = half, caches an eighth.
    st_echo = domain(agents, "echo")["stats"]
    assert st_echo["guest_total_bytes"] == 2684354560
    assert st_echo["guest_free_bytes"] == 1342177280
    text = run(CTL, "--host", agents.control, "status", check=0).stdout
    assert "domain bravo  agent not connected, channel /run/memshare/bravo.sock" in text
    assert "warning   no balloon device" in text


def test_policy_deflates_through_libvirt(agents, fixture_copy):
    # The agent named after the domain is its agent (unix sockets: by name).
    # The captured guest stalls (PSI some avg10 40.11% = 401100 us/s, over
    # stall_backoff): memshare deflates bravo by 10% of its maximum per
    # round, up to the maximum.
    agents.start_hostd("--libvirt=" + NODE, "-s", "interval_ms=300")
    agents.start_guest("bravo", "--sysroot", fixture_copy)
    wait_for(lambda: domain(agents, "bravo")["balloon"]["current_bytes"] == 2048 * MIB, timeout=15)
    st = agents.status()
    bravo = domain(agents, "bravo")
    assert bravo["agent"] == "connected" and bravo["agent_id"] == 1
    acts = [a for a in st["policy"]["recent_actions"] if a["guest"] == "bravo"]
    # 1536 MiB + 204.8 MiB (10% of 2048, in bytes, rounded down to KiB by
    # libvirt), then capped at the maximum.
    assert acts[0]["action"] == "balloon" and acts[0]["result"] == "ok"
    assert acts[0]["target_bytes"] == 1536 * MIB + 214748364
    assert acts[-1]["target_bytes"] == 2048 * MIB
    assert "stalls" in acts[0]["reason"]
    # Domains without an agent were left alone.
    assert domain(agents, "alpha")["balloon"]["current_bytes"] == 2 << 30
    log = agents.log("hostd.log")
    assert "policy memshare: bravo: balloon to" in log


def test_dry_run_decides_but_does_not_act(agents, fixture_copy):
    agents.start_hostd("--libvirt=" + NODE, "--dry-run", "-s", "interval_ms=300")
    agents.start_guest("bravo", "--sysroot", fixture_copy)
    wait_for(lambda: agents.status()["policy"]["actions"] >= 2, timeout=15)
    st = agents.status()
    assert st["policy"]["dry_run"] is True
    assert all(a["result"] == "dry-run" for a in st["policy"]["recent_actions"])
    assert domain(agents, "bravo")["balloon"]["current_bytes"] == 1536 * MIB


def test_config_file(agents, tmp_path):
    conf = tmp_path / "hostd.conf"
    conf.write_text("[host]\nlisten = unix:%s\ncontrol = %s\n\n[policy]\nname = mom\n"
                    "interval_ms = 2000\ncold_age_ms = 60000\n\n[libvirt]\nuri = %s\n"
                    % (agents.guest_sock, agents.control, NODE))
    log = open(os.path.join(agents.tmp, "hostd.log"), "a")
    agents.hostd = subprocess.Popen([HOSTD, "--config", str(conf)], stdout=log,
                                    stderr=subprocess.STDOUT)
    wait_for(lambda: os.path.exists(agents.control_sock))
    st = agents.status()
    assert st["policy"]["name"] == "mom" and st["policy"]["interval_ms"] == 2000
    assert st["domains"] is not None and len(st["domains"]) == 5
    agents.stop_hostd()
    # --listen on the command line replaces the file's listen list (the
    # same endpoint twice would otherwise be "Address already in use").
    other = os.path.join(agents.tmp, "other.sock")
    agents.hostd = subprocess.Popen([HOSTD, "--config", str(conf), "--listen", "unix:" + other],
                                    stdout=log, stderr=subprocess.STDOUT)
    wait_for(lambda: os.path.exists(agents.control_sock) and os.path.exists(other))
    assert not os.path.exists(agents.guest_sock)
    agents.stop_hostd()
    agents.hostd = subprocess.Popen([HOSTD, "--config", str(conf), "--listen",
                                     "unix:" + agents.guest_sock], stdout=log,
                                    stderr=subprocess.STDOUT)
    wait_for(lambda: os.path.exists(agents.control_sock))
    assert agents.status()["ok"] is True
    agents.stop_hostd()
    # Errors name the line; unknown keys and bad values are refused.
    for body, line, what in (("[policy]\nname = mom\nbogus = 1\n", 3, "unknown key"),
                             ("[host]\nreport_interval_ms = 5\n", 2, "bad value"),
                             ("[policy]\ncold_age_ms = -3\n", 2, "bad value"),
                             ("not an ini line\n", 1, "syntax error")):
        conf.write_text(body)
        p = run(HOSTD, "--config", str(conf), "--listen", "unix:/tmp/x", "--control", "unix:/tmp/y")
        assert p.returncode == 2, body
        assert ":%d: " % line in p.stderr and what in p.stderr, p.stderr
    p = run(HOSTD, "--config", "/nonexistent.conf", "--listen", "unix:/tmp/x", "--control", "unix:/tmp/y")
    assert p.returncode == 2 and "No such file" in p.stderr
    # A line longer than inih's 200-byte buffer is refused by its number,
    # not parsed in pieces; a directory is not a config file.
    conf.write_text("[host]\n; " + "x" * 300 + " = y\nkeepalive_ms = 15000\n")
    p = run(HOSTD, "--config", str(conf), "--listen", "unix:/tmp/x", "--control", "unix:/tmp/y")
    assert p.returncode == 2 and ":2: line longer than 198 bytes" in p.stderr, p.stderr
    p = run(HOSTD, "--config", str(tmp_path), "--listen", "unix:/tmp/x", "--control", "unix:/tmp/y")
    assert p.returncode == 2 and "a directory, not a file" in p.stderr, p.stderr
    # Reports asked faster than the rate limit accepts them.
    conf.write_text("[host]\nreport_interval_ms = 50\nmax_reports_per_s = 10\n")
    p = run(HOSTD, "--config", str(conf), "--listen", "unix:/tmp/x", "--control", "unix:/tmp/y")
    assert p.returncode == 2
    assert "report_interval_ms 50 asks each guest for more reports than max_reports_per_s 10" in p.stderr
    p = run(HOSTD, "--report-interval-ms", "99", "--listen", "unix:/tmp/x", "--control", "unix:/tmp/y")
    assert p.returncode == 2 and "max_reports_per_s 10 accepts" in p.stderr


LIBVIRTD = "/usr/sbin/libvirtd"


class Libvirtd:
    """A private libvirtd serving the test driver (built into libvirt; no
    driver modules: LIBVIRT_DRIVER_DIR is empty), with its sockets in a
    temporary directory.  Every start is a fresh test driver."""

    def __init__(self, tmp):
        self.dir = tmp
        os.makedirs(os.path.join(tmp, "drivers"))
        with open(os.path.join(tmp, "libvirtd.conf"), "w") as f:
            f.write('unix_sock_dir = "%s"\nauth_unix_rw = "none"\nauth_unix_ro = "none"\n' % tmp)
        self.sock = os.path.join(tmp, "libvirt-sock")
        self.uri = "test+unix:///default?socket=" + self.sock
        self.proc = None

    def start(self):
        if os.path.exists(self.sock):
            os.unlink(self.sock)
        env = dict(os.environ, LIBVIRT_DRIVER_DIR=os.path.join(self.dir, "drivers"))
        log = open(os.path.join(self.dir, "libvirtd.log"), "a")
        self.proc = subprocess.Popen([LIBVIRTD, "--config", os.path.join(self.dir, "libvirtd.conf"),
                                      "--pid-file", os.path.join(self.dir, "libvirtd.pid")],
                                     env=env, stdout=log, stderr=subprocess.STDOUT)
        wait_for(lambda: os.path.exists(self.sock))

    def kill(self):
        self.proc.kill()
        self.proc.wait(10)


@pytest.fixture
def libvirtd(tmp_path):
    if not os.access(LIBVIRTD, os.X_OK):
        pytest.skip("no libvirtd (Debian package libvirt-daemon)")
    d = Libvirtd(str(tmp_path))
    d.start()
    yield d
    if d.proc.poll() is None:
        d.kill()


def test_libvirtd_restart(agents, libvirtd):
    # hostd on a remote libvirt connection: when libvirtd goes away it
    # keeps the domains as last seen, pauses the policy and stays up; when
    # libvirtd is back it reconnects by itself at the next policy round.
    agents.start_hostd("--libvirt=" + libvirtd.uri, "--policy", "static", "-s", "interval_ms=300")
    agents.start_guest("test")
    agents.wait_guest("test")
    st = agents.status()
    assert st["libvirt"] == {"uri": libvirtd.uri, "connected": True, "reconnects": 0}
    assert [d["name"] for d in st["domains"]] == ["test"]
    assert domain(agents, "test")["agent"] == "connected"

    libvirtd.kill()
    wait_for(lambda: agents.status()["libvirt"]["connected"] is False, timeout=5)
    skipped = agents.status()["policy"]["rounds_skipped"]
    wait_for(lambda: agents.status()["policy"]["rounds_skipped"] >= skipped + 2, timeout=5)
    st = agents.status()
    assert [d["name"] for d in st["domains"]] == ["test"]           # as last seen
    assert domain(agents, "test")["agent"] == "connected"           # guests unaffected
    text = run(CTL, "--host", agents.control, "status", check=0).stdout
    assert "libvirt %s: DOWN (domains as last seen, policy paused), reconnects 0" % libvirtd.uri in text
    assert agents.hostd.poll() is None

    libvirtd.start()
    wait_for(lambda: agents.status()["libvirt"]["connected"], timeout=10)
    st = agents.status()
    assert st["libvirt"]["reconnects"] == 1
    assert [d["name"] for d in st["domains"]] == ["test"]
    rounds = st["policy"]["rounds"]
    wait_for(lambda: agents.status()["policy"]["rounds"] >= rounds + 2, timeout=5)
    assert agents.status()["policy"]["rounds_skipped"] == st["policy"]["rounds_skipped"]
    log = agents.log("hostd.log")
    assert "lost (end of file: libvirtd stopped)" in log
    assert log.count("cannot reopen libvirt connection") == 1       # warned once
    assert "reopened, " in log
    assert "libvirt: XML-RPC error" not in log                      # libvirt's own printing is off
