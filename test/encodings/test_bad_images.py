"""Bad Image messages and arrays raise EncodingError with a message naming the problem."""
from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from vbp_ros.encodings import decode_image, encode_image, EncodingError, MAX_SIDE
from vbp_ros.errors import VbpError
from vbp_ros.msgs import Image


def _img(**kwargs: Any) -> Image:
    fields = {'height': 4, 'width': 6, 'encoding': 'rgb8', 'step': 18, 'data': bytes(72)}
    fields.update(kwargs)
    return Image(**fields)


def test_valid_baseline() -> None:
    assert decode_image(_img()).shape == (4, 6, 3)


@pytest.mark.parametrize(('msg', 'match'), [
    (_img(encoding='rgb9'), "unknown image encoding 'rgb9'"),
    (_img(encoding=''), "unknown image encoding ''"),
    (_img(encoding='32FC1'), "unknown image encoding '32FC1'"),
    (_img(encoding='RGB8'), "unknown image encoding 'RGB8'"),
    (_img(encoding='8UC3\n'), r"unknown image encoding '8UC3\\n'"),
    (_img(data=bytes(71)), r'71 bytes, fewer than step x height = 18 x 4 = 72'),
    (_img(data=b''), r'0 bytes, fewer than'),
    (_img(step=17, data=bytes(100)), r'step 17 is less than a row of 6 rgb8 pixels \(6 x 3 = 18'),
    (_img(step=0), r'step 0 is less than a row'),
    (_img(width=0, step=0, data=b''), 'image has no pixels: width 0, height 4'),
    (_img(height=0, data=b''), 'image has no pixels: width 6, height 0'),
    (_img(width=MAX_SIDE + 1, step=3 * (MAX_SIDE + 1)), 'exceeds the limit of 16384 pixels'),
    (_img(height=2**31, step=18), 'exceeds the limit of 16384 pixels'),
    (_img(height=16000, width=16000, step=48000), 'exceeds the limit of 268435456 bytes'),
    (_img(height=4, width=6, step=2**32 - 1), 'exceeds the limit of 268435456 bytes'),
    (_img(encoding='mono16', step=11), 'step 11 is less than a row of 6 mono16 pixels'),
    (_img(encoding='yuv422', width=5, step=10, data=bytes(40)), 'width must be even, not 5'),
    (_img(data=None), 'not a byte buffer'),
])
def test_bad_message(msg: Image, match: str) -> None:
    with pytest.raises(EncodingError, match=match):
        decode_image(msg)


def test_limits_are_configurable() -> None:
    msg = _img()
    with pytest.raises(EncodingError, match='limit of 5 pixels'):
        decode_image(msg, max_side=5)
    with pytest.raises(EncodingError, match='limit of 71 bytes'):
        decode_image(msg, max_bytes=71)
    assert decode_image(msg, max_side=6, max_bytes=72).shape == (4, 6, 3)


def test_error_types() -> None:
    assert issubclass(EncodingError, VbpError)
    assert issubclass(EncodingError, ValueError)


def test_longer_data_is_accepted() -> None:
    assert decode_image(_img(data=bytes(100))).shape == (4, 6, 3)


@pytest.mark.parametrize(('array', 'encoding', 'match'), [
    (np.zeros((4, 6), np.float32), 'mono8', r'mono8 needs a uint8 array of shape \(H, W\), got '
                                            r'float32 \(4, 6\)'),
    (np.zeros((4, 6, 3), np.uint8), 'mono8', r'got uint8 \(4, 6, 3\)'),
    (np.zeros((4, 6), np.uint8), 'rgb8', r'rgb8 needs a uint8 array of shape \(H, W, 3\)'),
    (np.zeros((4, 6, 4), np.uint8), 'bgr8', r'bgr8 needs a uint8 array'),
    (np.zeros((4, 6, 3), np.uint16), 'rgb8', r'got uint16'),
    (np.zeros((4, 6, 3), np.int8), 'rgb8', r'got int8'),
    (np.zeros((4, 6), np.uint8), 'mono16', r'mono16 needs a uint16 array'),
    (np.zeros((4, 6), np.int16), 'mono16', r'got int16'),
    (np.zeros(6, np.uint8), 'mono8', r'got uint8 \(6,\)'),
    (np.zeros((0, 6, 3), np.uint8), 'rgb8', 'image has no pixels'),
    (np.zeros((4, 5, 2), np.uint8), 'yuv422', 'width must be even, not 5'),
    (np.zeros((4, 6, 3), np.uint8), 'jpeg', "unknown image encoding 'jpeg'"),
])
def test_encode_rejects_mismatch(array: np.ndarray, encoding: str, match: str) -> None:
    with pytest.raises(EncodingError, match=match):
        encode_image(array, encoding)


def test_decoded_size_counts_towards_the_limit() -> None:
    # mono8 triples to RGB: 72 bytes of input become 72 x 3 decoded.
    msg = _img(encoding='mono8', step=6, data=bytes(24))
    with pytest.raises(EncodingError, match='limit of 71 bytes'):
        decode_image(msg, max_bytes=71)
    assert decode_image(msg, max_bytes=72).shape == (4, 6, 3)
