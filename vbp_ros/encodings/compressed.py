"""sensor_msgs/CompressedImage <-> numpy (JPEG and PNG, through OpenCV)."""
from __future__ import annotations

import struct
from dataclasses import dataclass

import cv2
import numpy as np

from vbp_ros.encodings.errors import EncodingError
from vbp_ros.encodings.limits import check_size, MAX_BYTES, MAX_SIDE
from vbp_ros.msgs.types import CompressedImage, Header

_PNG_MAGIC = b'\x89PNG\r\n\x1a\n'
# JPEG start-of-frame markers (they carry the image size): C0-CF except DHT, JPG and DAC.
_JPEG_SOF = frozenset(range(0xC0, 0xD0)) - {0xC4, 0xC8, 0xCC}
_JPEG_NO_LENGTH = frozenset([0x01, 0xD8, *range(0xD0, 0xD8)])
# Progressive frames: libjpeg keeps every DCT coefficient (2 bytes each) until the last scan.
_JPEG_PROGRESSIVE = frozenset([0xC2, 0xC6, 0xCA, 0xCE])
#: Most scans accepted in one JPEG (baseline: 1, libjpeg's progressive default: 10). Each
#: scan can revisit the whole image, so a small file of many scans costs seconds of CPU.
MAX_JPEG_SCANS = 64
_FORMATS = {'jpeg': '.jpg', 'jpg': '.jpg', 'png': '.png'}


@dataclass(frozen=True)
class _JpegLayout:
    width: int
    height: int
    scan: int            # offset of the first start-of-scan marker
    huffman: bool        # False: arithmetic coding (SOF9-SOF15)
    progressive: bool
    components: int


def _jpeg_layout(data: bytes) -> _JpegLayout | None:
    """Size and coding of a JPEG from its frame header, or None.

    Walks the marker segments the way libjpeg does, including its skipping of stray bytes
    between segments, so the size read here is the size the decoder will allocate.
    """
    size = None
    pos = 2
    while pos + 4 <= len(data):
        if data[pos] != 0xFF:                    # stray byte: libjpeg skips to the next 0xFF
            pos += 1
            continue
        marker = data[pos + 1]
        if marker == 0xFF:                       # fill byte
            pos += 1
            continue
        if marker == 0x00:                       # FF 00 outside a scan: libjpeg discards it
            pos += 2
            continue
        if marker in _JPEG_NO_LENGTH:
            pos += 2
            continue
        if marker in _JPEG_SOF:
            if size is not None or pos + 9 > len(data):
                return None                      # a second frame header, or a cut one
            height, width = struct.unpack_from('>HH', data, pos + 5)
            size = (width, height)
            frame = (marker < 0xC9, marker in _JPEG_PROGRESSIVE, data[pos + 9])
        elif marker == 0xDA:                     # start of scan: the entropy-coded data follows
            return None if size is None else _JpegLayout(*size, pos, *frame)
        pos += 2 + struct.unpack_from('>H', data, pos + 2)[0]
    return None


def peek_size(data: bytes) -> tuple[int, int] | None:
    """Read (width, height) from a PNG or JPEG header without decoding it.

    Args:
        data: The compressed image.

    Returns:
        ``(width, height)``, or None if the data is not a PNG, or a JPEG whose frame header
        comes before its first scan.
    """
    if data.startswith(_PNG_MAGIC) and len(data) >= 24 and data[12:16] == b'IHDR':
        width, height = struct.unpack_from('>II', data, 16)
        return width, height
    if data.startswith(b'\xff\xd8'):
        layout = _jpeg_layout(data)
        return None if layout is None else (layout.width, layout.height)
    return None


def _png_chunks_end(data: bytes) -> bool:
    """Whether a PNG's chunks, walked from the signature, each fit in the data and reach an
    IEND chunk. OpenCV's reader sizes its buffer from a chunk's declared length before reading
    it: an 86-byte file declaring a 4 GB chunk made it allocate 4 GB."""
    pos = len(_PNG_MAGIC)
    while pos + 12 <= len(data):
        length = struct.unpack_from('>I', data, pos)[0]
        if length > len(data) - pos - 12:        # also catches PNG's limit of 2^31 - 1
            return False
        if data[pos + 4:pos + 8] == b'IEND':
            return True
        pos += 12 + length
    return False


