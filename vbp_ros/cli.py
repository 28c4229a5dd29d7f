"""`vbp-ros` command line: one subcommand per module in :mod:`vbp_ros.commands`.

Each command module defines ``NAME``, ``HELP``, ``add_arguments(parser)`` and ``run(args) -> int``
and is listed in ``COMMANDS``; importing is deferred so ``vbp-ros --help`` stays fast.
"""
from __future__ import annotations

import argparse
import importlib
import logging
import sys

from vbp_ros.errors import VbpError

# name -> (module, one-line help). Modules are imported only when their command runs.
COMMANDS: dict[str, tuple[str, str]] = {
    'demo': ('vbp_ros.commands.demo', 'synthetic camera -> node -> masks, all in one (main job)'),
    'bench': ('vbp_ros.commands.bench', 'time forward, VisualBackProp and the comparison methods'),
    'mask': ('vbp_ros.commands.mask', 'attribution masks of image files as overlay PNGs'),
    'train': ('vbp_ros.commands.train', 'train a steering model with VBP snapshots per epoch'),
    'evaluate': ('vbp_ros.commands.evaluate', 'measure mask quality of VBP vs other methods'),
    'node': ('vbp_ros.commands.node', 'run the node over ROS 2 wire-compatible DDS (no ROS)'),
    'camera': ('vbp_ros.commands.camera', 'publish the synthetic camera, a video or images'),
    'echo': ('vbp_ros.commands.echo', 'print what arrives on the node outputs'),
    'process': ('vbp_ros.commands.process', 'run the model and VBP over a recorded bag'),
    'review': ('vbp_ros.commands.review', 'video and HTML summary of a processed bag'),
}


def build_parser(argv: list[str]) -> argparse.ArgumentParser:
    """Build the parser; only the chosen subcommand's module is imported."""
    parser = argparse.ArgumentParser(
        prog='vbp-ros', description='Steering CNN with VisualBackProp masks: the node without '
        'ROS, bag tools, training, evaluation and benchmarks.')
    parser.add_argument('-v', '--verbose', action='store_true', help='debug logging')
    sub = parser.add_subparsers(dest='command', metavar='COMMAND', required=True)
    chosen = next((a for a in argv if a in COMMANDS), None)
    for name, (module, help_text) in COMMANDS.items():
        p = sub.add_parser(name, help=help_text, description=help_text)
        if name == chosen:
            mod = importlib.import_module(module)
            mod.add_arguments(p)
            p.set_defaults(_run=mod.run)
    return parser


def forget_script_requirements() -> None:
    """Drop the ``__requires__`` that setuptools' console scripts leave in ``__main__``.

    Once something imports ``pkg_resources`` (setuptools does; torch.compile imports
    setuptools), it demands every ``install_requires`` entry under its pip name. A colcon
    install of this package on ROS (where apt's python3-opencv is no opencv-python-headless
    distribution) would then fail with DistributionNotFound.
    """
    vars(sys.modules.get('__main__', sys)).pop('__requires__', None)


def main(argv: list[str] | None = None) -> int:
    """Entry point of ``vbp-ros``."""
    from vbp_ros.transport.parameters import ros_args_last
    forget_script_requirements()
    argv = ros_args_last(sys.argv[1:] if argv is None else argv)
    try:
        args = build_parser(argv).parse_args(argv)  # imports the subcommand (torch: a while)
    except KeyboardInterrupt:
        return 130
    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.INFO,
                        format='[%(levelname)s] [%(name)s]: %(message)s')
    try:
        return int(args._run(args) or 0)
    except VbpError as exc:
        logging.getLogger('vbp_ros').error('%s', exc)
        return 2
    except OSError as exc:  # e.g. an output path under a file, a full disk
        logging.getLogger('vbp_ros').error('%s', exc, exc_info=args.verbose)
        return 1
    except KeyboardInterrupt:
        return 130


def camera_main() -> int:
    """Entry point of the ``synthetic_camera`` executable (``vbp-ros camera``)."""
    return main(['camera', *sys.argv[1:]])
