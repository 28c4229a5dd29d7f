"""NVIDIA PilotNet (Bojarski et al. 2016, arXiv 1604.07316), the default steering CNN.

Input: 3x66x200 (YUV in the paper), output: inverse turning radius 1/r in 1/m, positive for a
left turn (REP-103: counter-clockwise yaw is positive).
"""
from __future__ import annotations

from torch import nn


class PilotNet(nn.Sequential):
    """Five convolutions (24/36/48 5x5 stride 2, 64/64 3x3) and four dense layers (100/50/10/1).

    It is an ``nn.Sequential`` on purpose: VisualBackProp then runs a hook-free traced forward.
    ``width`` scales the channel counts (1.0 is the paper's network); ``in_size`` only sets the
    size of the first dense layer, so larger inputs (e.g. 256x455) keep the same conv stack.
    """

    def __init__(self, in_channels: int = 3, in_size: tuple[int, int] = (66, 200),
                 dropout: float = 0.0) -> None:
        h, w = in_size
        for k, s in ((5, 2), (5, 2), (5, 2), (3, 1), (3, 1)):
            h, w = (h - k) // s + 1, (w - k) // s + 1
        if h < 1 or w < 1:
            msg = f'input size {in_size} is too small for PilotNet (needs at least 66x66)'
            raise ValueError(msg)
        super().__init__(
            nn.Conv2d(in_channels, 24, 5, stride=2), nn.ReLU(),
            nn.Conv2d(24, 36, 5, stride=2), nn.ReLU(),
            nn.Conv2d(36, 48, 5, stride=2), nn.ReLU(),
            nn.Conv2d(48, 64, 3), nn.ReLU(),
            nn.Conv2d(64, 64, 3), nn.ReLU(),
            nn.Flatten(),
            nn.Dropout(dropout),
            nn.Linear(64 * h * w, 100), nn.ReLU(),
            nn.Linear(100, 50), nn.ReLU(),
            nn.Linear(50, 10), nn.ReLU(),
            nn.Linear(10, 1),
        )
        self.in_channels = in_channels
        self.in_size = tuple(in_size)
