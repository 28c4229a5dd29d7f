# mypy: disable-error-code="assignment, type-arg, valid-type"
"""Cyclone DDS type descriptions of the ROS messages the node moves, for the PyPI ``cyclonedds``.

The node never serialises through these classes on its hot path: samples travel as CDR bytes made
by :mod:`vbp_ros.msgs`. The classes exist because a DDS topic needs a type: they give Cyclone the
DDS type name rmw_cyclonedds_cpp uses (``sensor_msgs::msg::dds_::Image_``), a keyless final
struct, and the member layout, which Cyclone uses to check incoming CDR (a truncated sample is
dropped by DDS). They must match the ROS definitions member for member; the tests check that each
serialises a message to the same bytes as :func:`vbp_ros.msgs.serialize`.

Layouts are those of ROS 2 Humble, Iron, Jazzy, Kilted and Rolling, which agree for these
messages; only ``rmw_dds_common/msg/Gid`` differs (``char[24]`` on Humble, ``char[16]`` after).
"""
# No ``from __future__ import annotations`` here: cyclonedds reads these annotations at run time.
from dataclasses import dataclass, field

from cyclonedds.idl import IdlStruct
from cyclonedds.idl.annotations import final
import cyclonedds.idl.types as t


@final
@dataclass
class Time_(IdlStruct, typename='builtin_interfaces::msg::dds_::Time_'):  # noqa: N801
    """builtin_interfaces/msg/Time."""

    sec: t.int32 = 0
    nanosec: t.uint32 = 0


@final
@dataclass
class Header_(IdlStruct, typename='std_msgs::msg::dds_::Header_'):  # noqa: N801
    """std_msgs/msg/Header."""

    stamp: Time_ = field(default_factory=Time_)
    frame_id: str = ''


@final
@dataclass
class Image_(IdlStruct, typename='sensor_msgs::msg::dds_::Image_'):  # noqa: N801
    """sensor_msgs/msg/Image."""

    header: Header_ = field(default_factory=Header_)
    height: t.uint32 = 0
    width: t.uint32 = 0
    encoding: str = ''
    is_bigendian: t.uint8 = 0
    step: t.uint32 = 0
    data: t.sequence[t.uint8] = field(default_factory=list)


@final
@dataclass
class CompressedImage_(IdlStruct,  # noqa: N801
                       typename='sensor_msgs::msg::dds_::CompressedImage_'):
    """sensor_msgs/msg/CompressedImage."""

    header: Header_ = field(default_factory=Header_)
    format: str = ''
    data: t.sequence[t.uint8] = field(default_factory=list)


@final
@dataclass
class AckermannDrive_(IdlStruct,  # noqa: N801
                      typename='ackermann_msgs::msg::dds_::AckermannDrive_'):
    """ackermann_msgs/msg/AckermannDrive."""

    steering_angle: t.float32 = 0.0
    steering_angle_velocity: t.float32 = 0.0
    speed: t.float32 = 0.0
    acceleration: t.float32 = 0.0
    jerk: t.float32 = 0.0


@final
@dataclass
class AckermannDriveStamped_(IdlStruct,  # noqa: N801
                             typename='ackermann_msgs::msg::dds_::AckermannDriveStamped_'):
    """ackermann_msgs/msg/AckermannDriveStamped."""

    header: Header_ = field(default_factory=Header_)
    drive: AckermannDrive_ = field(default_factory=AckermannDrive_)


@final
@dataclass
class KeyValue_(IdlStruct, typename='diagnostic_msgs::msg::dds_::KeyValue_'):  # noqa: N801
    """diagnostic_msgs/msg/KeyValue."""

    key: str = ''
    value: str = ''


@final
@dataclass
class DiagnosticStatus_(IdlStruct,  # noqa: N801
                        typename='diagnostic_msgs::msg::dds_::DiagnosticStatus_'):
    """diagnostic_msgs/msg/DiagnosticStatus."""

    level: t.uint8 = 0
    name: str = ''
    message: str = ''
    hardware_id: str = ''
    values: t.sequence[KeyValue_] = field(default_factory=list)


@final
@dataclass
class DiagnosticArray_(IdlStruct,  # noqa: N801
                       typename='diagnostic_msgs::msg::dds_::DiagnosticArray_'):
    """diagnostic_msgs/msg/DiagnosticArray."""

    header: Header_ = field(default_factory=Header_)
    status: t.sequence[DiagnosticStatus_] = field(default_factory=list)


