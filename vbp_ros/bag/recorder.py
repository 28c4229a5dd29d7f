"""Record every message a node publishes into a rosbag2 bag, without ROS.

``vbp-ros node --record DIR`` hands each outgoing message to a :class:`BagRecorder` as the CDR
bytes that go on the wire, so the bag holds exactly what was published. Writing happens on a
background thread so the node's publishing path only pays for a queue put, and never waits for
the disk: a message that finds ``max_queue_bytes`` waiting is dropped (as ``ros2 bag record``
drops what finds its cache full) and counted, in the log, in :meth:`BagRecorder.health` (the
node's diagnostics) and in the bag's metadata (``vbp_ros.dropped_messages``).
"""
from __future__ import annotations

import atexit
from collections import Counter
import logging
import math
from pathlib import Path
import queue
import shutil
import threading
import time
from typing import Literal, TYPE_CHECKING

from vbp_ros.bag.errors import BagError
from vbp_ros.bag.io import BagWriter
from vbp_ros.bag.types import definition

if TYPE_CHECKING:
    from types import TracebackType

LOG = logging.getLogger(__name__)
_STOP = None
#: Seconds between two warnings about dropped messages.
_WARN_EVERY_S = 5.0
#: Less free disk than this where a recording starts is warned about.
LOW_DISK_BYTES = 4 * 2**30


def recording_path(path: str | Path) -> Path:
    """Return the bag folder that a recording to ``path`` creates.

    A path that does not exist is the bag itself. An existing folder that is not a bag gets a
    new time-stamped bag inside it (``vbp_YYYYmmdd_HHMMSS``), as ``ros2 bag record`` does.

    Raises:
        BagError: ``path`` is an existing bag or a file.
    """
    path = Path(path)
    if not path.exists():
        return path
    if path.is_dir() and not (path / 'metadata.yaml').exists() and not any(
            p.suffix in ('.mcap', '.db3') for p in path.iterdir()):
        stamp = time.strftime('%Y%m%d_%H%M%S')
        bag = path / f'vbp_{stamp}'
        i = 1
        while bag.exists():
            bag = path / f'vbp_{stamp}_{i}'
            i += 1
        return bag
    raise BagError(f'{path} exists already (a bag or a file); not overwriting it')


