"""CompressedImage: JPEG/PNG round trips, corrupt data and size limits."""
from __future__ import annotations

import struct
import zlib

import cv2
import numpy as np
import pytest

from vbp_ros.encodings import decode_compressed, encode_compressed, EncodingError, peek_size
from vbp_ros.msgs import CompressedImage, deserialize, Header, serialize, Time


def _rgb(h: int = 48, w: int = 64) -> np.ndarray:
    yy, xx = np.mgrid[0:h, 0:w]
    return np.stack([xx * 4, yy * 5, 255 - xx * 2], -1).astype(np.uint8)


def _jpeg(quality: int = 95) -> bytes:
    return bytes(encode_compressed(_rgb(), encoding='rgb8', quality=quality).data)


def test_png_round_trip_is_exact() -> None:
    for encoding, array in (('rgb8', _rgb()), ('bgr8', _rgb()[..., ::-1])):
        msg = encode_compressed(array, Header(Time(1, 2), 'c'), fmt='png', encoding=encoding)
        assert msg.format == f'{encoding}; png compressed bgr8'
        assert (decode_compressed(msg) == _rgb()).all()


def test_jpeg_round_trip_is_close() -> None:
    msg = encode_compressed(_rgb()[..., ::-1], fmt='jpeg', quality=95)
    assert msg.format == 'bgr8; jpeg compressed bgr8'
    back = deserialize(serialize(msg), CompressedImage)
    out = decode_compressed(back)
    assert out.shape == (48, 64, 3)
    assert np.abs(out.astype(int) - _rgb().astype(int)).mean() < 3


def test_grey_round_trip() -> None:
    grey = _rgb()[..., 1]
    msg = encode_compressed(grey, fmt='png')
    assert msg.format == 'mono8; png compressed mono8'
    assert (decode_compressed(msg) == np.repeat(grey[..., None], 3, -1)).all()
    assert encode_compressed(grey[..., None]).format == 'mono8; jpeg compressed mono8'


@pytest.mark.parametrize('fmt', ['jpeg', 'png', 'rgb8; jpeg compressed bgr8', ''])
def test_format_string_is_informational(fmt: str) -> None:
    msg = CompressedImage(format=fmt, data=_jpeg())
    assert decode_compressed(msg).shape == (48, 64, 3)


def test_peek_size() -> None:
    assert peek_size(_jpeg()) == (64, 48)
    png = bytes(encode_compressed(_rgb(30, 20), fmt='png').data)
    assert peek_size(png) == (20, 30)
    assert peek_size(b'GIF89a') is None
    assert peek_size(b'\xff\xd8\xff') is None


def _corrupt_cases() -> list[tuple[bytes, str]]:
    jpeg = _jpeg()
    rng = np.random.default_rng(7)
    scrambled = bytearray(jpeg)
    scrambled[2:] = rng.integers(0, 256, len(jpeg) - 2, dtype=np.uint8).tobytes()
    return [
        (b'', 'has no data'),
        (b'not an image at all', 'corrupt or unsupported'),
        (bytes(1000), 'corrupt or unsupported'),
        (jpeg[:len(jpeg) // 2], 'truncated JPEG'),
        (jpeg[:200], 'truncated JPEG'),
        (jpeg[:2] + b'\xff\xd9', 'corrupt or unsupported'),
        (bytes(scrambled), 'corrupt or unsupported|truncated JPEG'),
        (b'\x89PNG\r\n\x1a\n' + bytes(30), 'corrupt or unsupported|no pixels'),
    ]


@pytest.mark.parametrize(('data', 'match'), _corrupt_cases())
def test_corrupt_data(data: bytes, match: str) -> None:
    with pytest.raises(EncodingError, match=match):
        decode_compressed(CompressedImage(format='jpeg', data=data))


def _png_header(width: int, height: int) -> bytes:
    ihdr = struct.pack('>IIBBBBB', width, height, 8, 2, 0, 0, 0)
    chunk = b'IHDR' + ihdr
    return (b'\x89PNG\r\n\x1a\n' + struct.pack('>I', len(ihdr)) + chunk +
            struct.pack('>I', zlib.crc32(chunk)))


def test_absurd_sizes_are_rejected_before_decoding() -> None:
    with pytest.raises(EncodingError, match='exceeds the limit of 16384 pixels'):
        decode_compressed(CompressedImage(format='png', data=_png_header(100000, 10)))
    with pytest.raises(EncodingError, match='exceeds the limit of 268435456 bytes'):
        decode_compressed(CompressedImage(format='png', data=_png_header(16000, 16000)))
    with pytest.raises(EncodingError, match='no pixels'):
        decode_compressed(CompressedImage(format='png', data=_png_header(0, 10)))
    with pytest.raises(EncodingError, match='limit of 32 pixels'):
        decode_compressed(CompressedImage(format='jpeg', data=_jpeg()), max_side=32)


def test_compressed_depth_is_refused() -> None:
    with pytest.raises(EncodingError, match='compressedDepth'):
        decode_compressed(CompressedImage(format='16UC1; compressedDepth png', data=_jpeg()))


@pytest.mark.parametrize(('kwargs', 'match'), [
    ({'fmt': 'webp'}, "unsupported compressed format 'webp'"),
    ({'quality': 0}, 'quality must be 1..100, not 0'),
    ({'quality': 101}, 'quality must be 1..100'),
    ({'encoding': 'yuv422'}, "not 'yuv422'"),
])
def test_encode_rejects_bad_arguments(kwargs: dict, match: str) -> None:
    with pytest.raises(EncodingError, match=match):
        encode_compressed(_rgb(), **kwargs)


@pytest.mark.parametrize(('array', 'match'), [
    (np.zeros((4, 6, 3), np.float32), 'got float32'),
    (np.zeros((4, 6, 4), np.uint8), r'got uint8 \(4, 6, 4\)'),
    (np.zeros((0, 6, 3), np.uint8), 'non-empty'),
    (np.zeros(6, np.uint8), r'\(6,\)'),
])
def test_encode_rejects_bad_arrays(array: np.ndarray, match: str) -> None:
    with pytest.raises(EncodingError, match=match):
        encode_compressed(array)


def test_decoder_matches_opencv() -> None:
    data = _jpeg(80)
    ref = cv2.cvtColor(cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR),
                       cv2.COLOR_BGR2RGB)
    assert (decode_compressed(CompressedImage(format='jpeg', data=memoryview(data))) == ref).all()
