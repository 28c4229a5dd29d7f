"""Untrusted input: truncated, corrupted and random bytes raise MsgError and nothing else."""
from __future__ import annotations

import struct
from typing import Any

import numpy as np
import pytest

from vbp_ros.msgs import (CompressedImage, deserialize, DiagnosticArray, DiagnosticStatus, Gid,
                          Header, HumbleParticipantEntitiesInfo, Image, KeyValue, MESSAGE_TYPES,
                          MsgError, NodeEntitiesInfo, ParticipantEntitiesInfo, serialize, Time)

ALL_TYPES = [*MESSAGE_TYPES, HumbleParticipantEntitiesInfo]

SMALL: list[Any] = [
    Image(Header(Time(1, 2), 'cam'), 1, 2, 'rgb8', 0, 6, b'abcdef'),
    CompressedImage(Header(Time(3, 4), 'c'), 'png', b'\x89PNG'),
    DiagnosticArray(Header(Time(5, 6), ''), [
        DiagnosticStatus(1, 'n', 'm', 'h', [KeyValue('k', 'v'), KeyValue('', 'x')])]),
    ParticipantEntitiesInfo(Gid(b'g' * 16), [NodeEntitiesInfo('/', 'node', [Gid(b'r' * 16)])]),
]


@pytest.mark.parametrize('msg', SMALL, ids=lambda m: type(m).__name__)
def test_every_truncation_raises(msg: Any) -> None:
    data = serialize(msg)
    for size in range(len(data)):
        with pytest.raises(MsgError):
            deserialize(data[:size], type(msg))


@pytest.mark.parametrize('msg', SMALL, ids=lambda m: type(m).__name__)
def test_corrupted_bytes_raise_only_msg_error(msg: Any) -> None:
    data = serialize(msg)
    for pos in range(len(data)):
        for value in (0x00, 0x01, 0x7F, 0x80, 0xFF):
            bad = bytearray(data)
            bad[pos] = value
            try:
                deserialize(bytes(bad), type(msg))
            except MsgError:
                pass


@pytest.mark.parametrize('cls', ALL_TYPES, ids=lambda c: c.__name__)
def test_random_bytes_raise_only_msg_error(cls: type) -> None:
    rng = np.random.default_rng(1234)
    for _ in range(300):
        size = int(rng.integers(0, 80))
        body = rng.integers(0, 256, size, dtype=np.uint8).tobytes()
        # mostly valid headers, so the body is actually parsed
        header = b'\x00\x01\x00\x00' if rng.random() < 0.9 else body[:4]
        try:
            deserialize(header + body, cls)
        except MsgError:
            pass


@pytest.mark.parametrize('count', [0xFFFFFFFF, 0x7FFFFFFF, 1 << 20])
def test_huge_lengths_are_rejected_before_use(count: int) -> None:
    head = b'\x00\x01\x00\x00' + struct.pack('<iI', 1, 2)
    with pytest.raises(MsgError, match='length'):
        deserialize(head + struct.pack('<I', count) + b'abc', Header)     # frame_id length
    arr = head + struct.pack('<I', 1) + b'\x00\x00\x00\x00' + struct.pack('<I', count)
    with pytest.raises(MsgError, match='DiagnosticArray.status'):
        deserialize(arr + bytes(64), DiagnosticArray)                      # sequence count
    img = serialize(Image(data=b''))[:-4] + struct.pack('<I', count) + bytes(100)
    with pytest.raises(MsgError, match='Image.data'):
        deserialize(img, Image)


def test_error_messages_name_the_problem() -> None:
    with pytest.raises(MsgError, match='too short'):
        deserialize(b'\x00\x01', Header)
    with pytest.raises(MsgError, match='encapsulation 0007'):
        deserialize(b'\x00\x07\x00\x00' + bytes(16), Header)
    bad_utf8 = b'\x00\x01\x00\x00' + bytes(8) + struct.pack('<I', 3) + b'\xff\xfe\x00'
    with pytest.raises(MsgError, match='not UTF-8'):
        deserialize(bad_utf8, Header)
    no_nul = b'\x00\x01\x00\x00' + bytes(8) + struct.pack('<I', 3) + b'abc'
    with pytest.raises(MsgError, match='not NUL-terminated'):
        deserialize(no_nul, Header)
    with pytest.raises(MsgError, match=r'at Header\.stamp\.nanosec: 4-byte value at offset 4'):
        deserialize(b'\x00\x01\x00\x00' + bytes(6), Header)
    with pytest.raises(MsgError, match='not a message class'):
        deserialize(b'\x00\x01\x00\x00', int)
    with pytest.raises(MsgError, match='cannot read'):
        deserialize(12, Header)


def test_trailing_bytes_are_ignored() -> None:
    data = serialize(Header(Time(1, 2), 'a'))
    assert deserialize(data + bytes(3), Header) == Header(Time(1, 2), 'a')


def test_numpy_and_memoryview_input() -> None:
    data = serialize(SMALL[0])
    assert deserialize(np.frombuffer(data, np.uint8), Image) == SMALL[0]
    assert deserialize(memoryview(data), Image) == SMALL[0]
    assert deserialize(bytearray(data), Image) == SMALL[0]
