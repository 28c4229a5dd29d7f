"""The table of sensor_msgs/Image encodings: pixel layout and the way to RGB.

One entry per encoding name, as in cv_bridge and rosbags-image; generic OpenCV-style names
such as ``8UC3`` or ``16UC1`` are matched by a regex. Three-channel generic images are taken
to be BGR and four-channel ones BGRA (OpenCV's convention, as cv_bridge does).
"""
from __future__ import annotations

import dataclasses
import re

import cv2

from vbp_ros.encodings.errors import EncodingError


@dataclasses.dataclass(frozen=True)
class Encoding:
    """How one encoding lays out its pixels and how it becomes RGB.

    Attributes:
        name: The encoding string, e.g. ``'bgr8'``.
        depth: Bytes per channel value: 1 or 2 (16-bit values honour ``is_bigendian``).
        channels: Values per pixel as stored (2 for YUV 4:2:2, 1 for Bayer mosaics).
        to_rgb: ``cv2.cvtColor`` code that turns the (8-bit) pixels into RGB, or None if they
            already are RGB.
        pixel_pairs: Whether pixels come in horizontal pairs (YUV 4:2:2): width must be even.
    """

    name: str
    depth: int
    channels: int
    to_rgb: int | None
    pixel_pairs: bool = False

    @property
    def bytes_per_pixel(self) -> int:
        """Bytes one pixel takes in a row."""
        return self.depth * self.channels


def _table() -> dict[str, Encoding]:
    entries = [
        ('rgb8', 1, 3, None), ('bgr8', 1, 3, cv2.COLOR_BGR2RGB),
        ('rgba8', 1, 4, cv2.COLOR_RGBA2RGB), ('bgra8', 1, 4, cv2.COLOR_BGRA2RGB),
        ('rgb16', 2, 3, None), ('bgr16', 2, 3, cv2.COLOR_BGR2RGB),
        ('rgba16', 2, 4, cv2.COLOR_RGBA2RGB), ('bgra16', 2, 4, cv2.COLOR_BGRA2RGB),
        ('mono8', 1, 1, cv2.COLOR_GRAY2RGB), ('mono16', 2, 1, cv2.COLOR_GRAY2RGB),
        # OpenCV names a Bayer pattern after its second row's first two pixels.
        ('bayer_rggb8', 1, 1, cv2.COLOR_BayerBG2RGB), ('bayer_bggr8', 1, 1, cv2.COLOR_BayerRG2RGB),
        ('bayer_gbrg8', 1, 1, cv2.COLOR_BayerGR2RGB), ('bayer_grbg8', 1, 1, cv2.COLOR_BayerGB2RGB),
        ('bayer_rggb16', 2, 1, cv2.COLOR_BayerBG2RGB),
        ('bayer_bggr16', 2, 1, cv2.COLOR_BayerRG2RGB),
        ('bayer_gbrg16', 2, 1, cv2.COLOR_BayerGR2RGB),
        ('bayer_grbg16', 2, 1, cv2.COLOR_BayerGB2RGB),
    ]
    table = {name: Encoding(name, depth, channels, code)
             for name, depth, channels, code in entries}
    # YUV 4:2:2: ROS 'yuv422' is UYVY (U0 Y0 V0 Y1), 'yuv422_yuy2' is YUYV (Y0 U0 Y1 V0).
    for name, code in [('yuv422', cv2.COLOR_YUV2RGB_UYVY), ('uyvy', cv2.COLOR_YUV2RGB_UYVY),
                       ('yuv422_yuy2', cv2.COLOR_YUV2RGB_YUYV),
                       ('yuyv', cv2.COLOR_YUV2RGB_YUYV)]:
        table[name] = Encoding(name, 1, 2, code, pixel_pairs=True)
    return table


#: Encoding name -> layout, for every named encoding that can be decoded.
ENCODINGS: dict[str, Encoding] = _table()
_GENERIC = re.compile(r'(8|16)UC([134])')
_GENERIC_TO_RGB = {1: cv2.COLOR_GRAY2RGB, 3: cv2.COLOR_BGR2RGB, 4: cv2.COLOR_BGRA2RGB}


def lookup(name: str) -> Encoding:
    """Return the layout of an encoding.

    Args:
        name: An encoding string from an Image message, e.g. ``'bgr8'`` or ``'16UC1'``.

    Returns:
        Its :class:`Encoding`.

    Raises:
        EncodingError: The encoding is unknown; the message quotes it.
    """
    try:
        return ENCODINGS[name]
    except (KeyError, TypeError):
        pass
    match = _GENERIC.fullmatch(name) if isinstance(name, str) else None
    if match is None:
        msg = (f'unknown image encoding {name!r} (known: {", ".join(sorted(ENCODINGS))}, '
               'and 8UC1/3/4, 16UC1/3/4)')
        raise EncodingError(msg)
    depth, channels = int(match[1]) // 8, int(match[2])
    return Encoding(name, depth, channels, _GENERIC_TO_RGB[channels])
