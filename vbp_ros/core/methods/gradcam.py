"""Grad-CAM (Selvaraju et al. 2017) on the last conv layer, upsampled bilinearly to the input."""
from __future__ import annotations

import torch
import torch.nn.functional as F
from captum.attr import LayerGradCam
from torch import nn

from vbp_ros.core.methods.base import (AttributionMethod, last_conv, normalise_per_image,
                                         output_of, register)


@register('gradcam')
class GradCam(AttributionMethod):
    """Channel weights = spatially averaged gradients; ReLU of the weighted feature maps."""

    def __init__(self, model: nn.Module, output_index: int = 0,
                 layer: nn.Module | None = None) -> None:
        super().__init__(model, output_index)
        self.cam = LayerGradCam(model, layer or last_conv(model))

    def __call__(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        with torch.enable_grad(), output_of(self.model) as out:
            cam = self.cam.attribute(x.detach(), target=self.output_index,
                                     relu_attributions=True)
        cam = F.interpolate(cam.detach().float(), size=x.shape[-2:], mode='bilinear',
                            align_corners=False)
        return out[0], normalise_per_image(cam[:, 0])
