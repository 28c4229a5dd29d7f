"""The node over real DDS on loopback: frames in, steering/masks out, QoS, malformed input."""
from __future__ import annotations

import logging
import time
from typing import Any

import numpy as np
import pytest

from waiting import wait_until
from vbp_ros.msgs import AckermannDriveStamped, CompressedImage, deserialize, DiagnosticArray, \
    Header, Image, serialize, Time, typestore
from vbp_ros.node.camera import CameraPublisher, compressed_message, image_message
from vbp_ros.node.listener import OutputListener
from vbp_ros.node.sources import PatternSource
from vbp_ros.transport.qos import DEFAULT, image_qos


def send_frames(cam: CameraPublisher, n: int, node: Any) -> list[int]:
    """Publish ``n`` frames, each once the node has finished the previous one (no drops)."""
    stamps = []
    for _ in range(n):
        done = node.stats.snapshot()['processed']
        stamps.append(cam.publish_one())
        assert wait_until(lambda: node.stats.snapshot()['processed'] > done)
    return stamps


def ns(stamp: Any) -> int:
    return int(stamp.sec) * 1_000_000_000 + int(stamp.nanosec)


@pytest.mark.parametrize('encoding', ['rgb8', 'bgr8', 'mono8'])
def test_frames_in_steering_and_masks_out(make_node, peer, encoding: str) -> None:
    node = make_node()
    listener = OutputListener(peer, kinds=('steering', 'mask'))
    cam = CameraPublisher(peer, PatternSource(320, 240).frames(), encoding=encoding,
                          frame_id='front_camera')
    assert cam.wait_for_subscriber() and listener.wait_matched()
    stamps = send_frames(cam, 5, node)
    assert listener.wait_for('steering', 5) and listener.wait_for('mask', 5)
    steering = listener.snapshot('steering')
    masks = listener.snapshot('mask')
    assert [ns(r.msg.header.stamp) for r in steering] == stamps
    assert [ns(r.msg.header.stamp) for r in masks] == stamps
    for r in steering:
        assert r.msg.header.frame_id == 'front_camera'
        assert abs(r.msg.drive.steering_angle) <= node.params.max_steering_angle
    for r in masks:
        m = r.msg
        assert (m.height, m.width, m.encoding, m.step) == (240, 320, 'mono8', 320)
        assert m.header.frame_id == 'front_camera'
        pix = np.frombuffer(m.data, np.uint8).reshape(240, 320)
        assert pix.max() > 0                         # a mask, not an empty image
        y0 = round(0.41 * 240)                       # default crop: nothing above it
        assert pix[:y0 - 1].max() == 0
    counts = node.stats.snapshot()
    assert counts['processed'] == 5 and counts['dropped'] == 0 and counts['malformed'] == 0


def test_steering_matches_the_pipeline(make_node, peer, pipeline) -> None:
    node = make_node(steering_offset=0.01, max_steering_angle=0.7)
    listener = OutputListener(peer, kinds=('steering',), reliability='reliable')
    source = PatternSource(320, 240)
    cam = CameraPublisher(peer, iter([source.frame(7)] * 3), reliability='reliable')
    assert cam.wait_for_subscriber() and listener.wait_matched()
    send_frames(cam, 1, node)
    assert listener.wait_for('steering', 1)
    expected = pipeline.process(source.frame(7), mask=False).steering_angle + 0.01
    got = listener.snapshot('steering')[0].msg.drive.steering_angle
    assert got == pytest.approx(max(-0.7, min(0.7, expected)), abs=1e-5)


@pytest.mark.parametrize('fmt', ['jpeg', 'png'])
def test_compressed_input(make_node, peer, fmt: str) -> None:
    node = make_node(input_type='compressed')
    assert node.input_topic == '/camera/image_raw/compressed'
    listener = OutputListener(peer, kinds=('steering', 'mask'))
    cam = CameraPublisher(peer, PatternSource(320, 240).frames(), encoding=fmt)
    assert cam.publisher.topic == '/camera/image_raw/compressed'
    assert cam.wait_for_subscriber() and listener.wait_matched()
    stamps = send_frames(cam, 3, node)
    assert listener.wait_for('mask', 3)
    assert [ns(r.msg.header.stamp) for r in listener.snapshot('mask')] == stamps
    assert listener.snapshot('mask')[0].msg.width == 320


def test_a_remapped_camera_topic_moves_compressed_input_too(domain: int, pipeline) -> None:
    # image_transport remaps the base topic and then adds /compressed.
    from vbp_ros.node.logic import VbpNode
    from vbp_ros.node.params import NodeParams
    from vbp_ros.transport.dds import DdsTransport
    transport = DdsTransport('vbp', domain_id=domain,
                             remaps={'/camera/image_raw': '/front/image_raw'})
    node = VbpNode(transport, pipeline=pipeline, params=NodeParams(input_type='compressed'))
    try:
        assert node.input_topic == '/front/image_raw/compressed'
        assert node.subscription.topic == '/front/image_raw/compressed'
    finally:
        node.stop()
        transport.close()


