"""Errors of the synthetic road world."""
from __future__ import annotations

from vbp_ros.errors import VbpError


class WorldError(VbpError, ValueError):
    """A scene, camera or sequence setting is invalid."""
