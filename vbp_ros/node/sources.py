"""Frame sources for the camera publisher: synthetic road, test pattern, video file, image folder.

Every source yields HxWx3 uint8 RGB frames at the requested size and loops forever.
"""
from __future__ import annotations

import logging
import math
from pathlib import Path
import threading
from typing import Iterator, Protocol

import cv2
import numpy as np

from vbp_ros.errors import InputError

LOG = logging.getLogger(__name__)
IMAGE_SUFFIXES = ('.png', '.jpg', '.jpeg', '.bmp', '.ppm', '.pgm', '.tif', '.tiff')


class FrameSource(Protocol):
    """An endless supply of RGB frames."""

    def frames(self) -> Iterator[np.ndarray]:
        """Yield HxWx3 uint8 RGB frames."""


class PatternSource:
    """A moving road-like test pattern: sky, grass, a road whose lane line sweeps left/right.

    Needs nothing but numpy and OpenCV; the bend changes over time so steering changes too.

    Args:
        width: frame width.
        height: frame height.
        rate: frames per second the pattern is timed for (one sweep every ~4 s).
    """

    def __init__(self, width: int = 640, height: int = 480, rate: float = 30.0) -> None:
        self.width, self.height, self.rate = int(width), int(height), float(rate)
        self._base = np.empty((self.height, self.width, 3), np.uint8)
        horizon = int(0.45 * self.height)
        self._base[:horizon] = (135, 185, 235)
        self._base[horizon:] = (70, 130, 60)
        self._horizon = horizon

    def frame(self, i: int) -> np.ndarray:
        """The i-th frame."""
        img = self._base.copy()
        w, h, top = self.width, self.height, self._horizon
        bend = math.sin(2 * math.pi * i / (4.0 * self.rate))
        apex = w / 2 + bend * 0.3 * w
        road = np.array([[0.05 * w, h], [0.95 * w, h], [apex + 0.04 * w, top],
                         [apex - 0.04 * w, top]], np.int32)
        cv2.fillPoly(img, [road], (90, 90, 95))
        ys = np.linspace(h, top, 12)
        for k in range(0, len(ys) - 1, 2):
            t0, t1 = (h - ys[k]) / (h - top), (h - ys[k + 1]) / (h - top)
            x0 = w / 2 + (apex - w / 2) * t0 ** 1.5
            x1 = w / 2 + (apex - w / 2) * t1 ** 1.5
            cv2.line(img, (int(x0), int(ys[k])), (int(x1), int(ys[k + 1])), (240, 240, 240),
                     max(1, int(0.012 * w * (1 - t0))))
        return img

    def frames(self) -> Iterator[np.ndarray]:
        """Yield frames forever."""
        i = 0
        while True:
            yield self.frame(i)
            i += 1


