# SPDX-License-Identifier: LGPL-2.1-or-later
"""memshare-sim on the shipped recordings and on damaged copies: a trace cut
in its last record (a recorder killed mid-write) is replayed up to the cut
with a warning naming the offset; one corrupt in the middle is an error
naming the offset, with no table printed."""
import json
import os
import re
import shutil
import tempfile

import pytest

from conftest import FIXTURES, SIM, run

COLD = os.path.join(FIXTURES, "traces", "cache-cold.mstrace")
HEADER = 24          # "MSTRACE1", version, flags, start
RECORD_HEADER = 24   # t_us, guest, dir, length


def record_offsets(data):
    """The byte offset of each record of a trace's bytes."""
    offs, off = [], HEADER
    while off < len(data):
        offs.append(off)
        off += RECORD_HEADER + int.from_bytes(data[off + 20:off + 24], "big")
    assert off == len(data)
    return offs


@pytest.fixture
def tmp():
    d = tempfile.mkdtemp(prefix="memshare-sim-")
    yield d
    shutil.rmtree(d, ignore_errors=True)


def put(tmp, name, data):
    path = os.path.join(tmp, name)
    with open(path, "wb") as f:
        f.write(data)
    return path


def sim_json(*args):
    p = run(SIM, "--json", *args, check=0)
    return [{k: v for k, v in r.items() if k != "trace"} for r in json.loads(p.stdout)]


def test_version_and_help():
    p = run(SIM, "--version", check=0)
    assert re.fullmatch(r"memshare-sim \d+\.\d+\.\d+\n", p.stdout)
    assert "--version" in run(SIM, "--help", check=0).stdout


def test_truncated_tail(tmp):
    with open(COLD, "rb") as f:
        data = f.read()
    last = record_offsets(data)[-1]
    cut = put(tmp, "cut.mstrace", data[:-10])           # head -c -10
    whole = put(tmp, "whole.mstrace", data[:last])      # the complete records only
    p = run(SIM, "-p", "static", cut)
    assert p.returncode == 0, p.stderr
    assert p.stderr == ("memshare-sim: warning: %s: cut short at byte offset %d (its last "
                        "record is incomplete, as when the recorder is killed mid-write); "
                        "replaying the %d records before it\n"
                        % (cut, last, len(record_offsets(data)) - 1))
    assert p.stdout.startswith(cut + "\n  policy ")
    assert re.search(r"^  static +\d", p.stdout, re.M)
    # Everything before the cut is replayed: as if the file ended there.
    assert sim_json(cut) == sim_json(whole)
    # Cut inside the last record's header, too.
    cut2 = put(tmp, "cut2.mstrace", data[:last + 5])
    p = run(SIM, "-p", "static", cut2, check=0)
    assert "cut short at byte offset %d" % last in p.stderr


def test_corrupt_middle(tmp):
    with open(COLD, "rb") as f:
        data = bytearray(f.read())
    offs = record_offsets(data)
    mid = offs[len(offs) // 2]
    data[mid + 16:mid + 20] = (9).to_bytes(4, "big")    # a direction no recorder writes
    bad = put(tmp, "bad.mstrace", bytes(data))
    p = run(SIM, "-p", "static", bad)
    assert p.returncode == 1
    assert p.stdout == ""                                # no table header before the error
    assert p.stderr == ("memshare-sim: %s: corrupt record at byte offset %d (a direction or "
                        "length no recorder writes), after %d good ones; not replayed\n"
                        % (bad, mid, len(offs) // 2))
    p = run(SIM, "--json", bad)
    assert p.returncode == 1 and json.loads(p.stdout) == []
    # With a good trace: that one is replayed, the exit status says one failed.
    p = run(SIM, "-p", "static", COLD, bad)
    assert p.returncode == 1 and p.stdout.startswith(COLD + "\n") and bad not in p.stdout
    # Combined: nothing is replayed.
    p = run(SIM, "-p", "static", "--combine", COLD, bad)
    assert p.returncode == 1 and p.stdout == "" and "byte offset %d" % mid in p.stderr


def test_not_a_trace(tmp):
    text = put(tmp, "text.mstrace", b"this is not a memshare trace\n")
    p = run(SIM, text)
    assert p.returncode == 1 and p.stdout == ""
    assert "%s: not a memshare trace" % text in p.stderr
    p = run(SIM, os.path.join(tmp, "missing.mstrace"))
    assert p.returncode == 1 and p.stdout == "" and "No such file" in p.stderr


def test_host_total_sizes():
    for bad, why in (("1.5", "not a size"), ("0", "must be more than 0"), ("2X", "not a size"),
                     ("18446744073709551616", "too large")):
        p = run(SIM, "--host-total", bad, COLD)
        assert p.returncode == 2 and "--host-total '%s': %s" % (bad, why) in p.stderr, p.stderr
    assert run(SIM, "-p", "static", "--host-total", "512MB", COLD).returncode == 0
