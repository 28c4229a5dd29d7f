"""Helpers of the bag tests: synthetic camera frames and their messages."""
from __future__ import annotations

import cv2
import numpy as np

from vbp_ros import msgs
from vbp_ros.encodings import encode_compressed, encode_image

BASE_NS = 1_700_000_000_000_000_000


def camera_frames(n: int, width: int = 160, height: int = 90, seed: int = 0) -> list[np.ndarray]:
    """``n`` different RGB frames: smooth random blobs, so masks and JPEGs are not noise."""
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(n):
        small = rng.integers(0, 256, (height // 10 + 1, width // 10 + 1, 3), np.uint8)
        out.append(cv2.resize(small, (width, height), interpolation=cv2.INTER_CUBIC))
    return out


def stamp_of(i: int) -> int:
    """Bag time of frame ``i`` (30 frames/s)."""
    return BASE_NS + i * 33_333_333


def header_of(i: int) -> msgs.Header:
    """Header of frame ``i``: a stamp unlike its bag time, as a camera driver would set."""
    t = stamp_of(i) - 5_000_000
    return msgs.Header(stamp=msgs.Time(sec=t // 10**9, nanosec=t % 10**9), frame_id='camera')


def camera_message(rgb: np.ndarray, i: int, kind: str) -> tuple[str, bytes]:
    """(ROS type, CDR) of frame ``i`` as an Image of encoding ``kind`` or a 'jpeg'/'png'."""
    header = header_of(i)
    if kind in ('jpeg', 'png'):
        bgr = cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR)
        return 'sensor_msgs/msg/CompressedImage', msgs.serialize(
            encode_compressed(bgr, header, fmt=kind, quality=95))
    arr = {'bgr8': lambda: cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR),
           'mono8': lambda: cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY)}.get(kind, lambda: rgb)()
    return 'sensor_msgs/msg/Image', msgs.serialize(encode_image(arr, kind, header))
