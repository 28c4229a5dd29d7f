"""Review a processed or recorded drive: an H.264 video and an HTML page of its highlights.

The video shows, per frame, the VisualBackProp overlay (from the overlay topic, or composed from
the camera and mask topics, or the mask alone) above a strip that plots the steering angle over
the whole drive with a cursor at the current frame. The page lists the frames where the steering
command or the mask changed most from the frame before, as JPEG thumbnails (before / after).

Two passes over the bag: the first reads steering and (downsampled) masks to rank frames; the
second decodes frames once for the video and the thumbnails.
"""
from __future__ import annotations

from dataclasses import dataclass, field
import logging
import math
from pathlib import Path
import re
import threading
from typing import Any, Callable, TYPE_CHECKING

import cv2
import numpy as np

from vbp_ros.bag.errors import BagError
from vbp_ros.bag.html import GENERATOR, Highlight, Section, write_page
from vbp_ros.bag.io import BagReader, TopicInfo
from vbp_ros.bag.plot import SteeringStrip
from vbp_ros.bag.process import ACKERMANN, CAMERA_TYPES, IMAGE
from vbp_ros.bag.video import Mp4Writer

if TYPE_CHECKING:
    from collections.abc import Iterator

LOG = logging.getLogger(__name__)
_SMALL = (64, 36)  # masks are compared at this size (width, height)


@dataclass
class ReviewOptions:
    """What :func:`review_bag` reads and makes.

    Attributes:
        steering_topic, mask_topic, overlay_topic: the node's output topics.
        camera_topic: camera topic for composing overlays when the bag has none (None: the only
            image topic that is not an output).
        top_k: frames per highlight gallery.
        width: video width in pixels (None: the frame's, at most 1280).
        plot_height: height of the steering strip under each frame.
        fps: video frame rate (None: from the frame times).
        crf, preset: libx264 quality and speed.
        thumb_width: thumbnail width on the page.
        video: make the video (the page is always made).
        required: topics the user named, which must be in the bag (the others fall back).
    """

    steering_topic: str = '/vbp/steering'
    mask_topic: str = '/vbp/mask'
    overlay_topic: str = '/vbp/overlay'
    camera_topic: str | None = None
    top_k: int = 12
    width: int | None = None
    plot_height: int = 160
    fps: float | None = None
    crf: int = 23
    preset: str = 'veryfast'
    thumb_width: int = 320
    video: bool = True
    required: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        """Check values early.

        Raises:
            ValueError: a value is out of range.
        """
        if self.top_k < 0:
            raise ValueError(f'top_k {self.top_k} must not be negative')
        if self.width is not None and self.width < 64:
            raise ValueError(f'width {self.width} must be at least 64')
        if self.plot_height < 32:
            raise ValueError(f'plot_height {self.plot_height} must be at least 32')
        if self.thumb_width < 16:
            raise ValueError(f'thumb_width {self.thumb_width} must be at least 16')
        if self.fps is not None and not (math.isfinite(self.fps) and self.fps > 0):
            raise ValueError(f'fps {self.fps} must be a number > 0')


@dataclass
class ReviewReport:
    """What :func:`review_bag` made.

    Attributes:
        out_dir: folder holding everything.
        html: the page.
        video: the MP4 (None when not made).
        frames: video frames written.
        source: where frames came from: 'overlay', 'camera+mask', 'mask' or 'camera'.
        steering: highlights by steering change.
        mask: highlights by mask change.
        unreadable: frames skipped as undecodable, per topic.
    """

    out_dir: Path
    html: Path
    video: Path | None
    frames: int
    source: str
    steering: list[Highlight] = field(default_factory=list)
    mask: list[Highlight] = field(default_factory=list)
    unreadable: dict[str, int] = field(default_factory=dict)


@dataclass
class _Series:
    """Steering per frame: bag times, header stamps, angles (all ascending by bag time)."""

    bag_ns: np.ndarray
    stamp_ns: np.ndarray
    angle: np.ndarray


