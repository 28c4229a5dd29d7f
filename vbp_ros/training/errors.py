"""Errors of training and evaluation."""
from __future__ import annotations

from vbp_ros.errors import VbpError


class TrainingError(VbpError):
    """Training data, a checkpoint or a training setting is unusable."""
