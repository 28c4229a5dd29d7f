"""The msgs subpackage's exception."""
from __future__ import annotations

from vbp_ros.errors import VbpError


class MsgError(VbpError, ValueError):
    """A message cannot be serialized, or bytes do not hold a valid message of the asked type."""
