"""Training data from a rosbag2 bag: a camera topic plus a steering topic, aligned by time.

Camera: ``sensor_msgs/msg/Image`` or ``sensor_msgs/msg/CompressedImage``. Steering:
``ackermann_msgs/msg/AckermannDriveStamped`` (``drive.steering_angle`` in rad, turned into a
curvature with the bicycle model ``tan(angle) / wheelbase``) or ``std_msgs/msg/Float32`` (a
curvature in 1/m by default, or a steering angle). Each image gets the steering value linearly
interpolated at its time; images farther than ``max_gap`` from any steering sample are dropped.

Times: with ``time_source='auto'`` header stamps are used when both topics carry headers
(Image/CompressedImage and AckermannDriveStamped), otherwise the bag's receive times.
"""
from __future__ import annotations

import logging
import math
from pathlib import Path

import numpy as np

from vbp_ros.pipeline.preprocess import Preprocess
from vbp_ros.training.dataset import ArrayData
from vbp_ros.training.errors import TrainingError

LOG = logging.getLogger(__name__)
IMAGE_TYPES = ('sensor_msgs/msg/Image', 'sensor_msgs/msg/CompressedImage')
STEERING_TYPES = ('ackermann_msgs/msg/AckermannDriveStamped', 'std_msgs/msg/Float32')
FLOAT_KINDS = ('curvature', 'angle')
TIME_SOURCES = ('auto', 'header', 'log')


def _stamp_ns(header: object) -> int:
    stamp = header.stamp  # type: ignore[attr-defined]
    return int(stamp.sec) * 1_000_000_000 + int(stamp.nanosec)


def load_bag_data(path: str | Path, image_topic: str, steering_topic: str,
                  preprocess: Preprocess | None = None, *, wheelbase: float = 2.7,
                  float_kind: str = 'curvature', time_source: str = 'auto',
                  max_gap: float = 0.1, stride: int = 1) -> ArrayData:
    """Read (network-size image, curvature target) pairs from a bag.

    Args:
        path: rosbag2 folder (or a single .mcap/.db3 file).
        image_topic: camera topic.
        steering_topic: steering topic.
        preprocess: crop/resize applied to each frame (default Preprocess()).
        wheelbase: metres, for Ackermann steering angles.
        float_kind: meaning of a Float32 steering value: 'curvature' (1/m) or 'angle' (rad).
        time_source: 'auto', 'header' or 'log' (see the module docstring).
        max_gap: largest allowed distance (s) to the nearest steering sample.
        stride: keep every ``stride``-th camera frame.

    Raises:
        TrainingError: unknown topics or types, or no aligned pairs.
    """
    from vbp_ros.bag import BagError, BagReader
    from vbp_ros.encodings import decode_compressed, decode_image, EncodingError
    from vbp_ros.msgs import (AckermannDriveStamped, CompressedImage, deserialize, Float32, Image,
                              MsgError)

    if float_kind not in FLOAT_KINDS:
        raise TrainingError(f'float_kind {float_kind!r} is not one of {FLOAT_KINDS}')
    if time_source not in TIME_SOURCES:
        raise TrainingError(f'time_source {time_source!r} is not one of {TIME_SOURCES}')
    if wheelbase <= 0 or stride < 1 or max_gap <= 0:
        raise TrainingError('wheelbase and max_gap must be positive and stride >= 1')
    pre = preprocess or Preprocess()
    images: list[np.ndarray] = []
    img_t: list[int] = []
    steer_t: list[int] = []
    steer_v: list[float] = []
    try:
        with BagReader(path) as bag:
            topics = bag.topics
            for topic, allowed in ((image_topic, IMAGE_TYPES), (steering_topic, STEERING_TYPES)):
                if topic not in topics:
                    msg = f'topic {topic} not in {path}; it has: {", ".join(topics) or "none"}'
                    raise TrainingError(msg)
                if topics[topic].ros_type not in allowed:
                    msg = (f'topic {topic} has type {topics[topic].ros_type}; '
                           f'expected one of {", ".join(allowed)}')
                    raise TrainingError(msg)
            compressed = topics[image_topic].ros_type == IMAGE_TYPES[1]
            ackermann = topics[steering_topic].ros_type == STEERING_TYPES[0]
            use_header = time_source == 'header' or (time_source == 'auto' and ackermann)
            if time_source == 'header' and not ackermann:
                raise TrainingError('std_msgs/Float32 has no header; use time_source log/auto')
            n_img = 0
            for topic, log_ns, cdr in bag.messages([image_topic, steering_topic]):
                if topic == steering_topic:
                    if ackermann:
                        m = deserialize(cdr, AckermannDriveStamped)
                        value = math.tan(m.drive.steering_angle) / wheelbase
                        stamp = _stamp_ns(m.header) if use_header else log_ns
                    else:
                        raw = float(deserialize(cdr, Float32).data)
                        value = raw if float_kind == 'curvature' else math.tan(raw) / wheelbase
                        stamp = log_ns
                    steer_t.append(stamp)
                    steer_v.append(value)
                    continue
                n_img += 1
                if (n_img - 1) % stride:
                    continue
                if compressed:
                    cm = deserialize(cdr, CompressedImage)
                    rgb, header = decode_compressed(cm), cm.header
                else:
                    im = deserialize(cdr, Image)
                    rgb, header = decode_image(im), im.header
                images.append(pre.to_network_rgb(np.ascontiguousarray(rgb)))
                img_t.append(_stamp_ns(header) if use_header else log_ns)
    except (BagError, MsgError, EncodingError) as exc:
        raise TrainingError(f'cannot read training data from {path}: {exc}') from None
    if not images or len(steer_t) < 1:
        raise TrainingError(f'{path}: {len(images)} images and {len(steer_t)} steering samples')
    order = np.argsort(np.asarray(steer_t), kind='stable')
    st = np.asarray(steer_t, np.int64)[order]
    sv = np.asarray(steer_v, np.float64)[order]
    it = np.asarray(img_t, np.int64)
    pos = np.clip(np.searchsorted(st, it), 1, max(1, st.size - 1))
    gap = np.minimum(np.abs(it - st[pos - 1]), np.abs(it - st[np.minimum(pos, st.size - 1)]))
    keep = gap <= max_gap * 1e9
    targets = np.interp(it.astype(np.float64), st.astype(np.float64), sv)
    if not keep.any():
        msg = (f'{path}: no camera frame is within {max_gap} s of a steering sample '
               f'(time_source={time_source!r})')
        raise TrainingError(msg)
    LOG.info('%s: %d of %d frames aligned with %d steering samples', path, int(keep.sum()),
             len(images), st.size)
    stack = np.stack([img for img, k in zip(images, keep) if k])
    return ArrayData(stack, targets[keep].astype(np.float32), f'bag {path}')
