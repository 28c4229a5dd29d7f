"""VisualBackProp behind the common interface (the method itself is in ``visualbackprop.py``)."""
from __future__ import annotations

import torch
from torch import nn

from vbp_ros.core.methods.base import AttributionMethod, register
from vbp_ros.core.visualbackprop import VisualBackProp


@register('vbp')
class VisualBackPropMethod(AttributionMethod):
    """Forward pass only: channel-averaged feature maps multiplied from deep to shallow."""

    needs_gradients = False

    def __init__(self, model: nn.Module, output_index: int = 0) -> None:
        super().__init__(model, output_index)
        self.vbp = VisualBackProp(model)

    def __call__(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        with torch.no_grad():
            return self.vbp(x)
