"""``vbp-ros echo``: print what arrives on the node's outputs, one line per message.

Latency is reception time minus the header stamp, i.e. camera publish to here when the camera
stamps with the wall clock of the same machine (``vbp-ros camera`` does).
"""
from __future__ import annotations

import argparse
import logging
import sys
import threading

from vbp_ros.commands.arguments import positive_float, positive_int
from vbp_ros.node.listener import OutputListener, OUTPUTS, Received
from vbp_ros.node.main import add_middleware_arguments, make_transport, spin_until_stopped
from vbp_ros.stop_signals import stop_on_signals

LOG = logging.getLogger('vbp_ros.echo')


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Echo options."""
    parser.add_argument('--node', default='/vbp', help='fully qualified name of the node')
    parser.add_argument('--outputs', default='steering,mask,diagnostics',
                        help=f'comma-separated subset of {",".join(OUTPUTS)}')
    parser.add_argument('--reliability', default='best_effort',
                        choices=['best_effort', 'reliable'], help='QoS of the subscriptions')
    parser.add_argument('--count', type=positive_int, default=None, help='stop after N messages')
    parser.add_argument('--duration', type=positive_float, default=None, help='stop after N seconds')
    add_middleware_arguments(parser, 'vbp_echo')


def describe(item: Received) -> str:
    """One line for a received message."""
    msg = item.msg
    if item.kind == 'diagnostics':
        st = msg.status[0] if msg.status else None
        if st is None:
            return 'diagnostics (empty)'
        vals = {kv.key: kv.value for kv in st.values}
        level = {0: 'OK', 1: 'WARN', 2: 'ERROR', 3: 'STALE'}.get(st.level, str(st.level))
        line = (f'diagnostics {level} "{st.message}" in={vals.get("input_rate_hz")} Hz '
                f'out={vals.get("processed_rate_hz")} Hz dropped={vals.get("frames_dropped")} '
                f'malformed={vals.get("frames_malformed")} '
                f'errors={vals.get("processing_errors")} '
                f'total_p50={vals.get("total_ms_p50")} ms')
        if 'recording_written' in vals:
            line += (f' recorded={vals["recording_written"]} '
                     f'record_dropped={vals.get("recording_dropped")} '
                     f'record_queue={vals.get("recording_queued_mib")} MiB')
        return line
    stamp = f'{msg.header.stamp.sec}.{msg.header.stamp.nanosec:09d}'
    lat = f'{item.latency_s * 1e3:7.2f} ms'
    if item.kind == 'steering':
        return (f'steering  stamp={stamp} frame_id={msg.header.frame_id} '
                f'angle={msg.drive.steering_angle:+.4f} rad  latency {lat}')
    return (f'{item.kind:<9} stamp={stamp} {msg.width}x{msg.height} {msg.encoding} '
            f'{item.size} B  latency {lat}')


def run(args: argparse.Namespace) -> int:
    """Print until Ctrl-C, ``--count`` or ``--duration``."""
    kinds = tuple(k.strip() for k in args.outputs.split(',') if k.strip())
    unknown = [k for k in kinds if k not in OUTPUTS]
    if unknown:
        LOG.error('unknown outputs %s (choose from %s)', unknown, ', '.join(OUTPUTS))
        return 2
    transport = make_transport(args)
    stop = threading.Event()
    total = [0]
    lock = threading.Lock()

    def show(item: Received) -> None:
        with lock:
            sys.stdout.write(describe(item) + '\n')
            sys.stdout.flush()
            total[0] += 1
            if args.count is not None and total[0] >= args.count:
                stop.set()

    try:
        OutputListener(transport, args.node, kinds, args.reliability, keep=1, callback=show)
        with stop_on_signals(stop):
            spin_until_stopped(transport, stop, args.duration)
    finally:
        transport.close()
    return 0
