"""Publish frames as sensor_msgs/Image or CompressedImage at a fixed rate, on any transport."""
from __future__ import annotations

import math
from collections import OrderedDict
import threading
import time
from typing import Any, Iterator

import cv2
import numpy as np

from vbp_ros.msgs import CompressedImage, Header, Image, serialize, Time
from vbp_ros.transport.qos import image_qos

#: Raw encodings the camera can publish.
CAMERA_ENCODINGS = ('rgb8', 'bgr8', 'mono8')


def image_message(rgb: np.ndarray, encoding: str, header: Header) -> Image:
    """An Image message of an RGB frame in ``encoding`` (rgb8, bgr8 or mono8)."""
    if encoding == 'rgb8':
        pix = rgb
    elif encoding == 'bgr8':
        pix = cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR)
    elif encoding == 'mono8':
        pix = cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY)
    else:
        msg = f'camera encoding {encoding!r} is not one of {CAMERA_ENCODINGS}'
        raise ValueError(msg)
    height, width = pix.shape[:2]
    step = width * (1 if pix.ndim == 2 else pix.shape[2])
    return Image(header=header, height=height, width=width, encoding=encoding, is_bigendian=0,
                 step=step, data=np.ascontiguousarray(pix).reshape(-1).data)


def compressed_message(rgb: np.ndarray, fmt: str, header: Header, quality: int = 90
                       ) -> CompressedImage:
    """A CompressedImage (jpeg or png) of an RGB frame."""
    bgr = cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR)
    ext = '.jpg' if fmt in ('jpeg', 'jpg') else '.png'
    params = [cv2.IMWRITE_JPEG_QUALITY, quality] if ext == '.jpg' else []
    ok, buf = cv2.imencode(ext, bgr, params)
    if not ok:
        msg = f'cannot encode frame as {fmt}'
        raise ValueError(msg)
    return CompressedImage(header=header, format='jpeg' if ext == '.jpg' else 'png',
                           data=buf.tobytes())


class CameraPublisher:
    """Publishes a frame source on a transport at ``rate`` Hz, stamped with the wall clock.

    Args:
        transport: where to publish.
        frames: iterator of RGB frames.
        topic: Image topic; compressed frames go to ``<topic>/compressed``.
        rate: frames per second (0 = as fast as possible).
        encoding: rgb8, bgr8, mono8, or jpeg/png for CompressedImage.
        frame_id: header frame_id.
        reliability: 'best_effort' (sensor data, default) or 'reliable'.
        keep: remember the last ``keep`` frames by stamp (see :attr:`history`).
    """

    def __init__(self, transport: Any, frames: Iterator[np.ndarray],
                 topic: str = '/camera/image_raw', rate: float = 30.0, encoding: str = 'rgb8',
                 frame_id: str = 'camera', reliability: str = 'best_effort',
                 keep: int = 0) -> None:
        self.compressed = encoding in ('jpeg', 'jpg', 'png')
        if not self.compressed and encoding not in CAMERA_ENCODINGS:
            msg = f'encoding {encoding!r} is not one of {CAMERA_ENCODINGS + ("jpeg", "png")}'
            raise ValueError(msg)
        self.encoding = encoding
        self.frames = frames
        self.rate = float(rate)
        if not (math.isfinite(self.rate) and self.rate >= 0):
            raise ValueError(f'rate {rate} must be a finite number >= 0 (0: as fast as possible)')
        self.frame_id = frame_id
        self.topic = topic.rstrip('/') + '/compressed' if self.compressed else topic
        cls = CompressedImage if self.compressed else Image
        self.publisher = transport.create_publisher(self.topic, cls, image_qos(reliability))
        self.sent = 0
        self.keep = int(keep)
        #: stamp (ns) -> RGB frame of the last ``keep`` frames published
        self.history: OrderedDict[int, np.ndarray] = OrderedDict()

    def make(self, rgb: np.ndarray, stamp_ns: int | None = None) -> bytes:
        """Serialise one frame (header stamped ``stamp_ns``, default now)."""
        header = Header(stamp=Time.from_ns(time.time_ns() if stamp_ns is None else stamp_ns),
                        frame_id=self.frame_id)
        if self.compressed:
            return serialize(compressed_message(rgb, self.encoding, header))
        return serialize(image_message(rgb, self.encoding, header))

    def publish_one(self) -> int:
        """Publish the next frame now; returns its stamp in ns."""
        rgb = next(self.frames)
        stamp = time.time_ns()
        self.publisher.publish(self.make(rgb, stamp))
        self.sent += 1
        if self.keep:
            self.history[stamp] = rgb
            while len(self.history) > self.keep:
                self.history.popitem(last=False)
        return stamp

    def wait_for_subscriber(self, timeout: float = 10.0) -> bool:
        """Wait until a reader matched (best-effort frames sent before are lost)."""
        deadline = time.monotonic() + timeout
        while self.publisher.subscription_count() == 0:
            if time.monotonic() > deadline:
                return False
            time.sleep(0.02)
        return True

    def run(self, duration: float | None = None, count: int | None = None,
            stop: threading.Event | None = None) -> int:
        """Publish at ``rate`` until ``duration`` s, ``count`` frames or ``stop`` is set.

        Returns:
            Frames published.
        """
        stop = stop or threading.Event()
        period = 1.0 / self.rate if self.rate > 0 else 0.0
        start = time.monotonic()
        next_t = start
        n = 0
        while not stop.is_set():
            if count is not None and n >= count:
                break
            if duration is not None and time.monotonic() - start >= duration:
                break
            self.publish_one()
            n += 1
            if period:
                next_t += period
                delay = next_t - time.monotonic()
                if delay > 0:
                    stop.wait(delay)
                else:
                    next_t = time.monotonic()
        return n
