"""Zero-copy MCAP reading gives exactly what rosbags' reader gives, or a clear error."""
from __future__ import annotations

from pathlib import Path

import pytest
from rosbags.rosbag2 import CompressionFormat, CompressionMode, StoragePlugin, Writer

from vbp_ros import msgs
from vbp_ros.bag import BagError, BagReader, BagWriter
from vbp_ros.bag.mcap_fast import McapFile, Unsupported
from vbp_ros.bag.types import definition

FLOAT = 'std_msgs/msg/Float32'
IMAGE = 'sensor_msgs/msg/Image'


def _image(i: int, size: int) -> bytes:
    return msgs.serialize(msgs.Image(height=1, width=size, encoding='mono8', step=size,
                                     data=bytes([i % 256]) * size))


def _write(path: Path, stamps: list[int]) -> list[tuple[str, int, bytes]]:
    sent = []
    with BagWriter(path) as w:
        for i, t in enumerate(stamps):
            # big images (own chunks) and small floats (shared chunks)
            for topic, ros_type, data in (('/img', IMAGE, _image(i, 300_000 + i)),
                                          ('/f', FLOAT, msgs.serialize(msgs.Float32(i)))):
                w.write(topic, ros_type, data, t)
                sent.append((topic, t, data))
    return sent


def _read(path: Path, zero_copy: bool, topics: list[str] | None = None
          ) -> list[tuple[str, int, bytes]]:
    with BagReader(path) as r:
        out = []
        for topic, t, data in r.messages(topics, zero_copy=zero_copy):
            assert isinstance(data, memoryview) == zero_copy
            out.append((topic, t, bytes(data)))
        return out


def test_same_messages_as_rosbags(tmp_path: Path) -> None:
    sent = _write(tmp_path / 'bag', [10 + 3 * i for i in range(12)])
    generic = _read(tmp_path / 'bag', False)
    fast = _read(tmp_path / 'bag', True)
    assert fast == generic
    assert sorted(fast) == sorted(sent)
    assert _read(tmp_path / 'bag', True, ['/f']) == [m for m in generic if m[0] == '/f']


def test_messages_come_in_time_order(tmp_path: Path) -> None:
    stamps = [50, 10, 40, 20, 30]
    _write(tmp_path / 'bag', stamps)
    got = _read(tmp_path / 'bag', True, ['/img'])
    assert [t for _, t, _ in got] == sorted(stamps)
    assert [d for _, _, d in got] == [_image(stamps.index(t), 300_000 + stamps.index(t))
                                      for t in sorted(stamps)]


def test_compressed_chunks_fall_back_to_rosbags(tmp_path: Path) -> None:
    path = tmp_path / 'bag'
    w = Writer(path, version=8, storage_plugin=StoragePlugin.MCAP)
    w.set_compression(CompressionMode.STORAGE, CompressionFormat.ZSTD)
    with w:
        conn = w.add_connection('/f', FLOAT, msgdef=definition(FLOAT)[0],
                                rihs01=definition(FLOAT)[1])
        for i in range(5):
            w.write(conn, i, msgs.serialize(msgs.Float32(i)))
    with pytest.raises(Unsupported):
        McapFile(path / 'bag.mcap').index()
    got = _read(path, False)
    assert len(got) == 5
    with BagReader(path) as r:
        assert [bytes(d) for _, _, d in r.messages(zero_copy=True)] == [d for _, _, d in got]


def test_file_without_summary_is_read_to_its_last_record(tmp_path: Path) -> None:
    sent = _write(tmp_path / 'bag', list(range(6)))
    raw = (tmp_path / 'bag' / 'bag.mcap').read_bytes()
    data_end = raw.rfind(b'\x0f\x04\x00\x00\x00\x00\x00\x00\x00')  # DataEnd record
    assert data_end > 0
    cut = tmp_path / 'cut.mcap'
    cut.write_bytes(raw[:data_end])  # as left by a recorder that was killed
    f = McapFile(cut)
    assert sorted((t, top, bytes(d)) for top, t, d in f.messages({'/img', '/f'})) == \
        sorted((t, top, d) for top, t, d in sent)
    f.close()


@pytest.mark.parametrize('keep', [0.25, 0.5, 0.95])
def test_truncated_file_is_a_clear_error(tmp_path: Path, keep: float) -> None:
    _write(tmp_path / 'bag', list(range(6)))
    raw = (tmp_path / 'bag' / 'bag.mcap').read_bytes()
    data_end = raw.rfind(b'\x0f\x04\x00\x00\x00\x00\x00\x00\x00')
    cut = tmp_path / 'cut.mcap'
    cut.write_bytes(raw[:int(data_end * keep)])
    with pytest.raises(BagError, match='damaged or truncated at byte'):
        McapFile(cut).index()


def test_not_an_mcap_file(tmp_path: Path) -> None:
    (tmp_path / 'x.mcap').write_bytes(b'hello world, not an mcap at all')
    with pytest.raises(BagError, match='not an MCAP file'):
        McapFile(tmp_path / 'x.mcap')
