"""Fast CDR (XCDR1) serialization of the message dataclasses.

One generic serializer and one generic deserializer per message class are built from the
class's field table (:func:`~vbp_ros.msgs.fields.fields_of`) on first use and cached. The
output is byte-identical to rosbags' ``serialize_cdr``: a 4-byte encapsulation header
``00 01 00 00`` (little endian) followed by the fields, each primitive aligned to its size
relative to the end of the header, strings as uint32 length (with the NUL) + bytes + NUL.

Byte arrays (image payloads) are never turned into Python lists: serialization copies them
once (into the joined output) and deserialization returns a ``memoryview`` into the input.
Every length read from the input is checked against what is left of it, so malformed or
hostile input raises :class:`~vbp_ros.msgs.errors.MsgError`.
"""
from __future__ import annotations

import struct
from typing import Any, Callable, overload, TypeVar

from vbp_ros.msgs.errors import MsgError
from vbp_ros.msgs.fields import fields_of, FieldSpec, PRIMITIVES
from vbp_ros.msgs.registry import get_type

T = TypeVar('T')
Writer = Callable[['_Out', Any], None]
Reader = Callable[[memoryview, int], 'tuple[Any, int]']

#: Encapsulation header written by :func:`serialize` (CDR little endian, no options).
CDR_LE_HEADER = b'\x00\x01\x00\x00'
_ENDIAN = {b'\x00\x01': '<', b'\x00\x00': '>'}
_PAD = [bytes(n) for n in range(8)]
_BIG = 1 << 14           # byte arrays at least this long are joined in, not copied twice
_SER_ERRORS = (struct.error, TypeError, AttributeError, ValueError, OverflowError)


class _Located(MsgError):
    """A MsgError on its way out, collecting the path of fields it happened in."""

    def __init__(self, reason: str, name: str) -> None:
        super().__init__(reason)
        self.reason = reason
        self.path = [name]

    def where(self, cls: type) -> str:
        """Return ``'Image.header.frame_id: reason'`` for the top-level class ``cls``."""
        text = cls.__name__
        for part in self.path:
            text += part if part.startswith('[') else f'.{part}'
        return f'{text}: {self.reason}'


def _locate(exc: Exception, part: str) -> _Located:
    """Return ``exc`` as a _Located error with ``part`` prepended to its field path."""
    if isinstance(exc, _Located):
        exc.path.insert(0, part)
        return exc
    return _Located(str(exc), part)


class _Out:
    """Growing output: small fields go into a bytearray, large byte arrays stay as views."""

    __slots__ = ('base', 'buf', 'chunks')

    def __init__(self) -> None:
        self.chunks: list[Any] = [CDR_LE_HEADER]
        self.buf = bytearray()
        self.base = 0           # CDR offset of buf[0]

    def blob(self, view: memoryview) -> None:
        if len(view) >= _BIG:
            self.chunks.append(self.buf)
            self.chunks.append(view)
            self.base += len(self.buf) + len(view)
            self.buf = bytearray()
        else:
            self.buf += view

    def getvalue(self) -> bytes:
        self.chunks.append(self.buf)
        return b''.join(self.chunks)


def _as_bytes(value: Any) -> memoryview:
    """View any buffer (bytes, bytearray, memoryview, contiguous numpy array) as bytes."""
    view = memoryview(value)
    if not view.c_contiguous:
        view = memoryview(view.tobytes())
    if view.format != 'B' or view.ndim != 1:
        view = view.cast('B')
    return view


def _string_bytes(value: str, bound: int) -> bytes:
    if not isinstance(value, str):
        msg = f'expected str, got {type(value).__name__}'
        raise TypeError(msg)
    raw = value.encode()
    if bound and len(raw) > bound:
        msg = f'string of {len(raw)} bytes exceeds its bound of {bound}'
        raise ValueError(msg)
    return raw


# --- serialization -----------------------------------------------------------------------------