@pytest.mark.parametrize('input_type, remaps, topic', [
    ('compressed', {'/camera/image_raw/compressed': '/x'}, '/x'),
    ('raw', {'/camera/image_raw': '/front', '/front': '/rear'}, '/front'),  # one rule, once
])
def test_the_reported_input_topic_is_the_one_subscribed(domain: int, pipeline, input_type: str,
                                                        remaps: dict, topic: str) -> None:
    from vbp_ros.node.logic import VbpNode
    from vbp_ros.node.params import NodeParams
    from vbp_ros.transport.dds import DdsTransport
    transport = DdsTransport('vbp', domain_id=domain, remaps=remaps)
    node = VbpNode(transport, pipeline=pipeline, params=NodeParams(input_type=input_type))
    try:
        assert node.input_topic == node.subscription.topic == topic
    finally:
        node.stop()
        transport.close()


def test_reliable_qos(make_node, peer) -> None:
    node = make_node(reliability='reliable')
    # a reliable viewer (rviz2's default) matches a reliable mask writer
    listener = OutputListener(peer, kinds=('steering', 'mask'), reliability='reliable')
    cam = CameraPublisher(peer, PatternSource(320, 240).frames(), reliability='reliable')
    assert cam.wait_for_subscriber() and listener.wait_matched()
    stamps = send_frames(cam, 4, node)
    assert listener.wait_for('mask', 4)
    assert [ns(r.msg.header.stamp) for r in listener.snapshot('mask')] == stamps
    assert node.mask_pub.subscription_count() == 1


def test_best_effort_mask_does_not_match_reliable_viewer(make_node, peer) -> None:
    node = make_node()          # default: sensor-data (best effort) outputs
    OutputListener(peer, kinds=('mask',), reliability='reliable')
    time.sleep(0.5)
    assert node.mask_pub.subscription_count() == 0


def test_mask_only_computed_when_someone_listens(make_node, peer) -> None:
    node = make_node()
    listener = OutputListener(peer, kinds=('steering',))
    cam = CameraPublisher(peer, PatternSource(320, 240).frames())
    assert cam.wait_for_subscriber() and listener.wait_matched()
    send_frames(cam, 3, node)
    assert listener.wait_for('steering', 3)
    assert node.stats.snapshot()['masks'] == 0
    assert node.wants_mask() == (False, False)
    viewer = OutputListener(peer, kinds=('mask',))
    assert viewer.wait_matched()
    assert node.wants_mask() == (True, False)
    send_frames(cam, 2, node)
    assert viewer.wait_for('mask', 2)
    assert node.stats.snapshot()['masks'] == 2
    assert node.stats.snapshot()['overlays'] == 0       # nobody watches ~/overlay


def test_overlay_when_subscribed(make_node, peer) -> None:
    pytest.importorskip('vbp_ros.core.image')
    node = make_node()
    listener = OutputListener(peer, kinds=('overlay',))
    cam = CameraPublisher(peer, PatternSource(320, 240).frames())
    assert cam.wait_for_subscriber() and listener.wait_matched()
    stamps = send_frames(cam, 2, node)
    assert listener.wait_for('overlay', 2)
    over = listener.snapshot('overlay')
    assert [ns(r.msg.header.stamp) for r in over] == stamps
    assert (over[0].msg.encoding, over[0].msg.width, over[0].msg.height,
            over[0].msg.step) == ('bgr8', 320, 240, 960)
    assert node.stats.snapshot()['overlays'] == 2
    assert node.stats.snapshot()['masks'] == 0  # made for the overlay, wanted by nobody


def bad_images() -> list[tuple[str, Image | CompressedImage]]:
    h = Header(stamp=Time(sec=1, nanosec=0), frame_id='cam')
    good = np.zeros((48, 64, 3), np.uint8)
    jpeg = compressed_message(good, 'jpeg', h).data
    return [
        ('wrong encoding', Image(header=h, height=48, width=64, encoding='rgb9',
                                 is_bigendian=0, step=192, data=good.tobytes())),
        ('short data', Image(header=h, height=48, width=64, encoding='rgb8', is_bigendian=0,
                             step=192, data=good.tobytes()[:1000])),
        ('zero size', Image(header=h, height=0, width=0, encoding='rgb8', is_bigendian=0,
                            step=0, data=b'')),
        ('absurd size', Image(header=h, height=2**31, width=2**31, encoding='rgb8',
                              is_bigendian=0, step=3 * 2**31 % 2**32, data=b'\0' * 64)),
        ('corrupt jpeg', CompressedImage(header=h, format='jpeg',
                                         data=bytes(jpeg[:20]) + b'\x00' * 50)),
    ]


