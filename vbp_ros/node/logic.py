"""The node, written once for every middleware: callbacks, worker, publishing, diagnostics.

Data flow::

    camera callback --(one-slot mailbox, newest wins, drops counted)--> worker thread:
        decode -> FramePipeline.process(rgb, mask=<anyone listening>) -> publish
        ~/steering (always, from a callback as soon as the model's output is known, before
        the mask is computed), ~/mask (mono8) and ~/overlay (bgr8) only when wanted
    diagnostics thread: /diagnostics every ``diagnostics_period`` seconds

Every output carries the input frame's header (stamp and frame_id) unchanged.

Observers (the hook a recorder uses): ``node.observers`` is a list of callables
``observer(topic, ros_type, cdr_bytes, stamp_ns)``. Each is called with the exact CDR bytes of
every message the node publishes (after the publish), and of every frame it receives on its
input topic (in the subscription callback, before any processing), ``stamp_ns`` being the wall
clock in ns at that moment. :class:`vbp_ros.bag.recorder.BagRecorder` is such a callable. While
an observer is attached and ``mask_mode`` is ``on_demand``, masks are computed, so recordings
contain them. Observers must be quick (a queue put, never waiting for a disk); what they raise
is logged (at most every ``LOG_THROTTLE_S``). An observer with a ``health()`` method (level,
message, values) has it reported in the diagnostics.
"""
from __future__ import annotations

import dataclasses
import logging
import math
import threading
import time
from typing import Any, Callable, TYPE_CHECKING

import numpy as np

from vbp_ros.errors import InputError, ModelError, VbpError
from vbp_ros.msgs import AckermannDrive, AckermannDriveStamped, CompressedImage, deserialize, \
    DiagnosticArray, Image, MsgError, serialize
from vbp_ros.node.diagnostics import build_diagnostics, STALE_INPUT_S
from vbp_ros.node.mailbox import Mailbox
from vbp_ros.node.params import NodeParams, PARAMETERS
from vbp_ros.node.stats import NodeStats
from vbp_ros.pipeline.steering import clip_angle, SteeringConversion
from vbp_ros.transport.parameters import ParamError
from vbp_ros.transport.qos import DEFAULT, image_qos, QosProfile, Reliability

if TYPE_CHECKING:
    from vbp_ros.transport.base import Transport

Observer = Callable[[str, str, bytes, int], None]
LOG = logging.getLogger(__name__)
#: Malformed-input warnings are logged at most once per this many seconds.
LOG_THROTTLE_S = 2.0


