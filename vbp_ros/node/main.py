"""``vbp_node``: the node's executable. rclpy when it can be imported, otherwise plain DDS.

Examples::

    ros2 run vbp_ros vbp_node --ros-args --params-file config/vbp.yaml -p device:=cpu
    vbp_node --middleware cyclonedds --params-file config/vbp.yaml --param device=cpu
    vbp-ros node --record /tmp/drive --ros-args -p mask_mode:=always
"""
from __future__ import annotations

import argparse
import logging
import sys
import threading
from typing import Any

from vbp_ros.commands.arguments import domain_id, folder, positive_float
from vbp_ros.errors import VbpError
from vbp_ros.node.params import NODE_NAME, PARAMETERS
from vbp_ros.stop_signals import stop_on_signals
from vbp_ros.transport import create_transport, default_middleware, Middleware
from vbp_ros.transport.parameters import load_params_files, parse_assignment, ros_args_last, \
    split_ros_args

LOG = logging.getLogger('vbp_ros.node')


def add_middleware_arguments(parser: argparse.ArgumentParser, node_name: str,
                             default_middleware_name: str = 'auto') -> None:
    """Options every vbp-ros process on the wire shares (middleware, domain, names)."""
    parser.add_argument('--middleware', choices=['auto'] + [m.value for m in Middleware],
                        default=default_middleware_name,
                        help='auto: rclpy if importable, else cyclonedds (default %(default)s)')
    parser.add_argument('--node-name', default=node_name, help='node name (default %(default)s)')
    parser.add_argument('--namespace', default='/', help='node namespace')
    parser.add_argument('--domain-id', type=domain_id, default=None,
                        help='DDS domain (default: ROS_DOMAIN_ID or 0); cyclonedds only')
    parser.add_argument('--distro', default='jazzy',
                        choices=['humble', 'iron', 'jazzy', 'kilted', 'rolling'],
                        help='ROS 2 wire layout to speak; cyclonedds only (default jazzy)')
    parser.add_argument('--loopback', action='store_true',
                        help='bind DDS to the loopback interface (unless CYCLONEDDS_URI is set)')
    parser.add_argument('--ros-args', nargs=argparse.REMAINDER, default=None, dest='ros_args',
                        help='ROS 2 arguments: -p name:=value, -r from:=to, --params-file FILE')


