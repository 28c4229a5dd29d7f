"""One small interface for every attribution method, and the registry the front ends read."""
from __future__ import annotations

from contextlib import contextmanager
from typing import Callable, Iterator

import torch
from torch import nn

METHODS: dict[str, type[AttributionMethod]] = {}


def register(name: str) -> Callable[[type[AttributionMethod]], type[AttributionMethod]]:
    """Class decorator: make a method available under ``name`` (CLI choices, tests, reports)."""
    def add(cls: type[AttributionMethod]) -> type[AttributionMethod]:
        cls.name = name
        METHODS[name] = cls
        return cls
    return add


def normalise_per_image(mask: torch.Tensor) -> torch.Tensor:
    """Min-max normalise each N×H×W mask to [0, 1] (float32; constant masks become 0)."""
    flat = mask.detach().float().flatten(1)
    lo, hi = flat.amin(1, keepdim=True), flat.amax(1, keepdim=True)
    span = (hi - lo).clamp_min(torch.finfo(torch.float32).tiny)
    return ((flat - lo) / span).view(mask.shape)


class AttributionMethod:
    """``method(x) -> (output, mask)`` with ``mask`` N×H×W in [0, 1] on x's device.

    Args:
        model: the network (left unchanged).
        output_index: which output column is explained (the steering output: 0).
    """

    name = ''
    needs_gradients = True

    def __init__(self, model: nn.Module, output_index: int = 0) -> None:
        self.model = model
        self.output_index = output_index

    def __call__(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Explain ``x`` (N×C×H×W)."""
        raise NotImplementedError


def last_conv(model: nn.Module) -> nn.Module:
    """The last ``nn.Conv2d`` of a model."""
    convs = [m for m in model.modules() if isinstance(m, nn.Conv2d)]
    if not convs:
        raise ValueError(f'{type(model).__name__} has no nn.Conv2d layer')
    return convs[-1]


def last_conv_maps(model: nn.Module) -> nn.Module:
    """The module whose output is the last conv layer's rectified feature maps, as Grad-CAM
    takes them: the activation module after the conv (past a BatchNorm) in the same
    ``nn.Sequential``, else the conv itself."""
    from vbp_ros.core.layer_chain import ACTIVATIONS
    conv = last_conv(model)
    for parent in model.modules():
        children = list(parent.children()) if isinstance(parent, nn.Sequential) else []
        if any(c is conv for c in children):
            found = conv
            for m in children[[id(c) for c in children].index(id(conv)) + 1:]:
                if isinstance(m, ACTIVATIONS):
                    found = m
                elif not isinstance(m, nn.modules.batchnorm._BatchNorm):
                    break
            return found
    return conv


@contextmanager
def output_of(model: nn.Module) -> Iterator[list[torch.Tensor]]:
    """Collect the (detached) output of ``model``'s next call, made by a library inside."""
    got: list[torch.Tensor] = []
    handle = model.register_forward_hook(lambda m, i, o: got.append(o.detach()))
    try:
        yield got
    finally:
        handle.remove()
