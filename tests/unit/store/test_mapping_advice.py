"""Consume queues and index files are mapped with MADV_RANDOM (the kernel shows it as ``rr`` in
/proc/self/smaps): they are written a few bytes at a time all over many sparse files, and with
the default advice the first write into each fresh file faults in the device's whole readahead
window of zeros (milliseconds on the event loop, once for each new queue: the 1,000-topic scale
bench sent 274 msg/s). The commit log, appended and read in order, keeps the default."""

from __future__ import annotations

from pathlib import Path

from pocketmq.store.consume_queue import ConsumeQueue
from pocketmq.store.index import IndexFile
from tests.support.smaps import vm_flags


def test_a_consume_queue_file_is_mapped_for_random_access(tmp_path: Path) -> None:
    cq = ConsumeQueue("TopicA", 3, str(tmp_path / "consumequeue"), 20 * 1000)
    assert cq.put(0, 100, 7, 0)
    [mapped] = cq.queue.files
    assert "rr" in vm_flags(Path(mapped.path))
    cq.queue.close()

    reloaded = ConsumeQueue("TopicA", 3, str(tmp_path / "consumequeue"), 20 * 1000)
    reloaded.load()
    assert "rr" in vm_flags(Path(reloaded.queue.files[0].path))
    reloaded.queue.close()


def test_an_index_file_is_mapped_for_random_access(tmp_path: Path) -> None:
    index = IndexFile(str(tmp_path / "20261130000000000"), 100, 400)
    assert "rr" in vm_flags(tmp_path / "20261130000000000")
    index.file.close()
