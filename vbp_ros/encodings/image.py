"""sensor_msgs/Image <-> numpy: zero-copy pixel views, decoding to RGB, encoding.

Rows are read through ``step`` (padding at the end of each row is skipped, never copied)
and 16-bit values in the byte order ``is_bigendian`` gives.
"""
from __future__ import annotations

import sys
from typing import Any

import cv2
import numpy as np

from vbp_ros.encodings.errors import EncodingError
from vbp_ros.encodings.limits import check_size, MAX_BYTES, MAX_SIDE
from vbp_ros.encodings.table import Encoding, lookup
from vbp_ros.msgs.types import Header, Image

_BIG_ENDIAN = sys.byteorder == 'big'


def _buffer(data: Any) -> memoryview:
    try:
        view = memoryview(data)
        if not view.c_contiguous:
            view = memoryview(view.tobytes())
        return view.cast('B') if view.format != 'B' or view.ndim != 1 else view
    except (TypeError, ValueError) as exc:
        msg = f'image data of type {type(data).__name__} is not a byte buffer: {exc}'
        raise EncodingError(msg) from None


def _checked(msg: Image, max_side: int, max_bytes: int) -> tuple[Encoding, memoryview]:
    """Validate an Image's encoding, sizes and data length; return its layout and bytes."""
    enc = lookup(msg.encoding)
    width, height, step = int(msg.width), int(msg.height), int(msg.step)
    row = width * enc.bytes_per_pixel
    check_size(width, height, max(step, row) * height, max_side=max_side, max_bytes=max_bytes)
    if step < row:
        text = (f'step {step} is less than a row of {width} {enc.name} pixels '
                f'({width} x {enc.bytes_per_pixel} = {row} bytes)')
        raise EncodingError(text)
    if enc.pixel_pairs and width % 2:
        text = f'{enc.name} stores pixels in pairs, so its width must be even, not {width}'
        raise EncodingError(text)
    data = _buffer(msg.data)
    if len(data) < step * height:
        text = (f'image data has {len(data)} bytes, fewer than step x height = '
                f'{step} x {height} = {step * height}')
        raise EncodingError(text)
    return enc, data


def pixels(msg: Image, *, max_side: int = MAX_SIDE, max_bytes: int = MAX_BYTES) -> np.ndarray:
    """Return a zero-copy view of an Image's pixels as stored.

    Args:
        msg: The Image message.
        max_side: Largest accepted width or height.
        max_bytes: Largest accepted ``step * height``.

    Returns:
        Array of shape (height, width, channels) viewing ``msg.data`` (read-only if the data
        is), uint8 for 8-bit encodings and uint16 in the message's byte order for 16-bit ones.

    Raises:
        EncodingError: Unknown encoding, bad or absurd sizes, ``step`` smaller than a row,
            or fewer than ``step * height`` bytes of data.
    """
    enc, data = _checked(msg, max_side, max_bytes)
    dtype: np.dtype[Any]
    if enc.depth == 1:
        dtype = np.dtype(np.uint8)
    else:
        dtype = np.dtype('>u2' if msg.is_bigendian else '<u2')
    return np.ndarray((int(msg.height), int(msg.width), enc.channels), dtype, buffer=data,
                      strides=(int(msg.step), enc.bytes_per_pixel, enc.depth))


def decode_image(msg: Image, *, copy: bool = False, max_side: int = MAX_SIDE,
                 max_bytes: int = MAX_BYTES) -> np.ndarray:
    """Decode an Image message to RGB.

    16-bit values are scaled to 8 bits by keeping their high byte (read in place, without
    a copy); Bayer mosaics are demosaiced and YUV 4:2:2 converted with OpenCV.

    Args:
        msg: The Image message (any encoding in :data:`~vbp_ros.encodings.table.ENCODINGS`,
            or ``8UC1/3/4``, ``16UC1/3/4``).
        copy: Always return a new writable C-contiguous array. Otherwise ``rgb8`` (and
            ``rgb16``) images come back as a possibly read-only, strided view of ``msg.data``.
        max_side: Largest accepted width or height.
        max_bytes: Largest accepted ``step * height``, and decoded size (width x height x 3).

    Returns:
        Array of shape (height, width, 3), uint8, RGB.

    Raises:
        EncodingError: Unknown encoding, bad or absurd sizes, too little data.
    """
    return _decode(msg, copy, max_side, max_bytes, keep_bgr=False)[0]


