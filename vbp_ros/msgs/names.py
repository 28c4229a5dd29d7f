"""Names, definitions and hashes of message types as ROS 2 and DDS know them."""
from __future__ import annotations

from typing import Any

from vbp_ros.msgs.errors import MsgError
from vbp_ros.msgs.fields import fields_of

#: RIHS01 type hashes (ROS 2 Iron and newer put them in every endpoint's USER_DATA),
#: keyed by ROS type name and Gid size. Computed as rosidl does (see store.compute_type_hash);
#: test/msgs/test_names.py checks every entry against it and against upstream values.
TYPE_HASHES: dict[tuple[str, int], str] = {
    ('builtin_interfaces/msg/Time', 0):
        'RIHS01_b106235e25a4c5ed35098aa0a61a3ee9c9b18d197f398b0e4206cea9acf9c197',
    ('std_msgs/msg/Header', 0):
        'RIHS01_f49fb3ae2cf070f793645ff749683ac6b06203e41c891e17701b1cb597ce6a01',
    ('sensor_msgs/msg/Image', 0):
        'RIHS01_d31d41a9a4c4bc8eae9be757b0beed306564f7526c88ea6a4588fb9582527d47',
    ('sensor_msgs/msg/CompressedImage', 0):
        'RIHS01_15640771531571185e2efc8a100baf923961a4d15d5569652e6cb6691e8e371a',
    ('ackermann_msgs/msg/AckermannDrive', 0):
        'RIHS01_acf287a224a947dd1b0b87d6d76cdb73f497b0237b8fc73be2173b2ebbb82c99',
    ('ackermann_msgs/msg/AckermannDriveStamped', 0):
        'RIHS01_48ca7612a08d3bb72744fd98b71b7cf2ea24c6ad50fa4e1aa0bbad963c90d8cf',
    ('std_msgs/msg/Float32', 0):
        'RIHS01_7170d3d8f841f7be3172ce5f4f59f3a4d7f63b0447e8b33327601ad64d83d6e2',
    ('diagnostic_msgs/msg/KeyValue', 0):
        'RIHS01_d68081eaa540288c5440753baecef0c4e16e81a5f78ad68902ded5100413bb42',
    ('diagnostic_msgs/msg/DiagnosticStatus', 0):
        'RIHS01_b0e3e692ea2d54a8af2f4ef1930e81556a2db55216b771f8a7d2724ed47bf0e4',
    ('diagnostic_msgs/msg/DiagnosticArray', 0):
        'RIHS01_5a8a36efb05fb25070fa0fb3810290c0e6cd4862b54a8fb975a1ee8dc55a333e',
    ('rmw_dds_common/msg/Gid', 16):
        'RIHS01_ab6f21cfbb0a6dbb837161e1110c2051a2850ed9f9c53944d7115d9bcebedf71',
    ('rmw_dds_common/msg/NodeEntitiesInfo', 16):
        'RIHS01_8ffef65ee2d088c63b1e8fcd31e800ba9fc8dbe0ee15ca60d1676de5218087a7',
    ('rmw_dds_common/msg/ParticipantEntitiesInfo', 16):
        'RIHS01_91a0593bacdcc50ea9bdcf849a938b128412cc1ea821245c663bcd26f83c295e',
    ('rmw_dds_common/msg/Gid', 24):
        'RIHS01_af578f740a4c2f04ac7455b9cc48cba5cd5580b7aaecdaca7d11d65c1d5ec32c',
    ('rmw_dds_common/msg/NodeEntitiesInfo', 24):
        'RIHS01_2f4fe7c6c96117fe4397bb6c0a87c8a952c1d5e7f25a63133a81b684c8456726',
    ('rmw_dds_common/msg/ParticipantEntitiesInfo', 24):
        'RIHS01_a8ade1e13aeb0a06dfed30a0b315c682811598508f6fa4015aa543f00360ff7d',
}


def _msg_class(cls_or_msg: Any) -> type:
    cls = cls_or_msg if isinstance(cls_or_msg, type) else type(cls_or_msg)
    if not isinstance(getattr(cls, '__msgtype__', None), str):
        msg = f'{cls!r} is not a message class'
        raise MsgError(msg)
    return cls


def ros_type(cls_or_msg: Any) -> str:
    """Return the ROS 2 type name of a message class or instance.

    Args:
        cls_or_msg: E.g. ``Image`` or ``Image()``.

    Returns:
        E.g. ``'sensor_msgs/msg/Image'``.

    Raises:
        MsgError: Not a message class.
    """
    return str(_msg_class(cls_or_msg).__msgtype__)   # type: ignore[attr-defined]


def dds_type(cls_or_msg: Any) -> str:
    """Return the DDS type name that ROS 2 middlewares use for a message type.

    Args:
        cls_or_msg: E.g. ``Image``.

    Returns:
        E.g. ``'sensor_msgs::msg::dds_::Image_'``.

    Raises:
        MsgError: Not a message class.
    """
    pkg, sub, name = ros_type(cls_or_msg).split('/')
    return f'{pkg}::{sub}::dds_::{name}_'


def msg_definition(cls_or_msg: Any) -> str:
    r"""Return the ``.msg`` text of a message type (fields and constants, no comments).

    The text parses with rosbags' ``get_types_from_msg`` into the same field definitions
    as the stock rosbags type stores have.

    Args:
        cls_or_msg: E.g. ``Image``.

    Returns:
        E.g. ``'std_msgs/Header header\\nuint32 height\\n...'`` (one line per field).

    Raises:
        MsgError: Not a message class.
    """
    cls = _msg_class(cls_or_msg)
    lines = [f'{typ} {name}={getattr(cls, name)!r}'
             for typ, name in getattr(cls, '__constants__', ())]
    lines += [f'{spec.type_text()} {spec.name}' for spec in fields_of(cls)]
    return '\n'.join(lines) + '\n'


def _gid_size(cls: type) -> int:
    for spec in fields_of(cls):
        if isinstance(spec.base, type):
            if getattr(spec.base, '__msgtype__') == 'rmw_dds_common/msg/Gid':
                return fields_of(spec.base)[0].fixed_length
            size = _gid_size(spec.base)
            if size:
                return size
    return 0


def type_hash(cls_or_msg: Any) -> str:
    """Return the RIHS01 type hash of a message type, as ROS 2 Iron and newer announce it.

    Args:
        cls_or_msg: E.g. ``Image``.

    Returns:
        E.g. ``'RIHS01_d31d41a9...'`` for ``sensor_msgs/msg/Image``.

    Raises:
        MsgError: Not a message class, or no hash known for it.
    """
    cls = _msg_class(cls_or_msg)
    name = ros_type(cls)
    size = fields_of(cls)[0].fixed_length if name == 'rmw_dds_common/msg/Gid' else _gid_size(cls)
    try:
        return TYPE_HASHES[name, size]
    except KeyError:
        msg = f'no type hash known for {name}'
        raise MsgError(msg) from None
