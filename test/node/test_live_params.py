"""Parameters changed while the node runs (``ros2 param set`` on ROS 2): live ones apply to
the next frame, the rest are refused, and a bad set changes nothing."""
from __future__ import annotations

import math
from typing import Any

import pytest

from vbp_ros.msgs import AckermannDriveStamped, deserialize, Header, serialize
from vbp_ros.node.camera import image_message
from vbp_ros.node.params import PARAMETERS
from vbp_ros.node.sources import PatternSource


def steer_once(node: Any, frame: Any) -> float:
    """Process one frame; the steering angle the node published for it."""
    sent: list[bytes] = []
    node.observers.append(lambda topic, kind, data, stamp: sent.append(data)
                          if kind.endswith('AckermannDriveStamped') else None)
    try:
        assert node.process(serialize(image_message(frame, 'rgb8', Header(frame_id='cam'))))
    finally:
        node.observers.pop()
    assert len(sent) == 1
    return deserialize(sent[0], AckermannDriveStamped).drive.steering_angle


@pytest.fixture
def node(make_node: Any, pipeline: Any) -> Any:
    steering = pipeline.steering
    made = make_node(mask_mode='never')
    made.stop()  # frames are processed here, in the test's thread
    yield made
    pipeline.steering = steering  # the pipeline is shared with other tests


def test_live_parameters_apply_to_the_next_frame(node: Any, pipeline: Any,
                                                 caplog: pytest.LogCaptureFixture) -> None:
    frame = PatternSource(320, 240).frame(3)
    curvature = pipeline.process(frame, mask=False).curvature
    assert steer_once(node, frame) == pytest.approx(math.atan(2.7 * curvature), abs=1e-6)
    with caplog.at_level('INFO'):
        assert node.set_parameters({'wheelbase': 4.0, 'steering_scale': -2.0,
                                    'steering_offset': 0.05, 'max_steering_angle': 3.0}) is None
    assert 'parameter wheelbase: 2.7 -> 4.0' in caplog.text
    want = -2.0 * math.atan(4.0 * curvature) + 0.05
    assert steer_once(node, frame) == pytest.approx(want, abs=1e-6)
    assert node.set_parameters({'max_steering_angle': 0.0}) is None
    assert steer_once(node, frame) == 0.0
    assert node.set_parameters({'mask_mode': 'always', 'overlay_alpha': 0.2}) is None
    assert node.wants_mask() == (True, False)
    assert (node.params.overlay_alpha, node.params.wheelbase) == (0.2, 4.0)


def test_read_only_and_bad_values_change_nothing(node: Any, pipeline: Any) -> None:
    before, steering = node.params, pipeline.steering
    refused = {
        'device': "'device' is read-only",
        'camera_topic': "'camera_topic' is read-only",
    }
    for name, reason in refused.items():
        assert reason in node.set_parameters({'wheelbase': 3.5, name: 'x'})
    assert 'overlay_alpha' in node.set_parameters({'wheelbase': 3.5, 'overlay_alpha': 2.0})
    assert 'colormap' in node.set_parameters({'colormap': 'rainbow-ish'})
    # rclpy's own parameters (use_sim_time) also pass through here: not the node's to refuse.
    assert node.set_parameters({'use_sim_time': True}) is None
    assert 'wheelbase' in node.set_parameters({'wheelbase': 'long'})
    assert node.params == before and pipeline.steering is steering


def test_what_is_live() -> None:
    live = {p.name for p in PARAMETERS if p.live}
    assert live == {'wheelbase', 'steering_scale', 'steering_offset', 'max_steering_angle',
                    'speed', 'mask_mode', 'overlay_alpha', 'colormap', 'diagnostics_period',
                    'hardware_id'}
    # What the node set up from at start (topics, QoS, model, preprocessing) stays fixed.
    assert not live & {'camera_topic', 'input_type', 'model_path', 'device', 'compile',
                       'reliability', 'depth', 'crop', 'input_size'}


def test_a_new_diagnostics_period_applies_at_once(make_node: Any) -> None:
    import time

    from waiting import wait_until
    node = make_node(diagnostics_period=30.0, mask_mode='never')
    sent: list[str] = []
    node.observers.append(lambda topic, kind, data, stamp: sent.append(topic)
                          if kind.endswith('DiagnosticArray') else None)
    time.sleep(0.3)
    assert not sent
    assert node.set_parameters({'diagnostics_period': 0.1}) is None
    assert wait_until(lambda: len(sent) >= 3, timeout=5)


def test_a_processing_error_is_reported_once_not_forever(node: Any) -> None:
    from vbp_ros.msgs import DiagnosticStatus
    with node.stats.lock:
        node.stats.errors += 1
    first, second = (node.diagnostics().status[0] for _ in range(2))
    assert first.level == DiagnosticStatus.ERROR
    assert first.message == '1 processing errors since the last report (1 in all)'
    assert second.level != DiagnosticStatus.ERROR
    assert {kv.key: kv.value for kv in second.values}['processing_errors'] == '1'


def test_a_change_during_a_frame_is_not_mixed_into_it(node: Any, pipeline: Any) -> None:
    # The change lands while the frame's forward pass runs (as from the executor thread):
    # that frame is published with the old set, the next with the new one.
    frame = PatternSource(320, 240).frame(5)
    curvature = pipeline.process(frame, mask=False).curvature
    change = {'wheelbase': 1.0, 'steering_scale': -1.0, 'max_steering_angle': 0.1}
    handle = pipeline.model.register_forward_pre_hook(
        lambda module, args: node.set_parameters(change))
    try:
        during = steer_once(node, frame)
    finally:
        handle.remove()
    assert during == pytest.approx(math.atan(2.7 * curvature), abs=1e-6)
    after = steer_once(node, frame)
    assert after == pytest.approx(max(-0.1, min(0.1, -math.atan(curvature))), abs=1e-6)
