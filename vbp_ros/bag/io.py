"""rosbag2 reading and writing of raw CDR messages, over ``rosbags.rosbag2``.

Writers produce bag version 8 (what Humble and Jazzy both read), MCAP by default or sqlite3 on
request, refuse to overwrite anything and add each connection on first use with its message
definition and type hash. A *staged* writer builds the bag in a hidden sibling folder and moves it
to its name only when closed as complete; otherwise it lands at ``<name>.incomplete`` with
``vbp_ros.complete: 'false'`` in its metadata, still a readable bag.

Readers accept a bag folder or a single ``.mcap`` / ``.db3`` file, and turn every failure of the
underlying libraries (missing files, bad metadata, truncated chunks, corrupt databases) into a
:class:`~vbp_ros.bag.errors.BagError` that names the bag.
"""
from __future__ import annotations

from dataclasses import dataclass
import logging
import os
from pathlib import Path
import shutil
import sqlite3
import struct
import threading
import time
from typing import Any, Literal, TYPE_CHECKING

from vbp_ros.bag.errors import BagError
from vbp_ros.bag.mcap_fast import McapFile, Unsupported
from vbp_ros.bag.types import definition, hash_of_definition
from vbp_ros.msgs.registry import DEFAULT_DISTRO, DISTROS

if TYPE_CHECKING:
    from collections.abc import Collection, Iterator, Sequence
    from types import TracebackType

    from rosbags.interfaces import Connection

LOG = logging.getLogger(__name__)
STORAGES = ('mcap', 'sqlite3')
COMPLETE_KEY = 'vbp_ros.complete'
#: custom_data key listing (space-separated) the topics vbp_ros wrote as outputs into a bag
#: (the node's recording, `vbp-ros process`): whatever their names, a later run does not take
#: them for camera input or copy them beside its own outputs.
OUTPUT_TOPICS_KEY = 'vbp_ros.output_topics'
INCOMPLETE_SUFFIX = '.incomplete'
_STORAGE_FILES = ('.mcap', '.db3')
_ZSTD_MAGIC = b'\x28\xb5\x2f\xfd'


def _write_errors() -> tuple[type[BaseException], ...]:
    """Exceptions that the storage libraries raise when writing fails (e.g. a full disk)."""
    errors: list[type[BaseException]] = [OSError, sqlite3.Error]
    try:
        import apsw  # rosbags' sqlite3 binding since 0.11.1
        errors.append(apsw.Error)
    except ImportError:  # pragma: no cover
        pass
    return tuple(errors)


def _read_errors() -> tuple[type[BaseException], ...]:
    """Exceptions that the storage libraries raise for unreadable or damaged bags (a record
    length of 2^64 - 1 or 2^62 in an MCAP file raises OverflowError or MemoryError in
    rosbags' reader, which allocates what a record declares)."""
    from rosbags.rosbag2 import ReaderError

    return (ReaderError, ValueError, KeyError, IndexError, EOFError, TypeError, struct.error,
            AssertionError, OverflowError, MemoryError, *_write_errors())


@dataclass(frozen=True)
class TopicInfo:
    """What a bag says about one topic.

    Attributes:
        name: topic name.
        ros_type: e.g. ``'sensor_msgs/msg/Image'``.
        count: number of messages.
        msgdef: stored ``.msg`` definition ('' when the bag has none).
        rihs01: stored type hash ('' when the bag has none).
        qos: the QoS profiles its publishers offered (``rosbags`` ``Qos``; ``ros2 bag play``
            publishes with them, e.g. ``/tf_static`` transient local).
    """

    name: str
    ros_type: str
    count: int
    msgdef: str = ''
    rihs01: str = ''
    qos: tuple[Any, ...] = ()


