"""Which message classes exist, by ROS type name and distribution."""
from __future__ import annotations

from vbp_ros.msgs.errors import MsgError
from vbp_ros.msgs.types import (AckermannDrive, AckermannDriveStamped, CompressedImage,
                                DiagnosticArray, DiagnosticStatus, Float32, Gid, Header,
                                HumbleGid, HumbleNodeEntitiesInfo, HumbleParticipantEntitiesInfo,
                                Image, KeyValue, NodeEntitiesInfo, ParticipantEntitiesInfo, Time)

#: ROS 2 distributions whose layouts are known; Humble differs only in rmw_dds_common's Gid.
DISTROS = ('humble', 'iron', 'jazzy', 'kilted', 'rolling')
DEFAULT_DISTRO = 'jazzy'

#: Every message class with the Iron-and-newer layout.
MESSAGE_TYPES: tuple[type, ...] = (
    Time, Header, Image, CompressedImage, AckermannDrive, AckermannDriveStamped, Float32,
    KeyValue, DiagnosticStatus, DiagnosticArray, Gid, NodeEntitiesInfo, ParticipantEntitiesInfo)
#: Humble's replacements.
HUMBLE_TYPES: tuple[type, ...] = (HumbleGid, HumbleNodeEntitiesInfo,
                                  HumbleParticipantEntitiesInfo)


def check_distro(distro: str) -> str:
    """Return the distribution name lower-cased, or raise MsgError naming it.

    Args:
        distro: A ROS 2 distribution name such as ``'jazzy'`` or ``'humble'``.

    Returns:
        The normalized name.

    Raises:
        MsgError: The distribution is not one of :data:`DISTROS`.
    """
    name = str(distro).lower()
    if name not in DISTROS:
        msg = f'unknown ROS 2 distribution {distro!r} (known: {", ".join(DISTROS)})'
        raise MsgError(msg)
    return name


def types_for(distro: str = DEFAULT_DISTRO) -> dict[str, type]:
    """Return ROS type name -> message class for a distribution.

    Args:
        distro: ``'jazzy'`` (default), ``'humble'``, ...

    Returns:
        A new dict, e.g. ``{'sensor_msgs/msg/Image': Image, ...}``.

    Raises:
        MsgError: Unknown distribution.
    """
    types = {cls.__msgtype__: cls for cls in MESSAGE_TYPES}   # type: ignore[attr-defined]
    if check_distro(distro) == 'humble':
        types.update({cls.__msgtype__: cls for cls in HUMBLE_TYPES})  # type: ignore[attr-defined]
    return types


def get_type(name: str, distro: str = DEFAULT_DISTRO) -> type:
    """Return the message class for a ROS type name.

    Args:
        name: ``'sensor_msgs/msg/Image'`` (``'sensor_msgs/Image'`` is accepted too).
        distro: Distribution whose layout to use (matters for rmw_dds_common only).

    Returns:
        The message class.

    Raises:
        MsgError: No such message type here, or unknown distribution.
    """
    types = types_for(distro)
    parts = name.split('/')
    key = f'{parts[0]}/msg/{parts[1]}' if len(parts) == 2 else name
    try:
        return types[key]
    except KeyError:
        msg = f'no message class for {name!r} (known: {", ".join(sorted(types))})'
        raise MsgError(msg) from None


def discovery_type(distro: str = DEFAULT_DISTRO) -> type:
    """Return the ParticipantEntitiesInfo class (for ``ros_discovery_info``) of a distribution.

    Args:
        distro: ``'jazzy'`` (16-byte Gid, also Iron/Kilted/Rolling) or ``'humble'`` (24 bytes).

    Returns:
        :class:`ParticipantEntitiesInfo` or :class:`HumbleParticipantEntitiesInfo`.

    Raises:
        MsgError: Unknown distribution.
    """
    return get_type('rmw_dds_common/msg/ParticipantEntitiesInfo', distro)
