"""Every camera encoding the issue lists reaches the model, and the mask has the frame's size."""
from __future__ import annotations

import time

import numpy as np
import pytest

from vbp_ros.encodings.table import ENCODINGS
from vbp_ros.msgs import Header, Image, serialize, Time
from vbp_ros.node.listener import OutputListener

H, W = 48, 64
BYTES_PER_PIXEL = {name: enc.bytes_per_pixel for name, enc in ENCODINGS.items()}
NAMES = ['rgb8', 'bgr8', 'mono8', 'rgba8', 'bgra8', 'yuv422', 'uyvy', 'yuv422_yuy2', 'yuyv',
         'bayer_rggb8', 'bayer_bggr8', 'bayer_gbrg8', 'bayer_grbg8', 'mono16', '8UC3']


def frame(encoding: str, sec: int, pad: int = 8) -> Image:
    """A noise frame in ``encoding`` with ``pad`` bytes of row padding."""
    bpp = BYTES_PER_PIXEL.get(encoding, 3)
    step = W * bpp + pad
    data = np.random.default_rng(sec).integers(0, 256, H * step, np.uint8)
    return Image(header=Header(stamp=Time(sec=sec, nanosec=0), frame_id='cam'), height=H,
                 width=W, encoding=encoding, is_bigendian=0, step=step, data=data.tobytes())


def test_all_listed_encodings(make_node, peer) -> None:
    node = make_node(mask_mode='always')
    listener = OutputListener(peer, kinds=('mask',), reliability='best_effort')
    assert listener.wait_matched()
    for k, name in enumerate(NAMES):
        assert node.process(serialize(frame(name, k + 1))) is True, name
    deadline = time.monotonic() + 10
    while listener.counts['mask'] < len(NAMES) and time.monotonic() < deadline:
        time.sleep(0.02)
    masks = listener.snapshot('mask')
    assert [m.msg.header.stamp.sec for m in masks] == list(range(1, len(NAMES) + 1))
    assert {(m.msg.height, m.msg.width, m.msg.encoding) for m in masks} == {(H, W, 'mono8')}
    assert node.stats.snapshot()['malformed'] == 0


@pytest.mark.parametrize('encoding', ['yuv422', 'yuyv'])
def test_odd_width_yuv_is_malformed_not_fatal(make_node, encoding: str) -> None:
    node = make_node()
    bad = Image(header=Header(), height=4, width=5, encoding=encoding, is_bigendian=0, step=10,
                data=bytes(40))
    assert node.process(serialize(bad)) is False
    assert node.process(serialize(frame('rgb8', 1))) is True
    assert node.stats.snapshot()['malformed'] == 1


def test_tiny_and_huge_but_valid_frames(make_node) -> None:
    node = make_node()
    for h, w in ((1, 1), (2, 3), (2000, 3)):
        img = Image(header=Header(), height=h, width=w, encoding='rgb8', is_bigendian=0,
                    step=3 * w, data=bytes(3 * w * h))
        node.process(serialize(img))          # processed or counted as malformed, never raised
    counts = node.stats.snapshot()
    assert counts['processed'] + counts['malformed'] == 3 and counts['errors'] == 0