class BagReader:
    """Read raw CDR messages from a rosbag2 folder or a single ``.mcap`` / ``.db3`` file.

    Use as a context manager; :meth:`messages` yields ``(topic, stamp_ns, cdr)``.
    """

    def __init__(self, path: str | Path, *, salvage: bool = False) -> None:
        """Check the path; nothing is opened yet.

        Args:
            path: bag folder, ``.mcap`` or ``.db3`` file.
            salvage: if the bag cannot be opened and holds one MCAP file, read that file's
                complete records (e.g. a recording cut short by a crash or power loss: no
                metadata.yaml, no summary, a half-written last record). Off by default, so
                that a damaged bag is an error.

        Raises:
            BagError: the path does not exist.
        """
        self.path = Path(path)
        if not self.path.exists():
            raise BagError(f'bag not found: {self.path}')
        self.salvage = salvage
        #: the MCAP file read in salvage mode (None when the bag opened normally)
        self.salvaged: McapFile | None = None
        self._reader: Any = None
        self._maps: list[McapFile] = []
        self._errors = _read_errors()
        self._bare = False  # a storage file read without the metadata.yaml of its bag

    def open(self) -> None:
        """Open the bag and read its index.

        Raises:
            BagError: it is not a readable rosbag2 bag.
        """
        from rosbags.rosbag2 import Reader

        errors = (BagError,) + self._errors
        try:
            target = self._storage_target()
            self._warn_hot_journals()
            reader = Reader(target)
            reader.open()
        except errors as exc:
            if isinstance(exc, BagError) and not self.salvage:
                raise
            if self.salvage:
                self._open_salvage(exc)
                return
            msg = f'cannot read bag {self.path}: {exc}'
            if self._lone_mcap() is not None:
                msg += ' (--salvage reads the complete records of a cut-off MCAP recording)'
            raise BagError(msg) from None
        self._reader = reader

    def _warn_hot_journals(self) -> None:
        """Say so where a sqlite3 recording was cut off inside a transaction.

        Its ``-journal`` file holds what that transaction overwrote; the reader opens the
        database as immutable, so it ignores the journal and reads the committed state only
        if no page of the lost transaction reached the file.
        """
        folder = self.path if self.path.is_dir() else self.path.parent
        for journal in sorted(folder.glob('*.db3-journal')):
            if journal.stat().st_size:
                db = journal.with_name(journal.name[:-len('-journal')])
                LOG.warning('%s was not closed (%s is left): its last, uncommitted writes may '
                            'show as damage; opening it once for writing rolls them back: '
                            "sqlite3 %s 'pragma integrity_check'", db, journal.name, db)

    def _lone_mcap(self) -> Path | None:
        if self.path.is_file():
            return self.path if self.path.suffix == '.mcap' else None
        files = [p for p in self.path.iterdir() if p.suffix == '.mcap']
        return files[0] if len(files) == 1 else None

    def _open_salvage(self, exc: BaseException) -> None:
        mcap = self._lone_mcap()
        if mcap is None:
            msg = f'cannot read bag {self.path}: {exc}; nothing to salvage (no single .mcap)'
            raise BagError(msg) from None
        LOG.warning('cannot open %s normally (%s); salvaging %s', self.path, exc, mcap.name)
        try:
            mf = McapFile(mcap, salvage=True)
            mf.index()
        except Unsupported as exc2:
            raise BagError(f'cannot salvage {mcap}: {exc2}') from None
        self.salvaged = mf
        self._maps.append(mf)

    def _storage_target(self) -> Path:
        """Return the folder, or the lone storage file of a folder without metadata.yaml."""
        if not self.path.is_dir() or (self.path / 'metadata.yaml').is_file():
            self._bare = not self.path.is_dir()
            return self.path
        files = sorted(p for p in self.path.iterdir() if p.suffix in _STORAGE_FILES)
        if len(files) == 1:
            LOG.warning('%s has no metadata.yaml; reading %s directly', self.path, files[0].name)
            self._bare = True
            return files[0]
        msg = (f'cannot read bag {self.path}: no metadata.yaml'
               + (f' and {len(files)} storage files' if files else ' and no .mcap/.db3 file'))
        raise BagError(msg)

    def _mcap_files(self) -> list[Path] | None:
        """Return the bag's MCAP files if they can be memory-mapped as they are, else None."""
        reader = self.reader
        if reader.compression_mode:
            return None
        storage = reader.storage
        parts = getattr(storage, 'storages', [storage])
        paths = [getattr(p, 'path', None) for p in parts]
        if not paths or not all(isinstance(p, Path) and p.suffix == '.mcap' for p in paths):
            return None
        return paths  # type: ignore[return-value]

    def close(self) -> None:
        """Close the bag (idempotent)."""
        for m in self._maps:
            m.close()
        self._maps.clear()
        self.salvaged = None
        reader, self._reader = self._reader, None
        if reader is not None:
            reader.close()

    def __enter__(self) -> BagReader:
        """Open on entering the context."""
        self.open()
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> Literal[False]:
        """Close; exceptions propagate."""
        self.close()
        return False

    @property
    def reader(self) -> Any:
        """The open ``rosbags`` reader."""
        if self._reader is None:
            what = 'salvaged without a rosbags reader' if self.salvaged else 'not open'
            raise BagError(f'bag {self.path} is {what}')
        return self._reader

    @property
    def metadata(self) -> dict[str, str]:
        """The bag's ``custom_data`` (empty when it has none)."""
        if self.salvaged is not None:
            return {}
        storage = getattr(self.reader, 'storage', None)
        meta = getattr(storage, 'metadata', None)
        return dict(getattr(meta, 'custom', None) or {})

    @property
    def output_topics(self) -> set[str]:
        """The topics vbp_ros wrote into this bag as outputs, as its metadata lists them
        (:data:`OUTPUT_TOPICS_KEY`; empty for other bags)."""
        return set(self.metadata.get(OUTPUT_TOPICS_KEY, '').split())

    @property
    def topics(self) -> dict[str, TopicInfo]:
        """Topics by name, in name order."""
        out = {}
        if self.salvaged is not None:
            for name, (ros_type, msgdef, count) in sorted(self.salvaged.topic_types().items()):
                out[name] = TopicInfo(name=name, ros_type=ros_type, count=count, msgdef=msgdef)
            return out
        for name, info in sorted(self.reader.topics.items()):
            conns = info.connections
            qos = getattr(conns[0].ext, 'offered_qos_profiles', ()) if conns else ()
            out[name] = TopicInfo(name=name, ros_type=info.msgtype or '', count=info.msgcount,
                                  msgdef=info.msgdef.data if info.msgdef else '',
                                  rihs01=conns[0].digest if conns else '', qos=tuple(qos))
        return out

    @property
    def distro(self) -> str:
        """Whose message layouts the bag's types have: its ``ros_distro`` where the package
        knows that distribution; else 'humble' for a bag with neither that nor type hashes
        (Humble and older write neither); else 'jazzy' (e.g. bags written by ``rosbags``, and
        bare MCAP files, whose metadata is not read but which store their definitions)."""
        if self.salvaged is not None:  # a cut-off recording of this package's node
            return DEFAULT_DISTRO
        distro = self.reader.ros_distro
        if distro:
            return distro if distro in DISTROS else DEFAULT_DISTRO
        hashed = any(c.digest for c in self.reader.connections)
        bare_mcap = self._bare and self._lone_mcap() is not None
        return DEFAULT_DISTRO if hashed or bare_mcap else 'humble'

    def messages(self, topics: Collection[str] | None = None, *, zero_copy: bool = False
                 ) -> Iterator[tuple[str, int, bytes | memoryview]]:
        """Messages in time order as ``(topic, stamp_ns, cdr)``.

        Args:
            topics: topic names to read; None reads all.
            zero_copy: for uncompressed MCAP, yield memoryviews into the memory-mapped file
                instead of copies (see :mod:`vbp_ros.bag.mcap_fast`); other storages ignore it.

        Raises:
            BagError: a topic is not in the bag, or the bag turns out damaged while reading.
        """
        known = self.topics
        if topics is not None:
            missing = [t for t in topics if t not in known]
            if missing:
                msg = (f'topic(s) {", ".join(missing)} not in bag {self.path}; it has: '
                       + (', '.join(f'{t} [{i.ros_type}]' for t, i in known.items()) or 'none'))
                raise BagError(msg)
        wanted = set(known if topics is None else topics)
        if self.salvaged is not None:
            for topic, stamp, view in self.salvaged.messages(wanted):
                yield topic, stamp, view if zero_copy else bytes(view)
            return
        conns = [c for c in self.reader.connections if c.topic in wanted]
        if not conns:
            return
        files = self._mcap_files() if zero_copy else None
        if files:
            try:
                maps = [McapFile(f) for f in files]
                for m in maps:
                    m.index()
            except Unsupported as exc:
                LOG.debug('generic reader for %s: %s', self.path, exc)
            else:
                self._maps.extend(maps)
                for m in maps:
                    for item in m.messages(wanted):
                        if self._bare:
                            self._check_uncompressed(item[2])
                        yield item
                return
        it = self.reader.messages(connections=conns)
        while True:
            try:
                conn, stamp, data = next(it)
            except StopIteration:
                return
            except self._errors as exc:
                msg = f'bag {self.path} is damaged or truncated: {exc}'
                raise BagError(msg) from None
            if self._bare:
                self._check_uncompressed(data)
            yield conn.topic, stamp, data

    def _check_uncompressed(self, data: bytes | memoryview) -> None:
        """Refuse a zstd frame where CDR should be (CDR starts with 00 0x 00 00)."""
        if data[:4] == _ZSTD_MAGIC:
            raise BagError(f'{self.path} holds zstd-compressed messages (recorded with '
                           '--compression-mode message) but not the metadata.yaml that says '
                           'so: read the bag folder with its metadata.yaml')


