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
        (b'not an image at all', 'neither JPEG nor PNG'),
        (bytes(1000), 'neither JPEG nor PNG'),
        (jpeg[:len(jpeg) // 2], 'truncated (or corrupt )?JPEG'),
        (jpeg[:200], 'truncated (or corrupt )?JPEG'),
        (jpeg[:-2], 'truncated JPEG: no end-of-image marker'),
        (jpeg[:2] + b'\xff\xd9', 'no frame header followed by a scan'),
        (bytes(scrambled), 'corrupt|truncated|exceeds|no pixels'),
        (b'\x89PNG\r\n\x1a\n' + bytes(30), 'corrupt PNG .*no IHDR header'),
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


def _segments(jpeg: bytes) -> list[tuple[int, int]]:
    """(offset, marker) of each marker segment before the first scan."""
    out, pos = [], 2
    while jpeg[pos + 1] != 0xDA:
        out.append((pos, jpeg[pos + 1]))
        pos += 2 + struct.unpack_from('>H', jpeg, pos + 2)[0]
    return out


@pytest.fixture
def no_decoding(monkeypatch: pytest.MonkeyPatch) -> None:
    """Fail if OpenCV is asked to decode: the check must happen on the header alone."""
    import vbp_ros.encodings.compressed as compressed
    monkeypatch.setattr(compressed.cv2, 'imdecode',
                        lambda *a: pytest.fail('decoded before the size was checked'))


def test_stray_bytes_do_not_hide_a_jpeg_size(no_decoding: None) -> None:
    # libjpeg skips stray bytes between segments and would allocate what the frame header
    # says; the header reader must skip them too instead of giving up.
    jpeg = bytearray(_jpeg())
    sof = next(pos for pos, marker in _segments(bytes(jpeg)) if 0xC0 <= marker <= 0xC2)
    struct.pack_into('>HH', jpeg, sof + 5, 12000, 12000)
    evil = bytes(jpeg[:sof]) + b'\x00\x00' + bytes(jpeg[sof:])
    assert peek_size(evil) == (12000, 12000)
    with pytest.raises(EncodingError, match='exceeds the limit of 268435456 bytes'):
        decode_compressed(CompressedImage(format='jpeg', data=evil))


@pytest.mark.parametrize('ext', ['.bmp', '.tiff', '.webp', '.pgm'])
def test_other_formats_are_refused_without_decoding(ext: str, no_decoding: None) -> None:
    ok, buf = cv2.imencode(ext, _rgb()[..., :1] if ext == '.pgm' else _rgb())
    assert ok
    with pytest.raises(EncodingError, match='neither JPEG nor PNG'):
        decode_compressed(CompressedImage(format='jpeg', data=buf.tobytes()))


def test_padding_after_the_jpeg_end_is_fine() -> None:
    # Some MJPEG cameras pad their frames; the end marker is then far from the end.
    want = decode_compressed(CompressedImage(format='jpeg', data=_jpeg()))
    for pad in (b'\x00' * 1000, b'\xff' * 63):
        got = decode_compressed(CompressedImage(format='jpeg', data=_jpeg() + pad))
        assert (got == want).all()


def test_exif_orientation_is_ignored_as_by_image_transport() -> None:
    # APP1 Exif with Orientation = 6 (rotate 90 degrees): the pixels stay as stored.
    ifd = struct.pack('<HHHIHHI', 1, 0x0112, 3, 1, 6, 0, 0)
    tiff = b'II*\x00' + struct.pack('<I', 8) + ifd
    app1 = b'\xff\xe1' + struct.pack('>H', 2 + 6 + len(tiff)) + b'Exif\x00\x00' + tiff
    jpeg = _jpeg()
    rotated = jpeg[:2] + app1 + jpeg[2:]
    assert cv2.imdecode(np.frombuffer(rotated, np.uint8), cv2.IMREAD_COLOR).shape == (64, 48, 3)
    out = decode_compressed(CompressedImage(format='jpeg', data=rotated))
    assert out.shape == (48, 64, 3)
    assert (out == decode_compressed(CompressedImage(format='jpeg', data=jpeg))).all()


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


def test_stuffed_zero_bytes_between_segments_are_skipped_as_libjpeg_does(no_decoding: None
                                                                        ) -> None:
    # FF 00 outside a scan is discarded by libjpeg; read as a segment length it would let a
    # crafted APP15 payload show a small fake frame header while the real one is huge.
    jpeg = bytearray(_jpeg())
    sof = next(pos for pos, marker in _segments(bytes(jpeg)) if 0xC0 <= marker <= 0xC2)
    struct.pack_into('>HH', jpeg, sof + 5, 12000, 12000)
    fake = b'\xff\xc0\x00\x11\x08\x00\x08\x00\x08\x03' + bytes(9)  # an 8x8 frame header
    app15 = b'\xff\xef' + struct.pack('>H', 2 + len(fake)) + fake
    evil = bytes(jpeg[:sof]) + b'\xff\x00' + app15 + bytes(jpeg[sof:])
    assert peek_size(evil) == (12000, 12000)
    with pytest.raises(EncodingError, match='exceeds the limit'):
        decode_compressed(CompressedImage(format='jpeg', data=evil))


def test_a_stuffed_zero_after_soi_still_decodes() -> None:
    jpeg = _jpeg()
    padded = jpeg[:2] + b'\xff\x00' + jpeg[2:]
    assert peek_size(padded) == (64, 48)
    assert decode_compressed(CompressedImage(format='jpeg', data=padded)).shape == (48, 64, 3)


def test_a_jpeg_too_short_for_its_size_is_refused(no_decoding: None) -> None:
    # A few hundred bytes claiming 9400x9400: libjpeg would return a grey 265 MB frame.
    jpeg = bytearray(_jpeg())
    sof = next(pos for pos, marker in _segments(bytes(jpeg)) if 0xC0 <= marker <= 0xC2)
    struct.pack_into('>HH', jpeg, sof + 5, 9400, 9400)
    with pytest.raises(EncodingError, match='cannot hold a 9400x9400 image'):
        decode_compressed(CompressedImage(format='jpeg', data=bytes(jpeg)))


@pytest.mark.parametrize('params', [[], [cv2.IMWRITE_JPEG_PROGRESSIVE, 1],
                                    [cv2.IMWRITE_JPEG_OPTIMIZE, 1, cv2.IMWRITE_JPEG_QUALITY, 1]])
def test_the_smallest_real_jpegs_pass_the_length_check(params: list) -> None:
    black = np.zeros((3000, 4000, 3), np.uint8)   # flat: the fewest bytes per block
    ok, buf = cv2.imencode('.jpg', black, params)
    assert decode_compressed(CompressedImage(format='jpeg', data=buf.tobytes())).shape == \
        (3000, 4000, 3)


def test_compressed_rgb_format_keeps_its_channel_order() -> None:
    # A publisher that compressed RGB pixels as they were says so in the format string.
    rgb = _rgb()
    ok, buf = cv2.imencode('.png', rgb)  # R, G, B stored where OpenCV expects B, G, R
    out = decode_compressed(CompressedImage(format='rgb8; png compressed rgb8',
                                            data=buf.tobytes()))
    np.testing.assert_array_equal(out, rgb)
    out = decode_compressed(CompressedImage(format='rgb8; png compressed bgr8',
                                            data=buf.tobytes()))
    np.testing.assert_array_equal(out, rgb[..., ::-1])


def _png() -> bytes:
    return bytes(encode_compressed(_rgb(), fmt='png', encoding='rgb8').data)


def test_a_png_chunk_longer_than_the_data_is_refused_unread(no_decoding: None) -> None:
    # OpenCV allocates a chunk's declared length before reading it: an 86-byte PNG declaring
    # a 4 GB IDAT took 4 GB of memory to be found corrupt.
    png = bytearray(_png())
    idat = png.find(b'IDAT') - 4
    for length in (0xFFFFFFFF, 0x7FFFFFFF, len(png)):
        png[idat:idat + 4] = struct.pack('>I', length)
        with pytest.raises(EncodingError, match='chunk runs past the end'):
            decode_compressed(CompressedImage(format='png', data=bytes(png)))
    with pytest.raises(EncodingError, match='no IEND chunk'):  # cut before its end
        decode_compressed(CompressedImage(format='png', data=_png()[:-12]))


def test_a_png_with_bytes_after_its_end_still_decodes() -> None:
    out = decode_compressed(CompressedImage(format='png', data=_png() + b'trailing'))
    assert (out == _rgb()).all()


def test_arithmetic_coded_jpeg_is_refused_undecoded(no_decoding: None) -> None:
    # It escaped the "too few bytes for the declared size" check: 104 bytes declaring
    # 9000x9000 decoded (as grey) into 243 MB.
    jpeg = bytearray(_jpeg())
    sof = next(pos for pos, marker in _segments(bytes(jpeg)) if marker == 0xC0)
    for marker in (0xC9, 0xCA):
        jpeg[sof + 1] = marker
        with pytest.raises(EncodingError, match='arithmetic-coded JPEG'):
            decode_compressed(CompressedImage(format='jpeg', data=bytes(jpeg)))


def test_a_jpeg_of_too_many_scans_is_refused_undecoded(no_decoding: None) -> None:
    # Each scan may revisit the whole image: 1000 scans of 56 bytes took 15 s at 4096x4096.
    scan = b'\xff\xda\x00\x08\x01\x01\x00\x00\x3f\x00'
    data = _jpeg()[:-2] + scan * 64 + b'\xff\xd9'
    with pytest.raises(EncodingError, match='more than 64 scans'):
        decode_compressed(CompressedImage(format='jpeg', data=data))


def test_progressive_jpegs_decode_and_count_their_coefficients() -> None:
    ok, buf = cv2.imencode('.jpg', _rgb()[..., ::-1], [cv2.IMWRITE_JPEG_PROGRESSIVE, 1])
    assert ok
    progressive = CompressedImage(format='jpeg', data=buf.tobytes())
    assert np.abs(decode_compressed(progressive).astype(int) - _rgb()).max() < 40
    # libjpeg keeps 2 bytes per coefficient until the last scan: 64x48x3 of them here, on top
    # of the 64x48x3 RGB bytes that a baseline JPEG of that size needs.
    budget = 48 * 64 * 3 * 2
    decode_compressed(CompressedImage(format='jpeg', data=_jpeg()), max_bytes=budget)
    with pytest.raises(EncodingError, match='exceeds the limit'):
        decode_compressed(progressive, max_bytes=budget)
