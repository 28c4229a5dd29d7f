"""The CDR engine on every kind of field, checked against rosbags with test-only types.

These types are not ROS types; they exist to exercise alignment (8-byte values after odd
strings, empty numeric sequences before wider fields), fixed and bounded arrays, string
sequences and nested arrays, beyond what the shipped messages use.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np
import pytest
from rosbags.typesys import get_types_from_msg, get_typestore, Stores

from vbp_ros.msgs import deserialize, msg_definition, MsgError, ros_type, serialize
from vbp_ros.msgs.fields import fields_of, ros


@dataclass
class Inner:
    """A small nested type that starts with a 1-byte field."""

    __msgtype__: ClassVar[str] = 'vbp_test/msg/Inner'
    flag: bool = ros('bool')
    value: float = ros('float64')
    label: str = ros('string')


@dataclass
class Everything:
    """One field of every kind."""

    __msgtype__: ClassVar[str] = 'vbp_test/msg/Everything'
    a: int = ros('int8')
    name: str = ros('string')
    big: float = ros('float64')
    small: int = ros('uint16')
    wide: int = ros('int64')
    empty_doubles: list[float] = ros('float64[]')
    tail: int = ros('uint8')
    doubles: list[float] = ros('float64[]')
    fixed_ints: list[int] = ros('int32[3]')
    bounded: list[int] = ros('int16[<=4]')
    words: list[str] = ros('string[]')
    fixed_words: list[str] = ros('string[2]')
    raw: bytes = ros('uint8[]')
    raw4: bytes = ros('uint8[4]')
    short: str = ros('string<=8')
    inner: Inner = ros(Inner)
    inners: list[Inner] = ros(Inner, '[]')
    pair: list[Inner] = ros(Inner, '[2]')
    last: float = ros('float32')


SAMPLES = [
    Everything(),
    Everything(-3, 'x', 1.25, 65535, -2**63, [], 7, [0.5, -1.0], [1, -2, 3], [4, 5],
               ['', 'odd', 'four'], ['a', 'bc'], b'\x01\x02\x03', b'wxyz', 'eight888',
               Inner(True, -0.125, 'in'), [Inner(False, 1.0, ''), Inner(True, 2.0, 'xyz')],
               [Inner(True, 3.0, 'p'), Inner(False, 4.0, 'qq')], 9.5),
    Everything(name='abc', inners=[Inner(label='q' * 5)], words=['z'], doubles=[1e300]),
]


def _to_rosbags(obj: Any, store: Any) -> Any:
    kwargs = {}
    for spec in fields_of(type(obj)):
        value = getattr(obj, spec.name)
        if spec.is_bytes:
            value = np.frombuffer(bytes(value), np.uint8)
        elif spec.is_message:
            value = ([_to_rosbags(v, store) for v in value] if spec.array
                     else _to_rosbags(value, store))
        elif spec.array and spec.base != 'string':
            dtype = {'float64': np.float64, 'int32': np.int32, 'int16': np.int16}[spec.base]
            value = np.array(value, dtype)
        kwargs[spec.name] = value
    return store.types[ros_type(obj)](**kwargs)


@pytest.fixture(scope='module')
def store() -> Any:
    store = get_typestore(Stores.EMPTY)
    for cls in (Inner, Everything):
        store.register(get_types_from_msg(msg_definition(cls), ros_type(cls)))
    return store


@pytest.mark.parametrize('msg', SAMPLES)
@pytest.mark.parametrize('little', [True, False])
def test_matches_rosbags(msg: Everything, little: bool, store: Any) -> None:
    theirs = bytes(store.serialize_cdr(_to_rosbags(msg, store), ros_type(msg),
                                       little_endian=little))
    if little:
        assert serialize(msg) == theirs
    assert deserialize(theirs, Everything) == msg


@pytest.mark.parametrize('msg', SAMPLES)
def test_every_truncation_raises(msg: Everything) -> None:
    data = serialize(msg)
    assert deserialize(data, Everything) == msg
    for size in range(len(data)):
        with pytest.raises(MsgError):
            deserialize(data[:size], Everything)


@pytest.mark.parametrize(('changes', 'match'), [
    ({'fixed_ints': [1, 2]}, r'Everything\.fixed_ints: fixed array needs 3 elements, got 2'),
    ({'bounded': [1] * 5}, r'Everything\.bounded: 5 elements exceed the sequence bound of 4'),
    ({'raw4': b'abc'}, r'Everything\.raw4: fixed array needs 4'),
    ({'short': 'nine nine'}, r'Everything\.short: string of 9 bytes exceeds its bound of 8'),
    ({'words': ['a', 3]}, r'Everything\.words\[1\]: expected str'),
    ({'pair': [Inner()]}, r'Everything\.pair: fixed array needs 2'),
    ({'inners': [Inner(), Inner(value='x')]}, r'Everything\.inners\[1\]\.value'),
    ({'small': 65536}, r'Everything\.small'),
    ({'doubles': [1.0, 'x']}, r'Everything\.doubles'),
])
def test_serialize_errors_name_the_field(changes: dict, match: str) -> None:
    with pytest.raises(MsgError, match=match):
        serialize(Everything(**changes))


def test_fields_reject_bad_declarations() -> None:
    for bad in ('uint7', 'float32<=3', 'string[', 'Header'):
        with pytest.raises(ValueError, match='unsupported ROS field type'):
            ros(bad)
    with pytest.raises(ValueError, match='malformed array suffix'):
        ros(Inner, '[x]')
    with pytest.raises(ValueError, match='inside the type string'):
        ros('uint8', '[]')
