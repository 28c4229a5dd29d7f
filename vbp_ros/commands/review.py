"""`vbp-ros review BAG`: a video and an HTML page to skim a processed or recorded drive.

Writes into OUT_DIR (default BAG_review beside the bag): review.mp4 (H.264: the overlay with the
steering angle plotted over time beneath it), index.html (the frames where steering or the
VisualBackProp mask changed most, before/after thumbnails), steering.png and frames/.
The bag needs /vbp/steering plus /vbp/overlay, or /vbp/mask (with the camera topic, as
`vbp-ros process --copy-input` writes it, the overlay is composed).
"""
from __future__ import annotations

import argparse
import logging

from vbp_ros.commands.arguments import int_in, positive_float, positive_int
from vbp_ros.progress import progress_bar
from vbp_ros.stop_signals import stop_on_signals

NAME = 'review'
HELP = 'video and HTML summary of a processed bag'
LOG = logging.getLogger('vbp_ros.review')


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of ``vbp-ros review``."""
    parser.description = __doc__.split('\n\n', 1)[1].strip() if __doc__ else None
    parser.formatter_class = argparse.RawDescriptionHelpFormatter
    parser.add_argument('bag', help='bag with /vbp/steering and /vbp/overlay or /vbp/mask')
    parser.add_argument('-o', '--out', default=None, help='output folder (default BAG_review)')
    parser.add_argument('--top', type=positive_int, default=12,
                        help='frames per highlight gallery')
    parser.add_argument('--width', type=int_in(16, 7680), default=None,
                        help='video width, 16 to 7680 (default: the frame width, at most 1280)')
    parser.add_argument('--fps', type=positive_float, default=None,
                        help='video frame rate (default: from the frame times)')
    parser.add_argument('--crf', type=int_in(0, 51), default=23,
                        help='H.264 quality, 0 to 51 (lower = better; default 23)')
    parser.add_argument('--no-video', dest='video', action='store_false',
                        help='only the HTML page and thumbnails')
    parser.add_argument('--camera-topic', default=None,
                        help='camera topic to compose overlays from when the bag has none')
    parser.add_argument('--steering-topic', default=None, help='default /vbp/steering')
    parser.add_argument('--mask-topic', default=None,
                        help='default /vbp/mask (used when there is no overlay topic)')
    parser.add_argument('--overlay-topic', default=None, help='default /vbp/overlay')
    parser.add_argument('--salvage', action='store_true',
                        help='read the complete records of a cut-off MCAP recording')
    parser.add_argument('--no-progress', dest='progress', action='store_false',
                        help='no progress bar')


def run(args: argparse.Namespace) -> int:
    """Run ``vbp-ros review``."""
    from vbp_ros.bag.review import review_bag, ReviewOptions

    try:
        named = {'steering_topic': args.steering_topic, 'mask_topic': args.mask_topic,
                 'overlay_topic': args.overlay_topic}
        opts = ReviewOptions(**{k: v for k, v in named.items() if v is not None},
                             camera_topic=args.camera_topic, top_k=args.top, width=args.width,
                             fps=args.fps, crf=args.crf, video=args.video,
                             required=tuple(v for v in named.values() if v is not None))
    except ValueError as exc:
        LOG.error('%s', exc)
        return 2
    bar = None

    def on_start(total: int) -> None:
        nonlocal bar
        if args.progress:
            bar = progress_bar(total)

    try:
        with stop_on_signals(what='stopping the review') as stop:
            report = review_bag(args.bag, args.out, opts,
                                progress=lambda n: bar.update(n) if bar is not None else None,
                                on_start=on_start, salvage=args.salvage, stop=stop)
    except KeyboardInterrupt:
        LOG.warning('review stopped: no video or page was written (the thumbnails of this '
                    'run may be in its frames/ folder)')
        return 130
    finally:
        if bar is not None:
            bar.close()
    LOG.info('%d frames (%s); page: %s', report.frames, report.source, report.html)
    if report.video is not None:
        LOG.info('video: %s', report.video)
    return 0
