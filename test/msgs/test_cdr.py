"""CDR serialization: byte-identical to rosbags, round trips, zero-copy reads."""
from __future__ import annotations

import dataclasses
from typing import Any

import numpy as np
import pytest

from vbp_ros.msgs import (AckermannDrive, AckermannDriveStamped, CompressedImage, deserialize,
                          DiagnosticArray, DiagnosticStatus, Float32, get_type, Gid, Header,
                          HumbleGid, HumbleNodeEntitiesInfo, HumbleParticipantEntitiesInfo,
                          Image, KeyValue, MsgError, NodeEntitiesInfo, ParticipantEntitiesInfo,
                          ros_type, serialize, Time, typestore)
from vbp_ros.msgs.fields import fields_of


def _header(frame_id: str = 'cam') -> Header:
    return Header(Time(1700000000, 123456789), frame_id)


def _diag(values: int, name: str = 'vbp') -> DiagnosticStatus:
    return DiagnosticStatus(DiagnosticStatus.WARN, name, 'slow', 'gpu0',
                            [KeyValue(f'k{i}', 'v' * i) for i in range(values)])


SAMPLES: list[Any] = [
    Time(-5, 999999999),
    _header(''), _header('a'), _header('ab'), _header('abc'), _header('abcd'), _header('ümlaut'),
    Image(_header('x'), 2, 3, 'rgb8', 0, 9, bytes(range(18))),
    Image(_header('xy'), 0, 0, '', 1, 0, b''),
    Image(_header('camera_optical'), 4, 5, 'mono16', 1, 12, bytes(range(48))),
    CompressedImage(_header('c'), 'jpeg', b'\xff\xd8\xff\xe0abc'),
    CompressedImage(_header(''), '', b''),
    AckermannDrive(0.25, -1.0, 3.5, 0.0, 2.0**-10),
    AckermannDriveStamped(_header('base_link'), AckermannDrive(-0.125, 0, 2, 0.5, 0)),
    Float32(1.5), Float32(-2.0**127),
    KeyValue('', ''), KeyValue('a', 'bcd'),
    _diag(0), _diag(3, 'x'),
    DiagnosticArray(_header('d'), []),
    DiagnosticArray(_header(''), [_diag(0, ''), _diag(2), _diag(1, 'odd')]),
    Gid(bytes(range(16))), HumbleGid(bytes(range(24))),
    NodeEntitiesInfo('/', 'vbp', [], []),
    NodeEntitiesInfo('/ns', 'n', [Gid(b'\x01' * 16)], [Gid(b'\x02' * 16), Gid(b'\x03' * 16)]),
    ParticipantEntitiesInfo(Gid(b'\x07' * 16), []),
    ParticipantEntitiesInfo(Gid(bytes(16)), [NodeEntitiesInfo('/', 'a', [Gid(b'r' * 16)], []),
                                             NodeEntitiesInfo('/xyz', 'bb', [], [])]),
    HumbleParticipantEntitiesInfo(HumbleGid(b'\x09' * 24), [HumbleNodeEntitiesInfo(
        '/', 'vbp_node', [HumbleGid(b'r' * 24)], [HumbleGid(b'w' * 24)])]),
]


def _to_rosbags(obj: Any, store: Any) -> Any:
    """Build the rosbags message equal to one of ours (byte arrays as numpy uint8)."""
    cls = store.types[ros_type(obj)]
    kwargs = {}
    for spec in fields_of(type(obj)):
        value = getattr(obj, spec.name)
        if spec.is_bytes:
            value = np.frombuffer(bytes(value), np.uint8)
        elif spec.is_message and spec.array:
            value = [_to_rosbags(item, store) for item in value]
        elif spec.is_message:
            value = _to_rosbags(value, store)
        kwargs[spec.name] = value
    return cls(**kwargs)


@pytest.fixture(scope='module')
def stores() -> dict[str, Any]:
    return {'jazzy': typestore('jazzy'), 'humble': typestore('humble')}


@pytest.mark.parametrize('msg', SAMPLES, ids=lambda m: type(m).__name__)
def test_bytes_match_rosbags(msg: Any, stores: dict[str, Any]) -> None:
    store = stores['humble' if type(msg).__name__.startswith('Humble') else 'jazzy']
    expected = bytes(store.serialize_cdr(_to_rosbags(msg, store), ros_type(msg)))
    assert serialize(msg) == expected


@pytest.mark.parametrize('msg', SAMPLES, ids=lambda m: type(m).__name__)
def test_round_trip(msg: Any) -> None:
    data = serialize(msg)
    assert data[:4] == b'\x00\x01\x00\x00'
    back = deserialize(data, type(msg))
    assert back == msg
    assert type(back) is type(msg)


