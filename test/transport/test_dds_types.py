"""The Cyclone type descriptions and type hashes agree with vbp_ros.msgs and with ROS (rosbags)."""
from __future__ import annotations

import pytest

pytest.importorskip('cyclonedds')

from rosbags.typesys import get_types_from_msg, get_typestore, Stores  # noqa: E402

from vbp_ros import msgs  # noqa: E402
from vbp_ros.transport import dds_types as d  # noqa: E402
from vbp_ros.transport.types import resolve, TYPE_HASHES  # noqa: E402

ACKERMANN = {
    'ackermann_msgs/msg/AckermannDrive': (
        'float32 steering_angle\nfloat32 steering_angle_velocity\nfloat32 speed\n'
        'float32 acceleration\nfloat32 jerk\n'),
    'ackermann_msgs/msg/AckermannDriveStamped': 'std_msgs/Header header\nAckermannDrive drive\n',
}

HEADER = msgs.Header(stamp=msgs.Time(sec=12, nanosec=345), frame_id='camera')
PAIRS = [
    (msgs.Image(header=HEADER, height=2, width=3, encoding='rgb8', is_bigendian=0, step=9,
                data=bytes(range(18))),
     d.Image_(d.Header_(d.Time_(12, 345), 'camera'), 2, 3, 'rgb8', 0, 9, list(range(18)))),
    (msgs.CompressedImage(header=HEADER, format='jpeg', data=b'\xff\xd8xyz'),
     d.CompressedImage_(d.Header_(d.Time_(12, 345), 'camera'), 'jpeg', list(b'\xff\xd8xyz'))),
    (msgs.AckermannDriveStamped(header=HEADER, drive=msgs.AckermannDrive(steering_angle=0.25,
                                                                         speed=3.0)),
     d.AckermannDriveStamped_(d.Header_(d.Time_(12, 345), 'camera'),
                              d.AckermannDrive_(0.25, 0.0, 3.0, 0.0, 0.0))),
    (msgs.DiagnosticArray(header=HEADER, status=[msgs.DiagnosticStatus(
        level=1, name='vbp', message='m', hardware_id='cpu',
        values=[msgs.KeyValue(key='k', value='v')])]),
     d.DiagnosticArray_(d.Header_(d.Time_(12, 345), 'camera'), [d.DiagnosticStatus_(
         1, 'vbp', 'm', 'cpu', [d.KeyValue_('k', 'v')])])),
    (msgs.Float32(data=1.5), d.Float32_(1.5)),
    (msgs.ParticipantEntitiesInfo(gid=msgs.Gid(data=bytes(range(16))), node_entities_info_seq=[
        msgs.NodeEntitiesInfo(node_namespace='/', node_name='vbp',
                              reader_gid_seq=[msgs.Gid(data=bytes(16))],
                              writer_gid_seq=[])]),
     d.ParticipantEntitiesInfo_(d.Gid_(list(range(16))), [d.NodeEntitiesInfo_(
         '/', 'vbp', [d.Gid_([0] * 16)], [])])),
    (msgs.HumbleParticipantEntitiesInfo(gid=msgs.HumbleGid(data=bytes(range(24))),
                                        node_entities_info_seq=[]),
     d.ParticipantEntitiesInfoHumble_(d.GidHumble_(list(range(24))), [])),
]


@pytest.mark.parametrize('ours, cyclone', PAIRS, ids=[type(p[0]).__name__ for p in PAIRS])
def test_cyclone_types_serialise_like_msgs(ours: object, cyclone: object) -> None:
    assert cyclone.serialize(use_version_2=False) == msgs.serialize(ours)


@pytest.mark.parametrize('ros_type', sorted(TYPE_HASHES))
def test_type_hashes_match_ros(ros_type: str) -> None:
    store = get_typestore(Stores.ROS2_JAZZY)
    for name, text in ACKERMANN.items():
        store.register(get_types_from_msg(text, name))
    if ros_type.startswith('rmw_dds_common/'):
        # Its char[16] Gid: rosidl hashes it as uint8[16], rosbags as char (see test_names).
        assert store.hash_rihs01(ros_type) != TYPE_HASHES[ros_type]
        assert TYPE_HASHES[ros_type] == ('RIHS01_91a0593bacdcc50ea9bdcf849a938b128412cc1ea8212'
                                         '45c663bcd26f83c295e')
    else:
        assert store.hash_rihs01(ros_type) == TYPE_HASHES[ros_type]
    cls = getattr(msgs, ros_type.rsplit('/', 1)[1], None)
    if ros_type.endswith('ParticipantEntitiesInfo'):
        cls = msgs.discovery_type('jazzy')
    if cls is not None:
        assert msgs.type_hash(cls) == TYPE_HASHES[ros_type]
        assert resolve(cls).type_hash == TYPE_HASHES[ros_type]


@pytest.mark.parametrize('ros_type, cls', sorted(d.DDS_TYPES.items()))
def test_dds_type_names(ros_type: str, cls: type) -> None:
    pkg, _, name = ros_type.split('/')
    assert cls.__idl_typename__ == f'{pkg}::msg::dds_::{name}_'


def test_log_layout_matches_rosbags() -> None:
    store = get_typestore(Stores.ROS2_JAZZY)
    Log = store.types['rcl_interfaces/msg/Log']  # noqa: N806
    Time = store.types['builtin_interfaces/msg/Time']  # noqa: N806
    ref = store.serialize_cdr(Log(stamp=Time(sec=3, nanosec=4), level=30, name='vbp', msg='hi',
                                  file='f.py', function='fn', line=7), 'rcl_interfaces/msg/Log')
    ours = d.Log_(d.Time_(3, 4), 30, 'vbp', 'hi', 'f.py', 'fn', 7).serialize(use_version_2=False)
    assert ours == bytes(ref)
