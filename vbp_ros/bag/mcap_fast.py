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

import logging
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
_OP_SCHEMA, _OP_CHANNEL, _OP_MESSAGE, _OP_CHUNK = 0x03, 0x04, 0x05, 0x06
_OP_FOOTER, _OP_DATA_END = 0x02, 0x0F
LOG = logging.getLogger(__name__)


class Unsupported(Exception):  # noqa: N818 - a signal to fall back, not an error for users
    """The file uses a feature this reader does not handle (compressed chunks)."""


class McapFile:
    """An indexed, memory-mapped MCAP file.

    Args:
        path: the ``.mcap`` file.
        salvage: a file that ends inside a record (a recorder that was killed or lost power)
            is read up to its last complete record, with a warning, instead of being an error.

    Raises:
        BagError: not an MCAP file, or truncated / inconsistent records.
        Unsupported: compressed chunks.
    """

    def __init__(self, path: str | Path, *, salvage: bool = False) -> None:
        """Map the file; its records are indexed on first use."""
        self.path = Path(path)
        self.salvage = salvage
        #: byte offset where a salvaged file stops making sense (None: read to its end)
        self.damaged_at: int | None = None
        #: schema id -> (type name, definition text)
        self.schemas: dict[int, tuple[str, str]] = {}
        #: channel id -> schema id
        self.channel_schema: dict[int, int] = {}
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
                 out: list[tuple[int, int, int, int, int]], partial: bool = False) -> None:
        """Index message records in [pos, end): (log time, order, channel, offset, size).

        ``partial``: [pos, end) is the readable part of a cut-off chunk (salvage); stop at
        its first incomplete record.
        """
        mm = self._mm
        while pos < end:
            if pos + 9 > end:
                if (top and self.salvage) or partial:
                    self._salvaged(pos)
                    return
                where = 'the end of the file' if top else 'its chunk'
                raise self._fail(pos, f'record header past {where}')
            op = mm[pos]
            (length,) = _U64.unpack_from(mm, pos + 1)
            body, nxt = pos + 9, pos + 9 + length
            if nxt > end:
                if partial:
                    self._salvaged(pos)
                    return
                if top and self.salvage:
                    if op == _OP_CHUNK:  # keep the complete records of the cut-off chunk
                        self._chunk(pos, body, len(mm), out, partial=True)
                    else:
                        self._salvaged(pos)
                    return
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
                cid, sid = _U16.unpack_from(mm, body)[0], _U16.unpack_from(mm, body + 2)[0]
                self.topics[cid], _ = self._string(body + 4, nxt)
                self.channel_schema[cid] = sid
            elif op == _OP_SCHEMA:
                if length < 2:
                    raise self._fail(pos, 'schema record too short')
                (sid,) = _U16.unpack_from(mm, body)
                name, p = self._string(body + 2, nxt)
                _, p = self._string(p, nxt)
                text, _ = self._string(p, nxt)
                self.schemas[sid] = (name, text)
            elif op == _OP_CHUNK and top:
                self._chunk(pos, body, nxt, out)
            elif top and op in (_OP_DATA_END, _OP_FOOTER):
                return
            pos = nxt

    def _chunk(self, pos: int, body: int, nxt: int, out: list[tuple[int, int, int, int, int]],
               partial: bool = False) -> None:
        """Index the records of the chunk record at ``pos`` (ending at ``nxt``)."""
        if body + _CHUNK_HEAD.size + 4 + 8 > nxt:
            if partial:
                self._salvaged(pos)
                return
            raise self._fail(pos, 'chunk record too short')
        compression, p = self._string(body + _CHUNK_HEAD.size, nxt)
        if compression:
            raise Unsupported(f'{compression}-compressed chunks')
        if p + 8 > nxt:
            raise self._fail(pos, 'chunk record too short')
        (size,) = _U64.unpack_from(self._mm, p)
        if p + 8 + size > nxt and not partial:
            raise self._fail(pos, 'chunk records past the chunk')
        self._records(p + 8, min(p + 8 + size, nxt), False, out, partial=partial)

    def _salvaged(self, pos: int) -> None:
        self.damaged_at = pos
        LOG.warning('%s ends inside a record at byte %d of %d; salvaging the records before it',
                    self.path, pos, len(self._mm))

    def topic_types(self) -> dict[str, tuple[str, str, int]]:
        """Topic -> (type name, definition text, message count), from the file's records."""
        counts: dict[int, int] = {}
        for _, _, channel, _, _ in self.index():
            counts[channel] = counts.get(channel, 0) + 1
        out: dict[str, tuple[str, str, int]] = {}
        for cid, topic in self.topics.items():
            name, text = self.schemas.get(self.channel_schema.get(cid, 0), ('', ''))
            prev = out.get(topic, (name, text, 0))
            out[topic] = (prev[0], prev[1], prev[2] + counts.get(cid, 0))
        return out

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