def top_changes(values: np.ndarray, k: int, min_gap: int = 1) -> list[int]:
    """Return the indices of the ``k`` largest values, ``min_gap`` apart, largest first.

    Args:
        values: one score per frame (NaN never chosen).
        k: how many.
        min_gap: an index is skipped when a chosen one is closer than this.
    """
    order = np.argsort(-np.nan_to_num(np.asarray(values, np.float64), nan=-np.inf),
                       kind='stable')
    chosen: list[int] = []
    for i in order:
        if len(chosen) >= k or not np.isfinite(values[i]):
            break
        if all(abs(int(i) - c) >= min_gap for c in chosen):
            chosen.append(int(i))
    return chosen


def _stamp(header: Any) -> int:
    return int(header.stamp.sec) * 1_000_000_000 + int(header.stamp.nanosec)


class _Review:
    def __init__(self, reader: BagReader, out_dir: Path, opts: ReviewOptions,
                 progress: Callable[[int], None] | None,
                 on_start: Callable[[int], None] | None = None,
                 stop: threading.Event | None = None) -> None:
        from vbp_ros import msgs

        self.msgs = msgs
        self.stop = stop
        self.reader, self.out_dir, self.opts, self.progress = reader, out_dir, opts, progress
        self.on_start = on_start
        # Frames are matched across topics by header stamp, or by bag time where the camera
        # repeats stamps (e.g. a driver that leaves them at zero); decided by read_series.
        self.by_bag_time = False
        self.topics: dict[str, TopicInfo] = reader.topics
        #: frames skipped because they could not be decoded, per topic
        self.unreadable: dict[str, int] = {}

    def _check_stop(self) -> None:
        if self.stop is not None and self.stop.is_set():
            raise KeyboardInterrupt

    # -- what the bag offers ----------------------------------------------------------------
    def _topic(self, name: str, types: tuple[str, ...]) -> str | None:
        info = self.topics.get(name)
        return name if info is not None and info.ros_type in types else None

    def source(self) -> tuple[str, list[str]]:
        """Return ('overlay'|'camera+mask'|'mask'|'camera', the topics to read frames from)."""
        listing = ', '.join(f'{t} [{i.ros_type}]' for t, i in self.topics.items()) or 'none'
        o = self.opts
        missing = [t for t in o.required if t not in self.topics]
        if missing:
            raise BagError(f'no topic {", ".join(missing)} in {self.reader.path}; it has: '
                           f'{listing}')
        if self._topic(o.steering_topic, (ACKERMANN,)) is None:
            msg = (f'no steering topic {o.steering_topic} ({ACKERMANN}) in {self.reader.path}; '
                   f'it has: {listing}. Run `vbp-ros process` on a camera bag first.')
            raise BagError(msg)
        overlay = self._topic(o.overlay_topic, CAMERA_TYPES)
        mask = self._topic(o.mask_topic, (IMAGE,))
        camera = o.camera_topic
        if camera is None:
            outputs = {o.mask_topic, o.overlay_topic, *self.reader.output_topics}
            cams = [t for t, i in self.topics.items() if i.ros_type in CAMERA_TYPES
                    and t not in outputs]
            camera = cams[0] if len(cams) == 1 else None
        elif self._topic(camera, CAMERA_TYPES) is None:
            raise BagError(f'camera topic {camera} is not an image topic here; it has: {listing}')
        # The node records overlays only while something subscribes to them: where they cover
        # fewer frames than the masks, the masks (over the camera, if any) show the whole drive.
        if overlay and not (mask and self.topics[overlay].count < self.topics[mask].count):
            return 'overlay', [overlay]
        if mask and camera:
            return 'camera+mask', [camera, mask]
        if mask:
            return 'mask', [mask]
        if camera:
            return 'camera', [camera]
        msg = (f'no overlay ({o.overlay_topic}), mask ({o.mask_topic}) or camera topic in '
               f'{self.reader.path}; it has: {listing}')
        raise BagError(msg)

    # -- pass 1 -------------------------------------------------------------------------------
    def read_series(self) -> tuple[_Series, np.ndarray, np.ndarray]:
        """Steering series, and per-mask (frame keys, mean |change| from the mask before).

        A frame's key is its header stamp, or its bag time if steering stamps repeat.
        """
        msgs, o = self.msgs, self.opts
        bag_ns, stamps, angles = [], [], []
        m_stamps: list[int] = []
        m_bag_ns: list[int] = []
        m_change: list[float] = []
        prev: np.ndarray | None = None
        want = [o.steering_topic] + ([o.mask_topic] if o.mask_topic in self.topics
                                     and self.topics[o.mask_topic].ros_type == IMAGE else [])
        for topic, t, data in self.reader.messages(want, zero_copy=True):
            self._check_stop()
            try:
                if topic == o.steering_topic:
                    m = msgs.deserialize(data, msgs.AckermannDriveStamped)
                    bag_ns.append(t)
                    stamps.append(_stamp(m.header))
                    angles.append(float(m.drive.steering_angle))
                else:
                    img = msgs.deserialize(data, msgs.Image)
                    small = self._small_mask(img)
                    m_stamps.append(_stamp(img.header))
                    m_bag_ns.append(t)
                    m_change.append(float(np.mean(np.abs(small - prev))) if prev is not None
                                    else np.nan)
                    prev = small
            except (msgs.MsgError, ValueError) as exc:
                raise BagError(f'unreadable message on {topic} at bag time {t}: {exc}') from None
        self.by_bag_time = len(set(stamps)) < len(stamps)
        if self.by_bag_time:
            LOG.warning('%s repeats header stamps; matching frames by bag time instead (a mask '
                        'is drawn over the last camera frame recorded before it, which is a '
                        'later frame than its own where the node dropped frames)',
                        o.steering_topic)
            stamps, m_stamps = bag_ns, m_bag_ns
        order = np.argsort(np.asarray(bag_ns, np.int64), kind='stable')
        series = _Series(np.asarray(bag_ns, np.int64)[order], np.asarray(stamps, np.int64)[order],
                         np.asarray(angles, np.float64)[order])
        return series, np.asarray(m_stamps, np.int64), np.asarray(m_change, np.float64)

    def _small_mask(self, img: Any) -> np.ndarray:
        from vbp_ros.encodings import decode_image, pixels

        if img.encoding == 'mono8':  # a checked view, no conversion
            gray: np.ndarray = pixels(img)[:, :, 0]
        else:
            gray = cv2.cvtColor(decode_image(img), cv2.COLOR_RGB2GRAY)
        return cv2.resize(gray, _SMALL, interpolation=cv2.INTER_AREA).astype(np.float32) / 255.0

    # -- pass 2 -------------------------------------------------------------------------------
    def frames(self, source: str, topics: list[str]) -> Iterator[tuple[int, int, np.ndarray]]:
        """(bag time, frame key, BGR frame) in bag order (see :meth:`read_series`)."""
        from vbp_ros.encodings import decode_compressed, decode_image, EncodingError, pixels

        msgs = self.msgs

        def decode(topic: str, data: bytes | memoryview) -> tuple[Any, np.ndarray]:
            if self.topics[topic].ros_type == IMAGE:
                msg = msgs.deserialize(data, msgs.Image)
                if msg.encoding == 'mono8':  # a checked view, no conversion
                    return msg.header, pixels(msg)[:, :, 0]
                return msg.header, decode_image(msg)
            msg = msgs.deserialize(data, msgs.CompressedImage)
            return msg.header, decode_compressed(msg)

        pending: dict[str, dict[int, tuple[int, np.ndarray]]] = {t: {} for t in topics}
        last_camera: tuple[int, np.ndarray] | None = None  # (bag time, frame), by bag time
        held: tuple[int, np.ndarray] | None = None  # a mask waiting for its camera frame
        for topic, t, data in self.reader.messages(topics, zero_copy=True):
            try:
                header, arr = decode(topic, data)
            except (msgs.MsgError, EncodingError, ValueError) as exc:
                # As `vbp-ros process` and the node do: skip the frame, say so, go on.
                if not self.unreadable.get(topic):
                    LOG.warning('skipping an unreadable frame on %s at bag time %d: %s (more '
                                'are counted in the summary)', topic, t, exc)
                self.unreadable[topic] = self.unreadable.get(topic, 0) + 1
                continue
            stamp = t if self.by_bag_time else _stamp(header)
            if source in ('overlay', 'camera'):
                yield t, stamp, (cv2.cvtColor(arr, cv2.COLOR_GRAY2BGR) if arr.ndim == 2
                                 else cv2.cvtColor(arr, cv2.COLOR_RGB2BGR))
            elif source == 'mask':
                yield t, stamp, _colour_mask(arr)
            elif self.by_bag_time:
                # No stamps to pair by: a mask goes with the camera frame of its own bag time
                # (processed bags), else with the last one recorded before it (the node's
                # recordings: it publishes after receiving the frame). A mask waits for the
                # next message in case its camera frame comes right after it.
                if topic == topics[0]:
                    if held is not None and last_camera is not None and held[0] != t:
                        yield _over(last_camera[1], held)
                        held = None
                    last_camera = (t, arr)
                    if held is not None:  # the camera frame of the waiting mask's time
                        yield _over(arr, held)
                        held = None
                else:
                    if held is not None and last_camera is not None:
                        yield _over(last_camera[1], held)
                    held = None
                    if last_camera is not None and last_camera[0] == t:
                        yield t, t, _compose(last_camera[1], arr)
                    else:
                        held = (t, arr)
            else:
                pending[topic][stamp] = (t, arr)
                cam, mask = (pending[x] for x in topics)
                if stamp in cam and stamp in mask:
                    (t_cam, rgb), (_, m) = cam.pop(stamp), mask.pop(stamp)
                    for d in (cam, mask):  # frames without a partner are not coming any more
                        for old in [s for s in d if s < stamp]:
                            del d[old]
                    yield t_cam, stamp, _compose(rgb, m)
        if held is not None and last_camera is not None:  # the last mask of the bag
            yield _over(last_camera[1], held)

    def run(self) -> ReviewReport:
        o = self.opts
        source, frame_topics = self.source()
        if self.on_start is not None:
            self.on_start(self.topics[frame_topics[-1]].count)
        series, m_stamps, m_change = self.read_series()
        if series.angle.size == 0:
            raise BagError(f'{o.steering_topic} in {self.reader.path} has no messages')
        t0 = int(series.bag_ns[0])
        times = (series.bag_ns - t0) / 1e9
        gap = max(1, series.angle.size // max(1, 4 * max(o.top_k, 1)))
        s_change = np.full(series.angle.size, np.nan)
        s_change[1:] = np.abs(np.diff(series.angle))
        s_idx = top_changes(s_change, o.top_k, gap)
        m_idx = top_changes(m_change, o.top_k, gap) if m_change.size else []
        by_stamp = {int(s): i for i, s in enumerate(series.stamp_ns)}

        def steering_at(bag_t: int, stamp: int) -> int:
            """The steering message of a frame: by stamp, else the last one up to ``bag_t``."""
            i = by_stamp.get(stamp)
            if i is None:
                i = int(np.clip(np.searchsorted(series.bag_ns, bag_t, side='right') - 1, 0,
                                series.bag_ns.size - 1))
            return i

        steer_hl = [Highlight(r + 1, float(times[i]), int(series.stamp_ns[i]),
                              float(series.angle[i]), float(np.degrees(s_change[i])))
                    for r, i in enumerate(s_idx)]
        mask_hl = []
        for r, j in enumerate(m_idx):
            i = steering_at(int(m_stamps[j]), int(m_stamps[j]))
            mask_hl.append(Highlight(r + 1, float(times[i]), int(m_stamps[j]),
                                     float(series.angle[i]), float(m_change[j])))
        wanted: dict[int, list[tuple[str, Highlight]]] = {}
        for kind, hls in (('steer', steer_hl), ('mask', mask_hl)):
            for h in hls:
                wanted.setdefault(h.stamp_ns, []).append((kind, h))

        thumbs = self.out_dir / 'frames'
        thumbs.mkdir(parents=True, exist_ok=True)
        video: Mp4Writer | None = None
        strip: SteeringStrip | None = None
        n = 0
        prev_thumb: np.ndarray | None = None
        size: tuple[int, int] | None = None
        try:
            for bag_t, stamp, bgr in self.frames(source, frame_topics):
                self._check_stop()
                if size is None:
                    size = _video_size(bgr.shape[1], bgr.shape[0], o.width)
                    strip = SteeringStrip(times, series.angle, size[0], o.plot_height)
                    if o.video:
                        fps = o.fps or _frame_rate(series.bag_ns)
                        video = Mp4Writer(self.out_dir / 'review.mp4', size[0],
                                          size[1] + o.plot_height, fps, crf=o.crf,
                                          preset=o.preset)
                assert strip is not None
                frame = bgr if (bgr.shape[1], bgr.shape[0]) == size else cv2.resize(
                    bgr, size, interpolation=cv2.INTER_AREA)
                i = steering_at(bag_t, stamp)
                if video is not None:
                    video.write(np.vstack([frame, strip.render(float(times[i]),
                                                               float(series.angle[i]))]))
                thumb = _thumb(frame, o.thumb_width)
                # By bag time, steering, mask and camera of one frame are recorded at slightly
                # different times: a highlight goes to the first frame at or after it.
                keys = ([k for k in wanted if k <= stamp] if self.by_bag_time
                        else [stamp] if stamp in wanted else [])
                for kind, h in [item for k in keys for item in wanted.pop(k)]:
                    h.image = f'frames/{kind}_{h.rank:03d}.jpg'
                    cv2.imwrite(str(self.out_dir / h.image), thumb)
                    if prev_thumb is not None:
                        h.before = f'frames/{kind}_{h.rank:03d}_before.jpg'
                        cv2.imwrite(str(self.out_dir / h.before), prev_thumb)
                prev_thumb = thumb
                n += 1
                if self.progress is not None:
                    self.progress(1)
        except BaseException:
            if video is not None:
                video.abort()
            raise
        video_path = video.close() if video is not None else None
        plot = None
        if strip is not None:
            plot_strip = SteeringStrip(times, series.angle, 1200, 240)
            cv2.imwrite(str(self.out_dir / 'steering.png'), plot_strip.background)
            plot = 'steering.png'
        deg = np.degrees(series.angle)
        summary = {
            'bag': str(self.reader.path),
            'frames in video': str(n),
            'frame source': f'{source} ({", ".join(frame_topics)})',
            'steering messages': str(series.angle.size),
            'duration': f'{times[-1]:.2f} s',
            'steering (deg)': f'min {deg.min():+.2f}, mean {deg.mean():+.2f}, '
                              f'max {deg.max():+.2f}',
        }
        if self.unreadable:
            summary['unreadable frames (skipped)'] = ', '.join(
                f'{k} on {topic}' for topic, k in self.unreadable.items())
            LOG.warning('skipped unreadable frames: %s', summary['unreadable frames (skipped)'])
        meta = self.reader.metadata  # what `vbp-ros process` noted about its outputs
        if meta.get('vbp_ros.complete') == 'false':
            summary['incomplete'] = (f'the run that wrote this bag stopped after '
                                     f'{meta.get("vbp_ros.frames", "?")} frames')
        for key, label in (('vbp_ros.model', 'model'), ('vbp_ros.model_sha256', 'model sha256'),
                           ('vbp_ros.steering', 'steering conversion')):
            if key in meta:
                summary[label] = meta[key]
        title = f'Drive review: {self.reader.path.name}'
        page = write_page(self.out_dir / 'index.html', title=title,
                          summary=summary, video='review.mp4' if video_path else None,
                          plot=plot, sections=[
                              Section('Largest steering changes', '|Δ steering| (deg)', steer_hl),
                              Section('Largest mask changes', 'mean |Δ mask|', mask_hl)])
        return ReviewReport(self.out_dir, page, video_path, n, source, steer_hl, mask_hl,
                            dict(self.unreadable))


def review_bag(bag: str | Path, out_dir: str | Path | None = None,
               options: ReviewOptions | None = None,
               progress: Callable[[int], None] | None = None,
               on_start: Callable[[int], None] | None = None,
               salvage: bool = False, stop: threading.Event | None = None) -> ReviewReport:
    """Make ``review.mp4``, ``index.html``, ``steering.png`` and ``frames/`` for a drive.

    Args:
        bag: a bag with the steering topic and overlay or mask (and camera) topics.
        out_dir: where to write; default ``<bag>_review`` beside the bag. It may exist; files
            of an earlier review in it are replaced, an ``index.html`` of anything else is not.
        options: topics and sizes; defaults when None.
        progress: called with 1 per video frame.
        on_start: called once with the number of frames expected.
        salvage: read what is readable of a cut-off MCAP recording.
        stop: once set (e.g. from a signal handler), the review ends at the next frame with
            KeyboardInterrupt, leaving no partial video behind.

    Returns:
        A :class:`ReviewReport`.

    Raises:
        BagError: unreadable bag, missing topics, undecodable frames, no video encoder.
        KeyboardInterrupt: ``stop`` was set.
    """
    opts = options or ReviewOptions()
    bag = Path(bag).resolve()  # ('.' has no name to build the default output folder from)
    out = Path(out_dir) if out_dir is not None else bag.with_name(bag.name + '_review')
    if out.exists() and not out.is_dir():
        raise BagError(f'{out} exists and is not a folder')
    page = out / 'index.html'
    if page.is_file() and GENERATOR not in page.read_text(errors='replace')[:1000]:
        raise BagError(f'{page} exists and is not a review page; not overwriting it')
    with BagReader(bag, salvage=salvage) as reader:
        try:
            out.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise BagError(f'cannot create the output folder {out}: {exc}') from None
        for old in (out / 'frames').glob('*.jpg'):  # thumbnails of an earlier review only
            if _THUMBNAIL.fullmatch(old.name):
                old.unlink()
        return _Review(reader, out, opts, progress, on_start, stop).run()


#: The names :meth:`_Review` gives thumbnails (``frames/steering_003_before.jpg``).
_THUMBNAIL = re.compile(r'[a-z]+_\d{3}(_before)?\.jpg')


def _video_size(width: int, height: int, want: int | None) -> tuple[int, int]:
    w = want or max(64, min(width, 1280))
    h = max(16, round(height * w / width))
    return w - w % 2, h - h % 2


def _frame_rate(bag_ns: np.ndarray) -> float:
    if bag_ns.size < 2:
        return 30.0
    dt = np.diff(bag_ns.astype(np.float64)) / 1e9
    dt = dt[dt > 0]
    if dt.size == 0:
        return 30.0
    return float(np.clip(1.0 / np.median(dt), 1.0, 120.0))


def _thumb(bgr: np.ndarray, width: int) -> np.ndarray:
    h = max(1, round(bgr.shape[0] * width / bgr.shape[1]))
    return cv2.resize(bgr, (width, h), interpolation=cv2.INTER_AREA)


def _colour_mask(mask: np.ndarray) -> np.ndarray:
    gray = mask if mask.ndim == 2 else cv2.cvtColor(mask, cv2.COLOR_RGB2GRAY)
    return cv2.applyColorMap(np.ascontiguousarray(gray), cv2.COLORMAP_JET)


def _over(camera: np.ndarray, held: tuple[int, np.ndarray]) -> tuple[int, int, np.ndarray]:
    """A held (bag time, mask) composed over a camera frame, as :meth:`_Review.frames` yields
    it (keyed by the mask's bag time)."""
    return held[0], held[0], _compose(camera, held[1])


def _compose(rgb: np.ndarray, mask: np.ndarray) -> np.ndarray:
    from vbp_ros.core.image import overlay

    if mask.ndim == 3:
        mask = cv2.cvtColor(mask, cv2.COLOR_RGB2GRAY)
    if mask.shape[:2] != rgb.shape[:2]:
        mask = cv2.resize(np.ascontiguousarray(mask), (rgb.shape[1], rgb.shape[0]),
                          interpolation=cv2.INTER_LINEAR)
    return overlay(rgb, np.ascontiguousarray(mask))