class BagWriter:
    """Write raw CDR messages to a new rosbag2 bag (version 8).

    Thread-safe: :meth:`write` may be called from several threads, except with sqlite3, whose
    connection belongs to the thread that called :meth:`open`.
    """

    def __init__(self, path: str | Path, *, storage: str = 'mcap', version: int = 8,
                 staged: bool = False) -> None:
        """Check arguments; nothing is created until :meth:`open`.

        Args:
            path: the bag folder to create.
            storage: 'mcap' or 'sqlite3'.
            version: rosbag2 metadata version (8 is read by Humble and Jazzy).
            staged: build the bag in a hidden sibling folder; :meth:`close` moves it to ``path``
                when complete, else to ``path.incomplete``.

        Raises:
            ValueError: unknown storage or version.
            BagError: ``path`` (or, staged, ``path.incomplete``) exists already.
        """
        if storage not in STORAGES:
            raise ValueError(f'storage {storage!r} is not one of {STORAGES}')
        if version not in (8, 9):
            raise ValueError(f'rosbag2 version {version} is not 8 or 9')
        self.path = Path(path)
        self.storage = storage
        self.version = version
        self.staged = staged
        for p in (self.path, self.incomplete_path) if staged else (self.path,):
            if p.exists() or p.is_symlink():
                hint = (' (the frames of an interrupted run: delete it, or rename it to keep '
                        'it)' if p == self.incomplete_path else '')
                raise BagError(f'{p} exists already; not overwriting it{hint}')
        if staged:
            for stale in self.path.parent.glob(f'.{self.path.name}.partial-*'):
                pid = stale.name.rsplit('-', 1)[-1]
                if not (pid.isdigit() and _running(int(pid))):
                    LOG.warning('%s holds a bag of an earlier run that was killed before it '
                                'could finish it; delete it when you do not need it', stale)
        self.final_path: Path | None = None
        self._stage_dir: Path | None = None
        self._writer: Any = None
        self._conns: dict[str, Connection] = {}
        self._counts: dict[str, int] = {}
        self._custom: dict[str, str] = {}
        self._lock = threading.Lock()
        self._last_flush = time.monotonic()

    @property
    def incomplete_path(self) -> Path:
        """Where a staged bag goes when closed as incomplete."""
        return self.path.with_name(self.path.name + INCOMPLETE_SUFFIX)

    @property
    def counts(self) -> dict[str, int]:
        """Messages written so far, per topic."""
        with self._lock:
            return dict(self._counts)

    def open(self) -> None:
        """Create the bag.

        Raises:
            BagError: it cannot be created.
        """
        from rosbags.rosbag2 import StoragePlugin, WriterError

        from vbp_ros.bag.mcap_write import PiecesWriter

        target = self.path
        if self.staged:
            self._stage_dir = self.path.with_name(f'.{self.path.name}.partial-{os.getpid()}')
            target = self._stage_dir / self.path.name
        plugin = StoragePlugin.MCAP if self.storage == 'mcap' else StoragePlugin.SQLITE3
        try:
            if self._stage_dir is not None:
                self._stage_dir.mkdir(parents=True)
            writer = PiecesWriter(target, version=self.version,  # type: ignore
                                  storage_plugin=plugin)
            writer.open()
        except (WriterError, OSError) as exc:
            self._remove_stage()
            raise BagError(f'cannot create bag {self.path}: {exc}') from None
        self._writer = writer

    def set_metadata(self, key: str, value: str) -> None:
        """Store a string in the bag's ``custom_data``."""
        self._custom[key] = str(value)

    def add_topic(self, topic: str, ros_type: str, *, msgdef: str = '', rihs01: str = '',
                  qos: Sequence[Any] = (), distro: str = DEFAULT_DISTRO) -> None:
        """Register a topic now (otherwise the first :meth:`write` does).

        Args:
            topic: topic name.
            ros_type: message type name.
            msgdef, rihs01: definition and hash to store (e.g. copied from an input bag); looked
                up by type name (in ``distro``'s layout) when empty.
            qos: offered QoS profiles to store (``rosbags`` ``Qos``, e.g. from
                :attr:`TopicInfo.qos`); none means ROS's default when played.

        Raises:
            BagError: the topic exists with another type, or the type is unknown.
        """
        with self._lock:
            self._connection(topic, ros_type, msgdef, rihs01, qos, distro)

    def _connection(self, topic: str, ros_type: str, msgdef: str = '', rihs01: str = '',
                    qos: Sequence[Any] = (), distro: str = DEFAULT_DISTRO) -> Connection:
        conn = self._conns.get(topic)
        if conn is not None:
            if conn.msgtype != ros_type:
                msg = f'topic {topic} is {conn.msgtype} in this bag, cannot write {ros_type}'
                raise BagError(msg)
            return conn
        if self._writer is None:
            raise BagError(f'bag {self.path} is not open')
        if not msgdef or (not rihs01 and msgdef.startswith('=' * 80 + '\nIDL: ')):
            msgdef, rihs01 = definition(ros_type, distro)  # (IDL texts: only types we know)
        elif not rihs01:  # Humble bags and salvaged input carry definitions without hashes
            rihs01 = hash_of_definition(ros_type, msgdef)
        added: Connection = self._writer.add_connection(
            topic, ros_type, msgdef=msgdef, rihs01=rihs01, offered_qos_profiles=list(qos))
        self._conns[topic] = added
        self._counts[topic] = 0
        return added

    def write(self, topic: str, ros_type: str, cdr: bytes | bytearray | memoryview,
              stamp_ns: int) -> None:
        """Write one serialized message.

        Args:
            topic: topic name (its connection is created on first use).
            ros_type: message type name.
            cdr: CDR bytes with encapsulation header.
            stamp_ns: the bag timestamp in nanoseconds.

        Raises:
            BagError: the bag is not open, or the topic clashes with an earlier type.
        """
        with self._lock:
            conn = self._connection(topic, ros_type)
            try:
                self._writer.write(conn, int(stamp_ns), cdr)
            except _write_errors() as exc:  # e.g. a full disk
                raise BagError(f'cannot write to bag {self.path}: {exc}') from None
            self._counts[topic] += 1
            self._flush_now_and_then()

    def flush_if_due(self) -> None:
        """Put what was written on disk if the last flush is a second old (call it when idle:
        otherwise only the next :meth:`write` would)."""
        with self._lock:
            if self._writer is not None:
                self._flush_now_and_then()

    def _flush_now_and_then(self) -> None:
        """Put what was written on disk about once a second, so a crash loses at most that.

        Both storages otherwise hold data back: sqlite3 keeps one transaction until closed, and
        MCAP keeps messages in memory until a chunk reaches 1 MiB (minutes of steering
        messages). Committed sqlite3 and flushed MCAP chunks of a bag whose process died are
        read by :class:`BagReader` (MCAP with ``salvage=True``).
        """
        now = time.monotonic()
        if now - self._last_flush < 1.0:
            return
        self._last_flush = now
        storage = getattr(self._writer, 'storage', None)
        try:
            if self.storage == 'sqlite3':
                commit = getattr(getattr(storage, 'conn', None), 'commit', None)
                if callable(commit):
                    commit()
                return
            chunk = getattr(storage, 'chunk', None)
            close_chunk = getattr(storage, 'close_chunk', None)
            if chunk is not None and callable(close_chunk) and chunk.bio.tell():
                close_chunk()
            bio = getattr(storage, 'bio', None)
            if bio is not None:
                bio.flush()
        except _write_errors() as exc:
            raise BagError(f'cannot write to bag {self.path}: {exc}') from None

    def close(self, complete: bool = True) -> Path | None:
        """Finish the bag so it is readable; idempotent.

        Args:
            complete: staged writers move the bag to its name only when True, else to
                ``<name>.incomplete``. Either way ``custom_data`` says which.

        Returns:
            Where the bag now is (None if it was never opened).
        """
        with self._lock:
            writer, self._writer = self._writer, None
            if writer is None:
                return self.final_path
            if self.staged:
                self._custom[COMPLETE_KEY] = 'true' if complete else 'false'
            for key, value in self._custom.items():
                writer.set_custom_data(key, value)
            try:
                writer.close()
            except _write_errors() as exc:  # e.g. a full disk
                where = self.path
                if self.staged and self._stage_dir is not None:
                    # Keep what was written where the user looks for it, not in a hidden folder.
                    try:
                        where = self.incomplete_path
                        if where.exists():
                            where = _free_name(where)
                        os.replace(self._stage_dir / self.path.name, where)
                        self._remove_stage()
                    except OSError:
                        where = self._stage_dir / self.path.name
                raise BagError(f'cannot finish bag {self.path} ({exc}); what was written is in '
                               f'{where}') from None
            self.final_path = self.path
            if self.staged:
                assert self._stage_dir is not None
                dest = self.path if complete else self.incomplete_path
                if dest.exists():
                    dest = _free_name(dest)
                os.replace(self._stage_dir / self.path.name, dest)
                self._remove_stage()
                self.final_path = dest
            return self.final_path

    def _remove_stage(self) -> None:
        if self._stage_dir is not None and self._stage_dir.exists():
            shutil.rmtree(self._stage_dir, ignore_errors=True)

    def __enter__(self) -> BagWriter:
        """Open on entering the context."""
        self.open()
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> Literal[False]:
        """Close; after an exception a staged bag is closed as incomplete. Never suppresses."""
        self.close(complete=exc_type is None)
        return False


def _running(pid: int) -> bool:
    """Whether a process of this id exists."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:  # e.g. another user's process
        return True
    return True


def _free_name(path: Path) -> Path:
    """``path`` with the first free numeric suffix (``x.incomplete.1``, ...)."""
    for i in range(1, 10000):
        cand = path.with_name(f'{path.name}.{i}')
        if not cand.exists():
            return cand
    raise BagError(f'no free name next to {path}')
