"""rosbags type stores holding all vbp_ros message types (ackermann_msgs included)."""
from __future__ import annotations

import re
from typing import TYPE_CHECKING

from vbp_ros.msgs.fields import fields_of
from vbp_ros.msgs.names import msg_definition, ros_type
from vbp_ros.msgs.registry import check_distro, DEFAULT_DISTRO, HUMBLE_TYPES
from vbp_ros.msgs.types import AckermannDrive, AckermannDriveStamped

if TYPE_CHECKING:
    from rosbags.typesys.store import Typestore

#: Types that rosbags' stock stores lack and that are registered from their .msg text.
EXTRA_TYPES: tuple[type, ...] = (AckermannDrive, AckermannDriveStamped)


def typestore(distro: str = DEFAULT_DISTRO) -> Typestore:
    """Return a new rosbags type store for a distribution with every vbp_ros type registered.

    Args:
        distro: ``'jazzy'`` (default), ``'humble'``, ``'iron'``, ``'kilted'`` or ``'rolling'``
            (rolling uses rosbags' latest store).

    Returns:
        A rosbags ``Typestore`` (a fresh one: registering into it does not affect others).

    Raises:
        MsgError: Unknown distribution.
    """
    from rosbags.typesys import get_types_from_msg, get_typestore, Stores

    name = check_distro(distro)
    store = get_typestore(Stores.LATEST if name == 'rolling' else Stores(f'ros2_{name}'))
    types = {}
    for cls in EXTRA_TYPES:
        types.update(get_types_from_msg(msg_definition(cls), ros_type(cls)))
    store.register(types)
    return store


def compute_type_hash(cls: type, distro: str | None = None) -> str:
    """Compute a message type's RIHS01 hash with rosbags (slow; :func:`type_hash` is cached).

    Args:
        cls: A message class.
        distro: Type store to use; by default Humble for the Humble-layout classes, else Jazzy.

    Returns:
        ``'RIHS01_<64 hex digits>'``.

    Raises:
        MsgError: Unknown distribution.
    """
    if distro is None:
        distro = 'humble' if cls in HUMBLE_TYPES else DEFAULT_DISTRO
    closure = _closure(cls)
    texts = {ros_type(c): msg_definition(c) for c in closure}
    if not any(_CHAR.search(text) for text in texts.values()):
        return typestore(distro).hash_rihs01(ros_type(cls))
    # rosidl hashes a .msg ``char`` as the IDL ``uint8`` it becomes; rosbags (and its stock
    # stores, e.g. for rmw_dds_common/msg/Gid) hash it as a char, which gives another hash.
    from rosbags.typesys import get_types_from_msg, get_typestore, Stores
    check_distro(distro)
    store = get_typestore(Stores.EMPTY)
    types = {}
    for name, text in texts.items():
        types.update(get_types_from_msg(rosidl_chars(text), name))
    store.register(types)
    return store.hash_rihs01(ros_type(cls))


_CHAR = re.compile(r'^char(?=[\[ ])', re.MULTILINE)


def rosidl_chars(msgdef: str) -> str:
    """``.msg`` text with its ``char`` fields as the ``uint8`` that rosidl hashes them as."""
    return _CHAR.sub('uint8', msgdef)


def _closure(cls: type) -> list[type]:
    """``cls`` and every message type nested in it."""
    out = [cls]
    for spec in fields_of(cls):
        if isinstance(spec.base, type):
            out += [c for c in _closure(spec.base) if c not in out]
    return out
