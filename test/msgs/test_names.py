"""Type names, .msg definitions, RIHS01 hashes and rosbags type stores."""
from __future__ import annotations

import dataclasses
from typing import Any

import pytest
from rosbags.typesys import get_types_from_msg, get_typestore, Stores

from vbp_ros import msgs
from vbp_ros.msgs import (AckermannDriveStamped, compute_type_hash, dds_type, discovery_type,
                          Float32, HumbleGid, HumbleParticipantEntitiesInfo, Image, MESSAGE_TYPES,
                          msg_definition, MsgError, ParticipantEntitiesInfo, ros_type, type_hash,
                          types_for, typestore)
from vbp_ros.msgs.names import TYPE_HASHES
from vbp_ros.msgs.registry import HUMBLE_TYPES
from vbp_ros.msgs.store import EXTRA_TYPES

ALL = [*MESSAGE_TYPES, *HUMBLE_TYPES]
STOCK = [cls for cls in MESSAGE_TYPES if cls not in EXTRA_TYPES]


def _distro(cls: type) -> str:
    return 'humble' if cls in HUMBLE_TYPES else 'jazzy'


@pytest.fixture(scope='module')
def stock_stores() -> dict[str, Any]:
    return {'jazzy': get_typestore(Stores.ROS2_JAZZY), 'humble': get_typestore(Stores.ROS2_HUMBLE)}


def test_names() -> None:
    assert ros_type(Image) == 'sensor_msgs/msg/Image'
    assert ros_type(Image()) == 'sensor_msgs/msg/Image'
    assert dds_type(Image) == 'sensor_msgs::msg::dds_::Image_'
    assert dds_type(ParticipantEntitiesInfo) == \
        'rmw_dds_common::msg::dds_::ParticipantEntitiesInfo_'
    assert dds_type(AckermannDriveStamped) == 'ackermann_msgs::msg::dds_::AckermannDriveStamped_'
    with pytest.raises(MsgError, match='not a message class'):
        ros_type(int)


def test_known_image_hash() -> None:
    assert type_hash(Image) == \
        'RIHS01_d31d41a9a4c4bc8eae9be757b0beed306564f7526c88ea6a4588fb9582527d47'


@pytest.mark.parametrize('cls', ALL, ids=lambda c: c.__name__)
def test_hash_table_matches_rosbags(cls: type) -> None:
    assert type_hash(cls) == compute_type_hash(cls, _distro(cls))


#: Hashes that rosidl (rosidl_generator_type_description) gives for the upstream .msg files of
#: rmw_dds_common: Jazzy's 16-byte Gid and the same files with Humble's 24-byte one.
UPSTREAM_RMW_DDS_COMMON = {
    'Gid': 'RIHS01_ab6f21cfbb0a6dbb837161e1110c2051a2850ed9f9c53944d7115d9bcebedf71',
    'NodeEntitiesInfo':
        'RIHS01_8ffef65ee2d088c63b1e8fcd31e800ba9fc8dbe0ee15ca60d1676de5218087a7',
    'ParticipantEntitiesInfo':
        'RIHS01_91a0593bacdcc50ea9bdcf849a938b128412cc1ea821245c663bcd26f83c295e',
    'HumbleGid': 'RIHS01_af578f740a4c2f04ac7455b9cc48cba5cd5580b7aaecdaca7d11d65c1d5ec32c',
    'HumbleNodeEntitiesInfo':
        'RIHS01_2f4fe7c6c96117fe4397bb6c0a87c8a952c1d5e7f25a63133a81b684c8456726',
    'HumbleParticipantEntitiesInfo':
        'RIHS01_a8ade1e13aeb0a06dfed30a0b315c682811598508f6fa4015aa543f00360ff7d',
}


@pytest.mark.parametrize('name', sorted(UPSTREAM_RMW_DDS_COMMON))
def test_char_fields_hash_as_rosidl_does(name: str) -> None:
    # rosidl hashes `char[16] data` as the uint8 array it becomes in IDL; a char hash would
    # give ros_discovery_info a type hash no ROS 2 node announces.
    cls = getattr(msgs, name)
    assert compute_type_hash(cls) == UPSTREAM_RMW_DDS_COMMON[name]
    assert type_hash(cls) == UPSTREAM_RMW_DDS_COMMON[name]


def test_hash_table_has_no_stale_entries() -> None:
    assert len(TYPE_HASHES) == len(ALL)
    assert len({type_hash(cls) for cls in ALL}) == len(ALL)
    assert type_hash(HumbleGid) != type_hash(types_for()['rmw_dds_common/msg/Gid'])


@pytest.mark.parametrize('cls', STOCK + list(HUMBLE_TYPES), ids=lambda c: c.__name__)
def test_definition_matches_stock_store(cls: type, stock_stores: dict[str, Any]) -> None:
    store = stock_stores[_distro(cls)]
    parsed = get_types_from_msg(msg_definition(cls), ros_type(cls))
    assert parsed[ros_type(cls)] == store.fielddefs[ros_type(cls)]


@pytest.mark.parametrize('cls', ALL, ids=lambda c: c.__name__)
def test_field_names_match_store(cls: type) -> None:
    store = typestore(_distro(cls))
    names = [name for name, _ in store.fielddefs[ros_type(cls)][1]]
    assert names == [fld.name for fld in dataclasses.fields(cls)]


def test_typestore_has_ackermann_and_is_fresh() -> None:
    store = typestore()
    assert 'ackermann_msgs/msg/AckermannDriveStamped' in store.types
    assert 'ackermann_msgs/msg/AckermannDriveStamped' not in get_typestore(Stores.ROS2_JAZZY).types
    humble = typestore('humble')
    assert humble.fielddefs['rmw_dds_common/msg/Gid'][1][0][1][1][1] == 24
    assert store.fielddefs['rmw_dds_common/msg/Gid'][1][0][1][1][1] == 16
    with pytest.raises(MsgError, match="unknown ROS 2 distribution 'foxy'"):
        typestore('foxy')


def test_definition_text() -> None:
    assert msg_definition(Float32) == 'float32 data\n'
    assert msg_definition(AckermannDriveStamped) == \
        'std_msgs/Header header\nackermann_msgs/AckermannDrive drive\n'


def test_discovery_type_per_distro() -> None:
    assert discovery_type() is ParticipantEntitiesInfo
    assert discovery_type('iron') is ParticipantEntitiesInfo
    assert discovery_type('humble') is HumbleParticipantEntitiesInfo


@pytest.mark.parametrize('distro', ['humble', 'iron', 'jazzy', 'kilted', 'rolling', 'Jazzy'])
def test_typestore_for_every_distro(distro: str) -> None:
    store = typestore(distro)
    for cls in types_for(distro.lower()).values():
        if not ros_type(cls).startswith('rmw_dds_common/'):  # rosbags hashes char as char
            assert store.hash_rihs01(ros_type(cls)) == type_hash(cls)
