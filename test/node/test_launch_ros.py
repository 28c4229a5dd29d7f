"""launch_testing: the launch file with demo:=true brings up camera and node; a mask arrives.

Runs only where ROS 2 (rclpy, launch_testing) and this package are installed; skipped otherwise.
"""
from __future__ import annotations

import time
import unittest

import pytest

launch_testing = pytest.importorskip('launch_testing')
rclpy = pytest.importorskip('rclpy')
pytest.importorskip('sensor_msgs')

import launch  # noqa: E402, I100
from launch.actions import IncludeLaunchDescription  # noqa: E402
from launch.launch_description_sources import PythonLaunchDescriptionSource  # noqa: E402
from launch.substitutions import PathJoinSubstitution  # noqa: E402
from launch_ros.substitutions import FindPackageShare  # noqa: E402
import launch_testing.actions  # noqa: E402
from rclpy.qos import qos_profile_sensor_data  # noqa: E402
from sensor_msgs.msg import Image  # noqa: E402


@pytest.mark.launch_test
def generate_test_description() -> launch.LaunchDescription:
    """The package's launch file with the synthetic camera, on CPU."""
    include = IncludeLaunchDescription(
        PythonLaunchDescriptionSource(PathJoinSubstitution(
            [FindPackageShare('vbp_ros'), 'launch', 'vbp.launch.py'])),
        launch_arguments={'demo': 'true', 'device': 'cpu'}.items())
    return launch.LaunchDescription([include, launch_testing.actions.ReadyToTest()])


class TestMaskArrives(unittest.TestCase):
    """A subscriber on /vbp/mask receives mono8 masks with the camera's size."""

    def test_mask(self) -> None:
        rclpy.init()
        try:
            node = rclpy.create_node('vbp_launch_test')
            got: list[Image] = []
            node.create_subscription(Image, '/vbp/mask', got.append, qos_profile_sensor_data)
            deadline = time.monotonic() + 60.0
            while not got and time.monotonic() < deadline:
                rclpy.spin_once(node, timeout_sec=0.1)
            self.assertTrue(got, 'no mask within 60 s')
            self.assertEqual(got[0].encoding, 'mono8')
            self.assertEqual((got[0].width, got[0].height), (640, 480))
            node.destroy_node()
        finally:
            rclpy.shutdown()