class BagRecorder:
    """Thread-safe recorder of serialized messages into a new rosbag2 bag (version 8).

    Example:
        >>> with BagRecorder('/tmp/drive') as rec:          # doctest: +SKIP
        ...     rec('/vbp/steering', 'ackermann_msgs/msg/AckermannDriveStamped', cdr, stamp_ns)
    """

    def __init__(self, path: str | Path, storage: str = 'mcap', *,
                 max_queue_bytes: int = 512 * 2**20) -> None:
        """Create the bag and start the writing thread.

        Args:
            path: bag folder to create, or an existing plain folder to create one in
                (see :func:`recording_path`).
            storage: 'mcap' (default) or 'sqlite3'.
            max_queue_bytes: bytes waiting to be written beyond which messages are dropped.

        Raises:
            ValueError: unknown storage.
            BagError: the bag cannot be created.
        """
        self.path = recording_path(path)
        # sqlite3 connections belong to the thread that made them: the writing thread opens,
        # writes and closes the bag.
        self._writer = BagWriter(self.path, storage=storage, version=8)
        self._opened = threading.Event()
        self._queue: queue.Queue[tuple[str, str, bytes, int] | None] = queue.Queue()
        self._lock = threading.Lock()  # guards _pending, _dropped, _closed
        self._pending = 0
        self._max_bytes = max(1, int(max_queue_bytes))
        self._dropped: Counter[str] = Counter()
        self._written = 0  # kept here: the writer's own counts wait for a write in progress
        self._drops_reported = 0  # by health()
        self._drops_warned_at = -math.inf
        self._abort = threading.Event()  # finish the bag now, leaving what is queued
        self._error: BaseException | None = None
        self._types: dict[str, str] = {}  # topic -> type, checked where messages come in
        self._types_lock = threading.Lock()
        self._closed = False
        self._close_lock = threading.Lock()
        self._thread = threading.Thread(target=self._run, name='vbp-bag-recorder', daemon=True)
        self._thread.start()
        # A program that exits without close() still gets a finished, readable bag.
        atexit.register(self._close_at_exit)
        self._opened.wait()
        if self._error is not None:
            atexit.unregister(self._close_at_exit)
            self._thread.join()
            raise BagError(str(self._error))
        LOG.info('recording to %s (%s)', self.path, storage)
        free = shutil.disk_usage(self.path).free
        if free < LOW_DISK_BYTES:  # a camera at 640x480 and 30 Hz alone writes ~28 MB/s
            LOG.warning('only %.1f GiB free where %s is recorded: when the disk is full the '
                        'recording fails (the node goes on)', free / 2**30, self.path)

    @property
    def counts(self) -> dict[str, int]:
        """Messages written so far, per topic (queued ones not yet included)."""
        return self._writer.counts

    def set_metadata(self, key: str, value: str) -> None:
        """Store a string in the bag's ``custom_data`` (written when the bag is finished)."""
        self._writer.set_metadata(key, value)

    @property
    def dropped(self) -> dict[str, int]:
        """Messages dropped so far, per topic (the disk fell behind, or the recording was
        aborted with messages still queued)."""
        with self._lock:
            return dict(self._dropped)

    @property
    def queued_bytes(self) -> int:
        """Bytes waiting to be written."""
        with self._lock:
            return self._pending

    def health(self) -> tuple[int, str, dict[str, str]]:
        """(level, message, values) for a diagnostics report: level 2 (ERROR) once writing
        failed, 1 (WARN) when messages were dropped since the previous call, else 0."""
        with self._lock:
            dropped, pending = sum(self._dropped.values()), self._pending
            new, self._drops_reported = dropped - self._drops_reported, dropped
        values = {'recording_to': str(self.path),
                  'recording_written': str(self._written),
                  'recording_dropped': str(dropped),
                  'recording_queued_mib': f'{pending / 2**20:.1f}'}
        if self._error is not None:
            return 2, f'recording failed: {self._error}', values
        if new:
            return 1, (f'recording dropped {new} messages since the last report: the disk '
                       'is slower than the data'), values
        return 0, 'recording', values

    def __call__(self, topic: str, ros_type: str, cdr: bytes | bytearray | memoryview,
                 stamp_ns: int) -> None:
        """Queue one published message for the bag.

        Args:
            topic: topic it was published on.
            ros_type: its type, e.g. ``'sensor_msgs/msg/Image'``.
            cdr: the serialized message (copied unless it is ``bytes``).
            stamp_ns: bag timestamp in nanoseconds (publication time).

        Raises:
            BagError: the recorder is closed, writing failed earlier, the type has no known
                definition, or the topic was recorded with another type (this message is not
                recorded; the recording goes on).
        """
        if self._types.get(topic) != ros_type:
            with self._types_lock:  # first message of a topic: check once, for all threads
                known = self._types.get(topic)
                if known is not None and known != ros_type:
                    raise BagError(f'topic {topic} is {known} in {self.path}, cannot record '
                                   f'{ros_type}')
                definition(ros_type)  # raises for an unknown type, before anything is queued
                self._types[topic] = ros_type
        data = cdr if isinstance(cdr, bytes) else bytes(cdr)
        size = len(data)
        with self._lock:
            if self._error is not None:
                raise BagError(f'recording to {self.path} failed: {self._error}')
            if self._closed:
                raise BagError(f'recorder for {self.path} is closed')
            if self._pending == 0 or self._pending + size <= self._max_bytes:
                self._pending += size
                self._queue.put((topic, ros_type, data, int(stamp_ns)))
                return
            self._dropped[topic] += 1
        self._warn_dropped()

    def _warn_dropped(self) -> None:
        """Say, at most every few seconds, that messages are being dropped."""
        now = time.monotonic()
        with self._lock:
            total = sum(self._dropped.values())
            if now - self._drops_warned_at < _WARN_EVERY_S:
                return
            self._drops_warned_at = now
        LOG.warning('recording to %s drops messages: %d MiB are waiting for the disk, which '
                    'is slower than the data (%d dropped so far)', self.path,
                    self._max_bytes // 2**20, total)

    def _run(self) -> None:
        try:
            self._writer.open()
        except BagError as exc:
            self._error = exc
            return
        finally:
            self._opened.set()
        try:
            self._write_queued()
        finally:
            dropped = self.dropped
            self._writer.set_metadata('vbp_ros.dropped_messages', str(sum(dropped.values())))
            if dropped:
                LOG.warning('recording to %s dropped %s', self.path, ', '.join(
                    f'{n} on {topic}' for topic, n in sorted(dropped.items())))
            try:
                self._writer.close()
            except BagError as exc:
                LOG.error('%s', exc)
                self._error = self._error or exc

    def _write_queued(self) -> None:
        while True:
            try:  # a timeout, so that even a lost wake-up cannot stall the recording
                item = self._queue.get(timeout=0.5)
            except queue.Empty:  # idle: what was written reaches the disk within a second
                if self._closed:  # closing was interrupted before it could queue the stop
                    return
                if self._error is None:
                    try:
                        self._writer.flush_if_due()
                    except BagError as exc:
                        LOG.error('recording to %s failed: %s', self.path, exc)
                        self._error = exc
                continue
            if item is _STOP:
                return
            topic, ros_type, data, stamp = item
            try:
                if self._abort.is_set():
                    with self._lock:
                        self._dropped[topic] += 1
                elif self._error is None:
                    self._writer.write(topic, ros_type, data, stamp)
                    self._written += 1
            except Exception as exc:  # noqa: BLE001 -- reported by every later call
                LOG.error('recording to %s failed: %s', self.path, exc)
                self._error = exc
            finally:
                with self._lock:
                    self._pending -= len(data)

    def _close_at_exit(self) -> None:
        try:
            self.close()
        except BagError as exc:
            LOG.error('%s', exc)

    def close(self, abort: bool = False) -> Path:
        """Write what is queued (unless ``abort``), finish the bag and return its path;
        idempotent.

        A KeyboardInterrupt while the queue is being written (a second Ctrl-C) aborts: what is
        still queued is dropped, the bag is finished with what was written, and the
        KeyboardInterrupt is raised again.

        Raises:
            BagError: a write failed (the bag is still finished with what was written).
        """
        if abort:
            self._abort.set()
        with self._close_lock:
            with self._lock:
                closing, self._closed = not self._closed, True
            if closing:
                self._queue.put(_STOP)
            try:
                self._wait_for_writer()
            except KeyboardInterrupt:
                self._abort.set()
                self._wait_for_writer()
                raise
            # Only now: if a signal cut the wait short, the exit still finishes the bag.
            atexit.unregister(self._close_at_exit)
            if closing:
                total = sum(self._writer.counts.values())
                LOG.info('recorded %d messages to %s', total, self.path)
        if self._error is not None:
            raise BagError(f'recording to {self.path} failed: {self._error}')
        return self.path

    def _wait_for_writer(self) -> None:
        """Wait until the writing thread has finished the bag. Not ``Thread.join``: a
        KeyboardInterrupt inside it marks a running thread as stopped (CPython before 3.13),
        after which nothing would wait for the bag's footer."""
        while self._thread.is_alive():
            time.sleep(0.02)

    def __enter__(self) -> BagRecorder:
        """Return the recorder (it is already open)."""
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> Literal[False]:
        """Close; exceptions propagate."""
        self.close()
        return False