def _prim_writer(fmt: str) -> Writer:
    pack = struct.Struct('<' + fmt).pack
    size = struct.calcsize(fmt)

    def write(out: _Out, value: Any) -> None:
        buf = out.buf
        pad = -(out.base + len(buf)) % size
        if pad:
            buf += _PAD[pad]
        buf += pack(value)
    return write


def _write_u32(out: _Out, value: int) -> None:
    buf = out.buf
    pad = -(out.base + len(buf)) % 4
    if pad:
        buf += _PAD[pad]
    buf += struct.pack('<I', value)


def _string_writer(bound: int) -> Writer:
    def write(out: _Out, value: Any) -> None:
        raw = _string_bytes(value, bound)
        _write_u32(out, len(raw) + 1)
        out.buf += raw
        out.buf += b'\x00'
    return write


def _items_writer(item: Writer, fixed: int, bound: int) -> Writer:
    def write(out: _Out, value: Any) -> None:
        _check_count(len(value), fixed, bound)
        if not fixed:
            _write_u32(out, len(value))
        for index, elem in enumerate(value):
            try:
                item(out, elem)
            except (MsgError, *_SER_ERRORS) as exc:
                raise _locate(exc, f'[{index}]') from None
    return write


def _bytes_writer(fixed: int, bound: int) -> Writer:
    def write(out: _Out, value: Any) -> None:
        view = _as_bytes(value)
        _check_count(len(view), fixed, bound)
        if not fixed:
            _write_u32(out, len(view))
        out.blob(view)
    return write


def _prim_array_writer(fmt: str, fixed: int, bound: int) -> Writer:
    size = struct.calcsize(fmt)

    def write(out: _Out, value: Any) -> None:
        count = len(value)
        _check_count(count, fixed, bound)
        if not fixed:
            _write_u32(out, count)
        if count:
            buf = out.buf
            pad = -(out.base + len(buf)) % size
            if pad:
                buf += _PAD[pad]
            buf += struct.pack(f'<{count}{fmt}', *value)
    return write


def _check_count(count: int, fixed: int, bound: int) -> None:
    if fixed and count != fixed:
        msg = f'fixed array needs {fixed} elements, got {count}'
        raise ValueError(msg)
    if bound and count > bound:
        msg = f'{count} elements exceed the sequence bound of {bound}'
        raise ValueError(msg)


def _field_writer(spec: FieldSpec) -> Writer:
    fixed = spec.fixed_length
    bound = int(spec.array[3:-1]) if spec.array.startswith('[<=') else 0
    if spec.is_bytes:
        return _bytes_writer(fixed, bound)
    if isinstance(spec.base, type):
        item = _message_writer(spec.base)
    elif spec.base == 'string':
        item = _string_writer(spec.string_bound)
    elif spec.array:
        return _prim_array_writer(PRIMITIVES[spec.base], fixed, bound)
    else:
        item = _prim_writer(PRIMITIVES[spec.base])
    return _items_writer(item, fixed, bound) if spec.array else item


_WRITERS: dict[type, Writer] = {}


def _message_writer(cls: type) -> Writer:
    try:
        return _WRITERS[cls]
    except KeyError:
        pass
    ops = [(spec.name, _field_writer(spec)) for spec in fields_of(cls)]

    def write(out: _Out, obj: Any) -> None:
        for name, op in ops:
            try:
                op(out, getattr(obj, name))
            except (MsgError, *_SER_ERRORS) as exc:
                raise _locate(exc, name) from None
    _WRITERS[cls] = write
    return write


def serialize(msg: Any) -> bytes:
    """Serialize a message to CDR (XCDR1, little endian, with encapsulation header).

    Args:
        msg: An instance of one of the message dataclasses (nested fields may be any objects
            with the right attributes).

    Returns:
        The serialized message, identical to rosbags' ``serialize_cdr`` output.

    Raises:
        MsgError: ``msg`` is not a message, or a field has a wrong type or out-of-range value.
    """
    try:
        write = _message_writer(type(msg))
    except TypeError as exc:
        raise MsgError(str(exc)) from None
    out = _Out()
    try:
        write(out, msg)
    except _Located as exc:
        text = f'cannot serialize {exc.where(type(msg))}'
        raise MsgError(text) from None
    return out.getvalue()


