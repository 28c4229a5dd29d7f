"""MCAP writing without copying each message several times while holding the GIL.

``rosbags``' MCAP writer builds every message record in a ``BytesIO``, copies it into the
chunk's ``BytesIO``, then copies the chunk twice more when closing it: for a 1280x720 camera
frame (2.7 MB) about 5 ms of copying per frame with the GIL held, which stalls a recording
node's own threads (measured: receive -> steering p50 4.2 -> 12 ms at 720p 30 Hz). Here a chunk
keeps large payloads by reference and is written to the file piece by piece (a large
``write`` goes straight to the OS, which runs without the GIL). The file is byte for byte what
``rosbags`` writes (tested); compressed chunks keep ``rosbags``' own code.
"""
from __future__ import annotations

from collections import defaultdict
from io import BytesIO
import struct
from typing import Any

from rosbags.rosbag2 import StoragePlugin, Writer
from rosbags.rosbag2 import storage_mcap

#: Writes at least this large are kept by reference instead of copied.
BY_REFERENCE = 64 * 2**10
_MESSAGE = struct.Struct('<BQHIQQ')  # opcode, record length, channel, sequence, 2 times
_CHUNK_HEAD = struct.Struct('<BQQQQI')  # opcode, record length, start, end, size, crc


class _Pieces:
    """The ``BytesIO`` calls a chunk gets (write, tell, getvalue), keeping large ``bytes`` by
    reference."""

    def __init__(self) -> None:
        self.pieces: list[bytes | bytearray] = []
        self._small = bytearray()
        self._size = 0

    def write(self, data: Any) -> int:
        n = memoryview(data).nbytes
        if isinstance(data, bytes) and n >= BY_REFERENCE:
            if self._small:
                self.pieces.append(self._small)
                self._small = bytearray()
            self.pieces.append(data)
        else:
            self._small += data
        self._size += n
        return n

    def tell(self) -> int:
        return self._size

    def all(self) -> list[bytes | bytearray]:
        return self.pieces + [self._small] if self._small else list(self.pieces)

    def getvalue(self) -> bytes:
        return b''.join(self.all())

    def getbuffer(self) -> memoryview:
        return memoryview(self.getvalue())


class McapPiecesWriter(storage_mcap.McapWriter):
    """``rosbags``' MCAP storage writer with uncompressed chunks written piece by piece."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.chunk = self._new_chunk()

    def _new_chunk(self) -> Any:
        # The BytesIO of a compressed chunk is compressed as a whole anyway.
        bio = _Pieces() if not self.compression else BytesIO()
        return storage_mcap.PendingChunk(2**63 - 1, 0, bio, defaultdict(list))

    def write(self, connection: Any, timestamp: int, data: bytes | memoryview) -> None:
        """One message record (as rosbags writes it: sequence 0, log = publish time)."""
        if not isinstance(self.chunk.bio, _Pieces):
            super().write(connection, timestamp, data)
            return
        chunk = self.chunk
        self.message_start_time = min(timestamp, self.message_start_time)
        self.message_end_time = max(timestamp, self.message_end_time)
        self.channel_stats[connection.id] += 1
        chunk.message_start_time = min(timestamp, chunk.message_start_time)
        chunk.message_end_time = max(timestamp, chunk.message_end_time)
        chunk.msgs[connection.id].append((timestamp, chunk.bio.tell()))
        size = memoryview(data).nbytes
        chunk.bio.write(_MESSAGE.pack(0x05, 22 + size, connection.id, 0, timestamp, timestamp))
        chunk.bio.write(data if isinstance(data, bytes) else bytes(data))
        if chunk.bio.tell() > 2**20:
            self.close_chunk()

    def close_chunk(self) -> None:
        """Write the chunk record, its message indexes, and keep its chunk index."""
        chunk = self.chunk
        if not isinstance(chunk.bio, _Pieces):
            super().close_chunk()
            self.chunk = self._new_chunk()
            return
        size = chunk.bio.tell()
        # start, end, size, crc, compression '' (its length only), compressed size, records
        head = _CHUNK_HEAD.pack(0x06, 8 + 8 + 8 + 4 + 4 + 8 + size,
                                chunk.message_start_time, chunk.message_end_time, size, 0)
        chunk_start = self.bio.tell()
        self.bio.write(head + struct.pack('<IQ', 0, size))
        for piece in chunk.bio.all():
            self.bio.write(piece)
        chunk_end = self.bio.tell()
        offsets: list[tuple[int, int]] = []
        for cid, msgs in chunk.msgs.items():
            offsets.append((cid, self.bio.tell()))
            index = b''.join(struct.pack('<QQ', ts, offset) for ts, offset in msgs)
            self.bio.write(struct.pack('<BQHI', 0x07, 2 + 4 + len(index), cid, len(index)))
            self.bio.write(index)
        rec = BytesIO()  # the chunk index, written with the summary by rosbags' close()
        rec.write(struct.pack('<QQQQI', chunk.message_start_time, chunk.message_end_time,
                              chunk_start, chunk_end - chunk_start, len(offsets) * 10))
        for cid, offset in offsets:
            rec.write(struct.pack('<HQ', cid, offset))
        rec.write(struct.pack('<QI', self.bio.tell() - chunk_end, 0))
        rec.write(struct.pack('<QQ', size, size))
        self.chunks.append(rec)
        self.chunk = self._new_chunk()


class PiecesWriter(Writer):
    """``rosbags.rosbag2.Writer`` whose MCAP storage is :class:`McapPiecesWriter`."""

    STORAGE_PLUGINS = {**Writer.STORAGE_PLUGINS, StoragePlugin.MCAP: McapPiecesWriter}
