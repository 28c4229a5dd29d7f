"""argparse types shared by the subcommands: numbers checked where they are parsed, so a bad
value is a usage error (exit 2) rather than a traceback deep inside the command."""
from __future__ import annotations

import argparse
import math
from typing import Callable


def _int_at_least(text: str, low: int) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f'{text!r} is not an integer') from None
    if value < low:
        raise argparse.ArgumentTypeError(f'{value} is not >= {low}')
    return value


def _finite_float(text: str, ok: Callable[[float], bool], bound: str) -> float:
    """``float(text)``, refused unless finite and ``ok`` holds for it (``bound`` says how)."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f'{text!r} is not a number') from None
    if not (math.isfinite(value) and ok(value)):
        raise argparse.ArgumentTypeError(f'{text} is not a finite number {bound}')
    return value


def positive_int(text: str) -> int:
    """An integer >= 1."""
    return _int_at_least(text, 1)


def non_negative_int(text: str) -> int:
    """An integer >= 0."""
    return _int_at_least(text, 0)


def positive_float(text: str) -> float:
    """A finite number > 0."""
    return _finite_float(text, lambda v: v > 0, '> 0')


def non_negative_float(text: str) -> float:
    """A finite number >= 0."""
    return _finite_float(text, lambda v: v >= 0, '>= 0')


def image_side(text: str) -> int:
    """A frame width or height: 1 to the largest side images may have (16384)."""
    from vbp_ros.encodings.limits import MAX_SIDE
    value = positive_int(text)
    if value > MAX_SIDE:
        raise argparse.ArgumentTypeError(f'{value} is more than {MAX_SIDE}')
    return value


def folder(text: str) -> str:
    """A folder path; an empty one (an unset shell variable) is refused, not ignored."""
    if not text.strip():
        raise argparse.ArgumentTypeError('an empty path')
    return text


def int_in(low: int, high: int) -> Callable[[str], int]:
    """An argparse type for an integer from ``low`` to ``high``."""
    def parse(text: str) -> int:
        value = _int_at_least(text, low)
        if value > high:
            raise argparse.ArgumentTypeError(f'{value} is more than {high}')
        return value
    return parse


#: The largest ROS_DOMAIN_ID (ROS 2: 0..232 on Linux, where higher ids collide with ports).
MAX_DOMAIN_ID = 232
#: A DDS domain id, 0 to 232.
domain_id = int_in(0, MAX_DOMAIN_ID)
