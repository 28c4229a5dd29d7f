"""The piecewise MCAP writer writes exactly the bytes rosbags' own writer does."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from rosbags.rosbag2 import StoragePlugin, Writer

from vbp_ros.bag.mcap_write import BY_REFERENCE, PiecesWriter
from vbp_ros.bag.types import typestore

STEER, IMAGE = 'ackermann_msgs/msg/AckermannDriveStamped', 'sensor_msgs/msg/Image'


def _messages() -> list[tuple[int, bytes, int]]:
    """(connection index, payload, time): small and large messages, several chunks' worth,
    including a payload exactly at the by-reference threshold and a bytearray."""
    rng = np.random.default_rng(0)
    out = []
    for i in range(40):
        t = 1_000_000_000 + i * 33_000_000
        out.append((0, bytes(rng.integers(0, 255, 40, np.uint8)), t))
        size = [BY_REFERENCE, 300_000, 2_764_848, 17][i % 4]
        out.append((1, bytes(rng.integers(0, 255, size, np.uint8)), t + 1))
    return out


def _write(cls: type, path: Path, payload_type: type = bytes) -> bytes:
    store = typestore()
    with cls(path, version=8, storage_plugin=StoragePlugin.MCAP) as w:
        conns = [w.add_connection('/vbp/steering', STEER, typestore=store),
                 w.add_connection('/camera/image_raw', IMAGE, typestore=store)]
        for k, data, t in _messages():
            w.write(conns[k], t, payload_type(data))
    return (path / f'{path.name}.mcap').read_bytes()


@pytest.mark.parametrize('payload_type', [bytes, bytearray, memoryview])
def test_same_bytes_as_rosbags(tmp_path: Path, payload_type: type) -> None:
    # The same bag name in two folders: the file's metadata record names its bag file.
    ours = _write(PiecesWriter, tmp_path / 'ours' / 'drive', payload_type)
    theirs = _write(Writer, tmp_path / 'theirs' / 'drive')
    assert len(ours) > 20 * 2**20  # many chunks
    assert ours == theirs
    assert (tmp_path / 'ours' / 'drive' / 'metadata.yaml').read_text() == \
        (tmp_path / 'theirs' / 'drive' / 'metadata.yaml').read_text()
