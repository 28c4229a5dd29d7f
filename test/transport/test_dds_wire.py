"""The DDS adapter on real Cyclone DDS over loopback: what a ROS 2 node would see on the wire."""
from __future__ import annotations

import logging
import time
from typing import Any

import numpy as np
import pytest

pytest.importorskip('cyclonedds')

from cyclonedds.core import Policy  # noqa: E402, I100
from cyclonedds.domain import DomainParticipant  # noqa: E402
from cyclonedds.qos import Qos  # noqa: E402
from cyclonedds.sub import DataReader  # noqa: E402
from cyclonedds.topic import Topic  # noqa: E402
from cyclonedds.util import duration  # noqa: E402

from waiting import wait_until  # noqa: E402
from vbp_ros.msgs import deserialize, Float32, Header, Image, serialize, Time  # noqa: E402
from vbp_ros.transport import create_transport, DEFAULT, SENSOR_DATA  # noqa: E402
from vbp_ros.transport import dds_types, TransportError  # noqa: E402
from vbp_ros.transport.dds import DdsTransport  # noqa: E402
from vbp_ros.transport.qos import QosProfile  # noqa: E402
from vbp_ros.transport.types import TYPE_HASHES  # noqa: E402


@pytest.fixture
def pair(domain: int):
    a = DdsTransport('talker', domain_id=domain)
    b = DdsTransport('listener', domain_id=domain)
    yield a, b
    a.close()
    b.close()


def image(h: int, w: int, seed: int = 0) -> Image:
    data = np.random.default_rng(seed).integers(0, 256, (h, w, 3), np.uint8)
    return Image(header=Header(stamp=Time(sec=5, nanosec=7), frame_id='cam'), height=h, width=w,
                 encoding='rgb8', is_bigendian=0, step=w * 3, data=data)


@pytest.mark.parametrize('qos', [SENSOR_DATA, DEFAULT], ids=['best_effort', 'reliable'])
def test_raw_bytes_round_trip(pair, qos: QosProfile) -> None:
    a, b = pair
    got: list[bytes] = []
    b.create_subscription('/camera/image_raw', Image, qos, got.append)
    pub = a.create_publisher('/camera/image_raw', Image, qos)
    assert wait_until(lambda: pub.subscription_count() == 1)
    sent = [serialize(image(720, 1280, i)) for i in range(3)]
    for data in sent:
        pub.publish(data)
        time.sleep(0.05)
    assert wait_until(lambda: len(got) == 3)
    assert [bytes(g) for g in got] == sent
    msg = deserialize(got[0], Image)
    assert (msg.width, msg.height, msg.header.frame_id) == (1280, 720, 'cam')


def test_publish_dataclass_and_private_topic(pair) -> None:
    a, b = pair
    got: list[bytes] = []
    b.create_subscription('/talker/value', Float32, DEFAULT, got.append)
    pub = a.create_publisher('~/value', 'std_msgs/msg/Float32', DEFAULT)
    assert pub.topic == '/talker/value'
    assert wait_until(lambda: pub.subscription_count() == 1)
    pub.publish(Float32(data=2.5))
    assert wait_until(lambda: len(got) == 1)
    assert deserialize(got[0], Float32).data == 2.5


def test_reliable_reader_does_not_match_best_effort_writer(pair) -> None:
    a, b = pair
    strict: list[bytes] = []
    loose: list[bytes] = []
    b.create_subscription('/x', Float32, DEFAULT, strict.append)
    pub = a.create_publisher('/x', Float32, SENSOR_DATA)
    time.sleep(0.5)
    assert pub.subscription_count() == 0          # incompatible QoS, as in ROS 2
    b.create_subscription('/x', Float32, SENSOR_DATA, loose.append)
    assert wait_until(lambda: pub.subscription_count() == 1)
    pub.publish(Float32(data=1.0))
    assert wait_until(lambda: len(loose) == 1)
    time.sleep(0.1)
    assert strict == []


def test_subscription_count_follows_readers(domain: int) -> None:
    a = DdsTransport('talker', domain_id=domain)
    pub = a.create_publisher('/x', Float32, SENSOR_DATA)
    assert pub.subscription_count() == 0
    b = DdsTransport('listener', domain_id=domain)
    b.create_subscription('/x', Float32, SENSOR_DATA, lambda data: None)
    assert wait_until(lambda: pub.subscription_count() == 1)
    b.close()
    assert wait_until(lambda: pub.subscription_count() == 0)
    a.close()


