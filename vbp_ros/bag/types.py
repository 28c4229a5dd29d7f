"""Message definitions and type hashes that a rosbag2 connection needs, by ROS type name.

rosbag2 stores, per connection, the ``.msg`` text of the type (with its dependencies) and its
RIHS01 type hash. Both come from the ``rosbags`` type store of :mod:`vbp_ros.msgs` for the
bag's distribution (Jazzy unless a Humble bag's topics are copied: some types changed layout,
e.g. ``sensor_msgs/msg/Range``), with ``ackermann_msgs`` registered from its ``.msg`` text.
"""
from __future__ import annotations

import functools
from typing import TYPE_CHECKING

from vbp_ros.bag.errors import BagError
from vbp_ros.msgs import typestore as _new_typestore
from vbp_ros.msgs.registry import DEFAULT_DISTRO
from vbp_ros.msgs.store import rosidl_chars

if TYPE_CHECKING:
    from rosbags.typesys.store import Typestore


@functools.lru_cache(maxsize=None)
def typestore(distro: str = DEFAULT_DISTRO) -> Typestore:
    """The type store for a distribution's connections (built once per distribution)."""
    return _new_typestore(distro)


@functools.lru_cache(maxsize=None)
def definition(ros_type: str, distro: str = DEFAULT_DISTRO) -> tuple[str, str]:
    """Look up the ``.msg`` text (with dependencies) and RIHS01 hash of a ROS type.

    Args:
        ros_type: e.g. ``'sensor_msgs/msg/Image'``.
        distro: whose layout of the type, e.g. ``'humble'``.

    Returns:
        (msgdef, rihs01) as rosbag2 stores them.

    Raises:
        BagError: the type is unknown.
    """
    store = typestore(distro)
    if ros_type not in store.fielddefs:
        msg = f'unknown message type {ros_type!r}: no definition to store in the bag'
        raise BagError(msg)
    msgdef, _ = store.generate_msgdef(ros_type, ros_version=2)
    if rosidl_chars(msgdef) != msgdef:  # rosbags would hash its char fields unlike rosidl
        return msgdef, hash_of_definition(ros_type, msgdef)
    return msgdef, store.hash_rihs01(ros_type)


def hash_of_definition(ros_type: str, msgdef: str) -> str:
    """RIHS01 hash of a type from its stored ``.msg`` text (with its dependencies), as rosidl
    computes it, for a definition that came without one (Humble bags, salvaged recordings).

    Raises:
        BagError: the text cannot be parsed.
    """
    from rosbags.typesys import get_types_from_msg, get_typestore, Stores

    store = get_typestore(Stores.EMPTY)
    try:
        store.register(get_types_from_msg(rosidl_chars(msgdef), ros_type))
        return store.hash_rihs01(ros_type)
    except KeyError as exc:
        raise BagError(f'cannot read the definition of {ros_type}: it lacks {exc}') from None
    except Exception as exc:  # noqa: BLE001 -- rosbags raises assorted parse errors
        reason = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        raise BagError(f'cannot read the definition of {ros_type}: {reason}') from None