def add_node_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of ``vbp_node`` and ``vbp-ros node``."""
    parser.add_argument('--params-file', action='append', default=[], metavar='YAML',
                        help='ROS 2 parameter file (e.g. config/vbp.yaml); repeatable')
    parser.add_argument('--param', action='append', default=[], metavar='NAME=VALUE',
                        help='parameter override (value read as YAML); repeatable')
    parser.add_argument('--record', metavar='DIR', type=folder, default=None,
                        help='record camera and all outputs into a rosbag2 bag in DIR')
    parser.add_argument('--record-storage', choices=['mcap', 'sqlite3'], default='mcap',
                        help='storage format of the --record bag (default %(default)s)')
    parser.add_argument('--duration', type=positive_float, default=None,
                        help='stop after this many seconds (default: run until Ctrl-C)')
    parser.add_argument('--list-params', action='store_true',
                        help='print every parameter with default, constraints and description')
    add_middleware_arguments(parser, NODE_NAME)


def describe_parameters() -> str:
    """Every parameter as 'name = default  [constraints]  (live)  description' lines."""
    lines = []
    for spec in PARAMETERS:
        constraints = f'  [{spec.constraints()}]' if spec.constraints() else ''
        live = '  (live: ros2 param set applies while running)' if spec.live else ''
        lines.append(f'{spec.name} = {spec.default!r}{constraints}{live}\n'
                     f'    {spec.description}')
    return '\n'.join(lines)


def rcl_arguments(params_files: list[str], ros_args: list[str] | None,
                  param_texts: list[str]) -> list[str]:
    """The argv rclpy gets, in the order the DDS path applies them: ``--params-file``
    files, then the ``--ros-args`` section (files and ``-p`` merged in command-line order, see
    :func:`load_params_files`), then ``--param`` values."""
    out = [sys.argv[0], '--ros-args']
    for path in params_files:
        out += ['--params-file', path]
    out += ros_args or []
    if param_texts:
        out.append('--ros-args')  # a new section, also where the user's ended with '--'
        for text in param_texts:
            name, _ = parse_assignment(text)
            out += ['-p', f'{name}:={text.split("=", 1)[1].lstrip("=")}']
    return out


def make_transport(args: argparse.Namespace) -> Any:
    """Create the transport the options ask for, with parameters and remappings applied."""
    ros_argv = ['--ros-args', *args.ros_args] if getattr(args, 'ros_args', None) is not None \
        else []
    middleware = default_middleware() if args.middleware == 'auto' else Middleware(
        args.middleware)
    params_files = list(getattr(args, 'params_file', []) or [])
    param_texts = list(getattr(args, 'param', []) or [])
    if middleware is Middleware.RCLPY:
        return create_transport(middleware, node_name=args.node_name, namespace=args.namespace,
                                args=rcl_arguments(params_files, getattr(args, 'ros_args', None),
                                                   param_texts))
    if getattr(args, 'loopback', False):
        from vbp_ros.transport.loopback import use_loopback
        use_loopback()
    _, _, all_remaps, sources = split_ros_args(ros_argv)
    # 'node:from:=to' applies only to the node of that (original) name, as in rcl.
    remaps = {}
    for src, dst in all_remaps.items():
        target, sep, rest = src.rpartition(':')
        if not sep:
            remaps[src] = dst
        elif target == args.node_name:
            remaps[rest] = dst
    # Parameter files match the node under its remapped name and namespace, as in rcl.
    node_name = remaps.get('__node', remaps.get('__name', args.node_name))
    namespace = remaps.get('__ns', args.namespace)
    known = {p.name for p in PARAMETERS}
    # Files and -p in command-line order, as rcl merges them.
    values = load_params_files([*params_files, *sources], node_name, namespace, known)
    for text in param_texts:
        name, value = parse_assignment(text)
        values[name] = value
    return create_transport(middleware, node_name=args.node_name, namespace=args.namespace,
                            domain_id=args.domain_id, distro=args.distro, remaps=remaps,
                            param_values=values)


def spin_until_stopped(transport: Any, stop: threading.Event,
                       duration: float | None = None) -> None:
    """Spin ``transport`` until ``stop`` is set, ``duration`` seconds pass (None: no limit),
    or Ctrl-C."""
    if duration is not None:
        timer = threading.Timer(duration, stop.set)
        timer.daemon = True
        timer.start()
    try:
        transport.spin(stop)
    except KeyboardInterrupt:
        pass


def run_node(args: argparse.Namespace) -> int:
    """Run the node until Ctrl-C, SIGTERM or ``--duration``.

    Returns:
        Exit status (0).

    Raises:
        VbpError: bad parameters, model or middleware (the caller prints it).
    """
    from vbp_ros.node.logic import VbpNode
    if getattr(args, 'list_params', False):
        sys.stdout.write(describe_parameters() + '\n')
        return 0
    transport = make_transport(args)
    recorder = None
    # From here until the bag is finished a signal asks to stop (one while the model loads or
    # compiles stops the node as soon as it is built); a second one aborts the start-up, or
    # while the recorder writes its queue finishes the bag at once with what was written.
    with stop_on_signals(what='shutting down') as stop:
        try:
            if args.record:
                from vbp_ros.bag.recorder import BagRecorder
                recorder = BagRecorder(args.record, storage=args.record_storage)
                transport.logger.info('recording into %s', recorder.path)
            node = VbpNode(transport, observers=[recorder] if recorder else None)
            if recorder is not None:  # so that `vbp-ros process` knows them for outputs
                from vbp_ros.bag.io import OUTPUT_TOPICS_KEY
                recorder.set_metadata(OUTPUT_TOPICS_KEY, ' '.join(node.output_topics))
        except BaseException:  # e.g. a bad model, or a second signal while it loads
            transport.close()
            if recorder is not None:
                recorder.close()
            raise
        aborted = False
        try:
            spin_until_stopped(transport, stop, args.duration)
        finally:
            try:
                node.stop()
                # The middleware before the recorder: a frame arriving meanwhile is recorded.
                transport.close()
                counts = node.stats.snapshot()
                LOG.info('frames received %(received)d, processed %(processed)d, dropped '
                         '%(dropped)d, malformed %(malformed)d', counts)
            except KeyboardInterrupt:
                aborted = True
                raise
            finally:
                if recorder is not None:
                    queued = recorder.queued_bytes
                    if queued > 2**20 and not aborted:
                        LOG.info('writing the %d MiB still queued into %s (stop again to '
                                 'finish the bag without them)', queued // 2**20, recorder.path)
                    recorder.close(abort=aborted)
    return 0


def main(argv: list[str] | None = None) -> int:
    """Entry point of ``vbp_node``."""
    from vbp_ros.cli import forget_script_requirements
    forget_script_requirements()
    argv = ros_args_last(sys.argv[1:] if argv is None else argv)
    parser = argparse.ArgumentParser(prog='vbp_node', description=__doc__.splitlines()[0])
    parser.add_argument('-v', '--verbose', action='store_true', help='debug logging')
    add_node_arguments(parser)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.INFO,
                        format='[%(levelname)s] [%(name)s]: %(message)s')
    try:
        return run_node(args)
    except VbpError as exc:
        LOG.error('%s', exc)
        return 2
    except KeyboardInterrupt:  # before the node's own signal handling is in place
        return 130


if __name__ == '__main__':
    sys.exit(main())
