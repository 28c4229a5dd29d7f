"""Run the steering model and VisualBackProp over a recorded drive, bag to bag.

Three stages overlap on threads (the heavy parts, OpenCV and torch, release the GIL):

1. *read*: raw CDR from the input bag, zero-copy deserialisation, decoding to RGB, in batches;
2. *infer* (calling thread): :meth:`FramePipeline.process_batch` - steering and masks;
3. *write*: output messages built and serialised with :mod:`vbp_ros.msgs` and written with the
   input message's bag time and header stamp; this thread owns the output bag (sqlite3 needs that).

The output bag is staged (see :class:`~vbp_ros.bag.io.BagWriter`): it appears at its name only
when every frame was processed. An interruption (Ctrl-C) or a damaged input bag leaves a readable
bag at ``<name>.incomplete`` holding every frame finished so far, with ``vbp_ros.complete:
'false'`` and ``vbp_ros.frames`` in its metadata.
"""
from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
import contextlib
from dataclasses import dataclass, field
import itertools
import logging
import math
import os
from pathlib import Path
import queue
import threading
import time
from typing import Any, Callable, TYPE_CHECKING

from vbp_ros.bag.errors import BagError
from vbp_ros.bag.io import BagReader, BagWriter, OUTPUT_TOPICS_KEY, TopicInfo
from vbp_ros.pipeline.steering import clip_angle

if TYPE_CHECKING:
    from collections.abc import Iterator

    import numpy as np

LOG = logging.getLogger(__name__)
#: A batch of camera frames is cut short once its frames take this many bytes decoded.
BATCH_BYTES = 256 * 1024 * 1024

IMAGE = 'sensor_msgs/msg/Image'
COMPRESSED = 'sensor_msgs/msg/CompressedImage'
ACKERMANN = 'ackermann_msgs/msg/AckermannDriveStamped'
CAMERA_TYPES = (IMAGE, COMPRESSED)
OVERLAY_FORMATS = ('jpeg', 'png', 'raw')
_END = object()


@dataclass
class ProcessOptions:
    """What :func:`process_bag` reads and writes.

    Attributes:
        camera_topic: input topic (Image or CompressedImage); None picks the only image topic.
        steering_topic, mask_topic, overlay_topic: output topics (the node's defaults).
        masks: write the VisualBackProp mask (mono8 at camera resolution) per frame.
        overlay: also write the mask blended over the frame.
        overlay_format: 'jpeg' (CompressedImage, default), 'png', or 'raw' (bgr8 Image:
            1280x720 at 100 frames/s is ~280 MB/s, more than most disks write).
        jpeg_quality: JPEG quality of compressed overlays.
        alpha: overlay opacity of the mask colours.
        copy_input: copy every input topic, untouched, into the output bag, except steering,
            mask and overlay topics (an earlier run's would pass for this run's).
        batch_size: frames per model call.
        limit: process at most this many frames.
        storage: output storage, 'mcap' or 'sqlite3'.
        wheelbase, steering_scale, steering_offset, max_steering_angle, speed: the node's
            parameters of the same names: steering_angle = clip(steering_scale *
            atan(wheelbase * curvature) + steering_offset, +-max_steering_angle), so a bag
            processed offline matches what the node publishes live.
        torch_threads: torch's intra-op threads during a CPU run; None: one per two cores
            (at most 4), since reading, decoding and writing run on threads of their own. On
            2 cores one torch thread gives about twice the frames/s of two, whose idle spinning
            takes the CPU that the other stages need.
    """

    camera_topic: str | None = None
    steering_topic: str = '/vbp/steering'
    mask_topic: str = '/vbp/mask'
    overlay_topic: str = '/vbp/overlay'
    masks: bool = True
    overlay: bool = False
    overlay_format: str = 'jpeg'
    jpeg_quality: int = 90
    alpha: float = 0.5
    copy_input: bool = False
    batch_size: int = 32
    limit: int | None = None
    storage: str = 'mcap'
    wheelbase: float = 2.7
    steering_scale: float = 1.0
    steering_offset: float = 0.0
    max_steering_angle: float = 0.7
    speed: float = 0.0
    torch_threads: int | None = None

    def steering_angle(self, curvature: float) -> float:
        """Compute the published steering angle (rad) of a curvature (1/m) as the node does."""
        angle = self.steering_scale * math.atan(self.wheelbase * curvature) + self.steering_offset
        return clip_angle(angle, self.max_steering_angle)  # a NaN output is recorded as NaN

    def __post_init__(self) -> None:
        """Check values early.

        Raises:
            ValueError: a value is out of range.
        """
        if self.overlay_format not in OVERLAY_FORMATS:
            msg = f'overlay_format {self.overlay_format!r} is not one of {OVERLAY_FORMATS}'
            raise ValueError(msg)
        if self.batch_size < 1:
            raise ValueError(f'batch_size {self.batch_size} must be at least 1')
        if self.limit is not None and self.limit < 0:
            raise ValueError(f'limit {self.limit} must not be negative')
        if self.torch_threads is not None and self.torch_threads < 1:
            raise ValueError(f'torch_threads {self.torch_threads} must be at least 1')
        if self.wheelbase <= 0 or self.max_steering_angle < 0:
            msg = (f'wheelbase ({self.wheelbase}) must be > 0 and max_steering_angle '
                   f'({self.max_steering_angle}) >= 0')
            raise ValueError(msg)
        if not 1 <= self.jpeg_quality <= 100:
            raise ValueError(f'jpeg_quality {self.jpeg_quality} is not in 1..100')


