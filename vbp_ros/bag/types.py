"""Message definitions and type hashes that a rosbag2 connection needs, by ROS type name.

rosbag2 stores, per connection, the ``.msg`` text of the type (with its dependencies) and its
RIHS01 type hash. Both come from a ``rosbags`` typestore: the one :mod:`vbp_ros.msgs` provides
when it has one, else Jazzy's built-in store plus ``ackermann_msgs`` registered from its ``.msg``
text (its hash then equals ROS's own).
"""
from __future__ import annotations

import functools
import importlib
from typing import TYPE_CHECKING

from vbp_ros.bag.errors import BagError

if TYPE_CHECKING:
    from rosbags.typesys.store import Typestore

ACKERMANN_DRIVE = """\
float32 steering_angle
float32 steering_angle_velocity
float32 speed
float32 acceleration
float32 jerk
"""
ACKERMANN_DRIVE_STAMPED = """\
std_msgs/Header header
AckermannDrive drive
"""


@functools.lru_cache(maxsize=1)
def typestore() -> Typestore:
    """Return the typestore used for output connections (built once)."""
    try:
        msgs = importlib.import_module('vbp_ros.msgs')
    except ImportError:
        msgs = None
    factory = getattr(msgs, 'typestore', None) or getattr(msgs, 'get_typestore', None)
    if callable(factory):
        store: Typestore = factory()
        if 'ackermann_msgs/msg/AckermannDriveStamped' in store.fielddefs:
            return store
    from rosbags.typesys import get_types_from_msg, get_typestore, Stores

    store = get_typestore(Stores.ROS2_JAZZY)
    add = {}
    add.update(get_types_from_msg(ACKERMANN_DRIVE, 'ackermann_msgs/msg/AckermannDrive'))
    add.update(get_types_from_msg(ACKERMANN_DRIVE_STAMPED,
                                  'ackermann_msgs/msg/AckermannDriveStamped'))
    store.register(add)
    return store


@functools.lru_cache(maxsize=None)
def definition(ros_type: str) -> tuple[str, str]:
    """Look up the ``.msg`` text (with dependencies) and RIHS01 hash of a ROS type.

    Args:
        ros_type: e.g. ``'sensor_msgs/msg/Image'``.

    Returns:
        (msgdef, rihs01) as rosbag2 stores them.

    Raises:
        BagError: the type is unknown.
    """
    store = typestore()
    if ros_type not in store.fielddefs:
        msg = f'unknown message type {ros_type!r}: no definition to store in the bag'
        raise BagError(msg)
    msgdef, _ = store.generate_msgdef(ros_type, ros_version=2)
    return msgdef, store.hash_rihs01(ros_type)


def hash_of_definition(ros_type: str, msgdef: str) -> str:
    """RIHS01 hash of a type from its stored ``.msg`` text (with its dependencies), for a
    definition that came without one (Humble bags, salvaged recordings).

    Raises:
        BagError: the text cannot be parsed.
    """
    from rosbags.typesys import get_types_from_msg, get_typestore, Stores

    store = get_typestore(Stores.EMPTY)
    try:
        store.register(get_types_from_msg(msgdef, ros_type))
        return store.hash_rihs01(ros_type)
    except KeyError as exc:
        raise BagError(f'cannot read the definition of {ros_type}: it lacks {exc}') from None
    except Exception as exc:  # noqa: BLE001 -- rosbags raises assorted parse errors
        reason = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        raise BagError(f'cannot read the definition of {ros_type}: {reason}') from None
