# SPDX-License-Identifier: LGPL-2.1-or-later
"""The agents over every transport this machine can host without a VM:
host-initiated unix connections, Firecracker-style hybrid vsock (a fake
VMM socket in the test), and virtio-serial (a pty standing in for the
guest's port, a unix socket for QEMU's chardev).  AF_VSOCK itself runs in
the QEMU end-to-end tests (tests/e2e/qemu), never against this machine."""
import os
import select
import signal
import socket
import subprocess
import threading
import tty

from conftest import CTL, GUESTD, HOSTD, run, wait_for


def start_guestd(agents, name, *args):
    log = open(os.path.join(agents.tmp, "guest-%s.log" % name), "a")
    p = subprocess.Popen([GUESTD, "--name", name, "--interval-ms", "200", "-v", *args],
                         stdout=log, stderr=subprocess.STDOUT)
    agents.guests.append(p)
    return p


def start_hostd(agents, *args):
    log = open(os.path.join(agents.tmp, "hostd.log"), "a")
    agents.hostd = subprocess.Popen([HOSTD, "--control", agents.control, "-v", *args],
                                    stdout=log, stderr=subprocess.STDOUT)
    wait_for(lambda: os.path.exists(agents.control_sock))


def stop(p):
    p.send_signal(signal.SIGTERM)
    assert p.wait(10) == 0


def pump(a, b, stop_ev):
    """Copy bytes both ways between two file descriptors until either end
    closes or stop_ev is set."""
    while not stop_ev.is_set():
        r, _, _ = select.select([a, b], [], [], 0.1)
        for src in r:
            dst = b if src == a else a
            try:
                data = os.read(src, 65536)
            except OSError:
                return
            if not data:
                return
            os.write(dst, data)


class FakeVmm:
    """The host side of a Firecracker vsock device: a unix socket that
    takes "CONNECT <port>\\n", answers "OK <host port>\\n" and then carries
    the guest's vsock stream (here: a unix socket where guestd listens)."""

    def __init__(self, path, guest_sock, reply=b"OK 1073741824\n"):
        self.path, self.guest_sock, self.reply = path, guest_sock, reply
        self.lines = []
        self.stop = threading.Event()
        self.srv = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.srv.bind(path)
        self.srv.listen(4)
        self.srv.settimeout(0.1)
        self.thread = threading.Thread(target=self.run, daemon=True)
        self.thread.start()

    def run(self):
        while not self.stop.is_set():
            try:
                c, _ = self.srv.accept()
            except socket.timeout:
                continue
            line = b""
            while not line.endswith(b"\n") and len(line) < 64:
                ch = c.recv(1)
                if not ch:
                    break
                line += ch
            self.lines.append(line)
            if self.reply is None:
                c.close()
                continue
            g = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            try:
                g.connect(self.guest_sock)
            except OSError:
                c.close()     # nobody listens on that port: Firecracker closes
                continue
            c.sendall(self.reply)
            threading.Thread(target=self.bridge, args=(c, g), daemon=True).start()

    def bridge(self, c, g):
        pump(c.fileno(), g.fileno(), self.stop)
        c.close()
        g.close()

    def close(self):
        self.stop.set()
        self.thread.join(5)
        self.srv.close()


def test_host_connects_to_a_listening_guest(agents):
    gsock = os.path.join(agents.tmp, "guest-listen.sock")
    g = start_guestd(agents, "waiting", "--listen", "unix:" + gsock)
    wait_for(lambda: os.path.exists(gsock))
    start_hostd(agents, "--connect", "unix:" + gsock)
    st = wait_for(lambda: (lambda s: s if s["guests"] and s["guests"][0]["reports"] >= 2 else None)(
        agents.status()))
    guest = st["guests"][0]
    assert guest["name"] == "waiting" and guest["peer"] == "unix:" + gsock
    assert guest["reconnects"] == 0
    assert guest["traffic"]["frames_in"] >= 3        # Hello + 2 Reports
    assert guest["traffic"]["frames_out"] >= 2       # Welcome + Config
    assert guest["traffic"]["bytes_in"] > 200
    assert guest["rejected"]["reports_invalid"] == 0
    assert guest["rejected"]["reports_by_reason"] == {
        "memtotal": 0, "meminfo": 0, "time": 0, "bins": 0, "age": 0, "lru_bytes": 0, "node": 0}
    assert st["agents"]["links"] == 1 and st["agents"]["links_up"] == 1

    # The guest agent restarts: hostd connects again and counts it.
    stop(g)
    wait_for(lambda: agents.status()["agents"]["links_up"] == 0)
    start_guestd(agents, "waiting", "--listen", "unix:" + gsock)
    guest = wait_for(lambda: (lambda s: s["guests"][0] if s["guests"] else None)(agents.status()),
                     timeout=40)
    assert guest["reconnects"] == 1
    st = agents.status()
    assert st["agents"]["dropped"]["closed"] == 1
    text = run(CTL, "--host", agents.control, "status", check=0).stdout
    assert "reconnects 1" in text and "agents    2 connections" in text


