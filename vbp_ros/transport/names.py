"""ROS names: topic expansion, remapping and the DDS names rmw_cyclonedds_cpp uses."""
from __future__ import annotations

import re

from vbp_ros.transport.errors import TransportError

_TOKEN = re.compile(r'^[A-Za-z_][A-Za-z0-9_]*$')


def normalise_namespace(namespace: str) -> str:
    """Return a namespace with one leading slash and none trailing ('/' for the root)."""
    ns = '/' + namespace.strip('/')
    return ns


def check_node_name(node_name: str, namespace: str) -> None:
    """Refuse node names and namespaces that rcl refuses (rmw_validate_node_name and
    rmw_validate_namespace): tokens of letters, digits and underscores, not starting with a
    digit; at most 255 characters."""
    if not _TOKEN.match(node_name) or len(node_name) > 255:
        msg = (f'invalid node name {node_name!r}: use letters, digits and underscores, not '
               'starting with a digit')
        raise TransportError(msg)
    tokens = namespace.split('/')[1:]
    if namespace != '/' and not all(_TOKEN.match(t) for t in tokens) or len(namespace) > 255:
        msg = (f'invalid namespace {namespace!r}: tokens of letters, digits and underscores, '
               'not starting with a digit, separated by single slashes')
        raise TransportError(msg)


def expand_topic(topic: str, node_name: str, namespace: str = '/') -> str:
    """Expand a ROS topic name to its fully qualified form, like rcl does.

    ``~/x`` becomes ``/<namespace>/<node>/x``, a relative ``x`` becomes ``/<namespace>/x``;
    ``{node}`` is replaced by the node's name, ``{ns}`` and ``{namespace}`` by its namespace.

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
    if ns == '/' and topic.startswith(('{ns}/', '{namespace}/')):  # not '//x'
        topic = topic.split('}', 1)[1]
    for key, value in (('{node}', node_name), ('{ns}', ns), ('{namespace}', ns)):
        topic = topic.replace(key, value)
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
