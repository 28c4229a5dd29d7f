"""Type names, .msg definitions, RIHS01 hashes and rosbags type stores."""
from __future__ import annotations

import dataclasses
from typing import Any

import pytest
from rosbags.typesys import get_types_from_msg, get_typestore, Stores

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
        assert store.hash_rihs01(ros_type(cls)) == type_hash(cls)
