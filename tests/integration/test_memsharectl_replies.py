# SPDX-License-Identifier: LGPL-2.1-or-later
"""memsharectl against a fake memshare-hostd control socket that answers
anything: malformed replies end in a clear message and a non-zero exit,
never in a crash, and missing fields never print as garbage."""
import json
import os
import shutil
import socket
import tempfile
import threading

import pytest

from conftest import CTL, run

# What a missing field must never print as: MS_UNKNOWN, a NULL string.
GARBAGE = ("18446744073709551615", "(null)", "nan")


class FakeHostd:
    """A unix control socket answering each request with the next reply
    given to ctl(), as raw bytes, then closing the connection."""

    def __init__(self, path):
        self.path = path
        self.replies = []
        self.requests = []
        self.srv = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.srv.bind(path)
        self.srv.listen(4)
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self):
        while True:
            try:
                conn, _ = self.srv.accept()
            except OSError:
                return
            with conn:
                conn.settimeout(5)
                buf = b""
                while b"\n" not in buf:
                    chunk = conn.recv(65536)
                    if not chunk:
                        break
                    buf += chunk
                self.requests.append(buf)
                if self.replies:
                    try:
                        conn.sendall(self.replies.pop(0))
                    except OSError:
                        pass

    def ctl(self, reply, *args):
        """Run memsharectl --host on this socket with @reply (str: a line)
        queued; the finished process."""
        if isinstance(reply, str):
            reply = reply.encode() + b"\n"
        self.replies.append(reply)
        p = run(CTL, "--timeout-ms", "5000", "--host", "unix:" + self.path, *args)
        # Never killed by a signal (json-c assertion: SIGABRT; NULL: SIGSEGV).
        assert p.returncode >= 0, (reply, p.returncode, p.stderr)
        for g in GARBAGE:
            assert g not in p.stdout, (reply, p.stdout)
        return p

    def close(self):
        try:
            self.srv.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        self.srv.close()
        self.thread.join(5)


@pytest.fixture
def fake():
    tmp = tempfile.mkdtemp(prefix="memshare-fake-")
    f = FakeHostd(os.path.join(tmp, "control.sock"))
    yield f
    f.close()
    shutil.rmtree(tmp, ignore_errors=True)


def malformed(p, what):
    assert p.returncode == 1, (p.stdout, p.stderr)
    assert "malformed reply from memshare-hostd" in p.stderr and what in p.stderr, p.stderr


def test_status_without_guests(fake):
    malformed(fake.ctl('{"ok": true}', "status"), '"guests"')
    malformed(fake.ctl('{"ok": true}', "status", "--json"), '"guests"')
    for guests in ('"x"', "5", "{}", "null", "true"):
        p = fake.ctl('{"ok": true, "guests": %s}' % guests, "status")
        malformed(p, '"guests"')
        assert p.stdout == ""           # nothing printed before the error


def test_status_not_a_reply(fake):
    for reply in ("[1, 2]", "5", "null", '"ok"', "this is not json", '{"ok": tru'):
        malformed(fake.ctl(reply, "status"), "not a JSON object")
    for ok in ('"yes"', "1", "null"):
        malformed(fake.ctl('{"ok": %s, "guests": []}' % ok, "status"), '"ok"')
    malformed(fake.ctl('{"guests": []}', "status"), '"ok"')
    # Closed without a reply.
    p = fake.ctl(b"", "status")
    assert p.returncode == 1 and "no valid reply from memshare-hostd" in p.stderr


def test_status_errors(fake):
    p = fake.ctl('{"ok": false, "errno": 95, "error": "unknown command"}', "status")
    assert p.returncode == 1 and "memsharectl: unknown command" in p.stderr
    for reply in ('{"ok": false}', '{"ok": false, "errno": "x", "error": 5}',
                  '{"ok": false, "errno": 99999999999}', '{"ok": false, "errno": -3}'):
        p = fake.ctl(reply, "status")
        assert p.returncode == 1, reply
        assert "memshare-hostd refused the request (it gave no reason)" in p.stderr, reply


