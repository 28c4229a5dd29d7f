"""ROS names: topic expansion, remapping and the DDS names rmw_cyclonedds_cpp uses."""
from __future__ import annotations

import re

from vbp_ros.transport.errors import TransportError

_TOKEN = re.compile(r'^[A-Za-z_][A-Za-z0-9_]*$')


def normalise_namespace(namespace: str) -> str:
    """Return a namespace with one leading slash and none trailing ('/' for the root)."""
    ns = '/' + namespace.strip('/')
    return ns


def expand_topic(topic: str, node_name: str, namespace: str = '/') -> str:
    """Expand a ROS topic name to its fully qualified form, like rcl does.

    ``~/x`` becomes ``/<namespace>/<node>/x``, a relative ``x`` becomes ``/<namespace>/x``.

    Args:
        topic: absolute, relative or private ('~/...') topic name.
        node_name: the node's name.
        namespace: the node's namespace.

    Returns:
        The fully qualified name.

    Raises:
        TransportError: the name has an empty or invalid token.
    """
    ns = normalise_namespace(namespace)
    if topic == '~' or topic.startswith('~/'):
        base = ns.rstrip('/') + '/' + node_name
        full = base + topic[1:]
    elif topic.startswith('/'):
        full = topic
    else:
        full = ns.rstrip('/') + '/' + topic
    tokens = full.split('/')[1:]
    if not tokens or not all(_TOKEN.match(t) for t in tokens):
        msg = f'invalid topic name {topic!r} (expanded to {full!r})'
        raise TransportError(msg)
    return full


def dds_topic_name(ros_topic: str) -> str:
    """DDS topic name of a fully qualified ROS topic: ``/a/b`` -> ``rt/a/b``."""
    return 'rt/' + ros_topic.lstrip('/')


def dds_type_name(ros_type: str) -> str:
    """DDS type name of a ROS type, e.g. ``sensor_msgs::msg::dds_::Image_``."""
    pkg, kind, name = ros_type.split('/')
    return f'{pkg}::{kind}::dds_::{name}_'