@final
@dataclass
class Float32_(IdlStruct, typename='std_msgs::msg::dds_::Float32_'):  # noqa: N801
    """std_msgs/msg/Float32."""

    data: t.float32 = 0.0


@final
@dataclass
class String_(IdlStruct, typename='std_msgs::msg::dds_::String_'):  # noqa: N801
    """std_msgs/msg/String."""

    data: str = ''


@final
@dataclass
class Log_(IdlStruct, typename='rcl_interfaces::msg::dds_::Log_'):  # noqa: N801
    """rcl_interfaces/msg/Log (what nodes publish on /rosout)."""

    stamp: Time_ = field(default_factory=Time_)
    level: t.uint8 = 20
    name: str = ''
    msg: str = ''
    file: str = ''
    function: str = ''
    line: t.uint32 = 0


@final
@dataclass
class Gid_(IdlStruct, typename='rmw_dds_common::msg::dds_::Gid_'):  # noqa: N801
    """rmw_dds_common/msg/Gid, Iron and newer (16 bytes)."""

    data: t.array[t.uint8, 16] = field(default_factory=lambda: [0] * 16)


@final
@dataclass
class NodeEntitiesInfo_(IdlStruct,  # noqa: N801
                        typename='rmw_dds_common::msg::dds_::NodeEntitiesInfo_'):
    """rmw_dds_common/msg/NodeEntitiesInfo, Iron and newer."""

    node_namespace: t.bounded_str[256] = '/'
    node_name: t.bounded_str[256] = ''
    reader_gid_seq: t.sequence[Gid_] = field(default_factory=list)
    writer_gid_seq: t.sequence[Gid_] = field(default_factory=list)


@final
@dataclass
class ParticipantEntitiesInfo_(IdlStruct,  # noqa: N801
                               typename='rmw_dds_common::msg::dds_::ParticipantEntitiesInfo_'):
    """rmw_dds_common/msg/ParticipantEntitiesInfo, Iron and newer."""

    gid: Gid_ = field(default_factory=Gid_)
    node_entities_info_seq: t.sequence[NodeEntitiesInfo_] = field(default_factory=list)


@final
@dataclass
class GidHumble_(IdlStruct, typename='rmw_dds_common::msg::dds_::Gid_'):  # noqa: N801
    """rmw_dds_common/msg/Gid on Humble (24 bytes, the GUID then zeros)."""

    data: t.array[t.uint8, 24] = field(default_factory=lambda: [0] * 24)


@final
@dataclass
class NodeEntitiesInfoHumble_(IdlStruct,  # noqa: N801
                              typename='rmw_dds_common::msg::dds_::NodeEntitiesInfo_'):
    """rmw_dds_common/msg/NodeEntitiesInfo on Humble."""

    node_namespace: t.bounded_str[256] = '/'
    node_name: t.bounded_str[256] = ''
    reader_gid_seq: t.sequence[GidHumble_] = field(default_factory=list)
    writer_gid_seq: t.sequence[GidHumble_] = field(default_factory=list)


@final
@dataclass
class ParticipantEntitiesInfoHumble_(  # noqa: N801
        IdlStruct, typename='rmw_dds_common::msg::dds_::ParticipantEntitiesInfo_'):
    """rmw_dds_common/msg/ParticipantEntitiesInfo on Humble."""

    gid: GidHumble_ = field(default_factory=GidHumble_)
    node_entities_info_seq: t.sequence[NodeEntitiesInfoHumble_] = field(default_factory=list)


#: ROS type name -> Cyclone type, for every type the transport can carry.
DDS_TYPES: dict[str, type[IdlStruct]] = {
    'sensor_msgs/msg/Image': Image_,
    'sensor_msgs/msg/CompressedImage': CompressedImage_,
    'ackermann_msgs/msg/AckermannDriveStamped': AckermannDriveStamped_,
    'diagnostic_msgs/msg/DiagnosticArray': DiagnosticArray_,
    'std_msgs/msg/Float32': Float32_,
    'std_msgs/msg/String': String_,
    'rcl_interfaces/msg/Log': Log_,
    'rmw_dds_common/msg/ParticipantEntitiesInfo': ParticipantEntitiesInfo_,
}