class WorldSource:
    """A drive through the synthetic road world (:class:`vbp_ros.world.DriveSequence`).

    Rendering a frame takes tens of milliseconds, more than a 30 Hz camera period, so a
    background thread renders a clip of up to ``max_frames`` frames (at most ``max_bytes`` of
    memory) at half resolution and upscales; until it is complete the newest rendered frame is
    repeated, afterwards the clip plays forwards and backwards in a loop.

    Args:
        width: frame width.
        height: frame height.
        rate: frame rate of the drive.
        seed: selects the road.
        max_frames: longest clip.
        max_bytes: memory budget of the clip.
    """

    def __init__(self, width: int = 640, height: int = 480, rate: float = 30.0,
                 seed: int = 0, max_frames: int = 90, max_bytes: int = 100 * 2**20) -> None:
        from vbp_ros.world import CameraGeometry, DriveSequence
        self._drive = DriveSequence(seed=seed, fps=rate,
                                    camera=CameraGeometry(int(width), int(height)),
                                    render_scale=0.5)
        self.count = max(2, min(int(max_frames), int(max_bytes // (width * height * 3))))
        self._clip: list[np.ndarray] = [self._drive.frame_at(0.0).rgb]
        self._thread = threading.Thread(target=self._render, name='world-render', daemon=True)
        self._stop = threading.Event()
        self._error: BaseException | None = None
        self._thread.start()

    def _render(self) -> None:
        try:
            for k in range(1, self.count):
                if self._stop.is_set():
                    return
                self._clip.append(self._drive.frame_at(k / self._drive.fps).rgb)
        except Exception as exc:  # noqa: BLE001 -- handed to the reader of the frames
            self._error = exc

    def _check(self) -> None:
        if self._error is not None:
            raise InputError(f'rendering the synthetic world failed: {self._error}')

    def wait_ready(self, timeout: float | None = None) -> bool:
        """Wait until the whole clip is rendered."""
        self._thread.join(timeout)
        self._check()
        return not self._thread.is_alive()

    def close(self) -> None:
        """Stop rendering and wait for the renderer (a daemon thread still inside OpenCV at
        interpreter exit aborts the process)."""
        self._stop.set()
        self._thread.join()

    def frames(self) -> Iterator[np.ndarray]:
        """Yield frames forever: while rendering, the next frame where it is ready (else the
        newest again); then forwards and backwards over the clip, going on from where the
        rendering left it (no jump back to its start)."""
        i = -1  # the frame yielded last
        while len(self._clip) < self.count and not self._stop.is_set():
            self._check()
            i = min(i + 1, len(self._clip) - 1)
            yield self._clip[i]
        self._check()
        n = len(self._clip)
        order = list(range(n)) + list(range(n - 2, 0, -1))
        k = min(i + 1, len(order) - 1)
        while True:
            yield self._clip[order[k]]
            k = (k + 1) % len(order)


class VideoSource:
    """Frames of a video file (OpenCV), resized, looping at the end."""

    def __init__(self, path: str | Path, width: int | None = None,
                 height: int | None = None) -> None:
        self.path = str(path)
        self.size = (int(width), int(height)) if width and height else None
        cap = cv2.VideoCapture(self.path)
        ok = cap.isOpened() and cap.read()[0]
        cap.release()
        if not ok:
            msg = f'cannot read video {self.path}'
            raise InputError(msg)

    def frames(self) -> Iterator[np.ndarray]:
        """Yield frames forever (the video restarts at its end).

        Raises:
            InputError: a pass gave no frame (the file was removed or damaged meanwhile).
        """
        while True:
            cap = cv2.VideoCapture(self.path)
            count = 0
            try:
                while True:
                    ok, bgr = cap.read()
                    if not ok:
                        break
                    count += 1
                    yield _fit(bgr, self.size)
            finally:
                cap.release()
            if not count:
                raise InputError(f'video {self.path} gives no frames any more')


class FolderSource:
    """Image files of a folder in name order, resized, looping."""

    def __init__(self, path: str | Path, width: int | None = None,
                 height: int | None = None) -> None:
        self.files = sorted(p for p in Path(path).iterdir()
                            if p.suffix.lower() in IMAGE_SUFFIXES and p.is_file())
        if not self.files:
            msg = f'no images ({", ".join(IMAGE_SUFFIXES)}) in {path}'
            raise InputError(msg)
        self.size = (int(width), int(height)) if width and height else None

    def frames(self) -> Iterator[np.ndarray]:
        """Yield frames forever; unreadable files are skipped with a warning (once each).

        Raises:
            InputError: a pass over the folder gave no frame.
        """
        warned: set[Path] = set()
        while True:
            count = 0
            for path in self.files:
                bgr = cv2.imread(str(path), cv2.IMREAD_COLOR)
                if bgr is None:
                    if path not in warned:
                        warned.add(path)
                        LOG.warning('cannot read %s, skipped', path)
                    continue
                count += 1
                yield _fit(bgr, self.size)
            if not count:
                raise InputError(f'none of the {len(self.files)} images in '
                                 f'{self.files[0].parent} can be read')


def _fit(bgr: np.ndarray, size: tuple[int, int] | None) -> np.ndarray:
    if size and (bgr.shape[1], bgr.shape[0]) != size:
        bgr = cv2.resize(bgr, size, interpolation=cv2.INTER_AREA)
    return cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)


def open_source(spec: str, width: int = 640, height: int = 480, rate: float = 30.0,
                seed: int = 0) -> FrameSource:
    """Open a frame source.

    Args:
        spec: 'synthetic' (the road world, or the test pattern if the world has no camera),
            'pattern', a video file or a folder of images.
        width: frame width.
        height: frame height.
        rate: frame rate the synthetic sources are timed for.
        seed: random seed of the synthetic world.

    Returns:
        The source.

    Raises:
        InputError: the path cannot be read.
    """
    if spec == 'pattern':
        return PatternSource(width, height, rate)
    if spec == 'synthetic':
        try:
            return WorldSource(width, height, rate, seed)
        except ImportError as exc:
            LOG.info('synthetic world not available (%s); using the test pattern', exc)
            return PatternSource(width, height, rate)
    path = Path(spec)
    if path.is_dir():
        return FolderSource(path, width, height)
    if path.is_file():
        return VideoSource(path, width, height)
    msg = f'camera source {spec!r} is neither synthetic, pattern, a video nor a folder'
    raise InputError(msg)
