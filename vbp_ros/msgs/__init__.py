"""ROS 2 messages without ROS: dataclasses, fast CDR, type names, definitions and hashes.

Example:
    >>> from vbp_ros.msgs import Float32, serialize, deserialize
    >>> data = serialize(Float32(1.5))
    >>> data.hex()
    '000100000000c03f'
    >>> deserialize(data, Float32)
    Float32(data=1.5)
"""
from __future__ import annotations

from vbp_ros.msgs.cdr import deserialize, serialize
from vbp_ros.msgs.errors import MsgError
from vbp_ros.msgs.names import dds_type, msg_definition, ros_type, type_hash
from vbp_ros.msgs.registry import discovery_type, get_type, MESSAGE_TYPES, types_for
from vbp_ros.msgs.store import compute_type_hash, typestore
from vbp_ros.msgs.types import (AckermannDrive, AckermannDriveStamped, BytesLike,
                                CompressedImage, DiagnosticArray, DiagnosticStatus, Float32, Gid,
                                Header, HumbleGid, HumbleNodeEntitiesInfo,
                                HumbleParticipantEntitiesInfo, Image, KeyValue, NodeEntitiesInfo,
                                ParticipantEntitiesInfo, Time)

__all__ = [
    'AckermannDrive', 'AckermannDriveStamped', 'BytesLike', 'CompressedImage', 'compute_type_hash',
    'dds_type', 'deserialize', 'DiagnosticArray', 'DiagnosticStatus', 'discovery_type', 'Float32',
    'get_type', 'Gid', 'Header', 'HumbleGid', 'HumbleNodeEntitiesInfo',
    'HumbleParticipantEntitiesInfo', 'Image', 'KeyValue', 'MESSAGE_TYPES', 'msg_definition',
    'MsgError', 'NodeEntitiesInfo', 'ParticipantEntitiesInfo', 'ros_type', 'serialize', 'Time',
    'type_hash', 'types_for', 'typestore',
]