def decode_image_native(msg: Image, *, max_side: int = MAX_SIDE, max_bytes: int = MAX_BYTES
                        ) -> tuple[np.ndarray, bool]:
    """:func:`decode_image`, except that ``bgr8`` images stay BGR (a view of the data, no
    whole-frame conversion). Returns (pixels, True if they are BGR)."""
    return _decode(msg, False, max_side, max_bytes, keep_bgr=True)


def _decode(msg: Image, copy: bool, max_side: int, max_bytes: int, keep_bgr: bool
            ) -> tuple[np.ndarray, bool]:
    enc, data = _checked(msg, max_side, max_bytes)
    # mono8 or Bayer grow threefold to RGB
    check_size(int(msg.width), int(msg.height), int(msg.width) * int(msg.height) * 3,
               max_side=max_side, max_bytes=max_bytes)
    # 8-bit values, or the high byte of each 16-bit value: first byte if big endian
    offset = 1 if enc.depth == 2 and not msg.is_bigendian else 0
    arr = np.ndarray((int(msg.height), int(msg.width), enc.channels), np.uint8, buffer=data,
                     offset=offset, strides=(int(msg.step), enc.bytes_per_pixel, enc.depth))
    if enc.to_rgb is None or (keep_bgr and enc.to_rgb == cv2.COLOR_BGR2RGB):
        return (np.array(arr, order='C') if copy else arr), enc.to_rgb is not None
    if enc.channels == 1:
        arr = arr[:, :, 0]
    try:
        return cv2.cvtColor(arr, enc.to_rgb), False
    except cv2.error as exc:
        text = f'cannot convert a {arr.shape} {enc.name} image to RGB: {exc}'
        raise EncodingError(text) from None


def encode_image(array: np.ndarray, encoding: str = 'bgr8', header: Header | None = None
                 ) -> Image:
    """Wrap a pixel array in an Image message.

    The array must already be laid out as the encoding says (e.g. BGR for ``bgr8``); its
    dtype and channel count are checked against the encoding. The message's data shares
    memory with a C-contiguous array (no copy); other arrays are copied once.

    Args:
        array: (H, W) or (H, W, C) array; uint8 for 8-bit encodings, uint16 for 16-bit ones
            (big-endian uint16 gives ``is_bigendian=1``).
        encoding: Any decodable encoding, e.g. ``'mono8'``, ``'rgb8'``, ``'bgr8'``,
            ``'mono16'``, ``'yuv422'`` (then C = 2).
        header: Header to use; a default (zero) one if None.

    Returns:
        The Image message, with ``step`` = width x bytes per pixel.

    Raises:
        EncodingError: Unknown encoding, or array dtype/shape does not fit it.
    """
    enc = lookup(encoding)
    arr = np.asarray(array)
    if arr.ndim == 2:
        arr = arr[:, :, None]
    want = 'uint8' if enc.depth == 1 else 'uint16'
    if arr.ndim != 3 or arr.shape[2] != enc.channels or arr.dtype.kind != 'u' or \
            arr.dtype.itemsize != enc.depth:
        msg = (f'{enc.name} needs a {want} array of shape (H, W'
               f'{", %d" % enc.channels if enc.channels > 1 else ""}), '
               f'got {arr.dtype} {np.asarray(array).shape}')
        raise EncodingError(msg)
    height, width = arr.shape[:2]
    if not width or not height:
        msg = f'image has no pixels: width {width}, height {height}'
        raise EncodingError(msg)
    if enc.pixel_pairs and width % 2:
        msg = f'{enc.name} stores pixels in pairs, so its width must be even, not {width}'
        raise EncodingError(msg)
    big = arr.dtype.byteorder == '>' or (arr.dtype.byteorder == '=' and _BIG_ENDIAN)
    data = np.ascontiguousarray(arr).reshape(-1).view(np.uint8).data
    return Image(header if header is not None else Header(), height, width, enc.name,
                 int(big and enc.depth == 2), width * enc.bytes_per_pixel, data)
