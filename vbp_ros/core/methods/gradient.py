"""Vanilla gradient saliency (Simonyan et al. 2014): |∂output/∂input|, max over channels."""
from __future__ import annotations

import torch

from vbp_ros.core.methods.base import AttributionMethod, normalise_per_image, register


@register('gradient')
class Gradient(AttributionMethod):
    """One forward and one backward pass."""

    def __call__(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        x = x.detach().requires_grad_(True)
        with torch.enable_grad():
            out = self.model(x)
            (grad,) = torch.autograd.grad(out[:, self.output_index].sum(), x)
        return out.detach(), normalise_per_image(grad.abs().amax(1))
