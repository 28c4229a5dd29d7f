"""ROS 2 wire-compatible node on plain DDS, through the PyPI ``cyclonedds`` package.

What goes on the wire is what rmw_cyclonedds_cpp sends, so ROS 2 nodes (on rmw_cyclonedds_cpp,
and on rmw_fastrtps_cpp, which matches on the type name) talk to this one:

- DDS topic ``rt/<topic without leading slash>``, type ``pkg::msg::dds_::Type_`` (keyless,
  final), XCDR1 little endian (the data representation QoS allows XCDR1 only);
- participant USER_DATA ``enclave=/;``; endpoint USER_DATA ``typehash=RIHS01_...;``;
- writers: autodispose off, automatic liveliness with an infinite lease;
- the ROS QoS profile mapped one to one (reliability, history depth, durability);
- ``ros_discovery_info`` (reliable, keep last 1, transient local, with its own typehash) lists the
  node and the GIDs (DDS GUIDs) of its readers and writers, so ``ros2 node list`` shows it;
- the node's log records go to ``/rosout`` (``rcl_interfaces/msg/Log``).

Not provided: parameter services (``ros2 param`` cannot query this node; its parameters come
from files and ``-p`` overrides at start-up) and ROS time (``use_sim_time`` is ignored).
One deliberate difference: a reliable write waits at most 100 ms for a slow reader (rmw waits
forever), so a stalled subscriber costs the node a message, not its frame rate.

Samples are written and taken as CDR bytes through the binding's ``ddspy_write``/``ddspy_take``,
bypassing the Python (de)serialiser: an image payload never becomes a list of ints.
Cyclone still checks each incoming sample against the type, so truncated CDR is dropped by DDS.

Wire layouts: Jazzy by default (also Iron, Kilted and Rolling: the message layouts and the 16-byte
``Gid`` agree); ``distro='humble'`` switches ``ros_discovery_info`` to the 24-byte Humble ``Gid``.
"""
from __future__ import annotations

import logging
import os
import threading
from typing import Any, Sequence

from cyclonedds._clayer import ddspy_take, ddspy_write
from cyclonedds.core import DDSException, GuardCondition, InstanceState, ReadCondition, \
    SampleState, ViewState, WaitSet
from cyclonedds.domain import DomainParticipant
from cyclonedds.pub import DataWriter
from cyclonedds.qos import Policy, Qos
from cyclonedds.sub import DataReader
from cyclonedds.topic import Topic
from cyclonedds.util import duration

from vbp_ros import msgs
from vbp_ros.transport import dds_types
from vbp_ros.transport.base import RawCallback
from vbp_ros.transport.errors import TransportError
from vbp_ros.transport.names import check_node_name, dds_topic_name, expand_topic, \
    normalise_namespace
from vbp_ros.transport.parameters import ParamSpec, resolve_values
from vbp_ros.transport.qos import DISCOVERY_INFO, Durability, History, QosProfile, \
    Reliability, ROSOUT
from vbp_ros.transport.rosout import RosoutHandler
from vbp_ros.transport.types import MsgType, resolve

_ANY = SampleState.Any | ViewState.Any | InstanceState.Any
_DISCOVERY_TOPIC = 'ros_discovery_info'
_DISCOVERY_TYPE = 'rmw_dds_common/msg/ParticipantEntitiesInfo'
DISTROS = ('humble', 'iron', 'jazzy', 'kilted', 'rolling')


def _dds_qos(qos: QosProfile, type_hash: str, writer: bool) -> Qos:
    policies: list[Any] = [
        Policy.Reliability.BestEffort if qos.reliability is Reliability.BEST_EFFORT
        else Policy.Reliability.Reliable(max_blocking_time=duration(milliseconds=100)),
        Policy.History.KeepAll if qos.history is History.KEEP_ALL
        else Policy.History.KeepLast(qos.depth),
        Policy.Durability.TransientLocal if qos.durability is Durability.TRANSIENT_LOCAL
        else Policy.Durability.Volatile,
        Policy.DataRepresentation(use_cdrv0_representation=True),
        Policy.Userdata(f'typehash={type_hash};'.encode()),
    ]
    if writer:
        policies += [Policy.WriterDataLifecycle(autodispose=False),
                     Policy.Liveliness.Automatic(lease_duration=duration(infinite=True))]
        if qos.durability is Durability.TRANSIENT_LOCAL:
            # As rmw_cyclonedds_cpp: late joiners get the writer's whole history (e.g. the
            # last 1000 /rosout lines), not Cyclone's default of the last sample.
            policies.append(Policy.DurabilityService(
                cleanup_delay=0, history=policies[1], max_samples=-1, max_instances=-1,
                max_samples_per_instance=-1))
        if qos.lifespan_s is not None:
            policies.append(Policy.Lifespan(duration(seconds=qos.lifespan_s)))
    return Qos(*policies)


