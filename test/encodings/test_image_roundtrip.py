"""Image encodings: every table entry round-trips, with padded rows and both byte orders."""
from __future__ import annotations

import numpy as np
import pytest

from vbp_ros.encodings import decode_image, encode_image, ENCODINGS, lookup, pixels
from vbp_ros.msgs import deserialize, Header, Image, serialize, Time

H, W = 12, 16
GENERIC = ['8UC1', '8UC3', '8UC4', '16UC1', '16UC3', '16UC4']
ALL = sorted(ENCODINGS) + GENERIC


def _rgb() -> np.ndarray:
    """A smooth RGB test image."""
    yy, xx = np.mgrid[0:H, 0:W]
    return np.stack([40 + 10 * xx, 30 + 12 * yy, 200 - 5 * xx - 4 * yy], -1).astype(np.uint8)


def _yuv(rgb: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """BT.601 limited-range Y and pairwise-averaged U, V (reference, not OpenCV)."""
    r, g, b = (rgb[..., i].astype(np.float64) for i in range(3))
    y = 16 + (65.481 * r + 128.553 * g + 24.966 * b) / 255
    u = 128 + (-37.797 * r - 74.203 * g + 112.0 * b) / 255
    v = 128 + (112.0 * r - 93.786 * g - 18.214 * b) / 255
    u = (u[:, 0::2] + u[:, 1::2]) / 2
    v = (v[:, 0::2] + v[:, 1::2]) / 2
    return (np.round(c).clip(0, 255).astype(np.uint8) for c in (y, u, v))  # type: ignore


def _mosaic(rgb: np.ndarray, pattern: str) -> np.ndarray:
    """Sample an RGB image through a 2x2 Bayer pattern like 'rggb'."""
    out = np.empty(rgb.shape[:2], rgb.dtype)
    for i, colour in enumerate(pattern):
        dy, dx = divmod(i, 2)
        out[dy::2, dx::2] = rgb[dy::2, dx::2, 'rgb'.index(colour)]
    return out


def layout(rgb: np.ndarray, name: str) -> tuple[np.ndarray, np.ndarray, int]:
    """Return (stored pixels, expected RGB decode, tolerance) for an encoding."""
    enc = lookup(name)
    grey = rgb.mean(-1).astype(np.uint8)
    alpha = np.full(rgb.shape[:2] + (1,), 77, np.uint8)
    bgr = rgb[..., ::-1]
    if name.startswith('bayer'):
        raw, expect, tol = _mosaic(rgb, name[6:10]), rgb, 1   # bilinear: exact on a ramp
    elif enc.pixel_pairs:
        y, u, v = _yuv(rgb)
        chroma = np.stack([u, v], -1).reshape(H, W)     # U0 V0 U1 V1 ... per pixel pair
        first, second = (chroma, y) if name in ('yuv422', 'uyvy') else (y, chroma)
        raw, expect, tol = np.stack([first, second], -1), rgb, 6   # shared chroma
    else:
        order = {'rgb': rgb, 'bgr': bgr, 'rgba': np.concatenate([rgb, alpha], -1),
                 'bgra': np.concatenate([bgr, alpha], -1), 'mono': grey}
        stem = name.rstrip('0123456789')
        if name in GENERIC:
            stem = {1: 'mono', 3: 'bgr', 4: 'bgra'}[enc.channels]
        raw, tol = order[stem], 0
        expect = np.repeat(grey[..., None], 3, -1) if stem == 'mono' else rgb
    if enc.depth == 2:
        raw = raw.astype(np.uint16) * 257 + 3   # the high byte is the 8-bit value
    return raw, expect, tol


def make_msg(raw: np.ndarray, encoding: str, pad: int = 0, big: bool = False) -> Image:
    """Build an Image by hand: rows of ``pad`` extra junk bytes, chosen byte order."""
    if raw.dtype == np.uint16:
        raw = raw.astype('>u2' if big else '<u2')
    rows = np.ascontiguousarray(raw).reshape(raw.shape[0], -1).view(np.uint8)
    padded = np.full((rows.shape[0], rows.shape[1] + pad), 0xAB, np.uint8)
    padded[:, :rows.shape[1]] = rows
    return Image(Header(Time(1, 2), 'cam'), raw.shape[0], raw.shape[1], encoding, int(big),
                 padded.shape[1], padded.tobytes())


# byte order only matters for 16-bit encodings
CASES = [(name, big) for name in ALL for big in ((False, True) if lookup(name).depth == 2
                                                 else (False,))]


@pytest.mark.parametrize('pad', [0, 5])
@pytest.mark.parametrize(('name', 'big'), CASES)
def test_decode_every_encoding(name: str, big: bool, pad: int) -> None:
    raw, expect, tol = layout(_rgb(), name)
    out = decode_image(make_msg(raw, name, pad, big))
    assert out.shape == (H, W, 3)
    assert out.dtype == np.uint8
    if name.startswith('bayer'):      # demosaicing is exact only away from the border
        out, expect = out[2:-2, 2:-2], expect[2:-2, 2:-2]
    diff = np.abs(out.astype(int) - expect.astype(int)).max()
    assert diff <= tol, f'{name}: max error {diff}'


@pytest.mark.parametrize('pattern', ['rggb', 'bggr', 'gbrg', 'grbg'])
def test_bayer_pattern_is_exact_on_flat_colour(pattern: str) -> None:
    flat = np.empty((H, W, 3), np.uint8)
    flat[:] = (200, 90, 20)
    out = decode_image(make_msg(_mosaic(flat, pattern), f'bayer_{pattern}8'))
    assert (out[2:-2, 2:-2] == (200, 90, 20)).all()


@pytest.mark.parametrize('name', [n for n in ALL if not n.startswith('bayer')
                                  and not lookup(n).pixel_pairs])
def test_pixels_view_is_raw_and_zero_copy(name: str) -> None:
    raw, _, _ = layout(_rgb(), name)
    for big in (False, True):
        msg = make_msg(raw, name, pad=3, big=big)
        view = pixels(msg)
        assert np.shares_memory(view, np.frombuffer(msg.data, np.uint8))
        assert (view.reshape(raw.shape) == raw).all()


def test_rgb8_decode_is_a_view_unless_copied() -> None:
    msg = make_msg(_rgb(), 'rgb8', pad=4)
    out = decode_image(msg)
    assert np.shares_memory(out, np.frombuffer(msg.data, np.uint8))
    fresh = decode_image(msg, copy=True)
    assert fresh.flags.c_contiguous and fresh.flags.writeable
    assert not np.shares_memory(fresh, np.frombuffer(msg.data, np.uint8))
    assert (fresh == _rgb()).all()


@pytest.mark.parametrize('name', ['mono8', 'rgb8', 'bgr8', 'rgba8', 'bgra8', 'mono16', '8UC3',
                                  '16UC1', 'yuv422', 'yuyv', 'bayer_rggb8'])
def test_encode_decode_round_trip(name: str) -> None:
    raw, expect, tol = layout(_rgb(), name)
    msg = encode_image(raw, name, Header(Time(3, 4), 'f'))
    assert (msg.height, msg.width, msg.encoding) == (H, W, name)
    assert msg.step == W * lookup(name).bytes_per_pixel
    assert (pixels(msg).reshape(raw.shape) == raw).all()
    back = deserialize(serialize(msg), Image)      # through the wire, zero-copy
    out = decode_image(back)
    if name.startswith('bayer'):
        out, expect = out[2:-2, 2:-2], expect[2:-2, 2:-2]
    assert np.abs(out.astype(int) - expect.astype(int)).max() <= tol


def test_encode_16_bit_byte_orders() -> None:
    grey = (np.arange(H * W, dtype=np.uint16) * 300).reshape(H, W)
    for dtype, big in (('<u2', 0), ('>u2', 1)):
        msg = encode_image(grey.astype(dtype), 'mono16')
        assert msg.is_bigendian == big
        assert (pixels(msg)[..., 0] == grey).all()
        assert (decode_image(msg)[..., 0] == grey >> 8).all()


def test_encode_shares_contiguous_arrays() -> None:
    rgb = _rgb()
    msg = encode_image(rgb, 'rgb8')
    assert np.shares_memory(np.frombuffer(msg.data, np.uint8), rgb)
    strided = encode_image(rgb[:, ::2], 'rgb8')
    assert strided.width == W // 2
    assert (decode_image(strided) == rgb[:, ::2]).all()


def test_native_decoding_keeps_bgr_and_says_so() -> None:
    import cv2
    from vbp_ros.encodings import decode_compressed_native, decode_image_native, \
        encode_compressed
    rgb = np.random.default_rng(1).integers(0, 256, (6, 8, 3), np.uint8)
    bgr = np.ascontiguousarray(rgb[..., ::-1])
    pixels, is_bgr = decode_image_native(encode_image(bgr, 'bgr8'))
    assert is_bgr and np.array_equal(pixels, bgr)
    pixels, is_bgr = decode_image_native(encode_image(rgb, 'rgb8'))
    assert not is_bgr and np.array_equal(pixels, rgb)
    pixels, is_bgr = decode_image_native(encode_image(cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY),
                                                      'mono8'))
    assert not is_bgr and pixels.shape == (6, 8, 3)
    png = encode_compressed(bgr, fmt='png')
    pixels, is_bgr = decode_compressed_native(png)
    assert is_bgr and np.array_equal(pixels, bgr)
