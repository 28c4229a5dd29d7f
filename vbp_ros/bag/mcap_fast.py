"""Zero-copy reading of uncompressed MCAP files through ``mmap``.

A 1280x720 bgr8 frame is 2.7 MB; the generic reader copies each one two or three times while
holding the GIL, about 2 ms per frame. Here the file is memory-mapped, its records are indexed
once (headers only) and each message comes back as a ``memoryview`` into the map, which
:func:`vbp_ros.msgs.deserialize` and the image decoders read in place.

Only uncompressed chunks are handled (the default of ``ros2 bag record`` and of ``rosbags``);
:class:`Unsupported` tells the caller to use the generic reader instead. A record that runs past
the end of the file is a :class:`~vbp_ros.bag.errors.BagError` raised before any message is
returned.
"""
from __future__ import annotations

import mmap
from pathlib import Path
import struct
from typing import TYPE_CHECKING

from vbp_ros.bag.errors import BagError

if TYPE_CHECKING:
    from collections.abc import Collection, Iterator

MAGIC = b'\x89MCAP0\r\n'
_U16 = struct.Struct('<H')
_U32 = struct.Struct('<I')
_U64 = struct.Struct('<Q')
_MSG_HEAD = struct.Struct('<HIQQ')       # channel, sequence, log time, publish time
_CHUNK_HEAD = struct.Struct('<QQQI')     # start, end, uncompressed size, crc
_OP_CHANNEL, _OP_MESSAGE, _OP_CHUNK, _OP_FOOTER, _OP_DATA_END = 0x04, 0x05, 0x06, 0x02, 0x0F


class Unsupported(Exception):  # noqa: N818 - a signal to fall back, not an error for users
    """The file uses a feature this reader does not handle (compressed chunks)."""


class McapFile:
    """An indexed, memory-mapped MCAP file.

    Args:
        path: the ``.mcap`` file.

    Raises:
        BagError: not an MCAP file, or truncated / inconsistent records.
        Unsupported: compressed chunks.
    """

    def __init__(self, path: str | Path) -> None:
        """Map the file and read its channel records."""
        self.path = Path(path)
        try:
            with self.path.open('rb') as f:
                self._mm = mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ)
        except (OSError, ValueError) as exc:
            raise BagError(f'cannot map {self.path}: {exc}') from None
        if self._mm[:8] != MAGIC:
            self.close()
            raise BagError(f'{self.path} is not an MCAP file')
        self._view = memoryview(self._mm)
        self.topics: dict[int, str] = {}
        self._entries: list[tuple[int, int, int, int, int]] | None = None

    def _fail(self, pos: int, what: str) -> BagError:
        return BagError(f'{self.path} is damaged or truncated at byte {pos} '
                        f'(of {len(self._mm)}): {what}')

    def _string(self, pos: int, end: int) -> tuple[str, int]:
        if pos + 4 > end:
            raise self._fail(pos, 'string length past its record')
        (n,) = _U32.unpack_from(self._mm, pos)
        if pos + 4 + n > end:
            raise self._fail(pos, 'string past its record')
        return bytes(self._view[pos + 4:pos + 4 + n]).decode('utf-8', 'replace'), pos + 4 + n

    def _records(self, pos: int, end: int, top: bool,
                 out: list[tuple[int, int, int, int, int]]) -> None:
        """Index message records in [pos, end): (log time, order, channel, offset, size)."""
        mm = self._mm
        while pos < end:
            if top and pos + 9 > end:
                raise self._fail(pos, 'record header past the end of the file')
            if pos + 9 > end:
                raise self._fail(pos, 'record header past its chunk')
            op = mm[pos]
            (length,) = _U64.unpack_from(mm, pos + 1)
            body, nxt = pos + 9, pos + 9 + length
            if nxt > end:
                raise self._fail(pos, f'record 0x{op:02x} of {length} bytes runs past the end')
            if op == _OP_MESSAGE:
                if length < _MSG_HEAD.size:
                    raise self._fail(pos, 'message record too short')
                channel, _, log_time, _ = _MSG_HEAD.unpack_from(mm, body)
                start = body + _MSG_HEAD.size
                out.append((log_time, len(out), channel, start, nxt - start))
            elif op == _OP_CHANNEL:
                if length < 4:
                    raise self._fail(pos, 'channel record too short')
                (cid,) = _U16.unpack_from(mm, body)
                self.topics[cid], _ = self._string(body + 4, nxt)
            elif op == _OP_CHUNK and top:
                if length < _CHUNK_HEAD.size + 4 + 8:
                    raise self._fail(pos, 'chunk record too short')
                compression, p = self._string(body + _CHUNK_HEAD.size, nxt)
                if compression:
                    raise Unsupported(f'{compression}-compressed chunks')
                if p + 8 > nxt:
                    raise self._fail(pos, 'chunk record too short')
                (size,) = _U64.unpack_from(mm, p)
                if p + 8 + size > nxt:
                    raise self._fail(pos, 'chunk records past the chunk')
                self._records(p + 8, p + 8 + size, False, out)
            elif top and op in (_OP_DATA_END, _OP_FOOTER):
                return
            pos = nxt

    def index(self) -> list[tuple[int, int, int, int, int]]:
        """All messages as (log time, file order, channel, offset, size), by time."""
        if self._entries is None:
            entries: list[tuple[int, int, int, int, int]] = []
            self._records(8, len(self._mm), True, entries)
            entries.sort()
            self._entries = entries
        return self._entries

    def messages(self, topics: Collection[str]) -> Iterator[tuple[str, int, memoryview]]:
        """``(topic, log time ns, data)`` of the given topics in time order, zero-copy."""
        entries = self.index()
        wanted = {cid: t for cid, t in self.topics.items() if t in set(topics)}
        view = self._view
        for log_time, _, channel, offset, size in entries:
            topic = wanted.get(channel)
            if topic is not None:
                yield topic, log_time, view[offset:offset + size]

    def close(self) -> None:
        """Unmap; if message views are still in use the map is left to the garbage collector."""
        view = getattr(self, '_view', None)
        if view is not None:
            try:
                view.release()
            except BufferError:
                return
        try:
            self._mm.close()
        except BufferError:
            pass