def _serialise(msg: Any, msg_type: MsgType) -> Any:
    if isinstance(msg, (bytes, bytearray, memoryview)):
        return msg
    return msgs.serialize(msg)


class DdsPublisher:
    """A ROS 2 publisher as a Cyclone DDS writer of CDR bytes."""

    def __init__(self, owner: DdsTransport, topic: str, msg_type: MsgType,
                 writer: DataWriter[Any]) -> None:
        self.topic = topic
        self.ros_type = msg_type.ros_type
        self._type = msg_type
        self._writer = writer
        self._owner = owner

    @property
    def gid(self) -> bytes:
        """The writer's DDS GUID (its ROS GID)."""
        return self._writer.guid.bytes

    def publish(self, msg: Any) -> None:
        """Publish CDR bytes (with encapsulation header) or a msgs dataclass.

        Raises:
            TransportError: DDS refused the sample (e.g. CDR that does not fit the type).
        """
        ret = ddspy_write(self._writer._ref, _serialise(msg, self._type))
        if ret < 0:
            msg_text = f'DDS write on {self.topic} failed with code {ret}'
            raise TransportError(msg_text)

    def subscription_count(self) -> int:
        """Number of matched readers (from the publication-matched status)."""
        status = self._writer.get_publication_matched_status()  # type: ignore[no-untyped-call]
        return int(status.current_count)


class DdsSubscription:
    """A ROS 2 subscription as a Cyclone DDS reader; samples go to the callback as bytes."""

    def __init__(self, topic: str, msg_type: MsgType, reader: DataReader[Any],
                 callback: RawCallback) -> None:
        self.topic = topic
        self.ros_type = msg_type.ros_type
        self.reader = reader
        self.callback = callback
        self.condition = ReadCondition(reader, _ANY)

    @property
    def gid(self) -> bytes:
        """The reader's DDS GUID (its ROS GID)."""
        return self.reader.guid.bytes

    def publisher_count(self) -> int:
        """Number of matched writers."""
        status = self.reader.get_subscription_matched_status()  # type: ignore[no-untyped-call]
        return int(status.current_count)

    def take(self, max_samples: int = 32) -> list[bytes]:
        """Take the waiting samples' CDR bytes (invalid samples, i.e. writer gone, skipped)."""
        ret = ddspy_take(self.reader._ref, _ANY, max_samples)
        if isinstance(ret, int):
            raise DDSException(ret, f'take on {self.topic}')
        return [data for data, info in ret if info.valid_data]


