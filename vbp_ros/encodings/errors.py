"""The encodings subpackage's exception."""
from __future__ import annotations

from vbp_ros.errors import VbpError


class EncodingError(VbpError, ValueError):
    """An image message cannot be converted: unknown encoding, bad sizes or corrupt data."""