@pytest.mark.parametrize('msg', SAMPLES, ids=lambda m: type(m).__name__)
def test_reads_rosbags_big_endian(msg: Any, stores: dict[str, Any]) -> None:
    store = stores['humble' if type(msg).__name__.startswith('Humble') else 'jazzy']
    data = bytes(store.serialize_cdr(_to_rosbags(msg, store), ros_type(msg),
                                     little_endian=False))
    assert data[:2] == b'\x00\x00'
    assert deserialize(data, type(msg)) == msg


def test_image_payload_is_zero_copy() -> None:
    payload = bytes(range(256)) * 12
    data = bytearray(serialize(Image(_header(), 4, 256, 'rgb8', 0, 768, payload)))
    img = deserialize(data, Image)
    assert isinstance(img.data, memoryview)
    assert img.data == payload
    data[-1] ^= 0xFF                        # the view sees changes to the buffer: no copy
    assert img.data[-1] == payload[-1] ^ 0xFF


def test_serialize_accepts_buffers() -> None:
    arr = np.arange(60, dtype=np.uint8).reshape(4, 5, 3)
    ref = serialize(Image(_header(), 4, 5, 'rgb8', 0, 15, arr.tobytes()))
    assert serialize(Image(_header(), 4, 5, 'rgb8', 0, 15, arr)) == ref
    assert serialize(Image(_header(), 4, 5, 'rgb8', 0, 15, memoryview(arr))) == ref
    assert serialize(Image(_header(), 4, 5, 'rgb8', 0, 15, bytearray(arr.tobytes()))) == ref
    strided = np.zeros((4, 10, 3), np.uint8)
    strided[:, ::2] = arr
    assert serialize(Image(_header(), 4, 5, 'rgb8', 0, 15, strided[:, ::2])) == ref


def test_large_image_round_trip() -> None:
    rng = np.random.default_rng(0)
    payload = rng.integers(0, 256, 720 * 1280 * 3, dtype=np.uint8).tobytes()
    msg = Image(_header('odd'), 720, 1280, 'bgr8', 0, 3840, payload)
    data = serialize(msg)
    # header, stamp, frame_id, height+width, encoding, is_bigendian + pad, step, length
    assert len(data) == 4 + 8 + 8 + 8 + 9 + 1 + 2 + 4 + 4 + len(payload)
    assert data.endswith(payload)
    assert deserialize(data, Image) == msg


def test_deserialize_by_type_name() -> None:
    data = serialize(Float32(2.0))
    assert deserialize(data, 'std_msgs/msg/Float32') == Float32(2.0)
    assert get_type('std_msgs/Float32') is Float32
    assert get_type('rmw_dds_common/msg/Gid', 'humble') is HumbleGid
    with pytest.raises(MsgError, match='no message class'):
        deserialize(data, 'std_msgs/msg/Nope')


@pytest.mark.parametrize(('msg', 'match'), [
    (Image(height=-1), 'Image.height'),
    (Image(height=2**32), 'Image.height'),
    (Image(encoding=5), 'Image.encoding: expected str'),
    (Image(data=[1, 2, 3]), 'Image.data'),
    (Header(frame_id=None), 'Header.frame_id'),
    (Float32('x'), 'Float32.data'),
    (Gid(b'short'), 'Gid.data: fixed array needs 16'),
    (NodeEntitiesInfo(node_name='n' * 257), 'string of 257 bytes exceeds its bound of 256'),
    (DiagnosticStatus(level=256), 'DiagnosticStatus.level'),
    (DiagnosticArray(status=[DiagnosticStatus(), DiagnosticStatus(values=[KeyValue(key=1)])]),
     r'DiagnosticArray\.status\[1\]\.values\[0\]\.key: expected str'),
])
def test_serialize_rejects_bad_fields(msg: Any, match: str) -> None:
    with pytest.raises(MsgError, match=match):
        serialize(msg)


def test_serialize_rejects_non_messages() -> None:
    with pytest.raises(MsgError, match='not a message class'):
        serialize(42)

    @dataclasses.dataclass
    class Plain:
        x: int = 0
    with pytest.raises(MsgError, match='not a message class'):
        serialize(Plain())


def test_defaults_are_independent() -> None:
    a, b = DiagnosticArray(), DiagnosticArray()
    a.status.append(DiagnosticStatus())
    a.header.frame_id = 'changed'
    assert b.status == []
    assert b.header.frame_id == ''
    assert Gid().data == bytes(16)
    assert HumbleGid().data == bytes(24)


def test_time_nanosecond_helpers() -> None:
    stamp = Time.from_ns(1_700_000_000_123_456_789)
    assert stamp == Time(1_700_000_000, 123_456_789)
    assert stamp.to_ns() == 1_700_000_000_123_456_789
    assert Time.from_ns(-1) == Time(-1, 999_999_999)
    assert Time.from_ns(-1).to_ns() == -1


def test_module_example() -> None:
    data = serialize(Float32(1.5))
    assert data.hex() == '000100000000c03f'
    assert deserialize(data, Float32) == Float32(data=1.5)
