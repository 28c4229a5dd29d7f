"""ROS 2 message types as plain dataclasses with the ROS field names.

Each class carries its ROS type name in ``__msgtype__`` and declares its fields with
:func:`~vbp_ros.msgs.fields.ros`, which is all the CDR code and the name helpers need.
Byte arrays (``uint8[]``, ``char[N]``) are bytes-like: ``bytes``, ``bytearray`` or
``memoryview`` (deserialization yields a zero-copy ``memoryview``).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar, Union

from vbp_ros.msgs.fields import ros

#: What byte-array fields hold.
BytesLike = Union[bytes, bytearray, memoryview]


@dataclass
class Time:
    """builtin_interfaces/msg/Time: seconds and nanoseconds since the epoch."""

    __msgtype__: ClassVar[str] = 'builtin_interfaces/msg/Time'
    sec: int = ros('int32')
    nanosec: int = ros('uint32')

    @classmethod
    def from_ns(cls, ns: int) -> Time:
        """Build a Time from integer nanoseconds."""
        sec, nanosec = divmod(int(ns), 1_000_000_000)
        return cls(sec, nanosec)

    def to_ns(self) -> int:
        """Return the time as integer nanoseconds."""
        return self.sec * 1_000_000_000 + self.nanosec


@dataclass
class Header:
    """std_msgs/msg/Header: timestamp and coordinate frame of the data."""

    __msgtype__: ClassVar[str] = 'std_msgs/msg/Header'
    stamp: Time = ros(Time)
    frame_id: str = ros('string')


@dataclass
class Image:
    """sensor_msgs/msg/Image: an uncompressed image, rows ``step`` bytes apart."""

    __msgtype__: ClassVar[str] = 'sensor_msgs/msg/Image'
    header: Header = ros(Header)
    height: int = ros('uint32')
    width: int = ros('uint32')
    encoding: str = ros('string')
    is_bigendian: int = ros('uint8')
    step: int = ros('uint32')
    data: BytesLike = ros('uint8[]')


@dataclass
class CompressedImage:
    """sensor_msgs/msg/CompressedImage: a JPEG/PNG-compressed image."""

    __msgtype__: ClassVar[str] = 'sensor_msgs/msg/CompressedImage'
    header: Header = ros(Header)
    format: str = ros('string')
    data: BytesLike = ros('uint8[]')


@dataclass
class AckermannDrive:
    """ackermann_msgs/msg/AckermannDrive: a drive command for a car-like vehicle."""

    __msgtype__: ClassVar[str] = 'ackermann_msgs/msg/AckermannDrive'
    steering_angle: float = ros('float32')
    steering_angle_velocity: float = ros('float32')
    speed: float = ros('float32')
    acceleration: float = ros('float32')
    jerk: float = ros('float32')


@dataclass
class AckermannDriveStamped:
    """ackermann_msgs/msg/AckermannDriveStamped: a drive command with a header."""

    __msgtype__: ClassVar[str] = 'ackermann_msgs/msg/AckermannDriveStamped'
    header: Header = ros(Header)
    drive: AckermannDrive = ros(AckermannDrive)


@dataclass
class Float32:
    """std_msgs/msg/Float32: a single float."""

    __msgtype__: ClassVar[str] = 'std_msgs/msg/Float32'
    data: float = ros('float32')


@dataclass
class KeyValue:
    """diagnostic_msgs/msg/KeyValue: one named diagnostic value."""

    __msgtype__: ClassVar[str] = 'diagnostic_msgs/msg/KeyValue'
    key: str = ros('string')
    value: str = ros('string')


@dataclass
class DiagnosticStatus:
    """diagnostic_msgs/msg/DiagnosticStatus: the status of one component."""

    __msgtype__: ClassVar[str] = 'diagnostic_msgs/msg/DiagnosticStatus'
    __constants__: ClassVar[tuple[tuple[str, str], ...]] = (
        ('byte', 'OK'), ('byte', 'WARN'), ('byte', 'ERROR'), ('byte', 'STALE'))
    OK: ClassVar[int] = 0
    WARN: ClassVar[int] = 1
    ERROR: ClassVar[int] = 2
    STALE: ClassVar[int] = 3
    level: int = ros('byte')
    name: str = ros('string')
    message: str = ros('string')
    hardware_id: str = ros('string')
    values: list[KeyValue] = ros(KeyValue, '[]')


@dataclass
class DiagnosticArray:
    """diagnostic_msgs/msg/DiagnosticArray: the statuses of several components."""

    __msgtype__: ClassVar[str] = 'diagnostic_msgs/msg/DiagnosticArray'
    header: Header = ros(Header)
    status: list[DiagnosticStatus] = ros(DiagnosticStatus, '[]')


# --- rmw_dds_common: what ROS 2 announces on the DDS topic ros_discovery_info ------------------
# Iron and newer (Jazzy, Kilted, Rolling) use a 16-byte Gid; Humble uses 24 bytes.

@dataclass
class Gid:
    """rmw_dds_common/msg/Gid (Iron and newer): a 16-byte DDS GUID."""

    __msgtype__: ClassVar[str] = 'rmw_dds_common/msg/Gid'
    data: bytes = ros('char[16]')


@dataclass
class NodeEntitiesInfo:
    """rmw_dds_common/msg/NodeEntitiesInfo (Iron and newer): one node's readers and writers."""

    __msgtype__: ClassVar[str] = 'rmw_dds_common/msg/NodeEntitiesInfo'
    node_namespace: str = ros('string<=256')
    node_name: str = ros('string<=256')
    reader_gid_seq: list[Gid] = ros(Gid, '[]')
    writer_gid_seq: list[Gid] = ros(Gid, '[]')


@dataclass
class ParticipantEntitiesInfo:
    """rmw_dds_common/msg/ParticipantEntitiesInfo (Iron and newer): a participant's nodes."""

    __msgtype__: ClassVar[str] = 'rmw_dds_common/msg/ParticipantEntitiesInfo'
    gid: Gid = ros(Gid)
    node_entities_info_seq: list[NodeEntitiesInfo] = ros(NodeEntitiesInfo, '[]')


@dataclass
class HumbleGid:
    """rmw_dds_common/msg/Gid as in Humble: a 24-byte DDS GUID."""

    __msgtype__: ClassVar[str] = 'rmw_dds_common/msg/Gid'
    data: bytes = ros('char[24]')


@dataclass
class HumbleNodeEntitiesInfo:
    """rmw_dds_common/msg/NodeEntitiesInfo as in Humble (24-byte Gids)."""

    __msgtype__: ClassVar[str] = 'rmw_dds_common/msg/NodeEntitiesInfo'
    node_namespace: str = ros('string<=256')
    node_name: str = ros('string<=256')
    reader_gid_seq: list[HumbleGid] = ros(HumbleGid, '[]')
    writer_gid_seq: list[HumbleGid] = ros(HumbleGid, '[]')


@dataclass
class HumbleParticipantEntitiesInfo:
    """rmw_dds_common/msg/ParticipantEntitiesInfo as in Humble (24-byte Gids)."""

    __msgtype__: ClassVar[str] = 'rmw_dds_common/msg/ParticipantEntitiesInfo'
    gid: HumbleGid = ros(HumbleGid)
    node_entities_info_seq: list[HumbleNodeEntitiesInfo] = ros(HumbleNodeEntitiesInfo, '[]')