def decode_compressed(msg: CompressedImage, *, max_side: int = MAX_SIDE,
                      max_bytes: int = MAX_BYTES) -> np.ndarray:
    """Decode a CompressedImage (JPEG or PNG, the formats of image_transport) to RGB.

    The data's own header decides how it is decoded; of the format string (``'jpeg'``,
    ``'png'``, ``'rgb8; jpeg compressed bgr8'``, ...) only unsupported variants and a
    ``compressed rgb8`` part (channels stored in RGB order, which image_transport's decoder
    leaves unswapped too) count. The
    image size is read from the header and checked before anything is decoded; data whose
    header cannot be read, or in another format OpenCV could decode, is refused, so a small
    message can never make the decoder allocate a large image. EXIF orientation is ignored,
    as by image_transport's decoder. Like that decoder, it accepts JPEG data that libjpeg can
    resynchronise past (it warns "Corrupt JPEG data" on stderr and fills what it lost);
    a JPEG too short for its declared size is refused.

    Args:
        msg: The CompressedImage message.
        max_side: Largest accepted width or height.
        max_bytes: Largest accepted decoded size (width x height x 3).

    Returns:
        Array of shape (height, width, 3), uint8, RGB.

    Raises:
        EncodingError: Empty, corrupt or truncated data, another format than JPEG or PNG,
            ``compressedDepth`` images, or a size beyond the limits.
    """
    return _decode(msg, max_side, max_bytes, keep_bgr=False)[0]


def decode_compressed_native(msg: CompressedImage, *, max_side: int = MAX_SIDE,
                             max_bytes: int = MAX_BYTES) -> tuple[np.ndarray, bool]:
    """:func:`decode_compressed`, except that the decoder's BGR output stays BGR (no
    whole-frame conversion). Returns (pixels, True if they are BGR)."""
    return _decode(msg, max_side, max_bytes, keep_bgr=True)


def _decode(msg: CompressedImage, max_side: int, max_bytes: int, keep_bgr: bool
            ) -> tuple[np.ndarray, bool]:
    fmt = str(msg.format)
    if 'compresseddepth' in fmt.lower().replace(' ', ''):
        msg_ = f'compressedDepth images are not supported (format {fmt!r})'
        raise EncodingError(msg_)
    data = bytes(msg.data) if not isinstance(msg.data, bytes) else msg.data
    if not data:
        msg_ = f'compressed image (format {fmt!r}) has no data'
        raise EncodingError(msg_)
    layout = None
    if data.startswith(b'\xff\xd8'):
        layout = _jpeg_layout(data)
        if layout is None:
            msg_ = (f'truncated or corrupt JPEG (format {fmt!r}, {len(data)} bytes): no frame '
                    'header followed by a scan')
            raise EncodingError(msg_)
        width, height = layout.width, layout.height
        if not layout.huffman:  # image_transport writes Huffman-coded JPEGs only
            msg_ = f'arithmetic-coded JPEG (format {fmt!r}) is not supported'
            raise EncodingError(msg_)
    elif data.startswith(_PNG_MAGIC):
        size = peek_size(data)
        if size is None:
            msg_ = f'corrupt PNG (format {fmt!r}): no IHDR header'
            raise EncodingError(msg_)
        width, height = size
    else:
        msg_ = (f'compressed image (format {fmt!r}, {len(data)} bytes) is neither JPEG nor '
                'PNG')
        raise EncodingError(msg_)
    # What decoding takes: the RGB image, plus a progressive JPEG's coefficients.
    coefficients = 0 if layout is None or not layout.progressive else (
        width * height * layout.components * 2)
    check_size(width, height, width * height * 3 + coefficients, max_side=max_side,
               max_bytes=max_bytes)
    if layout is None:
        if not _png_chunks_end(data):
            msg_ = (f'truncated or corrupt PNG (format {fmt!r}, {len(data)} bytes): a chunk '
                    'runs past the end, or there is no IEND chunk')
            raise EncodingError(msg_)
    else:
        scan = layout.scan
        # Huffman coding spends at least one bit on every 8x8 block; far fewer bytes than
        # that is a cut or crafted stream that libjpeg would fill with grey at full size.
        blocks = -(-width // 8) * -(-height // 8)
        if (len(data) - scan) * 16 < blocks:
            msg_ = (f'truncated or crafted JPEG: {len(data)} bytes cannot hold a {width}x{height} '
                    'image')
            raise EncodingError(msg_)
        # Entropy-coded data cannot contain FF D9, so its absence after the scan means the
        # end is missing (OpenCV would return the cut image with a grey bottom).
        if data.find(b'\xff\xd9', scan) < 0:
            msg_ = f'truncated JPEG: no end-of-image marker in {len(data)} bytes'
            raise EncodingError(msg_)
        # FF DA cannot occur inside entropy-coded data, so this counts the scans (at most).
        if data.count(b'\xff\xda', scan) > MAX_JPEG_SCANS:
            msg_ = f'JPEG with more than {MAX_JPEG_SCANS} scans is not accepted'
            raise EncodingError(msg_)
    try:
        bgr = cv2.imdecode(np.frombuffer(data, np.uint8),
                           cv2.IMREAD_COLOR | cv2.IMREAD_IGNORE_ORIENTATION)
    except cv2.error as exc:
        bgr = None
        reason = f': {exc}'
    else:
        reason = ''
    if bgr is None:
        msg_ = (f'corrupt or unsupported compressed image (format {fmt!r}, '
                f'{len(data)} bytes){reason}')
        raise EncodingError(msg_)
    check_size(bgr.shape[1], bgr.shape[0], bgr.nbytes, max_side=max_side, max_bytes=max_bytes)
    if 'compressed rgb' in fmt.partition(';')[2]:
        return bgr, False  # its pixels were stored R, G, B: OpenCV's "BGR" output is RGB here
    return (bgr, True) if keep_bgr else (cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB), False)


