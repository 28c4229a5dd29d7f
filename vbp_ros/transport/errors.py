"""Errors of the transport layer."""
from __future__ import annotations

from vbp_ros.errors import VbpError


class TransportError(VbpError):
    """A middleware cannot be started, or an endpoint cannot be created."""
