"""The epoch file: durable appends, a torn last entry dropped, real damage reported clearly, and
the consistent point two replicas share."""

import os
import subprocess
import sys

import pytest

from pocketmq.store.epoch_file import (
    HEADER, EpochEntry, EpochFile, EpochFileError, encode_entry, find_consistent_point,
)


def reopened(root) -> EpochFile:
    f = EpochFile(str(root))
    f.load()
    return f


def test_missing_file_means_no_epochs(tmp_path):
    f = reopened(tmp_path)
    assert f.entries == [] and f.last_epoch() == -1


def test_appends_survive_a_reopen(tmp_path):
    f = reopened(tmp_path)
    f.append(1, 0)
    f.append(2, 4096)
    f.append(5, 4096)  # an epoch that wrote nothing still counts
    assert reopened(tmp_path).entries == [EpochEntry(1, 0), EpochEntry(2, 4096), EpochEntry(5, 4096)]
    assert reopened(tmp_path).last_epoch() == 5


def test_append_refuses_epochs_going_back(tmp_path):
    f = reopened(tmp_path)
    f.append(3, 100)
    with pytest.raises(ValueError, match="not above"):
        f.append(3, 200)
    with pytest.raises(ValueError, match="below"):
        f.append(4, 50)
    with pytest.raises(ValueError, match="out of range"):
        f.append(2**31, 300)
    assert reopened(tmp_path).entries == [EpochEntry(3, 100)]


@pytest.mark.parametrize("cut", range(1, len(encode_entry(EpochEntry(7, 123456)))))
def test_torn_last_entry_is_dropped_and_file_repaired(tmp_path, cut):
    f = reopened(tmp_path)
    f.append(1, 0)
    f.append(7, 123456)
    size = os.path.getsize(f.path)
    with open(f.path, "r+b") as raw:
        raw.truncate(size - cut)  # the last write reached disk only in part
    again = reopened(tmp_path)
    assert again.entries == [EpochEntry(1, 0)]
    again.append(8, 200000)  # and the file takes appends again where the good part ended
    assert reopened(tmp_path).entries == [EpochEntry(1, 0), EpochEntry(8, 200000)]


def test_torn_last_line_with_garbage_bytes_is_dropped(tmp_path):
    f = reopened(tmp_path)
    f.append(1, 0)
    with open(f.path, "ab") as raw:
        raw.write(b"2-40\x00\x00\x00\x00\n")  # length reached disk, content did not
    assert reopened(tmp_path).entries == [EpochEntry(1, 0)]


def test_torn_header_starts_afresh(tmp_path):
    (tmp_path / "epochFile").write_bytes(HEADER[:4])
    f = reopened(tmp_path)
    assert f.entries == []
    f.append(1, 0)
    assert reopened(tmp_path).entries == [EpochEntry(1, 0)]


def test_file_cut_short_to_nothing_is_empty(tmp_path):
    (tmp_path / "epochFile").write_bytes(b"")
    assert reopened(tmp_path).entries == []


def test_corrupt_middle_entry_is_a_clear_error(tmp_path):
    f = reopened(tmp_path)
    for epoch in (1, 2, 3):
        f.append(epoch, epoch * 100)
    raw = (tmp_path / "epochFile").read_bytes()
    damaged = raw.replace(b"2-200-", b"2-201-")
    (tmp_path / "epochFile").write_bytes(damaged)
    with pytest.raises(EpochFileError, match=r"line 3 .*corrupt.*more entries follow"):
        reopened(tmp_path)


def test_foreign_file_is_a_clear_error(tmp_path):
    (tmp_path / "epochFile").write_bytes(b"2\n773307083\n7-7000\n8-8000\n")  # upstream's format
    with pytest.raises(EpochFileError, match="not a PocketMQ epoch file"):
        reopened(tmp_path)


def test_out_of_order_entries_are_a_clear_error(tmp_path):
    (tmp_path / "epochFile").write_bytes(HEADER + encode_entry(EpochEntry(5, 0)) + encode_entry(EpochEntry(4, 10)))
    with pytest.raises(EpochFileError, match="not above the last epoch"):
        reopened(tmp_path)


def test_truncate_suffix_rewrites_atomically(tmp_path):
    f = reopened(tmp_path)
    for epoch, start in ((1, 0), (2, 100), (3, 250), (4, 400)):
        f.append(epoch, start)
    f.truncate_suffix_by_offset(250)
    assert reopened(tmp_path).entries == [EpochEntry(1, 0), EpochEntry(2, 100)]
    f.truncate_suffix_by_epoch(2)
    assert reopened(tmp_path).entries == [EpochEntry(1, 0)]
    assert not os.path.exists(f.path + ".tmp")


def test_killed_appender_leaves_a_loadable_prefix(tmp_path):
    """A real process appending in a loop, SIGKILLed: what is on disk loads, in order."""
    script = ("import sys\nfrom pocketmq.store.epoch_file import EpochFile\n"
              "f = EpochFile(sys.argv[1]); f.load()\n"
              "for e in range(1, 100000):\n    f.append(e, e * 10)\n    print(e, flush=True)\n")
    proc = subprocess.Popen([sys.executable, "-c", script, str(tmp_path)], stdout=subprocess.PIPE)
    assert proc.stdout is not None
    acked = 0
    for line in proc.stdout:
        acked = int(line)
        if acked >= 50:
            break
    proc.kill()
    proc.wait(timeout=30)
    entries = reopened(tmp_path).entries
    assert len(entries) >= acked
    assert entries == [EpochEntry(e, e * 10) for e in range(1, len(entries) + 1)]


def test_consistent_point_as_upstream():
    master = [EpochEntry(1, 0), EpochEntry(2, 1000), EpochEntry(4, 3000)]
    # The slave followed epochs 1 and 2, then was master itself in epoch 3 and wrote past 2500.
    slave = [EpochEntry(1, 0), EpochEntry(2, 1000), EpochEntry(3, 2500)]
    assert find_consistent_point(slave, 2800, master, 5000) == 2500
    # A slave that only followed epoch 2 up to 2000 agrees with the master up to 2000.
    assert find_consistent_point([EpochEntry(1, 0), EpochEntry(2, 1000)], 2000, master, 5000) == 2000
    # Same epoch, different start: not the same history.
    assert find_consistent_point([EpochEntry(1, 10)], 500, master, 5000) == -1
    assert find_consistent_point([], 0, master, 5000) == -1


def test_a_master_restarted_in_its_own_epoch_keeps_where_that_epoch_began(tmp_path):
    f = reopened(tmp_path)
    f.append(1, 0)
    f.begin_epoch_as_master(1, 2_982_960)  # restarted; the controller kept it master of epoch 1
    assert reopened(tmp_path).entries == [EpochEntry(1, 0)]
    f.begin_epoch_as_master(3, 4096)
    assert f.entries == [EpochEntry(1, 0), EpochEntry(3, 4096)]
    f.append(4, 8192)  # copied from a master of epoch 4 that this broker's controller forgot
    f.begin_epoch_as_master(4, 9000)
    assert f.entries[-1] == EpochEntry(4, 8192)
    g = reopened(tmp_path / "other")
    g.append(2, 0)
    g.append(5, 100)
    g.begin_epoch_as_master(3, 200)  # later epochs than the one given are dropped, as upstream
    assert g.entries == [EpochEntry(2, 0), EpochEntry(3, 200)]