@dataclass
class ProcessReport:
    """What a run did.

    Attributes:
        output: where the output bag is (``<name>.incomplete`` unless complete).
        complete: every camera frame was processed.
        stopped: the run ended early because ``stop`` was set (see :func:`process_bag`).
        frames: frames processed.
        camera_topic: the input topic.
        seconds: wall time from the first read to the output's closing (model loading and
            opening the input excluded).
        cpu_seconds: CPU time of the whole process (all threads) over the same span; unlike
            ``seconds`` it hardly depends on what else the machine is running.
        stage_seconds: busy time per stage ('read', 'decode', 'infer', 'serialize', 'write',
            plus the pipeline's own breakdown prefixed 'infer.'); stages overlap, so these add up
            to more than ``seconds``.
        messages: messages written per output topic.
        unusable: camera frames that could not be decoded; each was logged and skipped (its
            messages are still copied with ``copy_input``).
    """

    output: Path
    complete: bool
    frames: int
    camera_topic: str
    seconds: float
    stopped: bool = False
    cpu_seconds: float = 0.0
    stage_seconds: dict[str, float] = field(default_factory=dict)
    messages: dict[str, int] = field(default_factory=dict)
    unusable: int = 0

    @property
    def fps(self) -> float:
        """Frames per second over the whole run."""
        return self.frames / self.seconds if self.seconds > 0 else 0.0


@dataclass
class _Frame:
    stamp: int          # bag time (ns)
    header: Any         # vbp_ros.msgs.Header of the camera message
    rgb: np.ndarray | None


@dataclass
class _Batch:
    frames: list[_Frame]
    copies: list[tuple[str, str, int, Any]]
    read: int = 0  # camera messages read for it, the undecodable ones included
    results: list[Any] | None = None


def pick_camera_topic(topics: dict[str, TopicInfo], wanted: str | None,
                      ignore: tuple[str, ...] = ()) -> str:
    """Choose the camera topic to process.

    Args:
        topics: the bag's topics.
        wanted: an explicit choice, or None for the only image topic with messages (outside
            ``ignore``).
        ignore: topics never picked automatically (e.g. masks and overlays of an earlier run).

    Raises:
        BagError: the choice is missing or not an image type, or there is no unique image topic;
            the message lists what the bag has.
    """
    listing = ', '.join(f'{t} [{i.ros_type}, {i.count}]' for t, i in topics.items()) or 'none'
    if wanted is not None:
        info = topics.get(wanted)
        if info is None:
            raise BagError(f'camera topic {wanted} is not in the bag; it has: {listing}')
        if info.ros_type not in CAMERA_TYPES:
            msg = (f'camera topic {wanted} is {info.ros_type}, not one of '
                   f'{", ".join(CAMERA_TYPES)}')
            raise BagError(msg)
        return wanted
    images = [t for t, i in topics.items()
              if i.ros_type in CAMERA_TYPES and t not in ignore and i.count]
    if len(images) == 1:
        return images[0]
    what = 'no image topic with messages' if not images else f'{len(images)} image topics'
    msg = f'the bag has {what}; choose one with --topic. Topics: {listing}'
    raise BagError(msg)