class DdsTransport:
    """A ROS 2 node made of one DDS participant (no ROS installation needed).

    Args:
        node_name: ROS node name.
        namespace: ROS namespace.
        domain_id: DDS domain; default ``ROS_DOMAIN_ID`` or 0.
        distro: ROS 2 distribution whose wire layout to use (see :data:`DISTROS`).
        remaps: ROS remappings ``{from: to}``; ``__node`` and ``__ns`` rename the node.
        param_values: parameter values (from files and overrides), validated against the specs
            given to :meth:`declare_parameters`.
        logger: logger; default ``logging.getLogger('vbp_ros.<namespace>.<node>')`` with the
            namespace's slashes as dots.
        rosout: also publish the logger's records on ``/rosout`` (as ROS 2 nodes do).
    """

    def __init__(self, node_name: str = 'vbp', namespace: str = '/',
                 domain_id: int | None = None, distro: str = 'jazzy',
                 remaps: dict[str, str] | None = None,
                 param_values: dict[str, Any] | None = None,
                 logger: logging.Logger | None = None, rosout: bool = True) -> None:
        if distro not in DISTROS:
            msg = f'distro {distro!r} is not one of {", ".join(DISTROS)}'
            raise TransportError(msg)
        remaps = dict(remaps or {})
        # rcl takes __name as a synonym of __node.
        self.node_name = remaps.pop('__node', remaps.pop('__name', node_name))
        self.namespace = normalise_namespace(remaps.pop('__ns', namespace))
        check_node_name(self.node_name, self.namespace)
        self.distro = distro
        self._remaps = {self._expand(k): self._expand(v) for k, v in remaps.items()}
        self._param_values = dict(param_values or {})
        # rcl's logger name of a node: its namespace and name joined by dots ('robot.vbp').
        self.logger_name = '.'.join(p for p in (*self.namespace.split('/'), self.node_name) if p)
        self._logger = logger or logging.getLogger(f'vbp_ros.{self.logger_name}')
        if domain_id is None:
            text = os.environ.get('ROS_DOMAIN_ID', '') or '0'
            if not text.strip().isdigit():
                msg = f'ROS_DOMAIN_ID={text!r} is not a domain number'
                raise TransportError(msg)
            domain_id = int(text)
        self.domain_id = domain_id
        try:
            self._participant = DomainParticipant(domain_id,
                                                  qos=Qos(Policy.Userdata(b'enclave=/;')))
        except DDSException as exc:
            msg = f'cannot join DDS domain {domain_id}: {exc}'
            raise TransportError(msg) from None
        self._lock = threading.RLock()
        self._topics: dict[str, Topic[Any]] = {}
        self._topic_types: dict[str, str] = {}
        self._publishers: list[DdsPublisher] = []
        self._subscriptions: list[DdsSubscription] = []
        self._closed = threading.Event()
        self._guard = GuardCondition(self._participant)
        self._waitset = WaitSet(self._participant)
        self._waitset.attach(self._guard)
        self._discovery_writer = self._make_discovery_writer()
        self._publish_discovery()
        self._rosout: RosoutHandler | None = None
        if rosout:
            pub = self.create_publisher('/rosout', 'rcl_interfaces/msg/Log', ROSOUT)
            self._rosout = RosoutHandler(pub, self.logger_name)
            self._logger.addHandler(self._rosout)
        self._dispatcher = threading.Thread(target=self._dispatch, name='dds-dispatch',
                                            daemon=True)
        self._dispatcher.start()

    # -- names and parameters ----------------------------------------------------------------

    def _expand(self, topic: str) -> str:
        return expand_topic(topic, self.node_name, self.namespace)

    def resolve_topic(self, topic: str) -> str:
        """Fully qualified ROS topic after expansion and remapping."""
        full = self._expand(topic)
        return self._remaps.get(full, full)

    def declare_parameters(self, specs: Sequence[ParamSpec]) -> dict[str, Any]:
        """Validate the configured values against the specs (unknown names are an error).

        ROS's own parameters (``use_sim_time``, ``qos_overrides.*``) are accepted and ignored.
        """
        values = {k: v for k, v in self._param_values.items()
                  if k != 'use_sim_time' and not k.startswith('qos_overrides.')}
        return resolve_values(specs, values)

    @property
    def logger(self) -> logging.Logger:
        """The node's logger."""
        return self._logger

    @property
    def participant(self) -> DomainParticipant:
        """The underlying DDS participant, e.g. for discovery tools."""
        return self._participant

    @property
    def gid(self) -> bytes:
        """The participant's GUID, the node's ROS participant GID."""
        return self._participant.guid.bytes

    # -- endpoints ---------------------------------------------------------------------------

    def _topic(self, ros_topic: str, ros_type: str) -> Topic[Any]:
        with self._lock:
            topic = self._topics.get(ros_topic)
            if topic is not None and self._topic_types[ros_topic] != ros_type:
                msg = (f'topic {ros_topic} already carries {self._topic_types[ros_topic]}, '
                       f'not {ros_type}')
                raise TransportError(msg)
            if topic is None:
                try:
                    idl = dds_types.DDS_TYPES[ros_type]
                except KeyError:
                    msg = f'no DDS type for {ros_type}'
                    raise TransportError(msg) from None
                if ros_type == _DISCOVERY_TYPE and self.distro == 'humble':
                    idl = dds_types.ParticipantEntitiesInfoHumble_
                name = (ros_topic if ros_topic == _DISCOVERY_TOPIC
                        else dds_topic_name(ros_topic))
                topic = Topic(self._participant, name, idl)
                self._topics[ros_topic] = topic
                self._topic_types[ros_topic] = ros_type
            return topic

    def _check_open(self) -> None:
        if self._closed.is_set():
            msg = f'node {self.node_name} is closed'
            raise TransportError(msg)

    def create_publisher(self, topic: str, msg_type: Any, qos: QosProfile) -> DdsPublisher:
        """Create a writer for ``topic`` (expanded, remapped) of ``msg_type``."""
        self._check_open()
        mt = resolve(msg_type)
        full = self.resolve_topic(topic)
        writer = DataWriter(self._participant, self._topic(full, mt.ros_type),
                            qos=_dds_qos(qos, mt.type_hash, writer=True))
        pub = DdsPublisher(self, full, mt, writer)
        with self._lock:
            self._publishers.append(pub)
        self._publish_discovery()
        self._logger.debug('publisher %s [%s] %s', full, mt.ros_type, qos)
        return pub

    def create_subscription(self, topic: str, msg_type: Any, qos: QosProfile,
                            callback: RawCallback) -> DdsSubscription:
        """Create a reader whose callback gets CDR bytes on the dispatch thread."""
        self._check_open()
        mt = resolve(msg_type)
        full = self.resolve_topic(topic)
        reader = DataReader(self._participant, self._topic(full, mt.ros_type),
                            qos=_dds_qos(qos, mt.type_hash, writer=False))
        sub = DdsSubscription(full, mt, reader, callback)
        with self._lock:
            self._subscriptions.append(sub)
            self._waitset.attach(sub.condition)
        self._guard.set(True)
        self._publish_discovery()
        self._logger.debug('subscription %s [%s] %s', full, mt.ros_type, qos)
        return sub

    # -- ros_discovery_info ------------------------------------------------------------------

    def _make_discovery_writer(self) -> DataWriter[Any]:
        info_type = msgs.discovery_type(self.distro)
        return DataWriter(self._participant, self._topic(_DISCOVERY_TOPIC, _DISCOVERY_TYPE),
                          qos=_dds_qos(DISCOVERY_INFO, msgs.type_hash(info_type),
                                       writer=True))

    def discovery_info(self) -> Any:
        """The ``ParticipantEntitiesInfo`` (of this node's distro) that this node announces."""
        humble = self.distro == 'humble'
        size = 24 if humble else 16
        gid_cls = msgs.HumbleGid if humble else msgs.Gid
        node_cls = msgs.HumbleNodeEntitiesInfo if humble else msgs.NodeEntitiesInfo
        info_cls = msgs.discovery_type(self.distro)

        def gid(guid: bytes) -> Any:
            return gid_cls(data=guid.ljust(size, b'\0'))

        with self._lock:
            readers = [gid(s.gid) for s in self._subscriptions]
            writers = [gid(p.gid) for p in self._publishers]
        node = node_cls(node_namespace=self.namespace, node_name=self.node_name,
                        reader_gid_seq=readers, writer_gid_seq=writers)
        return info_cls(gid=gid(self.gid), node_entities_info_seq=[node])

    def _publish_discovery(self) -> None:
        if self._closed.is_set():
            return
        ret = ddspy_write(self._discovery_writer._ref, msgs.serialize(self.discovery_info()))
        if ret < 0:
            self._logger.warning('publishing ros_discovery_info failed with code %d', ret)

    # -- dispatch ----------------------------------------------------------------------------

    def _dispatch(self) -> None:
        while not self._closed.is_set():
            try:
                self._waitset.wait(duration(milliseconds=200))
            except DDSException:
                if self._closed.is_set():
                    return
                raise
            self._guard.take()
            with self._lock:
                subs = list(self._subscriptions)
            for sub in subs:
                if self._closed.is_set():
                    return
                try:
                    samples = sub.take()
                except DDSException:
                    if self._closed.is_set():
                        return
                    raise
                for data in samples:
                    try:
                        sub.callback(data)
                    except Exception:  # noqa: BLE001 -- a callback bug must not stop dispatch
                        self._logger.exception('callback of %s failed', sub.topic)

    def spin(self, until: threading.Event) -> None:
        """Block until ``until`` is set or the transport is closed (callbacks run meanwhile)."""
        while not until.wait(0.2) and not self._closed.is_set():
            pass

    def close(self) -> None:
        """Stop dispatching and delete the participant (and so every endpoint)."""
        if self._closed.is_set():
            return
        if self._rosout is not None:
            self._logger.removeHandler(self._rosout)
        self._closed.set()
        self._guard.set(True)
        if threading.current_thread() is not self._dispatcher:
            self._dispatcher.join(timeout=5.0)
        with self._lock:
            entities: list[Any] = [s.condition for s in self._subscriptions]
            entities += [s.reader for s in self._subscriptions]
            entities += [p._writer for p in self._publishers]
            entities += [self._discovery_writer, self._waitset, self._guard]
            entities += list(self._topics.values()) + [self._participant]
            self._subscriptions.clear()
            self._publishers.clear()
            self._topics.clear()
        for entity in entities:
            _delete(entity)


def _delete(entity: Any) -> None:
    """Delete a DDS entity now instead of whenever the garbage collector gets to it."""
    if entity is not None:
        entity.__del__()