def encode_compressed(array: np.ndarray, header: Header | None = None, fmt: str = 'jpeg',
                      quality: int = 90, encoding: str | None = None) -> CompressedImage:
    """Compress an image into a CompressedImage message (as image_transport's plugin does).

    Args:
        array: uint8 image, (H, W) or (H, W, 1) grey or (H, W, 3) colour.
        header: Header to use; a default (zero) one if None.
        fmt: ``'jpeg'`` (or ``'jpg'``) or ``'png'``.
        quality: JPEG quality 1..100 (ignored for PNG).
        encoding: Channel order of ``array``: ``'bgr8'`` (default for colour), ``'rgb8'`` or
            ``'mono8'`` (default for grey).

    Returns:
        The message; its format reads e.g. ``'bgr8; jpeg compressed bgr8'``.

    Raises:
        EncodingError: Bad format, quality, encoding, dtype or shape, or OpenCV cannot encode.
    """
    ext = _FORMATS.get(str(fmt).lower())
    if ext is None:
        msg = f'unsupported compressed format {fmt!r} (use jpeg or png)'
        raise EncodingError(msg)
    if not 1 <= int(quality) <= 100:
        msg = f'JPEG quality must be 1..100, not {quality}'
        raise EncodingError(msg)
    arr = np.asarray(array)
    if arr.ndim == 3 and arr.shape[2] == 1:
        arr = arr[:, :, 0]
    grey = arr.ndim == 2
    encoding = encoding or ('mono8' if grey else 'bgr8')
    want = {'mono8': 2, 'bgr8': 3, 'rgb8': 3}.get(encoding)
    if want is None:
        msg = f'encode_compressed takes mono8, bgr8 or rgb8 arrays, not {encoding!r}'
        raise EncodingError(msg)
    if arr.dtype != np.uint8 or arr.ndim != want or (want == 3 and arr.shape[2] != 3) or \
            0 in arr.shape:
        msg = f'{encoding} needs a non-empty uint8 array of shape ' \
              f'{"(H, W)" if want == 2 else "(H, W, 3)"}, got {arr.dtype} {np.shape(array)}'
        raise EncodingError(msg)
    if encoding == 'rgb8':
        arr = cv2.cvtColor(arr, cv2.COLOR_RGB2BGR)
    params = [cv2.IMWRITE_JPEG_QUALITY, int(quality)] if ext == '.jpg' else []
    ok, buf = cv2.imencode(ext, arr, params)
    if not ok:
        msg = f'OpenCV could not encode a {arr.shape} image as {fmt}'
        raise EncodingError(msg)
    name = 'jpeg' if ext == '.jpg' else 'png'
    target = 'mono8' if grey else 'bgr8'
    return CompressedImage(header if header is not None else Header(),
                           f'{encoding}; {name} compressed {target}', buf.tobytes())