class _Stage(threading.Thread):
    """A worker thread whose exception is kept for the calling thread."""

    def __init__(self, name: str, target: Callable[[], None]) -> None:
        super().__init__(name=name, daemon=True)
        self._target_fn = target
        self.error: BaseException | None = None
        self.done = threading.Event()

    def run(self) -> None:
        try:
            self._target_fn()
        except BaseException as exc:  # handed to the calling thread, which re-raises it
            self.error = exc
        finally:
            self.done.set()

    def wait(self) -> None:
        """Wait until the stage has finished. Not ``Thread.join``: a KeyboardInterrupt inside
        it marks a running thread as stopped (CPython before 3.13), after which a second join
        returns at once and the process could exit with the bag unfinished."""
        while not self.done.wait(0.1):
            pass


def _put(q: queue.Queue[Any], item: Any, stop: threading.Event) -> bool:
    """Put unless ``stop`` is set; False when stopped."""
    while not stop.is_set():
        try:
            q.put(item, timeout=0.1)
            return True
        except queue.Full:
            continue
    return False


def _get(q: queue.Queue[Any], stage: _Stage) -> Any:
    """Get; :data:`_END` once the producing stage has finished and nothing is left."""
    while True:
        try:
            return q.get(timeout=0.1)
        except queue.Empty:
            if stage.done.is_set():
                try:  # it may have put its last item just before it finished
                    return q.get_nowait()
                except queue.Empty:
                    return _END


class _Timer:
    """Adds elapsed seconds per stage name (thread-safe enough: one writer per key)."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = {}

    def add(self, key: str, seconds: float) -> None:
        self.seconds[key] = self.seconds.get(key, 0.0) + seconds


def process_bag(in_bag: str | Path, out_bag: str | Path, options: ProcessOptions | None = None,
                *, pipeline: Any = None, model_path: str | Path | None = None,
                device: str = 'auto', model_class: str | None = None,
                progress: Callable[[int], None] | None = None,
                on_start: Callable[[str, int], None] | None = None,
                salvage: bool = False, stop: threading.Event | None = None) -> ProcessReport:
    """Process the camera topic of ``in_bag`` into a new bag ``out_bag``.

    Args:
        in_bag: input rosbag2 (folder, ``.mcap`` or ``.db3``).
        out_bag: output bag folder; must not exist (nor ``<out_bag>.incomplete``).
        options: topics and formats; defaults when None.
        pipeline: a ready :class:`~vbp_ros.pipeline.frame.FramePipeline`; built from
            ``model_path`` / ``device`` / ``model_class`` when None.
        model_path, device, model_class: how to build the pipeline.
        progress: called with the number of camera frames finished after each batch
            (undecodable ones included, so the calls add up to the frames to process).
        on_start: called once with the camera topic and its message count.
        salvage: read what is readable of a cut-off MCAP recording (see
            :class:`~vbp_ros.bag.io.BagReader`); the output's metadata then says
            ``vbp_ros.input_salvaged: 'true'``.
        stop: set it (from any thread or a signal handler) to end the run after the batch in
            hand; the output is then closed as incomplete and the report says ``stopped``.
            This is how ``vbp-ros process`` handles Ctrl-C and SIGTERM: a KeyboardInterrupt
            raised at an arbitrary point can leave a lock of the hand-over queues held.

    Returns:
        A :class:`ProcessReport`.

    Raises:
        BagError: unreadable or damaged input, missing topic, undecodable frame, output exists.
            After output was started it is closed as ``<out_bag>.incomplete`` first.
        KeyboardInterrupt: re-raised after the output was closed as incomplete.
    """
    opts = options or ProcessOptions()
    out_path = Path(out_bag)
    reader = BagReader(in_bag, salvage=salvage)
    writer = BagWriter(out_path, storage=opts.storage, staged=True)  # checks the name early
    with reader:
        topics = reader.topics
        earlier = _earlier_outputs(reader, opts)
        camera = pick_camera_topic(topics, opts.camera_topic, ignore=tuple(earlier))
        total = topics[camera].count
        if opts.limit is not None:
            total = min(total, opts.limit)
        if on_start is not None:
            on_start(camera, total)
        if pipeline is None:
            from vbp_ros.pipeline.frame import FramePipeline
            pipeline = FramePipeline(model_path=model_path, device=device,
                                     model_class=model_class)
        run = _Run(reader, writer, topics, camera, opts, pipeline, progress, earlier, stop)
        t_start, cpu_start = time.perf_counter(), time.process_time()
        with torch_threads(pipeline, opts.torch_threads):
            run.execute()
    report = ProcessReport(output=writer.final_path or out_path, complete=run.complete,
                           stopped=run.stopped, frames=run.frames, camera_topic=camera,
                           seconds=time.perf_counter() - t_start,
                           cpu_seconds=time.process_time() - cpu_start,
                           stage_seconds=dict(run.timer.seconds), messages=writer.counts,
                           unusable=run.unusable)
    return report


def _earlier_outputs(reader: BagReader, opts: ProcessOptions) -> set[str]:
    """Topics of the input that an earlier run wrote: this run's output names, and whatever
    the input's metadata lists (a namespaced or renamed node's recording)."""
    return {opts.steering_topic, opts.mask_topic, opts.overlay_topic, *reader.output_topics}


def default_torch_threads() -> int:
    """Torch threads of a CPU run when not chosen: one per two cores, 1 to 4."""
    return max(1, min(4, (os.cpu_count() or 1) // 2))


@contextlib.contextmanager
def torch_threads(pipeline: Any, wanted: int | None) -> Iterator[None]:
    """Set torch's intra-op threads for a CPU run, and restore them afterwards."""
    device = getattr(getattr(pipeline, 'device', None), 'type', 'cpu')
    if device != 'cpu':
        yield
        return
    import torch

    n = wanted or default_torch_threads()
    before = torch.get_num_threads()
    torch.set_num_threads(n)
    try:
        yield
    finally:
        torch.set_num_threads(before)


