"""Size limits that protect decoding from absurd or hostile image headers."""
from __future__ import annotations

from vbp_ros.encodings.errors import EncodingError

#: Largest accepted width or height, in pixels.
MAX_SIDE = 16384
#: Largest accepted image, in bytes of pixel data (``step * height``) or decoded RGB.
MAX_BYTES = 256 * 1024 * 1024


def check_size(width: int, height: int, nbytes: int, *, max_side: int = MAX_SIDE,
               max_bytes: int = MAX_BYTES) -> None:
    """Raise EncodingError unless an image's size is positive and within the limits.

    Args:
        width: Width in pixels.
        height: Height in pixels.
        nbytes: Bytes the image takes (or will take once decoded).
        max_side: Largest accepted width or height.
        max_bytes: Largest accepted ``nbytes``.

    Raises:
        EncodingError: Zero or negative size, or beyond a limit.
    """
    if width <= 0 or height <= 0:
        msg = f'image has no pixels: width {width}, height {height}'
        raise EncodingError(msg)
    if width > max_side or height > max_side:
        msg = f'image size {width}x{height} exceeds the limit of {max_side} pixels per side'
        raise EncodingError(msg)
    if nbytes > max_bytes:
        msg = f'image of {nbytes} bytes exceeds the limit of {max_bytes} bytes'
        raise EncodingError(msg)