def test_truncated_cdr_is_refused_and_next_sample_arrives(pair) -> None:
    a, b = pair
    got: list[bytes] = []
    b.create_subscription('/img', Image, DEFAULT, got.append)
    pub = a.create_publisher('/img', Image, DEFAULT)
    assert wait_until(lambda: pub.subscription_count() == 1)
    good = serialize(image(4, 4))
    with pytest.raises(TransportError):
        pub.publish(good[:30])        # cut inside the header: Cyclone checks CDR against the type
    pub.publish(good)
    assert wait_until(lambda: len(got) >= 1)
    time.sleep(0.1)
    assert [bytes(g) for g in got] == [good]


def matched_writer(spy: DomainParticipant, name: str, idl: type, qos: Qos) -> Any:
    """Endpoint data of the remote writer a plain reader on ``name`` matched."""
    reader = DataReader(spy, Topic(spy, name, idl), qos=qos)
    assert wait_until(lambda: reader.get_matched_publications())
    [handle] = reader.get_matched_publications()
    return reader, reader.get_matched_publication_data(handle)


def test_wire_identity_seen_by_a_plain_dds_participant(domain: int) -> None:
    """USER_DATA, topic and type names as rmw_cyclonedds_cpp puts them on the wire."""
    node = DdsTransport('vbp', namespace='/car', domain_id=domain)
    pub = node.create_publisher('~/mask', Image, SENSOR_DATA)
    sub = node.create_subscription('/camera/image_raw', Image, SENSOR_DATA, lambda data: None)
    # (Builtin-topic readers crash cyclonedds 11.0.1's Python binding, so remote endpoints are
    # inspected through matched-publication data and the participant through its QoS.)
    assert node.participant.get_qos()[Policy.Userdata].data == b'enclave=/;'
    spy = DomainParticipant(domain)
    _, mask = matched_writer(spy, 'rt/car/vbp/mask', dds_types.Image_,
                             Qos(Policy.Reliability.BestEffort))
    assert mask.type_name == 'sensor_msgs::msg::dds_::Image_'
    assert mask.key.bytes == pub.gid
    assert mask.qos[Policy.Userdata].data == \
        f'typehash={TYPE_HASHES["sensor_msgs/msg/Image"]};'.encode()
    assert mask.qos[Policy.Reliability] == Policy.Reliability.BestEffort
    assert mask.qos[Policy.History] == Policy.History.KeepLast(5)
    assert mask.qos[Policy.DataRepresentation] == Policy.DataRepresentation(
        use_cdrv0_representation=True)
    assert mask.qos[Policy.WriterDataLifecycle] == Policy.WriterDataLifecycle(autodispose=False)

    # ros_discovery_info, read late (transient local) like `ros2 node list` does
    reader, info = matched_writer(
        spy, 'ros_discovery_info', dds_types.ParticipantEntitiesInfo_,
        Qos(Policy.Reliability.Reliable(duration(seconds=1)), Policy.History.KeepLast(1),
            Policy.Durability.TransientLocal))
    assert info.type_name == 'rmw_dds_common::msg::dds_::ParticipantEntitiesInfo_'
    assert info.qos[Policy.Userdata].data == \
        f'typehash={TYPE_HASHES["rmw_dds_common/msg/ParticipantEntitiesInfo"]};'.encode()
    assert info.qos[Policy.Durability] == Policy.Durability.TransientLocal
    latest: list = []
    assert wait_until(lambda: latest.extend(
        s for s in reader.take(N=10) if hasattr(s, 'gid')) or latest)
    sample = latest[-1]
    assert bytes(sample.gid.data) == node.gid
    [entry] = sample.node_entities_info_seq
    assert (entry.node_namespace, entry.node_name) == ('/car', 'vbp')
    rosout = node._rosout.publisher.gid
    assert sorted(bytes(g.data) for g in entry.writer_gid_seq) == sorted([pub.gid, rosout])
    assert [bytes(g.data) for g in entry.reader_gid_seq] == [sub.gid]
    node.close()


def test_humble_discovery_uses_24_byte_gids(domain: int) -> None:
    node = create_transport('cyclonedds', node_name='vbp', domain_id=domain, distro='humble',
                            rosout=False)
    try:
        pub = node.create_publisher('/x', Float32, DEFAULT)
        info = node.discovery_info()
        assert list(info.gid.data) == list(node.gid) + [0] * 8
        assert [list(g.data) for g in info.node_entities_info_seq[0].writer_gid_seq] == \
            [list(pub.gid) + [0] * 8]
    finally:
        node.close()


