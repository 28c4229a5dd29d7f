"""Grad-CAM (Selvaraju et al. 2017) on the last conv layer's rectified maps (the activation
after it), upsampled bilinearly to the input.

Grad-CAM explains a class score, which grows with the evidence. A steering output is signed:
Grad-CAM of the raw output keeps (after its ReLU) only evidence for turning left, and gives
empty masks for right turns. Here it explains the output times its sign, i.e. the evidence for
the turn the network makes, in either direction.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from captum.attr import LayerGradCam
from torch import nn

from vbp_ros.core.methods.base import (AttributionMethod, last_conv_maps, normalise_per_image,
                                         output_of, register)


@register('gradcam')
class GradCam(AttributionMethod):
    """Channel weights = spatially averaged gradients of the signed output; ReLU of the
    weighted feature maps."""

    def __init__(self, model: nn.Module, output_index: int = 0,
                 layer: nn.Module | None = None) -> None:
        super().__init__(model, output_index)
        self.cam = LayerGradCam(self._towards_its_sign, layer or last_conv_maps(model))

    def _towards_its_sign(self, x: torch.Tensor) -> torch.Tensor:
        out = self.model(x)
        return out * torch.where(out.detach() < 0, -1.0, 1.0).to(out.dtype)

    def __call__(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        with torch.enable_grad(), output_of(self.model) as out:
            cam = self.cam.attribute(x.detach(), target=self.output_index,
                                     relu_attributions=True)
        cam = F.interpolate(cam.detach().float(), size=x.shape[-2:], mode='bilinear',
                            align_corners=False)
        return out[0], normalise_per_image(cam[:, 0])
