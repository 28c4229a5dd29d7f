"""The rclpy adapter: the same bytes and parameters as the DDS path (runs only under ROS 2)."""
from __future__ import annotations

import ast
from pathlib import Path
import time

import pytest

from vbp_ros.transport import default_middleware, Middleware

SOURCE = Path(__file__).resolve().parents[2] / 'vbp_ros' / 'transport' / 'rclpy_glue.py'


def test_glue_is_valid_python_and_only_it_imports_rclpy() -> None:
    ast.parse(SOURCE.read_text())
    for path in SOURCE.parent.glob('*.py'):
        if path.name != 'rclpy_glue.py':
            assert 'import rclpy' not in path.read_text(), path.name
    assert default_middleware() in Middleware


def test_rclpy_round_trip_and_parameters() -> None:
    pytest.importorskip('rclpy')
    pytest.importorskip('sensor_msgs')
    from vbp_ros.msgs import deserialize, Float32, serialize
    from vbp_ros.node.params import PARAMETERS
    from vbp_ros.transport.qos import DEFAULT
    from vbp_ros.transport.rclpy_glue import RclpyTransport
    node = RclpyTransport('vbp_glue_test', args=['--ros-args', '-p', 'device:=cpu'])
    try:
        values = node.declare_parameters(PARAMETERS)
        assert values['device'] == 'cpu' and values['crop'] == []
        got: list[bytes] = []
        node.create_subscription('/glue_test', Float32, DEFAULT, got.append)
        pub = node.create_publisher('/glue_test', Float32, DEFAULT)
        deadline = time.monotonic() + 10
        while pub.subscription_count() == 0 and time.monotonic() < deadline:
            time.sleep(0.05)
        pub.publish(serialize(Float32(data=1.25)))
        deadline = time.monotonic() + 10
        while not got and time.monotonic() < deadline:
            node._executor.spin_once(timeout_sec=0.1)
        assert deserialize(got[0], Float32).data == 1.25
        assert node.resolve_topic('~/mask') == '/vbp_glue_test/mask'
    finally:
        node.close()
