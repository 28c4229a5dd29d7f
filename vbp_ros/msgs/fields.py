"""Field specs: what each message dataclass field is on the wire.

A message is a plain dataclass whose fields are declared with :func:`ros`, which stores the
field's ROS type (``'uint32'``, ``'string<=256'``, ``'uint8[]'``, a message class, ...) in the
dataclass field metadata. :func:`fields_of` turns a class into a tuple of :class:`FieldSpec`,
the one table that the CDR code, the ``.msg`` text generator and the tests all read.
"""
from __future__ import annotations

import dataclasses
import re
from typing import Any

#: ROS primitive type -> :mod:`struct` format character (size follows from it).
PRIMITIVES: dict[str, str] = {
    'bool': '?', 'byte': 'B', 'char': 'B', 'int8': 'b', 'uint8': 'B', 'int16': 'h',
    'uint16': 'H', 'int32': 'i', 'uint32': 'I', 'int64': 'q', 'uint64': 'Q',
    'float32': 'f', 'float64': 'd',
}
#: Primitive types whose arrays and sequences are carried as bytes-like objects.
BYTE_TYPES = frozenset({'byte', 'char', 'uint8'})

_TYPE_RE = re.compile(
    r'^(?P<base>[a-z][a-z0-9]*)(?:<=(?P<sbound>\d+))?(?P<array>\[(?:<=)?\d*\])?$')
_ARRAY_RE = re.compile(r'^(?:\[(?P<bounded><=)?(?P<n>\d*)\])?$')
_META = 'ros'


@dataclasses.dataclass(frozen=True)
class FieldSpec:
    """One message field as it is on the wire.

    Attributes:
        name: Field name (the ROS name).
        base: A primitive name from :data:`PRIMITIVES`, ``'string'``, or a message class.
        string_bound: N for ``string<=N``, else 0.
        array: ``''`` (single value), ``'[]'`` (sequence), ``'[N]'`` (fixed array) or
            ``'[<=N]'`` (bounded sequence).
    """

    name: str
    base: str | type
    string_bound: int = 0
    array: str = ''

    @property
    def is_message(self) -> bool:
        """Whether the element type is a nested message."""
        return isinstance(self.base, type)

    @property
    def is_sequence(self) -> bool:
        """Whether the field is a (possibly bounded) variable-length sequence."""
        return self.array.startswith('[') and not self.array[1:-1].isdigit()

    @property
    def fixed_length(self) -> int:
        """N for a fixed array ``T[N]``, else 0."""
        inner = self.array[1:-1]
        return int(inner) if inner.isdigit() else 0

    @property
    def is_bytes(self) -> bool:
        """Whether the field is an array/sequence of bytes carried as a bytes-like object."""
        return bool(self.array) and self.base in BYTE_TYPES

    def type_text(self) -> str:
        """Return the field's type as written in a ``.msg`` file, e.g. ``'std_msgs/Header'``."""
        if isinstance(self.base, type):
            pkg, _, name = str(getattr(self.base, '__msgtype__')).split('/')
            text = f'{pkg}/{name}'
        else:
            text = self.base
            if self.string_bound:
                text += f'<={self.string_bound}'
        return text + self.array


def _default(base: str | type, array: str) -> dict[str, Any]:
    fixed = array[1:-1]
    if array:
        if base in BYTE_TYPES:
            return {'default': bytes(int(fixed)) if fixed.isdigit() else b''}
        if fixed.isdigit():
            count = int(fixed)
            if isinstance(base, type):
                return {'default_factory': lambda: [base() for _ in range(count)]}
            item = '' if base == 'string' else _scalar_default(base)
            return {'default_factory': lambda: [item] * count}
        return {'default_factory': list}
    if isinstance(base, type):
        return {'default_factory': base}
    return {'default': '' if base == 'string' else _scalar_default(base)}


def _scalar_default(base: str) -> Any:
    if base == 'bool':
        return False
    return 0.0 if base.startswith('float') else 0


def parse_type(text: str) -> tuple[str, int, str]:
    """Split a primitive ROS type like ``'string<=256'`` or ``'uint8[16]'``.

    Args:
        text: The type as written in a ``.msg`` file (primitives and strings only).

    Returns:
        ``(base, string_bound, array)``.

    Raises:
        ValueError: The text is not a primitive/string type this module supports.
    """
    match = _TYPE_RE.match(text)
    if not match or (match['base'] not in PRIMITIVES and match['base'] != 'string') or (
            match['sbound'] and match['base'] != 'string'):
        msg = f'unsupported ROS field type {text!r}'
        raise ValueError(msg)
    return match['base'], int(match['sbound'] or 0), match['array'] or ''


def ros(typ: str | type, array: str = '') -> Any:
    """Declare a message dataclass field with its ROS wire type.

    Args:
        typ: A primitive/string ROS type, optionally with an array suffix (``'uint32'``,
            ``'string<=256'``, ``'uint8[]'``, ``'char[16]'``), or a message class.
        array: Array suffix for a message class: ``'[]'``, ``'[N]'`` or ``'[<=N]'``.

    Returns:
        A :func:`dataclasses.field` with a suitable default and the type in its metadata.

    Raises:
        ValueError: The type or array suffix is malformed.
    """
    if isinstance(typ, str):
        if array:
            msg = 'give the array suffix inside the type string for primitive types'
            raise ValueError(msg)
        base, bound, array = parse_type(typ)
        spec: tuple[str | type, int, str] = (base, bound, array)
    else:
        if not _ARRAY_RE.match(array):
            msg = f'malformed array suffix {array!r}'
            raise ValueError(msg)
        spec = (typ, 0, array)
    return dataclasses.field(metadata={_META: spec}, **_default(spec[0], spec[2]))


_CACHE: dict[type, tuple[FieldSpec, ...]] = {}


def fields_of(cls: type) -> tuple[FieldSpec, ...]:
    """Return the wire fields of a message class, in order.

    Args:
        cls: A message dataclass whose fields were declared with :func:`ros`.

    Returns:
        One :class:`FieldSpec` per field.

    Raises:
        TypeError: ``cls`` is not such a message class.
    """
    try:
        return _CACHE[cls]
    except KeyError:
        pass
    if not (dataclasses.is_dataclass(cls) and isinstance(getattr(cls, '__msgtype__', None), str)):
        msg = f'{cls!r} is not a message class'
        raise TypeError(msg)
    specs = []
    for fld in dataclasses.fields(cls):
        if _META not in fld.metadata:
            msg = f'{cls.__name__}.{fld.name} was not declared with ros()'
            raise TypeError(msg)
        base, bound, array = fld.metadata[_META]
        specs.append(FieldSpec(fld.name, base, bound, array))
    _CACHE[cls] = result = tuple(specs)
    return result
