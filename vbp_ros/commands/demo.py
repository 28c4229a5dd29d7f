"""``vbp-ros demo``: synthetic camera -> node -> masks over DDS on loopback, in one process.

Prints steering and timing once per second, then a summary, and writes a few overlay PNGs.
With ``--bench`` it runs the latency benchmark instead (node in its own process).
"""
from __future__ import annotations

import argparse
import logging
import sys

from vbp_ros.commands.arguments import domain_id, image_side, non_negative_float, \
    non_negative_int, positive_float
from vbp_ros.stop_signals import stop_on_signals


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Demo options."""
    parser.add_argument('--duration', type=positive_float, default=10.0, help='seconds to stream')
    parser.add_argument('--width', type=image_side, default=640, help='camera width')
    parser.add_argument('--height', type=image_side, default=480, help='camera height')
    parser.add_argument('--rate', type=non_negative_float, default=30.0, help='camera Hz (0: flood)')
    parser.add_argument('--source', default='synthetic',
                        help="'synthetic', 'pattern', a video file or an image folder")
    parser.add_argument('--out', default='demo-out', help='folder for overlay PNGs')
    parser.add_argument('--pngs', type=non_negative_int, default=4, help='overlay PNGs to write')
    parser.add_argument('--device', default='auto', choices=['auto', 'cpu', 'cuda'])
    parser.add_argument('--model', default='', help='model file; default: bundled model')
    parser.add_argument('--domain-id', type=domain_id, default=None, help='DDS domain')
    parser.add_argument('--bench', action='store_true',
                        help='run the latency benchmark (see vbp_ros.node.bench_latency)')


def _line(text: str) -> None:
    sys.stdout.write(text + '\n')
    sys.stdout.flush()


def run(args: argparse.Namespace) -> int:
    """Run the demo (or the benchmark)."""
    if args.bench:
        from vbp_ros.node.bench_latency import main as bench_main
        defaults = {'duration': 10.0, 'width': 640, 'height': 480, 'rate': 30.0,
                    'source': 'synthetic', 'pngs': 4, 'out': 'demo-out'}
        ignored = [f'--{k}' for k, v in defaults.items() if getattr(args, k) != v]
        if ignored:
            logging.getLogger('vbp_ros.demo').warning(
                '--bench runs its own fixed configurations; ignoring %s', ' '.join(ignored))
        extra = ['--model', args.model] if args.model else []
        if args.domain_id is not None:
            extra += ['--domain-id', str(args.domain_id)]
        return bench_main(['--device', args.device, *extra])
    from vbp_ros.node.demo import run_demo
    with stop_on_signals(what='ending the demo early') as stop:
        s = run_demo(args.duration, args.width, args.height, args.rate, args.source, args.out,
                     args.pngs, args.device, args.model, args.domain_id, report=_line, stop=stop)
    _line('')
    _line(f'frames: sent {s.sent}, received {s.received}, processed {s.processed}, '
          f'dropped {s.dropped}, malformed {s.malformed}  (model on {s.device})')
    _line(f'node receive->steering  p50 {s.steering_ms[0]:.2f} ms  p99 {s.steering_ms[1]:.2f} ms')
    _line(f'node receive->mask      p50 {s.node_ms[0]:.2f} ms  p99 {s.node_ms[1]:.2f} ms')
    _line(f'camera->mask received   p50 {s.e2e_ms[0]:.2f} ms  p99 {s.e2e_ms[1]:.2f} ms')
    _line(f'last steering angle {s.steering:+.4f} rad')
    for path in s.pngs:
        _line(f'wrote {path}')
    return 0
