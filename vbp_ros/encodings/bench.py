"""Timings of the image wire path: serialize, deserialize and decode Image messages.

Reports measured numbers only (no pass/fail); ``python -m vbp_ros.encodings.bench`` prints
a table, and :func:`bench_images` returns the rows for other front ends.
"""
from __future__ import annotations

import logging
import timeit
from typing import Any, Callable

import numpy as np

from vbp_ros.encodings.image import decode_image, encode_image
from vbp_ros.msgs.cdr import deserialize, serialize
from vbp_ros.msgs.types import Header, Image, Time

logger = logging.getLogger(__name__)

#: (height, width) pairs measured by default.
SIZES = ((480, 640), (720, 1280), (1080, 1920))


def _best(func: Callable[[], Any], budget: float) -> float:
    """Return the best per-call time in seconds of ``func`` over five batches."""
    start = timeit.default_timer()
    func()
    once = max(timeit.default_timer() - start, 1e-7)
    number = max(1, int(budget / 5 / once))
    return min(timeit.repeat(func, repeat=5, number=number)) / number


def bench_images(sizes: tuple[tuple[int, int], ...] = SIZES, encoding: str = 'bgr8',
                 with_rosbags: bool = True, budget: float = 0.2) -> list[dict[str, Any]]:
    """Time the wire path for random images of each size.

    Args:
        sizes: (height, width) pairs.
        encoding: ``'bgr8'``, ``'rgb8'`` or ``'mono8'``.
        with_rosbags: Also time rosbags' generic ``serialize_cdr`` for comparison.
        budget: Rough seconds spent timing each operation.

    Returns:
        One dict per size with seconds per call: ``serialize``, ``deserialize``, ``decode``,
        ``memcpy`` (copying the payload once, the floor for serialize) and, if asked,
        ``rosbags_serialize``.
    """
    rng = np.random.default_rng(0)
    store = None
    if with_rosbags:
        from vbp_ros.msgs.store import typestore
        store = typestore()
    rows = []
    for height, width in sizes:
        shape = (height, width) if encoding == 'mono8' else (height, width, 3)
        pixels = rng.integers(0, 256, shape, dtype=np.uint8)
        msg = encode_image(pixels, encoding, Header(Time(1, 2), 'camera'))
        data = serialize(msg)
        received = deserialize(data, Image)
        payload = bytes(msg.data)
        row: dict[str, Any] = {
            'height': height, 'width': width, 'encoding': encoding, 'bytes': len(data),
            'serialize': _best(lambda: serialize(msg), budget),
            'deserialize': _best(lambda: deserialize(data, Image), budget),
            'decode': _best(lambda: decode_image(received), budget),
            'memcpy': _best(lambda: bytearray(payload), budget),
        }
        if store is not None:
            theirs = store.deserialize_cdr(data, 'sensor_msgs/msg/Image')
            row['rosbags_serialize'] = _best(
                lambda: store.serialize_cdr(theirs, 'sensor_msgs/msg/Image'), budget)
        rows.append(row)
        logger.debug('bench row %s', row)
    return rows


def format_rows(rows: list[dict[str, Any]]) -> str:
    """Format :func:`bench_images` rows as a text table in milliseconds."""
    keys = [k for k in ('serialize', 'memcpy', 'rosbags_serialize', 'deserialize', 'decode')
            if k in rows[0]]
    lines = ['size        ' + ''.join(f'{k:>19}' for k in keys)]
    for row in rows:
        size = f"{row['width']}x{row['height']}"
        lines.append(f'{size:<12}' + ''.join(f'{row[k] * 1e3:>16.3f} ms' for k in keys))
    return '\n'.join(lines)


if __name__ == '__main__':
    import sys
    sys.stdout.write(format_rows(bench_images()) + '\n')