# --- deserialization ---------------------------------------------------------------------------

def _short(what: str, pos: int, need: int, have: int) -> MsgError:
    return MsgError(f'{what} at offset {pos} needs {need} bytes, only {max(have, 0)} left')


def _prim_reader(fmt: str, endian: str) -> Reader:
    unpack_from = struct.Struct(endian + fmt).unpack_from
    size = struct.calcsize(fmt)
    name = f'{size}-byte value'

    def read(view: memoryview, pos: int) -> tuple[Any, int]:
        pos += -pos % size
        if pos + size > len(view):
            raise _short(name, pos, size, len(view) - pos)
        return unpack_from(view, pos)[0], pos + size
    return read


def _count_reader(endian: str) -> Callable[[memoryview, int, int], tuple[int, int]]:
    unpack_from = struct.Struct(endian + 'I').unpack_from

    def read(view: memoryview, pos: int, min_size: int) -> tuple[int, int]:
        pos += -pos % 4
        if pos + 4 > len(view):
            raise _short('length', pos, 4, len(view) - pos)
        count = unpack_from(view, pos)[0]
        pos += 4
        if count * min_size > len(view) - pos:
            msg = (f'length {count} at offset {pos - 4} needs at least {count * min_size} '
                   f'bytes, only {len(view) - pos} left')
            raise MsgError(msg)
        return count, pos
    return read


def _string_reader(endian: str) -> Reader:
    read_count = _count_reader(endian)

    def read(view: memoryview, pos: int) -> tuple[Any, int]:
        size, pos = read_count(view, pos, 1)
        if not size:
            return '', pos
        end = pos + size - 1
        if view[end] != 0:
            msg = f'string at offset {pos - 4} is not NUL-terminated'
            raise MsgError(msg)
        try:
            return str(view[pos:end], 'utf-8'), end + 1
        except UnicodeDecodeError as exc:
            msg = f'string at offset {pos - 4} is not UTF-8: {exc.reason}'
            raise MsgError(msg) from None
    return read


def _bytes_reader(endian: str, fixed: int) -> Reader:
    read_count = _count_reader(endian)

    def read(view: memoryview, pos: int) -> tuple[Any, int]:
        if fixed:
            if pos + fixed > len(view):
                raise _short('byte array', pos, fixed, len(view) - pos)
            return bytes(view[pos:pos + fixed]), pos + fixed
        count, pos = read_count(view, pos, 1)
        return view[pos:pos + count], pos + count
    return read


def _items_reader(item: Reader, endian: str, fixed: int, min_size: int) -> Reader:
    read_count = _count_reader(endian)

    def read(view: memoryview, pos: int) -> tuple[Any, int]:
        if fixed:
            count = fixed
        else:
            count, pos = read_count(view, pos, min_size)
        items = []
        for index in range(count):
            try:
                value, pos = item(view, pos)
            except MsgError as exc:
                raise _locate(exc, f'[{index}]') from None
            items.append(value)
        return items, pos
    return read


def _prim_array_reader(fmt: str, endian: str, fixed: int) -> Reader:
    read_count = _count_reader(endian)
    size = struct.calcsize(fmt)

    def read(view: memoryview, pos: int) -> tuple[Any, int]:
        if fixed:
            count = fixed
        else:
            count, pos = read_count(view, pos, size)
        if not count:
            return [], pos
        pos += -pos % size
        if pos + count * size > len(view):
            raise _short('array', pos, count * size, len(view) - pos)
        return list(struct.unpack_from(f'{endian}{count}{fmt}', view, pos)), pos + count * size
    return read