@pytest.mark.parametrize('rename', ['__node', '__name'])
def test_remapping_and_node_rename(domain: int, rename: str) -> None:
    node = DdsTransport('vbp', domain_id=domain,
                        remaps={'/camera/image_raw': '/front/image', rename: 'steer'})
    assert node.node_name == 'steer'
    assert node.resolve_topic('/camera/image_raw') == '/front/image'
    assert node.resolve_topic('~/mask') == '/steer/mask'
    assert node.resolve_topic('{node}/mask') == '/steer/mask'
    node.close()


@pytest.mark.parametrize('name, namespace', [('my-node', '/'), ('1node', '/'), ('', '/'),
                                             ('vbp', '/a//b'), ('vbp', '/ok-ns'),
                                             ('vbp', '/1a')])
def test_invalid_node_names_refused_as_rcl_does(name: str, namespace: str) -> None:
    with pytest.raises(TransportError, match='invalid'):
        DdsTransport(name, namespace=namespace, domain_id=0)


def test_one_topic_one_type(pair) -> None:
    a, _ = pair
    a.create_publisher('/x', Float32, DEFAULT)
    with pytest.raises(TransportError, match='already carries std_msgs/msg/Float32'):
        a.create_publisher('/x', Image, DEFAULT)


def test_ros_parameters_ignored_and_bad_domain_refused(domain: int, monkeypatch) -> None:
    from vbp_ros.transport.parameters import ParamSpec
    node = DdsTransport('vbp', domain_id=domain,
                        param_values={'use_sim_time': False, 'alpha': 0.5,
                                      'qos_overrides./x.publisher.depth': 3})
    assert node.declare_parameters([ParamSpec('alpha', 1.0, 'a')]) == {'alpha': 0.5}
    node.close()
    monkeypatch.setenv('ROS_DOMAIN_ID', 'abc')
    with pytest.raises(TransportError, match='ROS_DOMAIN_ID'):
        DdsTransport('vbp')


@pytest.mark.parametrize('namespace, logger', [('/', 'vbp'), ('/robot/front', 'robot.front.vbp')])
def test_logs_reach_rosout(domain: int, namespace: str, logger: str) -> None:
    node = DdsTransport('vbp', namespace=namespace, domain_id=domain)
    node.logger.warning('camera %s is silent', '/cam')
    spy = DomainParticipant(domain)
    reader, info = matched_writer(
        spy, 'rt/rosout', dds_types.Log_,
        Qos(Policy.Reliability.Reliable(duration(seconds=1)), Policy.History.KeepLast(1000),
            Policy.Durability.TransientLocal))
    assert info.type_name == 'rcl_interfaces::msg::dds_::Log_'
    # rcl's rosout profile: a late subscriber gets the last 10 s of log lines, not all of them.
    assert info.qos[Policy.Lifespan] == Policy.Lifespan(duration(seconds=10))
    logs: list = []
    assert wait_until(lambda: logs.extend(s for s in reader.take(N=100) if hasattr(s, 'msg'))
                      or logs)
    [log] = logs
    assert (log.level, log.name, log.msg) == (30, logger, 'camera /cam is silent')
    assert log.function == 'test_logs_reach_rosout'
    node.close()
    assert not any(isinstance(h, logging.Handler) and h.__class__.__name__ == 'RosoutHandler'
                   for h in node.logger.handlers)


def test_late_rosout_reader_gets_the_history(domain: int) -> None:
    # rmw_cyclonedds_cpp gives transient-local writers a durability service as deep as their
    # history; without it Cyclone keeps only the last sample for late joiners.
    node = DdsTransport('vbp', domain_id=domain)
    for i in range(20):
        node.logger.warning('line %d', i)
    spy = DomainParticipant(domain)
    reader, _ = matched_writer(
        spy, 'rt/rosout', dds_types.Log_,
        Qos(Policy.Reliability.Reliable(duration(seconds=1)), Policy.History.KeepLast(1000),
            Policy.Durability.TransientLocal))
    logs: list = []
    assert wait_until(lambda: logs.extend(s.msg for s in reader.take(N=100)
                                          if hasattr(s, 'msg')) or len(logs) >= 20)
    assert logs == [f'line {i}' for i in range(20)]
    node.close()


def test_python_levels_map_to_ros_severities() -> None:
    from vbp_ros.transport.rosout import _ros_level
    assert [_ros_level(n) for n in (5, 10, 15, 25, 45, 60)] == [10, 10, 10, 20, 40, 50]
