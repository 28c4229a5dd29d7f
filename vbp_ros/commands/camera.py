"""``vbp-ros camera``: publish the synthetic camera, a video file or an image folder.

Publishes ``sensor_msgs/Image`` (rgb8/bgr8/mono8) or ``sensor_msgs/CompressedImage``
(``--encoding jpeg|png``, on ``<topic>/compressed``) stamped with the wall clock, over rclpy when
available, otherwise over ROS 2 wire-compatible DDS.
"""
from __future__ import annotations

import argparse
import contextlib
import logging
import threading

from vbp_ros.commands.arguments import image_side, non_negative_float, positive_float, \
    positive_int
from vbp_ros.node.main import add_middleware_arguments, make_transport
from vbp_ros.stop_signals import stop_on_signals

LOG = logging.getLogger('vbp_ros.camera')


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Camera options."""
    parser.add_argument('--source', default='synthetic',
                        help="'synthetic' (road world), 'pattern', a video or an image folder")
    parser.add_argument('--topic', default='/camera/image_raw', help='Image topic')
    parser.add_argument('--width', type=image_side, default=640, help='frame width')
    parser.add_argument('--height', type=image_side, default=480, help='frame height')
    parser.add_argument('--rate', type=non_negative_float, default=30.0,
                        help='frames per second (0: flood)')
    parser.add_argument('--encoding', default='rgb8',
                        choices=['rgb8', 'bgr8', 'mono8', 'jpeg', 'png'],
                        help='raw encoding, or jpeg/png for CompressedImage')
    parser.add_argument('--frame-id', default='camera', help='header frame_id')
    parser.add_argument('--reliability', default='best_effort',
                        choices=['best_effort', 'reliable'], help='QoS reliability')
    parser.add_argument('--duration', type=positive_float, default=None, help='seconds to run')
    parser.add_argument('--count', type=positive_int, default=None, help='frames to publish')
    parser.add_argument('--seed', type=int, default=0, help='synthetic world seed')
    parser.add_argument('--wait-subscriber', type=float, default=0.0, metavar='SECONDS',
                        help='wait up to this long for a subscriber before publishing')
    add_middleware_arguments(parser, 'synthetic_camera')


def run(args: argparse.Namespace) -> int:
    """Publish until Ctrl-C, ``--duration`` or ``--count``."""
    from vbp_ros.node.camera import CameraPublisher
    from vbp_ros.node.sources import open_source
    with contextlib.ExitStack() as cleanup:  # undone in reverse order, also on errors
        source = open_source(args.source, args.width, args.height, args.rate or 30.0,
                             args.seed)
        if hasattr(source, 'close'):
            cleanup.callback(source.close)
        transport = make_transport(args)
        cleanup.callback(transport.close)
        stop = threading.Event()
        cleanup.callback(stop.set)
        cam = CameraPublisher(transport, source.frames(), args.topic, args.rate, args.encoding,
                              args.frame_id, args.reliability)
        LOG.info('publishing %s %dx%d %s at %s Hz on %s', args.source, args.width, args.height,
                 args.encoding, args.rate or 'max', cam.publisher.topic)
        spinner = threading.Thread(target=transport.spin, args=(stop,), daemon=True)
        spinner.start()
        if args.wait_subscriber > 0 and not cam.wait_for_subscriber(args.wait_subscriber):
            LOG.warning('no subscriber after %.1f s, publishing anyway', args.wait_subscriber)
        try:
            with stop_on_signals(stop):
                sent = cam.run(args.duration, args.count, stop)
        except KeyboardInterrupt:
            sent = cam.sent
        LOG.info('published %d frames', sent)
    return 0
