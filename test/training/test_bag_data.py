"""Bag-based training data: a bag written here with rosbags (v8), read, aligned and trained on."""
from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest

from vbp_ros.training.bag_data import load_bag_data
from vbp_ros.training.errors import TrainingError

ACKERMANN_DRIVE = """float32 steering_angle
float32 steering_angle_velocity
float32 speed
float32 acceleration
float32 jerk
"""
ACKERMANN_STAMPED = """std_msgs/Header header
ackermann_msgs/AckermannDrive drive
"""
WHEELBASE = 2.7


def _typestore():
    from rosbags.typesys import get_types_from_msg, get_typestore, Stores

    store = get_typestore(Stores.ROS2_HUMBLE)
    types = {}
    types.update(get_types_from_msg(ACKERMANN_DRIVE, 'ackermann_msgs/msg/AckermannDrive'))
    types.update(get_types_from_msg(ACKERMANN_STAMPED,
                                    'ackermann_msgs/msg/AckermannDriveStamped'))
    store.register(types)
    return store


def _angle(t: float) -> float:
    return 0.05 * math.sin(t)


def _write_bag(path: Path, steering: str, n_images: int = 12) -> None:
    """10 Hz rgb8 camera (160x90, brightness = frame index) and 20 Hz steering."""
    from rosbags.rosbag2 import Writer

    store = _typestore()
    Time = store.types['builtin_interfaces/msg/Time']
    Header = store.types['std_msgs/msg/Header']
    Image = store.types['sensor_msgs/msg/Image']
    t0 = 1_700_000_000_000_000_000
    with Writer(path, version=8) as writer:
        cam = writer.add_connection('/camera/image_raw', 'sensor_msgs/msg/Image', typestore=store)
        if steering == 'ackermann':
            Drive = store.types['ackermann_msgs/msg/AckermannDrive']
            Stamped = store.types['ackermann_msgs/msg/AckermannDriveStamped']
            st = writer.add_connection('/drive', 'ackermann_msgs/msg/AckermannDriveStamped',
                                       typestore=store)
        else:
            Float32 = store.types['std_msgs/msg/Float32']
            st = writer.add_connection('/drive', 'std_msgs/msg/Float32', typestore=store)
        events = [(k * 50_000_000, 's', k) for k in range(2 * n_images + 2)]
        events += [(k * 100_000_000 + 10_000_000, 'i', k) for k in range(n_images)]
        for dt, kind, k in sorted(events):
            ns = t0 + dt
            stamp = Time(sec=ns // 1_000_000_000, nanosec=ns % 1_000_000_000)
            if kind == 's':
                angle = _angle(dt / 1e9)
                if steering == 'ackermann':
                    msg = Stamped(header=Header(stamp=stamp, frame_id='base_link'),
                                  drive=Drive(steering_angle=angle, steering_angle_velocity=0.0,
                                              speed=5.0, acceleration=0.0, jerk=0.0))
                    writer.write(st, ns, store.serialize_cdr(msg, msg.__msgtype__))
                else:
                    msg = Float32(data=math.tan(angle) / WHEELBASE)
                    writer.write(st, ns, store.serialize_cdr(msg, msg.__msgtype__))
            else:
                img = np.full((90, 160, 3), 10 * k, np.uint8)
                msg = Image(header=Header(stamp=stamp, frame_id='camera'), height=90, width=160,
                            encoding='rgb8', is_bigendian=0, step=480, data=img.ravel())
                writer.write(cam, ns, store.serialize_cdr(msg, msg.__msgtype__))


@pytest.mark.parametrize('steering', ['ackermann', 'float32'])
def test_bag_frames_aligned_with_interpolated_curvature(tmp_path: Path, steering: str):
    bag = tmp_path / 'drive'
    _write_bag(bag, steering)
    data = load_bag_data(bag, '/camera/image_raw', '/drive', wheelbase=WHEELBASE)
    assert data.images.shape == (12, 66, 200, 3)
    # frame k was recorded at k * 0.1 s + 10 ms: its brightness tells which one it is
    for k in range(12):
        assert data.images[k].mean() == pytest.approx(10 * k, abs=1)
        t = k * 0.1 + 0.01
        t_lo, t_hi = math.floor(t / 0.05) * 0.05, math.floor(t / 0.05) * 0.05 + 0.05
        c_lo = math.tan(_angle(t_lo)) / WHEELBASE
        c_hi = math.tan(_angle(t_hi)) / WHEELBASE
        expected = c_lo + (c_hi - c_lo) * (t - t_lo) / 0.05
        assert data.targets[k] == pytest.approx(expected, abs=2e-5)


def test_far_steering_samples_drop_frames(tmp_path: Path):
    bag = tmp_path / 'drive'
    _write_bag(bag, 'ackermann')
    with pytest.raises(TrainingError, match='no camera frame'):
        load_bag_data(bag, '/camera/image_raw', '/drive', max_gap=1e-4)


def test_unknown_topic_or_wrong_type(tmp_path: Path):
    bag = tmp_path / 'drive'
    _write_bag(bag, 'float32')
    with pytest.raises(TrainingError, match='not in'):
        load_bag_data(bag, '/nope', '/drive')
    with pytest.raises(TrainingError, match='expected one of'):
        load_bag_data(bag, '/drive', '/camera/image_raw')


def test_training_from_a_bag(tmp_path: Path):
    from vbp_ros import load_model
    from vbp_ros.training.train import TrainConfig, train

    bag = tmp_path / 'drive'
    _write_bag(bag, 'ackermann', n_images=16)
    data = load_bag_data(bag, '/camera/image_raw', '/drive')
    tr, va = data.split(0.25, seed=0)
    out = tmp_path / 'model.safetensors'
    res = train(tr, va, out, tmp_path / 'run',
                TrainConfig(epochs=1, batch_size=4, snapshot_count=2, progress=False),
                info={'data': data.source})
    model, spec = load_model(out)
    assert spec.info['data'].startswith('bag ')
    assert len(res.history) == 1 and len(res.snapshots) == 1 and res.snapshots[0].is_file()