class VbpNode:
    """Steering + VisualBackProp node on any :class:`~vbp_ros.transport.base.Transport`.

    Args:
        transport: the middleware adapter (DDS or rclpy).
        pipeline: object with ``process(frame, mask=bool, on_steering=callable, bgr=bool)`` (a
            FramePipeline); default: built from the parameters (model path, device,
            preprocessing).
        params: parameter values; default: declared on the transport and read from it.
        observers: initial observers (see module docstring).
        start: start the worker and diagnostics threads now.
    """

    def __init__(self, transport: Transport, pipeline: Any = None,
                 params: NodeParams | None = None, observers: list[Observer] | None = None,
                 start: bool = True) -> None:
        self.transport = transport
        self.log = transport.logger
        if params is None:
            params = NodeParams.from_values(transport.declare_parameters(PARAMETERS))
        self.params = params
        if pipeline is None:
            from vbp_ros.node.model import build_pipeline
            pipeline = build_pipeline(params)
        self.pipeline = pipeline
        self.device = str(getattr(pipeline, 'device', params.device))
        self.observers: list[Observer] = list(observers or [])
        self.stats = NodeStats()
        self._mailbox = Mailbox()
        self._stop = threading.Event()
        self._last_logged: dict[str, float] = {}  # kind of repeated log line -> when
        # Input frame_id: a change suggests several cameras publishing on one topic.
        self._frame_id: str | None = None
        self._frame_id_changes = self._frame_id_changes_reported = 0
        self._prev_malformed = 0
        self._prev_errors = 0
        self._mask_on = False
        self.input_cls = CompressedImage if params.input_type == 'compressed' else Image

        images = image_qos(params.reliability, params.depth)
        steering_qos = QosProfile(Reliability(params.steering_reliability), 10)
        self.steering_pub = transport.create_publisher('~/steering', AckermannDriveStamped,
                                                       steering_qos)
        self.mask_pub = transport.create_publisher('~/mask', Image, images)
        self.overlay_pub = transport.create_publisher('~/overlay', Image, images)
        self.diag_pub = transport.create_publisher('/diagnostics', DiagnosticArray, DEFAULT)
        # As image_transport: compressed input is on <remapped camera topic>/compressed (and
        # that name is remapped again when subscribing, as rcl remaps any topic name).
        topic = params.camera_topic if params.input_type == 'raw' else \
            params.transport_topic(transport.resolve_topic(params.camera_topic))
        self.input_topic = transport.resolve_topic(topic)  # the name actually subscribed
        self.subscription = transport.create_subscription(topic, self.input_cls, images,
                                                          self._on_frame)
        self._threads = [threading.Thread(target=self._work, name='vbp-worker', daemon=True),
                         threading.Thread(target=self._diagnose, name='vbp-diagnostics',
                                          daemon=True)]
        self.log.info('listening on %s (%s, %s), model on %s', self.input_topic,
                      self.input_cls.__name__, params.reliability, self.device)
        #: the fully qualified names of ~/steering, ~/mask and ~/overlay
        self.output_topics = [transport.resolve_topic(f'~/{name}')
                              for name in ('steering', 'mask', 'overlay')]
        model = getattr(pipeline, 'model_path', None)
        self.log.info('model %s (sha256 %.12s), mask_mode %s; publishing %s, %s, %s',
                      model or '(given)', getattr(pipeline, 'model_sha256', '-'),
                      params.mask_mode, *self.output_topics)
        watch = getattr(transport, 'watch_parameters', None)  # rclpy: ros2 param set
        if watch is not None:
            watch(self.set_parameters)
        if start:
            self.start()

    # -- lifecycle ---------------------------------------------------------------------------

    def start(self) -> None:
        """Start the worker and diagnostics threads."""
        for thread in self._threads:
            if not thread.is_alive():
                thread.start()

    def stop(self) -> None:
        """Stop the threads (the transport stays open; close it separately)."""
        self._stop.set()
        self._mailbox.close()
        for thread in self._threads:
            if thread.is_alive() and thread is not threading.current_thread():
                thread.join(timeout=10.0)

    def __enter__(self) -> VbpNode:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- parameters at run time ---------------------------------------------------------------

    def set_parameters(self, changes: dict[str, Any]) -> str | None:
        """Apply parameter changes while running (``ros2 param set``), all or none.

        Only parameters marked live in :data:`~vbp_ros.node.params.PARAMETERS` may change; each
        frame reads the parameters once, so it sees either the old or the new set. Names that
        are not the node's own (``use_sim_time``, which rclpy declares) are left to ROS.

        Returns:
            None when applied, else why nothing was changed.
        """
        specs = {spec.name: spec for spec in PARAMETERS}
        values = {}
        for name, value in changes.items():
            spec = specs.get(name)
            if spec is None:  # ROS's own (use_sim_time, ...): ROS handles them
                continue
            if not spec.live:
                return f'{name!r} is read-only once the node runs; set it at start-up'
            try:
                values[name] = spec.validate(value)
            except ParamError as exc:
                return str(exc)
        old = self.params
        self.params = dataclasses.replace(old, **values)
        for name, value in values.items():
            if value != getattr(old, name):
                self.log.info('parameter %s: %r -> %r', name, getattr(old, name), value)
        return None

    # -- input ---------------------------------------------------------------------------------

    def _on_frame(self, data: Any) -> None:
        """Subscription callback: keep only the newest frame; never blocks on processing."""
        now = time.monotonic()
        t_recv = time.perf_counter()
        with self.stats.lock:
            self.stats.received += 1
            self.stats.input_rate.add(now)
            self.stats.last_frame_time = now
        if self._mailbox.put((data, t_recv)):
            with self.stats.lock:
                self.stats.dropped += 1
        if self.observers:
            self._notify(self.input_topic, self.input_cls, bytes(data))

    def _notify(self, topic: str, cls: type, data: bytes) -> None:
        from vbp_ros.msgs import ros_type
        stamp = time.time_ns()
        for observer in list(self.observers):
            try:
                observer(topic, ros_type(cls), data, stamp)
            except Exception as exc:  # noqa: BLE001 -- an observer must not stop the node
                if self._may_log('observer'):
                    self.log.error('%r failed on %s: %s', observer, topic, exc)

    # -- worker --------------------------------------------------------------------------------

    def wants_mask(self) -> tuple[bool, bool]:
        """(compute mask, publish overlay) given mask_mode and who is listening now."""
        mode = self.params.mask_mode
        if mode == 'never':
            return False, False
        overlay = self.overlay_pub.subscription_count() > 0
        if mode == 'always':
            return True, overlay
        mask = overlay or self.mask_pub.subscription_count() > 0 or bool(self.observers)
        return mask, overlay

    def _work(self) -> None:
        while not self._stop.is_set():
            item = self._mailbox.take(timeout=0.2)
            if item is None:
                continue
            try:
                self.process(*item)
            except Exception:  # noqa: BLE001 -- the worker must survive any single frame
                with self.stats.lock:
                    self.stats.errors += 1
                    count = self.stats.errors
                if self._may_log('error'):
                    self.log.error('processing a frame failed (%d errors so far)', count,
                                   exc_info=True)

    def _may_log(self, kind: str) -> bool:
        """Whether a repeated log line of this kind may be written now (at most one per
        ``LOG_THROTTLE_S``); if so, the time is noted."""
        now = time.monotonic()
        if now - self._last_logged.get(kind, -math.inf) < LOG_THROTTLE_S:
            return False
        self._last_logged[kind] = now
        return True

    def _malformed(self, reason: str) -> None:
        with self.stats.lock:
            self.stats.malformed += 1
            self.stats.last_malformed = reason
            count = self.stats.malformed
        if self._may_log('malformed'):
            self.log.warning('malformed frame on %s (%d so far): %s', self.input_topic, count,
                             reason)

    def _frame_id_changed(self, frame_id: str) -> None:
        before, self._frame_id = self._frame_id, frame_id
        if before is None:
            return
        self._frame_id_changes += 1
        if self._may_log('frame_id'):
            self.log.warning('frame_id on %s changed from %r to %r (%d changes so far): is more '
                             'than one camera publishing there?', self.input_topic, before,
                             frame_id, self._frame_id_changes)

    def _input_health(self) -> tuple[int, str, dict[str, str]]:
        """The input's frame_id as a diagnostics part: WARN when it changed since the last
        report."""
        changes = self._frame_id_changes
        new, self._frame_id_changes_reported = changes - self._frame_id_changes_reported, changes
        values = {'input_frame_id': self._frame_id or '', 'input_frame_id_changes': str(changes)}
        if new:
            return 1, (f'frame_id on {self.input_topic} changed {new} times since the last '
                       f'report (now {self._frame_id!r}): more than one camera?'), values
        return 0, '', values

    def decode(self, data: Any) -> tuple[Any, np.ndarray, bool]:
        """CDR bytes -> (message, HxWx3 uint8 pixels, True if they are BGR).

        BGR input (bgr8, JPEG, PNG) stays BGR: the pipeline converts it once it is at the
        network's size, which saves a whole-frame conversion (~0.25 ms at 640x480)."""
        from vbp_ros.encodings import decode_compressed_native, decode_image_native
        if self.input_cls is CompressedImage:
            packed = deserialize(data, CompressedImage)
            return (packed, *decode_compressed_native(packed))
        msg = deserialize(data, Image)
        return (msg, *decode_image_native(msg))

    def process(self, data: Any, t_recv: float | None = None) -> bool:
        """Process one serialised frame and publish the results.

        Args:
            data: the input message's CDR bytes.
            t_recv: ``time.perf_counter()`` at reception (default: now).

        Returns:
            True when outputs were published, False for a malformed frame.
        """
        t_recv = time.perf_counter() if t_recv is None else t_recv
        t0 = time.perf_counter()
        try:
            msg, frame, bgr = self.decode(data)
        except (MsgError, VbpError, ValueError) as exc:
            self._malformed(str(exc))
            return False
        t1 = time.perf_counter()
        want_mask, want_overlay = self.wants_mask()
        self._mask_on = want_mask
        header = msg.header
        if header.frame_id != self._frame_id:
            self._frame_id_changed(header.frame_id)
        p = self.params
        t_steer = [0.0]

        def publish_steering(curvature: float, _pipeline_angle: float) -> None:
            # Called by the pipeline as soon as the model's output is known, before the mask.
            # The angle comes from this frame's parameter set ``p`` alone (not the pipeline's
            # own conversion), so a parameter change never mixes two sets in one message.
            if not math.isfinite(curvature):  # clipped, NaN would become full lock
                msg = (f'the model output {curvature} is not finite: no steering published '
                       '(are its weights or inputs NaN?)')
                raise ModelError(msg)
            angle = SteeringConversion(wheelbase=p.wheelbase, gain=p.steering_scale,
                                       max_angle=math.inf)(curvature) + p.steering_offset
            angle = clip_angle(angle, p.max_steering_angle)
            steering = AckermannDriveStamped(header=header, drive=AckermannDrive(
                steering_angle=angle, speed=p.speed))
            self._publish(self.steering_pub, AckermannDriveStamped, serialize(steering))
            t_steer[0] = time.perf_counter()

        try:
            result = self.pipeline.process(frame, mask=want_mask, on_steering=publish_steering,
                                           bgr=bgr)
        except InputError as exc:          # a frame the model cannot take (e.g. too small)
            self._malformed(str(exc))
            return False
        t2 = time.perf_counter()
        if not t_steer[0]:  # a pipeline that does not call back: publish now
            publish_steering(result.curvature, result.steering_angle)
        t3 = t_steer[0]
        mask = getattr(result, 'mask', None)
        published_mask = False
        # A mask made only for the overlay is not published where nobody takes it.
        if want_mask and mask is not None and (p.mask_mode == 'always' or self.observers
                                               or self.mask_pub.subscription_count() > 0):
            height, width = mask.shape[:2]
            mask_msg = Image(header=header, height=height, width=width, encoding='mono8',
                             is_bigendian=0, step=width,
                             data=np.ascontiguousarray(mask).reshape(-1).data)
            self._publish(self.mask_pub, Image, serialize(mask_msg))
            published_mask = True
        t4 = time.perf_counter()
        published_overlay = False
        if want_overlay and mask is not None:
            from vbp_ros.core.image import overlay
            blended = overlay(frame, mask, alpha=p.overlay_alpha, colormap=p.colormap,
                              bgr_input=bgr)
            height, width = blended.shape[:2]
            over_msg = Image(header=header, height=height, width=width, encoding='bgr8',
                             is_bigendian=0, step=width * 3,
                             data=np.ascontiguousarray(blended).reshape(-1).data)
            self._publish(self.overlay_pub, Image, serialize(over_msg))
            published_overlay = True
        t5 = time.perf_counter()
        timings = dict(getattr(result, 'timings', {}) or {})
        timings.update(wait=t0 - t_recv, decode=t1 - t0, publish=t4 - t2, total=t4 - t_recv,
                       steering=t3 - t_recv)
        if published_overlay:
            timings['overlay'] = t5 - t4
        self.stats.add_timings(timings)
        with self.stats.lock:
            self.stats.processed += 1
            self.stats.processed_rate.add(time.monotonic())
            self.stats.masks += published_mask
            self.stats.overlays += published_overlay
        return True

    def _publish(self, pub: Any, cls: type, data: bytes) -> None:
        pub.publish(data)
        if self.observers:
            self._notify(pub.topic, cls, data)

    # -- diagnostics ---------------------------------------------------------------------------

    def _watch_input(self, started: float, stale: bool) -> bool:
        """Say in the log when frames stop coming (or never came), and when they are back;
        return whether they have stopped."""
        now = time.monotonic()
        with self.stats.lock:
            last = self.stats.last_frame_time
        now_stale = now - (started if last is None else last) > STALE_INPUT_S
        if now_stale and not stale:
            qos = (' (this node subscribes reliably, which a best-effort camera does not '
                   'match)' if self.params.reliability == 'reliable' else '')
            self.log.warning('no frames on %s for %.0f s: is a camera publishing there?%s',
                             self.input_topic, STALE_INPUT_S, qos)
        elif stale and not now_stale:
            self.log.info('frames on %s again', self.input_topic)
        return now_stale

    def diagnostics(self) -> DiagnosticArray:
        """The current diagnostics message."""
        counts = self.stats.snapshot()
        msg = build_diagnostics(self.stats, f'{self.transport.node_name}: steering + '
                                'VisualBackProp', self.params.hardware_id or self.device,
                                self.input_topic, self._mask_on,
                                prev_malformed=self._prev_malformed,
                                prev_errors=self._prev_errors, counts=counts,
                                extra=[self._input_health()] + [
                                    o.health() for o in list(self.observers)
                                    if callable(getattr(o, 'health', None))])
        self._prev_malformed, self._prev_errors = counts['malformed'], counts['errors']
        return msg

    def _diagnose(self) -> None:
        last = started = time.monotonic()
        input_stale = False
        # Short waits, so that a new diagnostics_period applies at once.
        while not self._stop.wait(min(0.1, self.params.diagnostics_period)):
            input_stale = self._watch_input(started, input_stale)
            if time.monotonic() - last < self.params.diagnostics_period:
                continue
            last = time.monotonic()
            try:
                self._publish(self.diag_pub, DiagnosticArray, serialize(self.diagnostics()))
            except (MsgError, VbpError):
                self.log.error('publishing diagnostics failed', exc_info=True)
