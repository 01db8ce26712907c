# SPDX-License-Identifier: LGPL-2.1-or-later
"""Shared fixtures for the integration tests: paths of the built programs
(given by meson in the environment) and helpers to run the agents."""
import json
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time

import pytest

HOSTD = os.environ.get("MEMSHARE_HOSTD", "memshare-hostd")
GUESTD = os.environ.get("MEMSHARE_GUESTD", "memshare-guestd")
CTL = os.environ.get("MEMSHARECTL", "memsharectl")
SIM = os.environ.get("MEMSHARE_SIM", "memshare-sim")
FIXTURES = os.environ.get("MEMSHARE_FIXTURES", os.path.join(os.path.dirname(__file__), "..", "fixtures"))
GUEST_61 = os.path.join(FIXTURES, "linux-6.1-guest")
HOST_618 = os.path.join(FIXTURES, "linux-6.18-host")


def run(*args, check=None, timeout=60):
    p = subprocess.run(list(args), capture_output=True, text=True, timeout=timeout)
    if check is not None:
        assert p.returncode == check, (args, p.returncode, p.stdout, p.stderr)
    return p


def ctl_json(*args, check=0):
    p = run(CTL, "--json", *args, check=check)
    return json.loads(p.stdout)


def wait_for(pred, timeout=10.0, step=0.05):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        v = pred()
        if v:
            return v
        time.sleep(step)
    raise AssertionError("timed out waiting")


class Agents:
    """hostd plus any number of guestd processes, all over unix sockets."""

    def __init__(self, tmp):
        self.tmp = tmp
        self.guest_sock = os.path.join(tmp, "guests.sock")
        self.control_sock = os.path.join(tmp, "control.sock")
        self.control = "unix:" + self.control_sock
        self.hostd = None
        self.guests = []

    def start_hostd(self, *extra):
        log = open(os.path.join(self.tmp, "hostd.log"), "a")
        self.hostd = subprocess.Popen(
            [HOSTD, "--listen", "unix:" + self.guest_sock, "--control", self.control, "-v", *extra],
            stdout=log, stderr=subprocess.STDOUT)
        wait_for(lambda: os.path.exists(self.control_sock))

    def stop_hostd(self):
        if self.hostd and self.hostd.poll() is None:
            self.hostd.send_signal(signal.SIGTERM)
            assert self.hostd.wait(10) == 0
        self.hostd = None

    def start_guest(self, name, *extra):
        log = open(os.path.join(self.tmp, "guest-%s.log" % name), "a")
        p = subprocess.Popen([GUESTD, "--connect", "unix:" + self.guest_sock, "--name", name,
                              "--interval-ms", "200", "-v", *extra],
                             stdout=log, stderr=subprocess.STDOUT)
        self.guests.append(p)
        return p

    def status(self):
        return ctl_json("--host", self.control, "status")

    def guest(self, name):
        for g in self.status()["guests"]:
            if g["name"] == name:
                return g
        return None

    def wait_guest(self, name, reports=1):
        return wait_for(lambda: (lambda g: g if g and g["reports"] >= reports and g["report"] else None)(self.guest(name)))

    def log(self, name):
        with open(os.path.join(self.tmp, name)) as f:
            return f.read()

    def close(self):
        for p in self.guests:
            if p.poll() is None:
                p.send_signal(signal.SIGTERM)
                try:
                    p.wait(10)
                except subprocess.TimeoutExpired:
                    p.kill()
        if self.hostd and self.hostd.poll() is None:
            self.hostd.send_signal(signal.SIGTERM)
            try:
                self.hostd.wait(10)
            except subprocess.TimeoutExpired:
                self.hostd.kill()


@pytest.fixture
def agents():
    tmp = tempfile.mkdtemp(prefix="memshare-it-")
    a = Agents(tmp)
    yield a
    a.close()
    shutil.rmtree(tmp, ignore_errors=True)


@pytest.fixture
def fixture_copy():
    """A writable copy of the 6.1 guest capture (reclaim writes into it)."""
    tmp = tempfile.mkdtemp(prefix="memshare-sysroot-")
    dst = os.path.join(tmp, "root")
    shutil.copytree(GUEST_61, dst)
    # A writable stand-in for the sysctl, so slab reclaim has somewhere to write.
    os.makedirs(os.path.join(dst, "proc/sys/vm"), exist_ok=True)
    open(os.path.join(dst, "proc/sys/vm/drop_caches"), "w").close()
    yield dst
    shutil.rmtree(tmp, ignore_errors=True)


def control_raw(path, payload, timeout=5.0):
    """Send raw bytes to hostd's control socket, return the first reply line."""
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(timeout)
    s.connect(path)
    s.sendall(payload)
    buf = b""
    while b"\n" not in buf:
        chunk = s.recv(65536)
        if not chunk:
            break
        buf += chunk
    s.close()
    return buf
