"""Message type identity on the wire: ROS type name and RIHS01 type hash.

Endpoints accept either a :mod:`vbp_ros.msgs` dataclass or a ROS type name string. The hashes below
are ROS 2 Jazzy's (Iron and newer send them in endpoint USER_DATA; Humble ignores them); the tests
check them against :func:`vbp_ros.msgs.type_hash` and against ``rosbags``.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from vbp_ros.transport.errors import TransportError

#: RIHS01 hashes (ROS 2 Jazzy) of the types the transport carries.
TYPE_HASHES: dict[str, str] = {
    'sensor_msgs/msg/Image':
        'RIHS01_d31d41a9a4c4bc8eae9be757b0beed306564f7526c88ea6a4588fb9582527d47',
    'sensor_msgs/msg/CompressedImage':
        'RIHS01_15640771531571185e2efc8a100baf923961a4d15d5569652e6cb6691e8e371a',
    'ackermann_msgs/msg/AckermannDriveStamped':
        'RIHS01_48ca7612a08d3bb72744fd98b71b7cf2ea24c6ad50fa4e1aa0bbad963c90d8cf',
    'diagnostic_msgs/msg/DiagnosticArray':
        'RIHS01_5a8a36efb05fb25070fa0fb3810290c0e6cd4862b54a8fb975a1ee8dc55a333e',
    'std_msgs/msg/Float32':
        'RIHS01_7170d3d8f841f7be3172ce5f4f59f3a4d7f63b0447e8b33327601ad64d83d6e2',
    'std_msgs/msg/String':
        'RIHS01_df668c740482bbd48fb39d76a70dfd4bd59db1288021743503259e948f6b1a18',
    'rcl_interfaces/msg/Log':
        'RIHS01_e28ce254ca8abc06abf92773b74602cdbf116ed34fbaf294fb9f81da9f318eac',
    'rmw_dds_common/msg/ParticipantEntitiesInfo':
        'RIHS01_91a0593bacdcc50ea9bdcf849a938b128412cc1ea821245c663bcd26f83c295e',
}


@dataclass(frozen=True)
class MsgType:
    """A message type as the wire sees it.

    Attributes:
        ros_type: e.g. 'sensor_msgs/msg/Image'.
        type_hash: 'RIHS01_<64 hex>'.
        cls: the :mod:`vbp_ros.msgs` dataclass, when known (used to serialise objects).
    """

    ros_type: str
    type_hash: str
    cls: Any = None


def resolve(msg_type: Any) -> MsgType:
    """Turn a msgs dataclass or a ROS type name into a :class:`MsgType`.

    Args:
        msg_type: a :mod:`vbp_ros.msgs` class, or a name like 'sensor_msgs/msg/Image'.

    Returns:
        The type's identity.

    Raises:
        TransportError: the type is unknown to the transport.
    """
    if isinstance(msg_type, MsgType):
        return msg_type
    if isinstance(msg_type, str):
        name = msg_type if '/msg/' in msg_type else msg_type.replace('/', '/msg/', 1)
        if name not in TYPE_HASHES:
            msg = f'message type {msg_type!r} is not carried by the transport'
            raise TransportError(msg)
        cls = None
        try:
            from vbp_ros import msgs
            cls = getattr(msgs, name.rsplit('/', 1)[1], None)
        except ImportError:
            cls = None
        return MsgType(name, TYPE_HASHES[name], cls)
    from vbp_ros.msgs import ros_type, type_hash
    return MsgType(ros_type(msg_type), type_hash(msg_type), msg_type)
