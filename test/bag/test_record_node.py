"""Recording a running node: everything it publishes is in the bag, by count and by content.

The node runs in-process on DDS (loopback) with a :class:`BagRecorder` attached; a second
participant subscribes reliably to every output and keeps the CDR bytes it receives, which must
equal the bag's messages one for one.
"""
from __future__ import annotations

import os
from pathlib import Path
import threading
import time
from typing import Any

import pytest

from bag_testutil import camera_frames
from waiting import wait_until
from vbp_ros.bag import BagReader, BagRecorder

pytest.importorskip('cyclonedds')

LOOPBACK = Path(__file__).resolve().parent.parent / 'cyclonedds-loopback.xml'
OUTPUTS = {'/vbp/steering': 'ackermann_msgs/msg/AckermannDriveStamped',
           '/vbp/mask': 'sensor_msgs/msg/Image',
           '/vbp/overlay': 'sensor_msgs/msg/Image',
           '/diagnostics': 'diagnostic_msgs/msg/DiagnosticArray'}


@pytest.mark.parametrize('storage', ['mcap', 'sqlite3'])
def test_recording_holds_everything_published(monkeypatch: pytest.MonkeyPatch, pipeline: Any,
                                              tmp_path: Path, storage: str) -> None:
    from vbp_ros import msgs
    from vbp_ros.node.camera import CameraPublisher
    from vbp_ros.node.logic import VbpNode
    from vbp_ros.node.params import NodeParams
    from vbp_ros.transport.dds import DdsTransport
    from vbp_ros.transport.qos import QosProfile, Reliability

    monkeypatch.setenv('CYCLONEDDS_URI', LOOPBACK.as_uri())
    domain = 100 + os.getpid() % 2  # node tests use 50..99, transport tests 10..49
    frames = camera_frames(6, 160, 120)
    received: dict[str, list[bytes]] = {t: [] for t in OUTPUTS}
    lock = threading.Lock()

    def keep(topic: str) -> Any:
        def callback(data: Any) -> None:
            with lock:
                received[topic].append(bytes(data))
        return callback

    bag = tmp_path / 'drive'
    recorder = BagRecorder(bag, storage=storage)
    node_tr = DdsTransport('vbp', domain_id=domain)
    peer = DdsTransport('peer', domain_id=domain)
    node = None
    try:
        node = VbpNode(node_tr, pipeline=pipeline, observers=[recorder],
                       params=NodeParams(reliability='reliable', diagnostics_period=0.2))
        node.start()
        reliable = QosProfile(Reliability('reliable'), 100)
        subs = [peer.create_subscription(t, msgs.get_type(ty), reliable, keep(t))
                for t, ty in OUTPUTS.items()]
        cam = CameraPublisher(peer, iter(frames), reliability='reliable')
        assert cam.wait_for_subscriber(30), 'node did not subscribe'
        assert wait_until(lambda: all(p.subscription_count() for p in
                                      (node.steering_pub, node.mask_pub, node.overlay_pub)),
                          30.0), 'outputs not matched'
        for i in range(len(frames)):
            cam.publish_one()
            assert wait_until(lambda: len(received['/vbp/steering']) > i, 30.0), \
                f'no output for frame {i}'
        assert wait_until(lambda: len(received['/diagnostics']) >= 2, 30.0)
        assert wait_until(lambda: len(received['/vbp/overlay']) == len(frames), 30.0)
    finally:
        if node is not None:
            node.stop()
        time.sleep(0.3)  # let the last samples arrive before the reader goes
        with lock:
            got = {t: list(v) for t, v in received.items()}
        del subs
        peer.close()
        node_tr.close()
        recorder.close()

    with BagReader(bag) as r:
        in_bag: dict[str, list[bytes]] = {}
        for topic, _, data in r.messages():
            in_bag.setdefault(topic, []).append(bytes(data))
        types = {t: i.ros_type for t, i in r.topics.items()}
    for topic in ('/vbp/steering', '/vbp/mask', '/vbp/overlay'):
        assert types[topic] == OUTPUTS[topic]
        assert len(in_bag[topic]) == len(frames), topic
        assert in_bag[topic] == got[topic], topic                     # same bytes, same order
    assert node.stats.processed == len(frames)
    # Diagnostics keep coming until the node stops: every one received is in the bag.
    assert got['/diagnostics'] and set(got['/diagnostics']) <= set(in_bag['/diagnostics'])
    # The camera frames the node received are recorded too.
    assert [msgs.deserialize(d, msgs.Image).width for d in in_bag['/camera/image_raw']] == \
        [160] * len(frames)


def test_a_failed_recording_shows_in_diagnostics_and_is_logged_sparingly(
        monkeypatch: pytest.MonkeyPatch, pipeline: Any, tmp_path: Path,
        caplog: pytest.LogCaptureFixture) -> None:
    from vbp_ros.bag import BagError
    from vbp_ros.bag.io import BagWriter
    from vbp_ros.msgs import DiagnosticStatus
    from vbp_ros.node.logic import VbpNode
    from vbp_ros.node.params import NodeParams
    from vbp_ros.transport.dds import DdsTransport

    def full(self: BagWriter, *args: object) -> None:
        raise BagError('cannot write to bag: No space left on device')

    monkeypatch.setattr(BagWriter, 'write', full)
    monkeypatch.setenv('CYCLONEDDS_URI', LOOPBACK.as_uri())
    recorder = BagRecorder(tmp_path / 'drive')
    transport = DdsTransport('vbp', domain_id=102 + os.getpid() % 2)
    node = VbpNode(transport, pipeline=pipeline, observers=[recorder],
                   params=NodeParams(diagnostics_period=0.05))
    try:
        with caplog.at_level('ERROR'):
            node.start()  # every diagnostics message goes to the recorder, which fails
            assert wait_until(lambda: recorder.health()[0] == 2, 10.0)
            time.sleep(1.0)  # ~20 more failing calls
        status = node.diagnostics().status[0]
        assert status.level == DiagnosticStatus.ERROR and 'No space left' in status.message
        assert {v.key for v in status.values} >= {'recording_to', 'recording_dropped'}
        failures = [r for r in caplog.records if 'failed on /diagnostics' in r.getMessage()]
        assert 1 <= len(failures) <= 2 and 'No space left' in failures[0].getMessage()
    finally:
        node.stop()
        transport.close()
        with pytest.raises(BagError):
            recorder.close()