@pytest.mark.parametrize('name, bad', bad_images(), ids=[n for n, _ in bad_images()])
def test_malformed_frames_are_counted_and_next_good_frame_processed(
        make_node, peer, caplog: pytest.LogCaptureFixture, name: str, bad: Any) -> None:
    caplog.set_level(logging.WARNING, logger='vbp_ros')
    compressed = isinstance(bad, CompressedImage)
    node = make_node(input_type='compressed' if compressed else 'raw', reliability='reliable')
    listener = OutputListener(peer, kinds=('steering',))
    topic = node.input_topic
    pub = peer.create_publisher(topic, CompressedImage if compressed else Image,
                                image_qos('reliable'))
    assert wait_until(lambda: pub.subscription_count() == 1) and listener.wait_matched()
    pub.publish(serialize(bad))
    assert wait_until(lambda: node.stats.snapshot()['malformed'] == 1)
    good_header = Header(stamp=Time(sec=2, nanosec=5), frame_id='cam')
    frame = PatternSource(64, 48).frame(0)
    good = (compressed_message(frame, 'jpeg', good_header) if compressed
            else image_message(frame, 'rgb8', good_header))
    pub.publish(serialize(good))
    assert listener.wait_for('steering', 1)
    [out] = listener.snapshot('steering')
    assert (out.msg.header.stamp.sec, out.msg.header.stamp.nanosec) == (2, 5)
    # steering goes out before the frame's mask and bookkeeping are done
    assert wait_until(lambda: node.stats.snapshot()['processed'] == 1)
    counts = node.stats.snapshot()
    assert counts['malformed'] == 1 and counts['errors'] == 0 and counts['processed'] == 1
    assert 'malformed' in node.diagnostics().status[0].message
    warnings = [r for r in caplog.records if 'malformed frame' in r.getMessage()]
    assert len(warnings) == 1 and warnings[0].levelno == logging.WARNING


def test_garbage_bytes_never_crash(make_node) -> None:
    node = make_node()
    for data in (b'', b'\x00\x01\x00\x00', b'\x00\x01\x00\x00' + b'\xff' * 64, bytes(range(256))):
        assert node.process(data) is False
    assert node.stats.snapshot()['malformed'] == 4


def test_diagnostics_published(make_node, peer) -> None:
    node = make_node(diagnostics_period=0.2)
    listener = OutputListener(peer, kinds=('steering', 'diagnostics'))
    cam = CameraPublisher(peer, PatternSource(320, 240).frames())
    assert cam.wait_for_subscriber() and listener.wait_matched()
    send_frames(cam, 3, node)
    assert listener.wait_for('diagnostics', 2)
    time.sleep(0.3)
    status = listener.snapshot('diagnostics')[-1].msg.status[0]
    values = {kv.key: kv.value for kv in status.values}
    assert status.hardware_id == 'cpu'
    assert int(values['frames_received']) == 3
    assert int(values['frames_processed']) == 3
    assert values['frames_dropped'] == '0'
    for key in ('input_rate_hz', 'processed_rate_hz', 'decode_ms_p50', 'preprocess_ms_p50',
                'forward_vbp_ms_p50', 'publish_ms_p99', 'total_ms_p99', 'device'):
        assert key in values
    assert float(values['forward_vbp_ms_p50']) > 0


def test_outputs_decode_with_rosbags(make_node, peer) -> None:
    """The bytes on the wire, read by an independent CDR implementation (rosbags, Jazzy)."""
    store = typestore('jazzy')
    node = make_node(diagnostics_period=0.2)
    raw: dict[str, list[bytes]] = {'steering': [], 'mask': [], 'diagnostics': []}
    peer.create_subscription('/vbp/steering', AckermannDriveStamped, DEFAULT,
                             raw['steering'].append)
    peer.create_subscription('/vbp/mask', Image, image_qos('best_effort'), raw['mask'].append)
    peer.create_subscription('/diagnostics', DiagnosticArray, DEFAULT, raw['diagnostics'].append)
    cam = CameraPublisher(peer, PatternSource(160, 120).frames(), frame_id='cam0')
    assert cam.wait_for_subscriber()
    assert wait_until(lambda: node.mask_pub.subscription_count() == 1)
    [stamp] = send_frames(cam, 1, node)
    assert wait_until(lambda: raw['mask'] and raw['steering'] and raw['diagnostics'])
    steer = store.deserialize_cdr(bytes(raw['steering'][0]),
                                  'ackermann_msgs/msg/AckermannDriveStamped')
    mask = store.deserialize_cdr(bytes(raw['mask'][0]), 'sensor_msgs/msg/Image')
    diag = store.deserialize_cdr(bytes(raw['diagnostics'][-1]),
                                 'diagnostic_msgs/msg/DiagnosticArray')
    for msg in (steer, mask):
        assert msg.header.stamp.sec * 10**9 + msg.header.stamp.nanosec == stamp
        assert msg.header.frame_id == 'cam0'
    ours = deserialize(raw['steering'][0], AckermannDriveStamped)
    assert steer.drive.steering_angle == ours.drive.steering_angle
    assert abs(steer.drive.steering_angle) <= node.params.max_steering_angle
    assert (mask.height, mask.width, mask.encoding, mask.step) == (120, 160, 'mono8', 160)
    assert mask.data.shape == (120 * 160,)
    assert diag.status[0].hardware_id == 'cpu'
    assert {kv.key for kv in diag.status[0].values} >= {'frames_received', 'frames_dropped'}