#: Unusable camera frames logged one by one; later ones are only counted.
_LOGGED_UNUSABLE = 20


class _Run:
    """One processing run: the three stages and their hand-over queues."""

    def __init__(self, reader: BagReader, writer: BagWriter, topics: dict[str, TopicInfo],
                 camera: str, opts: ProcessOptions, pipeline: Any,
                 progress: Callable[[int], None] | None, earlier: set[str],
                 requested_stop: threading.Event | None = None) -> None:
        from vbp_ros import msgs

        self.msgs = msgs
        self.reader, self.writer, self.topics = reader, writer, topics
        self.camera, self.opts, self.pipeline, self.progress = camera, opts, pipeline, progress
        self.cls = msgs.Image if topics[camera].ros_type == IMAGE else msgs.CompressedImage
        self.stop = threading.Event()  # tells the reader to quit
        self.abort = threading.Event()  # tells the writer to close without the queued batches
        self.requested_stop = requested_stop or threading.Event()  # from the caller
        self.stopped = False
        self.to_infer: queue.Queue[Any] = queue.Queue(maxsize=2)
        self.to_write: queue.Queue[Any] = queue.Queue(maxsize=2)
        self.timer = _Timer()
        self.earlier = earlier  # outputs of an earlier run in the input: never copied
        self.frames = 0
        self.complete = False
        self.reached_end = False
        self.skipped: set[str] = set()
        self.not_copied: list[str] = []  # input topics --copy-input could not copy
        self.unusable = 0  # camera frames that could not be decoded (reader thread only)
        self.pool: ThreadPoolExecutor | None = None
        self.pool_lock = threading.Lock()

    # -- stage 1: read + decode -------------------------------------------------------------
    def _read(self) -> None:
        opts = self.opts
        limit = opts.limit
        n_frames = 0
        pending: list[tuple[int, Any, int]] = []   # (bag time, camera message, frame number)
        pending_bytes = 0  # their size once decoded, plus the messages to copy
        copies: list[tuple[str, str, int, Any]] = []
        first = 0  # number of the batch's first camera frame
        t0 = time.perf_counter()
        for topic, stamp, data in self.messages:
            if self.stop.is_set():
                return
            if limit is not None and n_frames >= limit:
                break
            if opts.copy_input:
                copies.append((topic, self.topics[topic].ros_type, stamp, data))
                pending_bytes += len(data)
            if topic == self.camera:
                try:
                    msg = self.msgs.deserialize(data, self.cls)
                    pending.append((stamp, msg, n_frames))
                    pending_bytes += self._decoded_size(msg)
                except self.msgs.MsgError as exc:
                    self._unusable(n_frames, stamp, exc)
                n_frames += 1
            # Batches end early when big: a few in flight must not hold gigabytes of frames
            # (nor, between sparse camera frames, of other topics' messages to copy).
            if len(pending) >= opts.batch_size or pending_bytes >= BATCH_BYTES:
                t1 = time.perf_counter()
                self.timer.add('read', t1 - t0)
                frames = self._decode(pending)
                self.timer.add('decode', time.perf_counter() - t1)
                if not _put(self.to_infer, _Batch(frames, copies, n_frames - first), self.stop):
                    return
                pending, copies, pending_bytes, first = [], [], 0, n_frames
                t0 = time.perf_counter()  # waiting for the model is not reading
        if pending or copies or n_frames > first:
            t1 = time.perf_counter()
            self.timer.add('read', t1 - t0)
            frames = self._decode(pending)
            self.timer.add('decode', time.perf_counter() - t1)
            _put(self.to_infer, _Batch(frames, copies, n_frames - first), self.stop)
        self.reached_end = True

    def _decoded_size(self, msg: Any) -> int:
        """Bytes of a camera message once decoded to RGB, from its header alone."""
        if self.cls is self.msgs.Image:
            return max(0, int(msg.width) * int(msg.height) * 3)
        from vbp_ros.encodings import peek_size
        data = msg.data
        size = peek_size(data if isinstance(data, bytes) else bytes(data))
        return 0 if size is None else size[0] * size[1] * 3

    def _unusable(self, number: int, stamp: int, reason: Exception) -> None:
        """Log and count a camera frame that cannot be decoded; the run goes on without it."""
        self.unusable += 1
        if self.unusable <= _LOGGED_UNUSABLE:
            more = (' (further unusable frames are only counted)'
                    if self.unusable == _LOGGED_UNUSABLE else '')
            LOG.warning('skipping frame %d of %s (bag time %d): %s%s', number, self.camera,
                        stamp, reason, more)

    def _decode(self, pending: list[tuple[int, Any, int]]) -> list[_Frame]:
        """Decode a batch to RGB; compressed frames in parallel (OpenCV releases the GIL).
        Frames that cannot be decoded are logged, counted and left out."""
        from vbp_ros.encodings import decode_compressed, decode_image, EncodingError

        def one(msg: Any) -> Any:
            try:
                if self.cls is self.msgs.Image:
                    return decode_image(msg)
                return decode_compressed(msg)
            except EncodingError as exc:
                return exc

        if self.cls is self.msgs.Image or len(pending) < 2:
            rgbs = [one(msg) for _, msg, _ in pending]
        else:
            rgbs = list(self._pool().map(one, [msg for _, msg, _ in pending]))
        frames = []
        for (stamp, msg, number), rgb in zip(pending, rgbs):
            if isinstance(rgb, EncodingError):
                self._unusable(number, stamp, rgb)
            else:
                frames.append(_Frame(stamp, msg.header, rgb))
        return frames

    # -- stage 3: build, serialise, write ---------------------------------------------------
    def _write(self) -> None:
        ok = False
        try:
            self.writer.open()
            self.writer.set_metadata('vbp_ros.camera_topic', self.camera)
            o = self.opts
            self.writer.set_metadata(OUTPUT_TOPICS_KEY, ' '.join(
                [o.steering_topic] + [o.mask_topic] * o.masks + [o.overlay_topic] * o.overlay))
            for key, value in self._provenance().items():
                self.writer.set_metadata(key, value)
            if self.reader.salvaged is not None:
                self.writer.set_metadata('vbp_ros.input_salvaged', 'true')
            if self.opts.copy_input:
                for name, info in self.topics.items():
                    self._copy_topic(name, info)
                if self.not_copied:
                    self.writer.set_metadata('vbp_ros.not_copied', ' '.join(self.not_copied))
            while not self.abort.is_set():
                try:  # a timeout, so that even a lost wake-up cannot stall the writer
                    item = self.to_write.get(timeout=0.1)
                except queue.Empty:
                    continue
                if item is _END:
                    ok = True
                    break
                self._write_batch(item)
        finally:
            self.writer.set_metadata('vbp_ros.frames', str(self.frames))
            self.writer.set_metadata('vbp_ros.unusable_frames', str(self.unusable))
            self.writer.close(complete=ok and self.complete)

    def _provenance(self) -> dict[str, str]:
        """Which model and steering conversion made this bag's outputs."""
        o = self.opts
        out = {'vbp_ros.steering': f'wheelbase={o.wheelbase} steering_scale={o.steering_scale} '
                                   f'steering_offset={o.steering_offset} '
                                   f'max_steering_angle={o.max_steering_angle} speed={o.speed}'}
        for key, attr in (('vbp_ros.model', 'model_path'), ('vbp_ros.model_sha256',
                                                             'model_sha256')):
            value = getattr(self.pipeline, attr, None)
            if value is not None:
                out[key] = str(value)
        return out

    def _copy_topic(self, name: str, info: TopicInfo) -> None:
        if name in self.earlier:
            # Also where this run writes none: an earlier model's masks or overlays beside
            # this model's steering would be read as this model's.
            LOG.warning('not copying %s from the input: outputs of an earlier run do not '
                        'belong with this run\'s', name)
            self.skipped.add(name)
            return
        try:
            self.writer.add_topic(name, info.ros_type, msgdef=info.msgdef, rihs01=info.rihs01,
                                  qos=info.qos, distro=self.reader.distro)
        except BagError as exc:
            LOG.warning('not copying %s: %s', name, exc)
            self.skipped.add(name)
            self.not_copied.append(name)

    def _write_batch(self, batch: _Batch) -> None:
        msgs, opts, w = self.msgs, self.opts, self.writer
        t0 = time.perf_counter()
        out: list[tuple[str, str, bytes, int]] = []
        pairs = list(zip(batch.frames, batch.results or []))
        overlays: Iterator[tuple[str, bytes]] = iter(())
        if opts.overlay:  # OpenCV releases the GIL: colour and compress frames in parallel
            with_mask = [(f, r) for f, r in pairs if r.mask is not None]
            overlays = self._pool().map(lambda fr: self._overlay(fr[0].rgb, fr[1].mask,
                                                                 fr[0].header), with_mask)
        for frame, res in pairs:
            header = frame.header
            drive = msgs.AckermannDrive(steering_angle=opts.steering_angle(float(res.curvature)),
                                        speed=opts.speed)
            out.append((opts.steering_topic, ACKERMANN,
                        msgs.serialize(msgs.AckermannDriveStamped(header=header, drive=drive)),
                        frame.stamp))
            if opts.masks and res.mask is not None:
                out.append((opts.mask_topic, IMAGE, msgs.serialize(_mono8(msgs, res.mask, header)),
                            frame.stamp))
            if opts.overlay and res.mask is not None:
                ros_t, data = next(overlays)
                out.append((opts.overlay_topic, ros_t, data, frame.stamp))
        t1 = time.perf_counter()
        self.timer.add('serialize', t1 - t0)
        for topic, ros_t, stamp, data in batch.copies:
            if topic not in self.skipped:
                w.write(topic, ros_t, data, stamp)
        for topic, ros_t, data, stamp in out:
            w.write(topic, ros_t, data, stamp)
        self.frames += len(batch.frames)
        self.timer.add('write', time.perf_counter() - t1)

    def _pool(self) -> ThreadPoolExecutor:
        with self.pool_lock:
            if self.pool is None:
                self.pool = ThreadPoolExecutor(max(1, min(4, os.cpu_count() or 1)),
                                               thread_name_prefix='vbp-bag-codec')
            return self.pool

    def _overlay(self, rgb: np.ndarray, mask: np.ndarray, header: Any) -> tuple[str, bytes]:
        from vbp_ros.core.image import overlay
        from vbp_ros.encodings import encode_compressed, encode_image

        bgr = overlay(rgb, mask, alpha=self.opts.alpha)
        if self.opts.overlay_format == 'raw':
            return IMAGE, self.msgs.serialize(encode_image(bgr, 'bgr8', header))
        msg = encode_compressed(bgr, header, fmt=self.opts.overlay_format,
                                quality=self.opts.jpeg_quality)
        return COMPRESSED, self.msgs.serialize(msg)

    # -- stage 2 and orchestration -----------------------------------------------------------
    def _first_message(self) -> None:
        """Open the input stream and read its first message before any output exists.

        Index and first-chunk errors of a damaged bag then leave nothing behind.
        """
        wanted = list(self.topics) if self.opts.copy_input else [self.camera]
        it: Iterator[tuple[str, int, Any]] = self.reader.messages(wanted, zero_copy=True)
        try:
            first = next(it)
        except StopIteration:
            self.messages: Iterator[tuple[str, int, Any]] = iter(())
        else:
            self.messages = itertools.chain((first,), it)

    def execute(self) -> None:
        if self.requested_stop.is_set():
            self.stopped = True  # asked to stop while the model loaded: write nothing
            return
        self._first_message()
        reader = _Stage('vbp-bag-read', self._read)
        writer = _Stage('vbp-bag-write', self._write)
        writer.start()
        reader.start()
        done = 0
        try:
            while True:
                # A stop that comes once every batch is in hand does not make the run
                # incomplete.
                if self.requested_stop.is_set() and not (self.reached_end
                                                         and self.to_infer.empty()):
                    self.stopped = True
                    break
                batch = _get(self.to_infer, reader)
                if batch is _END:
                    break
                if batch.frames:
                    t0 = time.perf_counter()
                    batch.results = self.pipeline.process_batch(
                        [f.rgb for f in batch.frames], mask=self.opts.masks or self.opts.overlay)
                    self.timer.add('infer', time.perf_counter() - t0)
                    for res in batch.results:
                        for key, sec in (getattr(res, 'timings', None) or {}).items():
                            self.timer.add(f'infer.{key}', sec)
                    if not self.opts.overlay:  # only overlays need the frames from here on
                        for f in batch.frames:
                            f.rgb = None
                while not _put_checked(self.to_write, batch, writer):
                    pass
                done += len(batch.frames)
                if self.progress is not None:  # undecodable frames are done with too
                    self.progress(batch.read)
            if not self.stopped:
                reader.wait()
                if reader.error is not None:
                    raise reader.error
                self.complete = self.reached_end
        finally:
            self.stop.set()
            try:
                reader.wait()
                while not writer.done.is_set():
                    if _put_checked(self.to_write, _END, writer, quiet=True):
                        break
                writer.wait()
            except KeyboardInterrupt:
                # A second Ctrl-C while the batches in hand are written: drop those, but
                # still close what is written as a readable bag (quick; the writer thread is
                # a daemon and would otherwise die with the output unfinished).
                self.abort.set()
                self.complete = False
                writer.wait()
                raise
            finally:
                if self.pool is not None:
                    self.pool.shutdown()
                if not self.complete and self.writer.final_path is not None:
                    where = self.writer.final_path
                    LOG.warning('stopped after %d frames; the frames done so far are in %s '
                                '(a readable bag marked incomplete)', self.frames, where)
        if writer.error is not None:
            raise writer.error


def _put_checked(q: queue.Queue[Any], item: Any, consumer: _Stage, quiet: bool = False) -> bool:
    """Put with a timeout; unless ``quiet``, raise the consumer's error if it died."""
    try:
        q.put(item, timeout=0.1)
        return True
    except queue.Full:
        if quiet:
            return False
        if consumer.error is not None:
            raise consumer.error from None
        if consumer.done.is_set():
            raise BagError('the bag writing thread stopped unexpectedly') from None
        return False


def _mono8(msgs: Any, mask: np.ndarray, header: Any) -> Any:
    """Wrap ``mask`` in a mono8 Image without copying it."""
    h, w = mask.shape[:2]
    return msgs.Image(header=header, height=h, width=w, encoding='mono8', is_bigendian=0,
                      step=w, data=mask.data.cast('B') if mask.flags.c_contiguous
                      else mask.tobytes())