def min_size(cls: type) -> int:
    """Return a lower bound of the CDR size of a message of this class (alignment ignored).

    Args:
        cls: A message class.

    Returns:
        The fewest bytes any valid serialization of ``cls`` can take (at least 1).
    """
    total = 0
    for spec in fields_of(cls):
        if spec.is_sequence:
            total += 4
            continue
        count = spec.fixed_length or 1
        if isinstance(spec.base, type):
            total += count * min_size(spec.base)
        elif spec.base == 'string':
            total += count * 4
        else:
            total += count * struct.calcsize(PRIMITIVES[spec.base])
    return max(total, 1)


def _field_reader(spec: FieldSpec, endian: str) -> Reader:
    fixed = spec.fixed_length
    if spec.is_bytes:
        return _bytes_reader(endian, fixed)
    if isinstance(spec.base, type):
        item = _message_reader(spec.base, endian)
        item_size = min_size(spec.base)
    elif spec.base == 'string':
        item = _string_reader(endian)
        item_size = 4
    elif spec.array:
        return _prim_array_reader(PRIMITIVES[spec.base], endian, fixed)
    else:
        return _prim_reader(PRIMITIVES[spec.base], endian)
    return _items_reader(item, endian, fixed, item_size) if spec.array else item


_READERS: dict[tuple[type, str], Reader] = {}


def _message_reader(cls: type, endian: str) -> Reader:
    try:
        return _READERS[cls, endian]
    except KeyError:
        pass
    ops = [(spec.name, _field_reader(spec, endian)) for spec in fields_of(cls)]

    def read(view: memoryview, pos: int) -> tuple[Any, int]:
        values = []
        for name, op in ops:
            try:
                value, pos = op(view, pos)
            except MsgError as exc:
                raise _locate(exc, name) from None
            values.append(value)
        return cls(*values), pos
    _READERS[cls, endian] = read
    return read


@overload
def deserialize(data: Any, cls: type[T]) -> T: ...


@overload
def deserialize(data: Any, cls: str) -> Any: ...


def deserialize(data: Any, cls: type[T] | str) -> Any:
    """Deserialize CDR bytes (with encapsulation header) into a message dataclass.

    Byte arrays in the result (``Image.data``, ``CompressedImage.data``) are ``memoryview``
    slices of ``data``: nothing is copied, and the input stays alive as long as they do.

    Args:
        data: A bytes-like object (bytes, bytearray, memoryview, numpy uint8 array).
        cls: The message class to read, e.g. :class:`~vbp_ros.msgs.types.Image`, or its ROS
            type name (``'sensor_msgs/msg/Image'``; Jazzy layout, see ``registry.get_type``).

    Returns:
        The message.

    Raises:
        MsgError: ``cls`` is not a message class, or ``data`` is truncated or malformed
            (bad encapsulation, lengths beyond the buffer, invalid strings).
    """
    if isinstance(cls, str):
        cls = get_type(cls)
    try:
        view = _as_bytes(data)
    except (TypeError, ValueError) as exc:
        msg = f'cannot read {type(data).__name__} as bytes: {exc}'
        raise MsgError(msg) from None
    if len(view) < 4:
        msg = f'{len(view)} bytes are too short for a CDR message (4-byte header)'
        raise MsgError(msg)
    endian = _ENDIAN.get(bytes(view[:2]))
    if endian is None:
        msg = (f'unsupported CDR encapsulation {bytes(view[:2]).hex()} '
               '(only XCDR1 0001/0000 is read)')
        raise MsgError(msg)
    try:
        read = _message_reader(cls, endian)
    except TypeError as exc:
        raise MsgError(str(exc)) from None
    try:
        msg_obj, _ = read(view[4:], 0)
    except _Located as exc:
        msg = f'bad {cls.__msgtype__} message at {exc.where(cls)}'  # type: ignore[attr-defined]
        raise MsgError(msg) from None
    except (struct.error, IndexError, ValueError, OverflowError, MemoryError,
            RecursionError) as exc:   # defensive: every length is checked before use
        msg = f'bad {cls.__msgtype__} message: {exc}'  # type: ignore[attr-defined]
        raise MsgError(msg) from None
    return msg_obj