def test_nan_model_output_publishes_no_steering(domain: int, peer, tmp_path) -> None:
    # Clipped, a NaN curvature would become full left lock (max(-a, min(a, nan)) == a).
    import torch

    from vbp_ros import ModelSpec, PilotNet, save_model
    from vbp_ros.errors import ModelError
    from vbp_ros.node.logic import VbpNode
    from vbp_ros.pipeline.frame import FramePipeline
    from vbp_ros.transport.dds import DdsTransport
    model = PilotNet()
    with torch.no_grad():
        model[-1].bias.fill_(float('nan'))
    save_model(model, tmp_path / 'nan.safetensors', ModelSpec())
    transport = DdsTransport('vbp', domain_id=domain)
    node = VbpNode(transport, pipeline=FramePipeline(tmp_path / 'nan.safetensors', device='cpu'))
    try:
        listener = OutputListener(peer, kinds=('steering',))
        assert listener.wait_matched()
        header = Header(stamp=Time(sec=1, nanosec=0), frame_id='cam')
        data = serialize(image_message(PatternSource(64, 48).frame(0), 'rgb8', header))
        with pytest.raises(ModelError, match='not finite'):
            node.process(data)
        time.sleep(0.3)
        assert listener.snapshot('steering') == []
    finally:
        node.stop()
        transport.close()


def test_a_changing_frame_id_is_warned_about(make_node, caplog: pytest.LogCaptureFixture
                                             ) -> None:
    # Two cameras publishing on one topic interleave: outputs jump between them.
    caplog.set_level(logging.WARNING, logger='vbp_ros')
    node = make_node()
    frame = PatternSource(64, 48).frame(0)

    def send(frame_id: str) -> None:
        header = Header(stamp=Time(sec=1, nanosec=0), frame_id=frame_id)
        assert node.process(serialize(image_message(frame, 'rgb8', header)))

    send('cam_a')
    send('cam_a')
    # (Frames handed to process() directly leave the input 'stale': that WARN is there too.)
    status = node.diagnostics().status[0]
    assert 'frame_id' not in status.message and ('input_frame_id', 'cam_a') in [
        (v.key, v.value) for v in status.values]
    for frame_id in ('cam_b', 'cam_a', 'cam_b'):
        send(frame_id)
    status = node.diagnostics().status[0]
    assert status.level == 1 and 'frame_id on /camera/image_raw changed 3 times' in status.message
    assert 'frame_id' not in node.diagnostics().status[0].message  # nothing new since
    warnings = [r.getMessage() for r in caplog.records if 'frame_id on' in r.getMessage()]
    assert len(warnings) == 1 and "'cam_a' to 'cam_b'" in warnings[0]


def test_the_log_says_when_no_frames_come_and_when_they_are_back(
        make_node, caplog: pytest.LogCaptureFixture) -> None:
    from vbp_ros.node.diagnostics import STALE_INPUT_S
    caplog.set_level(logging.INFO, logger='vbp_ros')
    node = make_node(reliability='reliable')
    long_ago = time.monotonic() - STALE_INPUT_S - 1
    assert node._watch_input(time.monotonic(), False) is False  # just started: no verdict
    assert node._watch_input(long_ago, False) is True
    assert node._watch_input(long_ago, True) is True  # said once, not again
    warnings = [r.getMessage() for r in caplog.records if 'no frames on' in r.getMessage()]
    assert len(warnings) == 1 and 'subscribes reliably' in warnings[0]
    with node.stats.lock:
        node.stats.last_frame_time = time.monotonic()
    assert node._watch_input(long_ago, True) is False
    assert 'frames on /camera/image_raw again' in caplog.text
