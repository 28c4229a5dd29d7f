"""``vbp-ros node``: run the node without ROS, over ROS 2 wire-compatible DDS."""
from __future__ import annotations

import argparse

from vbp_ros.node.main import add_node_arguments, run_node


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Same options as ``vbp_node``; the middleware defaults to cyclonedds here."""
    add_node_arguments(parser)
    parser.set_defaults(middleware='cyclonedds')


def run(args: argparse.Namespace) -> int:
    """Run until Ctrl-C."""
    return run_node(args)
