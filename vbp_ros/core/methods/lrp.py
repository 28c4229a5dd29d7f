"""Layer-wise relevance propagation (Bach et al. 2015), the paper's slower comparison method.

Captum's LRP with the rules recommended for deep ReLU nets (Montavon et al. 2019, as in
Zennit's EpsilonGammaBox composite without its input-box rule): LRP-γ (γ = 0.25) for conv
layers, which favours positive contributions and gives cleaner maps, and LRP-ε for dense layers
(ε = 1e-6, i.e. LRP-0 there). With captum's default (ε = 1e-9 everywhere) LRP equals
gradient × input on ReLU nets. It runs on a private copy of the model, because it attaches
rules to the modules. Captum cannot propagate through an ``nn.Flatten``
module (its hooks may not change tensor sizes), so in the copy every ``nn.Flatten`` inside an
``nn.Sequential`` becomes a functional flatten of the container.
"""
from __future__ import annotations

import copy

import torch
from captum.attr import LRP
from captum.attr._utils.lrp_rules import EpsilonRule, GammaRule
from torch import nn

from vbp_ros.core.methods.base import AttributionMethod, normalise_per_image, output_of, register


class _FunctionalFlatten(nn.Sequential):
    """An ``nn.Sequential`` whose ``nn.Flatten`` members run as plain ``torch.flatten``."""

    def __init__(self, seq: nn.Sequential) -> None:
        super().__init__()
        self.flatten_at: dict[int, tuple[int, int]] = {}
        for m in seq:
            if isinstance(m, nn.Flatten):
                self.flatten_at[len(self)] = (m.start_dim, m.end_dim)
            else:
                self.append(_without_flatten_modules(m))

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # noqa: D102
        for i, m in enumerate(self):
            if i in self.flatten_at:
                x = torch.flatten(x, *self.flatten_at[i])
            x = m(x)
        if len(self) in self.flatten_at:
            x = torch.flatten(x, *self.flatten_at[len(self)])
        return x


def _without_flatten_modules(model: nn.Module) -> nn.Module:
    if isinstance(model, nn.Sequential) and type(model).forward is nn.Sequential.forward:
        return _FunctionalFlatten(model)
    for name, child in model.named_children():
        setattr(model, name, _without_flatten_modules(child))
    return model


@register('lrp')
class Lrp(AttributionMethod):
    """Mask = |relevance summed over the input channels|."""

    def __init__(self, model: nn.Module, output_index: int = 0) -> None:
        super().__init__(model, output_index)
        self.copy = _without_flatten_modules(copy.deepcopy(model)).eval()
        for m in self.copy.modules():
            if isinstance(m, nn.ReLU):
                m.inplace = False
        self.lrp = LRP(self.copy)

    def _attach_rules(self) -> None:
        """Put the rules on the copy's layers: captum removes them after every attribution
        (and would then fall back to its default ε = 1e-9 rule)."""
        for m in self.copy.modules():
            if isinstance(m, nn.Conv2d):
                m.rule = GammaRule(gamma=0.25)
            elif isinstance(m, nn.Linear):
                m.rule = EpsilonRule(epsilon=1e-6)

    def __call__(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        # LRP runs on a copy (its rules must not touch the model), brought up to date on every
        # call: however the weights changed (an optimiser, `.data` writes, `.to(...)`), the
        # copy explains the model as it is now. (A copy of PilotNet's weights: ~50 µs.)
        first = next(self.model.parameters(), None)
        if first is not None:
            self.copy.to(device=first.device, dtype=first.dtype)
        with torch.no_grad():
            for src, dst in zip([*self.model.parameters(), *self.model.buffers()],
                                [*self.copy.parameters(), *self.copy.buffers()]):
                dst.copy_(src)
        self._attach_rules()
        with torch.enable_grad(), output_of(self.copy) as out:
            rel = self.lrp.attribute(x.detach().clone().requires_grad_(True),
                                     target=self.output_index)
        return out[0], normalise_per_image(rel.detach().sum(1).abs())