def test_hybrid_vsock_host_to_guest(agents):
    """Firecracker / Cloud Hypervisor: the host reaches a guest's vsock port
    through the VMM's unix socket with CONNECT <port>."""
    gsock = os.path.join(agents.tmp, "guest-vsock-5252.sock")
    vsock = os.path.join(agents.tmp, "fc.vsock")
    vmm = FakeVmm(vsock, gsock)
    try:
        start_guestd(agents, "fc-guest", "--listen", "unix:" + gsock)
        wait_for(lambda: os.path.exists(gsock))
        start_hostd(agents, "--connect", "hvsock:%s:5252" % vsock)
        guest = agents.wait_guest("fc-guest", reports=2)
        assert guest["peer"] == "hvsock:%s:5252" % vsock
        assert vmm.lines[0] == b"CONNECT 5252\n"
        # A reclaim round trip through the hybrid socket.
        p = run(CTL, "--json", "--host", agents.control, "reclaim",
                "fc-guest", "0", "--kind", "slab", check=0)
        assert '"status":0' in p.stdout.replace(" ", "")
    finally:
        vmm.close()


def test_hybrid_vsock_refused_then_accepted(agents):
    """Nobody listens on the guest port yet: the VMM closes the connection;
    hostd retries with backoff and gets through once the agent is up."""
    gsock = os.path.join(agents.tmp, "guest-vsock-5252.sock")
    vsock = os.path.join(agents.tmp, "fc.vsock")
    vmm = FakeVmm(vsock, gsock)
    try:
        start_hostd(agents, "--connect", "hvsock:%s:5252" % vsock)
        wait_for(lambda: len(vmm.lines) >= 2, timeout=10)
        assert agents.status()["guests"] == []
        start_guestd(agents, "late", "--listen", "unix:" + gsock)
        agents.wait_guest("late")
        assert "refused" in agents.log("hostd.log") or "closed" in agents.log("hostd.log")
    finally:
        vmm.close()


def test_hybrid_vsock_guest_to_host(agents):
    """Guest-initiated hybrid vsock: the VMM forwards a guest's connection
    to host port P to the unix socket <uds>_P, where hostd listens."""
    vsock = os.path.join(agents.tmp, "fc.vsock")
    start_hostd(agents, "--listen", "hvsock:%s:5252" % vsock)
    wait_for(lambda: os.path.exists(vsock + "_5252"))
    start_guestd(agents, "outbound", "--connect", "unix:%s_5252" % vsock)
    guest = agents.wait_guest("outbound")
    # The peer is the VMM's forwarding socket, not a guest process.
    assert guest["peer"] == "hvsock:%s:5252" % vsock


def test_virtio_serial_through_a_pty(agents):
    """virtio-serial: the guest writes to a character device, the host
    reaches the port through QEMU's chardev unix socket.  A pty stands in
    for /dev/virtio-ports/NAME and a bridge for QEMU.  hostd restarts while
    the port stays open: sync markers get the session back."""
    master, slave = os.openpty()
    tty.setraw(slave)
    port = os.ttyname(slave)
    chardev = os.path.join(agents.tmp, "org.memshare.0.sock")
    srv = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    srv.bind(chardev)
    srv.listen(1)
    stop_ev = threading.Event()

    def qemu():
        srv.settimeout(0.1)
        while not stop_ev.is_set():
            try:
                c, _ = srv.accept()
            except socket.timeout:
                continue
            pump(master, c.fileno(), stop_ev)   # ends when hostd goes away
            c.close()

    t = threading.Thread(target=qemu, daemon=True)
    t.start()
    try:
        start_guestd(agents, "serial-guest", "--connect", "serial:" + port)
        start_hostd(agents, "--connect", "serial:" + chardev)
        guest = agents.wait_guest("serial-guest", reports=2)
        assert guest["peer"] == "serial:" + chardev
        first_id = guest["id"]
        # hostd restarts; the guest's port stays open all along.
        agents.stop_hostd()
        start_hostd(agents, "--connect", "serial:" + chardev)
        guest = agents.wait_guest("serial-guest", reports=2)
        assert guest["id"] == 1 and first_id == 1   # a new host numbers from 1
        assert guest["rejected"]["reports_invalid"] == 0
        # Killed without a Goodbye: the guest keeps writing Reports into
        # the port; the next hostd's sync marker restarts the session.
        agents.hostd.kill()
        agents.hostd.wait(10)
        os.unlink(agents.control_sock)
        start_hostd(agents, "--connect", "serial:" + chardev)
        guest = agents.wait_guest("serial-guest", reports=2)
        assert guest["name"] == "serial-guest"
        assert "the host restarted the session" in agents.log("guest-serial-guest.log")
    finally:
        stop_ev.set()
        t.join(5)
        srv.close()
        os.close(master)
        os.close(slave)
