"""`vbp-ros process IN_BAG OUT_BAG`: steering and VisualBackProp masks for a recorded drive.

Reads a camera topic (sensor_msgs/Image or CompressedImage) from a rosbag2 bag (MCAP or sqlite3)
and writes a new bag with, per frame and with the frame's own bag time and header stamp:
/vbp/steering (ackermann_msgs/AckermannDriveStamped), /vbp/mask (sensor_msgs/Image mono8) and,
with --overlay, /vbp/overlay (sensor_msgs/CompressedImage JPEG unless --overlay-format raw).

The output appears under OUT_BAG only when every frame was processed (a camera frame that cannot
be decoded is logged, counted and skipped). If the run is interrupted (Ctrl-C) or the bag turns
out damaged, the frames done so far are in OUT_BAG.incomplete, a readable bag whose metadata
says ``vbp_ros.complete: 'false'``.
"""
from __future__ import annotations

import argparse
import logging

from vbp_ros.progress import progress_bar
from vbp_ros.stop_signals import stop_on_signals

NAME = 'process'
HELP = 'run the model and VBP over a recorded bag'
LOG = logging.getLogger('vbp_ros.process')


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of ``vbp-ros process``."""
    parser.description = __doc__.split('\n\n', 1)[1].strip() if __doc__ else None
    parser.formatter_class = argparse.RawDescriptionHelpFormatter
    parser.add_argument('in_bag', help='input bag: a rosbag2 folder, .mcap or .db3 file')
    parser.add_argument('out_bag', help='output bag folder to create (must not exist)')
    parser.add_argument('--topic', dest='camera_topic', default=None,
                        help='camera topic (default: the only image topic in the bag)')
    parser.add_argument('--model', default=None,
                        help='model file (.safetensors); default: the bundled PilotNet')
    parser.add_argument('--model-class', default=None,
                        help="architecture to build instead of the file's ('module:Class')")
    parser.add_argument('--device', default='auto', help="'auto' (GPU when present), 'cpu', "
                        "'cuda', 'cuda:N'")
    parser.add_argument('--batch-size', type=int, default=32, help='frames per model call')
    parser.add_argument('--threads', type=int, default=None,
                        help='torch threads on CPU (default: one per two cores, at most 4)')
    parser.add_argument('--no-masks', dest='masks', action='store_false',
                        help='write steering only')
    parser.add_argument('--overlay', action='store_true', help='also write overlays')
    parser.add_argument('--overlay-format', choices=('jpeg', 'png', 'raw'), default='jpeg',
                        help='overlay as CompressedImage jpeg/png or as a raw bgr8 Image '
                        '(1280x720 raw at 100 frames/s is ~280 MB/s of disk)')
    parser.add_argument('--jpeg-quality', type=int, default=90, help='JPEG quality (1-100)')
    parser.add_argument('--copy-input', action='store_true',
                        help='copy every input topic into the output bag, except an earlier '
                             "run's steering, masks and overlays")
    parser.add_argument('--storage', choices=('mcap', 'sqlite3'), default='mcap',
                        help='output storage (bag version 8: Humble and Jazzy read it)')
    parser.add_argument('--limit', type=int, default=None, help='process at most N frames')
    steer = parser.add_argument_group(
        'steering', 'as the node: angle = clip(scale * atan(wheelbase * curvature) + offset, '
        '+-max)')
    steer.add_argument('--wheelbase', type=float, default=2.7, help='metres (default 2.7)')
    steer.add_argument('--steering-scale', type=float, default=1.0)
    steer.add_argument('--steering-offset', type=float, default=0.0, help='radians')
    steer.add_argument('--max-steering-angle', type=float, default=0.7, help='radians')
    steer.add_argument('--speed', type=float, default=0.0, help='AckermannDrive.speed (m/s)')
    parser.add_argument('--steering-topic', default='/vbp/steering')
    parser.add_argument('--mask-topic', default='/vbp/mask')
    parser.add_argument('--overlay-topic', default='/vbp/overlay')
    parser.add_argument('--salvage', action='store_true',
                        help='read the complete records of an MCAP recording that was cut off '
                        '(crash, power loss) instead of refusing it')
    parser.add_argument('--no-progress', dest='progress', action='store_false',
                        help='no progress bar')


def run(args: argparse.Namespace) -> int:
    """Run ``vbp-ros process``; 0 when the output bag is complete."""
    from vbp_ros.bag.process import process_bag, ProcessOptions

    try:
        opts = ProcessOptions(
            camera_topic=args.camera_topic, steering_topic=args.steering_topic,
            mask_topic=args.mask_topic, overlay_topic=args.overlay_topic, masks=args.masks,
            overlay=args.overlay, overlay_format=args.overlay_format,
            jpeg_quality=args.jpeg_quality, copy_input=args.copy_input,
            batch_size=args.batch_size, limit=args.limit, storage=args.storage,
            wheelbase=args.wheelbase, steering_scale=args.steering_scale,
            steering_offset=args.steering_offset, max_steering_angle=args.max_steering_angle,
            speed=args.speed, torch_threads=args.threads)
    except ValueError as exc:
        LOG.error('%s', exc)
        return 2
    bar = None

    def on_start(topic: str, total: int) -> None:
        nonlocal bar
        LOG.info('processing %d frames of %s from %s', total, topic, args.in_bag)
        if args.progress:
            bar = progress_bar(total)

    try:
        with stop_on_signals(what='stopping after the current batch') as stop:
            report = process_bag(args.in_bag, args.out_bag, opts, model_path=args.model,
                                 device=args.device, model_class=args.model_class,
                                 progress=lambda n: bar.update(n) if bar is not None else None,
                                 on_start=on_start, salvage=args.salvage, stop=stop)
    finally:
        if bar is not None:
            bar.close()
    if report.stopped and not report.output.exists():
        LOG.warning('stopped before the first frame; nothing was written')
        return 130
    stages = ', '.join(f'{k} {1e3 * v / max(report.frames, 1):.2f}'
                       for k, v in sorted(report.stage_seconds.items()))
    LOG.info('%d frames in %.2f s: %.1f frames/s (ms per frame by stage, overlapping: %s)',
             report.frames, report.seconds, report.fps, stages)
    LOG.info('wrote %s: %s', report.output,
             ', '.join(f'{t} {n}' for t, n in sorted(report.messages.items())))
    if report.unusable:
        LOG.warning('%d camera frames could not be decoded and were skipped (see above)',
                    report.unusable)
    if report.complete and report.frames == 0:
        LOG.error('no camera frame could be processed, so %s holds no steering or masks',
                  report.output)
        return 1
    if not report.complete:
        LOG.warning('output is incomplete: %s', report.output)
        return 130 if report.stopped else 1  # 130: as if Ctrl-C had ended it
    return 0