def test_status_empty_and_wrong_fields(fake):
    # Every field missing.
    p = fake.ctl('{"ok": true, "guests": [{}], "domains": [{}]}', "status")
    assert p.returncode == 0, p.stderr
    assert "memshare-hostd ?, up ? s, 1 guest" in p.stdout
    assert "guest ? (#?)  ?  agent ?" in p.stdout
    assert "connected ? s, ? reports, last ? ms ago; capabilities: ?" in p.stdout
    assert "no report yet" in p.stdout
    assert "domain ?  agent ?" in p.stdout and "balloon   ?: current -" in p.stdout
    # Every field of the wrong type, arrays where objects go and back.
    guest = {
        "name": 5, "id": "x", "peer": [], "agent_version": {}, "connected_ms": -1,
        "reports": 1.5, "capabilities": "psi", "traffic": {"frames_in": "a"}, "rejected": {},
        "psi_trigger_reports": "many", "last_error": "boom", "errors": None,
        "rates": {"refault_bytes_per_s": "fast", "some_stall_us_per_s": [],
                  "pgscan_bytes_per_s": -5},
        "report": {"psi": {"some": "x", "full": 3}, "meminfo": [],
                   "lru": {"source": 7, "nodes": {"a": 1}}},
        "last_reclaim": {"status": "x", "freed_bytes": "lots"},
    }
    odd = dict(guest, report={"psi": [], "meminfo": {"total_bytes": -1},
                              "lru": {"nodes": [5, None, {"bins": "x"}, {"bins": [1, {"list": 2}]}]}},
               last_reclaim=[])
    reply = {
        "ok": True, "version": 1, "uptime_ms": "long",
        "guests": [guest, odd, 1, "a", None, []],
        "host": {"nodes": 5, "psi_trigger": "yes", "total_bytes": "x"},
        "agents": {"dropped": [1, 2], "accepted": -3},
        "policy": {"recent_actions": {}, "dry_run": "no", "name": None},
        "libvirt": {"uri": 5}, "domains": [{"balloon": 5, "stats": [], "warnings": "w"}, 3],
    }
    p = fake.ctl(json.dumps(reply), "status")
    assert p.returncode == 0, p.stderr
    assert "6 guests" in p.stdout and "pressure  (no PSI)" in p.stdout
    assert "LRU ages (source: ?)" in p.stdout and "node ?" in p.stdout
    assert "last reclaim: status ?, freed - in ? us" in p.stdout
    # The same, second layer down: lists of the wrong things.
    reply.update(host={"nodes": [1, "x", None]}, agents={"dropped": {"closed": "x", "eof": 2}},
                 policy={"recent_actions": [1, {"action": 5}, {"action": "reclaim"}]},
                 domains=[{"warnings": [1, None, "real"]}])
    p = fake.ctl(json.dumps(reply), "status")
    assert p.returncode == 0, p.stderr
    assert "dropped: eof 2\n" in p.stdout
    assert "round ?: ? ? -: ? [?]" in p.stdout
    assert "warning   ?\n" in p.stdout and "warning   real\n" in p.stdout
    # --json passes a well-formed reply through unchanged.
    p = fake.ctl(json.dumps(reply), "status", "--json")
    assert p.returncode == 0 and json.loads(p.stdout) == reply


def test_reclaim_malformed(fake):
    args = ("reclaim", "g", "1M", "--kind", "file")
    malformed(fake.ctl('{"ok": true}', *args), '"result"')
    malformed(fake.ctl('{"ok": true, "result": 5}', *args), '"result"')
    malformed(fake.ctl('{"ok": true, "result": []}', *args, "--json"), '"result"')
    malformed(fake.ctl('{"ok": true, "result": {}}', *args), '"status"')
    malformed(fake.ctl('{"ok": true, "result": {"status": "0"}}', *args), '"status"')
    malformed(fake.ctl('{"ok": true, "result": {"status": 1.5}}', *args), '"status"')
    malformed(fake.ctl('{"ok": 1, "result": {"status": 0}}', *args), '"ok"')
    # Well enough formed: what is there is printed, the rest as ?.
    p = fake.ctl('{"ok": true, "result": {"status": 0, "methods": 5}}', *args)
    assert p.returncode == 0, p.stderr
    assert p.stdout == ("guest ?: freed ? bytes (-: file -, anon -, slab -) of - asked, "
                        "in ? ms via ?\n")
    p = fake.ctl('{"ok": true, "guest": "g", "result": {"status": 0, "methods": [], '
                 '"freed_bytes": 1048576, "duration_us": 1500}}', *args)
    assert p.returncode == 0
    assert "guest g: freed 1048576 bytes (1.0 MiB:" in p.stdout and "in 1.5 ms via nothing" in p.stdout
    p = fake.ctl('{"ok": true, "result": {"status": -110, "methods": {"a": 1}}}', *args)
    assert p.returncode == 1 and "did not answer in time" in p.stdout
    p = fake.ctl('{"ok": true, "result": {"status": -11}}', *args)
    assert p.returncode == 0 and "found less to free" in p.stdout
    for status in (-99999999, 7, 9223372036854775807):
        p = fake.ctl('{"ok": true, "result": {"status": %d}}' % status, *args)
        assert p.returncode == 1 and "unknown error" in p.stdout, status
    p = fake.ctl('{"ok": false, "errno": 19, "error": "no connected guest \'g\'"}', *args)
    assert p.returncode == 1 and "no connected guest 'g'" in p.stderr
    # What was asked.
    assert json.loads(fake.requests[-1]) == {"cmd": "reclaim", "guest": "g", "bytes": 1048576,
                                             "kinds": "file"}


def test_reclaim_sizes(fake):
    """BYTES as cli_parse_bytes() reads it, and its errors naming the argument."""
    reply = '{"ok": true, "result": {"status": 0, "methods": []}}'
    for size, want in (("512B", 512), ("1.5K", 1536), ("1.99999999T", 2 * 2**40 - 10996),
                       ("0.3K", 307), ("18446744073709551615", 2**64 - 1)):
        p = fake.ctl(reply, "reclaim", "g", size, "--kind", "file")
        assert p.returncode == 0, (size, p.stderr)
        assert json.loads(fake.requests[-1])["bytes"] == want, size
    for size, why in (("1.5", "not a size"), ("1.5B", "not a size"), ("", "not a size"),
                      ("12Q", "not a size"), ("18446744073709551616", "too large"),
                      ("16777216T", "too large")):
        n = len(fake.requests)
        p = run(CTL, "--host", "unix:" + fake.path, "reclaim", "g", size, "--kind", "file")
        assert p.returncode == 2, size
        assert "reclaim: BYTES '%s': %s" % (size, why) in p.stderr, p.stderr
        assert len(fake.requests) == n          # nothing sent
