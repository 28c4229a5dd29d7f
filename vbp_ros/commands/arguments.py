"""argparse types shared by the subcommands: numbers checked where they are parsed, so a bad
value is a usage error (exit 2) rather than a traceback deep inside the command."""
from __future__ import annotations

import argparse
import math


def positive_int(text: str) -> int:
    """An integer >= 1."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f'{text!r} is not an integer') from None
    if value < 1:
        raise argparse.ArgumentTypeError(f'{value} is not >= 1')
    return value


def positive_float(text: str) -> float:
    """A finite number > 0."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f'{text!r} is not a number') from None
    if not math.isfinite(value) or value <= 0:
        raise argparse.ArgumentTypeError(f'{text} is not a finite number > 0')
    return value


def non_negative_int(text: str) -> int:
    """An integer >= 0."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f'{text!r} is not an integer') from None
    if value < 0:
        raise argparse.ArgumentTypeError(f'{value} is not >= 0')
    return value


def non_negative_float(text: str) -> float:
    """A finite number >= 0."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f'{text!r} is not a number') from None
    if not math.isfinite(value) or value < 0:
        raise argparse.ArgumentTypeError(f'{text} is not a finite number >= 0')
    return value


def image_side(text: str) -> int:
    """A frame width or height: 1 to the largest side images may have (16384)."""
    from vbp_ros.encodings.limits import MAX_SIDE
    value = positive_int(text)
    if value > MAX_SIDE:
        raise argparse.ArgumentTypeError(f'{value} is more than {MAX_SIDE}')
    return value
