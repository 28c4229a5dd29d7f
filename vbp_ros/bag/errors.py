"""The bag subpackage's one exception."""
from __future__ import annotations

from vbp_ros.errors import VbpError


class BagError(VbpError):
    """A bag cannot be read or written, or does not hold what was asked for."""
