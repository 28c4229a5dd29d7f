"""Find the chain of conv layers VisualBackProp walks, from one recorded forward pass.

Every leaf module call is recorded (module, input and output shapes). Convolutions and pooling
layers are the *spatial* layers; layers whose output has the shape of their input (activations,
BatchNorm, Dropout) pass through. The feature map of conv ``k`` is the output of the last
activation module among the pass-throughs after it; without one, the tensor that enters the next
layer that is not a pass-through (after an activation applied functionally in a custom
``forward``).
"""
from __future__ import annotations

from dataclasses import dataclass, field
import logging
from typing import Literal

import torch
from torch import nn

from vbp_ros.core.box_upsample import compose, Footprint
from vbp_ros.errors import ModelError

log = logging.getLogger(__name__)

CONV = (nn.Conv2d,)
ACTIVATIONS = (nn.ReLU, nn.ReLU6, nn.LeakyReLU, nn.ELU, nn.SELU, nn.CELU, nn.GELU, nn.SiLU,
               nn.PReLU, nn.RReLU, nn.Hardswish, nn.Mish, nn.Softplus, nn.Tanh, nn.Sigmoid,
               nn.Hardtanh, nn.Hardsigmoid, nn.Softsign, nn.Threshold, nn.LogSigmoid)
POOL = (nn.MaxPool2d, nn.AvgPool2d)
#: Explicit padding layers: mapped back like a conv's own padding, by cropping.
PAD = (nn.ZeroPad2d, nn.ConstantPad2d, nn.ReflectionPad2d, nn.ReplicationPad2d,
       *([nn.CircularPad2d] if hasattr(nn, 'CircularPad2d') else []))
UNSUPPORTED_SPATIAL = (nn.Conv1d, nn.Conv3d, nn.ConvTranspose2d, nn.AdaptiveAvgPool2d,
                       nn.AdaptiveMaxPool2d, nn.Upsample, nn.PixelShuffle, nn.Unfold,
                       nn.LPPool2d, nn.FractionalMaxPool2d, nn.MaxUnpool2d)


@dataclass
class Call:
    """One leaf-module call of the recorded forward pass."""

    name: str
    module: nn.Module
    occurrence: int  # how many times this module ran before this call
    in_shape: tuple[int, ...]
    out_shape: tuple[int, ...]
    in_id: int = 0   # identity of the input and output tensors during the probe (0: none)
    out_id: int = 0
    in_negative: bool = False  # the input has negative values
    in_version: int = 0  # in-place changes the input had seen (same id, new content)
    out_version: int = 0  # the same for the output, when the call returned

    @property
    def returns_its_input(self) -> bool:
        """It handed its input tensor on untouched (nn.Identity, Dropout in eval mode)."""
        return bool(self.in_id) and self.out_id == self.in_id and \
            self.out_version == self.in_version

    @property
    def passes_through(self) -> bool:
        return (self.in_shape == self.out_shape
                and not isinstance(self.module, CONV + POOL + PAD + UNSUPPORTED_SPATIAL))


@dataclass
class Tap:
    """Where a conv layer's post-activation feature map is read."""

    call: Call
    where: Literal['input', 'output']
    shape: tuple[int, int, int]  # C, H, W of the feature map (without batch)
    conv_name: str


@dataclass
class Chain:
    """Feature-map taps from shallow to deep and the box upsampling between them.

    ``upsample[k]`` = (A_h, A_w) takes map ``k`` to the size of map ``k-1``; ``upsample[0]``
    takes map 0 to the input size.
    """

    taps: list[Tap]
    upsample: list[tuple[torch.Tensor, torch.Tensor]] = field(default_factory=list)


def record_calls(model: nn.Module, x: torch.Tensor) -> list[Call]:
    """Run ``model`` once (no grad) and record every leaf-module call in order.

    Conv and pooling layers count as leaves even when they have children (a weight
    parametrization such as ``weight_norm``); their children are not recorded.

    The probe leaves no trace: buffers it changes (BatchNorm statistics in training mode) are
    restored and the random number generators (dropout) are left as they were, so a training
    step that explains its batch matches one that does not.
    """
    calls: list[Call] = []
    seen: dict[int, int] = {}
    pending: dict[int, list[tuple[tuple[int, ...], int, bool, int]]] = {}
    alive: list[object] = []  # every recorded tensor, so that no id is reused during the probe

    def shape_and_id(t: object) -> tuple[tuple[int, ...], int]:
        if not isinstance(t, torch.Tensor):
            return (), 0
        alive.append(t)
        return tuple(t.shape[1:]), id(t)

    def pre(module: nn.Module, args: tuple) -> None:
        t = args[0] if args else None
        tensor = isinstance(t, torch.Tensor)
        negative = tensor and t.is_floating_point() and bool((t < 0).any())
        version = t._version if tensor and not t.is_inference() else 0
        pending.setdefault(id(module), []).append((*shape_and_id(t), negative, version))

    def post(name: str):  # noqa: ANN202 - hook factory
        def hook(module: nn.Module, args: tuple, out: object) -> None:
            occurrence = seen.get(id(module), 0)
            seen[id(module)] = occurrence + 1
            in_shape, in_id, negative, version = pending[id(module)].pop()
            out_shape, out_id = shape_and_id(out)
            out_version = (out._version if isinstance(out, torch.Tensor)
                           and not out.is_inference() else 0)
            calls.append(Call(name, module, occurrence, in_shape, out_shape, in_id, out_id,
                              negative, version, out_version))
        return hook

    handles = []
    saved = [(b, b.detach().clone()) for b in model.buffers()
             if not isinstance(b, nn.parameter.UninitializedBuffer)]
    lazy_norms = [m for m in model.modules() if isinstance(m, nn.modules.batchnorm._NormBase)
                  and any(isinstance(b, nn.parameter.UninitializedBuffer) for b in m.buffers())]
    cuda = [x.device] if x.device.type == 'cuda' else []
    try:
        inside: list[str] = []  # layers recorded as a whole
        for name, m in model.named_modules():
            if any(not prefix or name.startswith(prefix + '.') for prefix in inside):
                continue
            if isinstance(m, CONV + POOL + UNSUPPORTED_SPATIAL) or not list(m.children()):
                inside.append(name)
                handles.append(m.register_forward_pre_hook(pre))
                handles.append(m.register_forward_hook(post(name or type(m).__name__)))
        # Outside inference mode, where tensors count their in-place changes (see Call).
        with torch.inference_mode(False), torch.no_grad(), torch.random.fork_rng(devices=cuda):
            model(x.clone())
    finally:
        for h in handles:
            h.remove()
        with torch.no_grad():
            for buffer, value in saved:
                buffer.copy_(value)
            for norm in lazy_norms:  # statistics born in the probe start afresh
                if norm.track_running_stats and not isinstance(
                        norm.running_mean, nn.parameter.UninitializedBuffer):
                    norm.reset_running_stats()
    return calls


def _numel(shape: tuple[int, ...]) -> int:
    n = 1
    for s in shape:
        n *= s
    return n


def build_chain(calls: list[Call], in_hw: tuple[int, int],
                layers: list[str] | None = None) -> Chain:
    """Turn recorded calls into a :class:`Chain`.

    Args:
        calls: from :func:`record_calls`.
        in_hw: spatial size of the model input.
        layers: names of the conv layers to use (default: every Conv2d).

    Raises:
        ModelError: no conv layers, an unsupported layer between them, or a branch the chain
            cannot follow (naming the layer).
    """
    conv_idx = [i for i, c in enumerate(calls) if isinstance(c.module, CONV)
                and (layers is None or c.name in layers)]
    if not conv_idx:
        what = f'none of the layers {layers}' if layers else 'no nn.Conv2d layer'
        raise ModelError(f'VisualBackProp needs conv layers, but {what} ran in the forward pass')
    if layers is not None:
        missing = set(layers) - {calls[i].name for i in conv_idx}
        if missing:
            raise ModelError(f'layers {sorted(missing)} are not Conv2d layers that ran')
    for c in calls[:conv_idx[-1]]:
        if isinstance(c.module, UNSUPPORTED_SPATIAL):
            msg = (f'layer {c.name!r} ({type(c.module).__name__}) sits between conv layers; '
                   'VisualBackProp cannot map it back: name the conv layers to use explicitly')
            raise ModelError(msg)
        if c.occurrence and isinstance(c.module, CONV):  # a reused pooling or pad is fine
            raise ModelError(f'layer {c.name!r} runs more than once; the chain cannot follow it')

    strict = layers is None
    if strict:
        _refuse_parallel_branches(calls, conv_idx)
    taps = [_tap(calls, i, i == conv_idx[-1], strict) for i in conv_idx]
    upsample = []
    prev_end, prev_hw = -1, tuple(in_hw)
    for tap, i in zip(taps, conv_idx):
        upsample.append(_upsample_between(calls[prev_end + 1:i + 1], prev_hw, tap))
        prev_end, prev_hw = i, tap.shape[1:]
    return Chain(taps, upsample)


def _refuse_parallel_branches(calls: list[Call], conv_idx: list[int]) -> None:
    """Another layer reading the very tensor a chain conv reads (the same object, not changed
    in place since) starts a second path beside that conv: a branch (Inception blocks,
    projection shortcuts, a pooled path), which one chain of maps cannot follow."""
    readers: dict[tuple[int, int], list[int]] = {}
    for i, c in enumerate(calls):
        if c.in_id:
            readers.setdefault((c.in_id, c.in_version), []).append(i)
    for a in conv_idx:
        src = calls[a]
        # A layer that hands the tensor on untouched (Identity, Dropout in eval) is no branch;
        # as a residual shortcut it is the identity residual that the chain follows anyway.
        others = [i for i in readers.get((src.in_id, src.in_version), [])
                  if i != a and not calls[i].returns_its_input]
        if src.in_id and others:
            msg = (f'layers {src.name!r} and {calls[others[0]].name!r} read the same tensor: '
                   'parallel branches, which VisualBackProp cannot chain; name the conv layers '
                   'of one branch explicitly (layers=[...])')
            raise ModelError(msg)


def _tap(calls: list[Call], i: int, last: bool, strict: bool) -> Tap:
    conv = calls[i]
    shape = conv.out_shape
    if len(shape) != 3:
        raise ModelError(f'conv layer {conv.name!r} gave a {len(shape)}-D output per sample')
    j = i + 1
    while j < len(calls) and calls[j].passes_through and calls[j].in_shape == shape:
        j += 1
    # The last map may also be read flattened (N×C·H·W, the input of the dense head); not as
    # N×L×D tokens, whose element order differs.
    fits = j < len(calls) and (calls[j].in_shape == shape or (
        last and len(calls[j].in_shape) == 1 and _numel(calls[j].in_shape) == _numel(shape)))
    # The post-activation map, as the paper takes it: not after a BatchNorm or Dropout that
    # follows the activation module (conv -> ReLU -> BN would give a shifted map); but only
    # where that output flows on unchanged (not a gate such as x * sigmoid(x), whose sigmoid
    # module returns no map).
    activations = [k for k in range(i + 1, j) if isinstance(calls[k].module, ACTIVATIONS)
                   and _flows_on(calls, k, j if fits else j - 1)]
    activated = Tap(calls[activations[-1]], 'output', shape, conv.name) if activations else None
    if fits and activated:
        return activated
    if fits:
        # The tensor entering calls[j] is the one the module before it returned, unchanged (no
        # functional op in between, in place or not), no activation module ran since the conv,
        # and it has negative values: the map is read as the conv (or its BatchNorm) produced
        # it, e.g. conv -> MaxPool -> ReLU.
        unactivated = calls[j].in_negative and _takes_previous_output(calls, j)
        if unactivated:
            _warn_before_activation(conv.name)
        return Tap(calls[j], 'input', shape, conv.name)
    if strict and not last:
        msg = (f'after conv layer {conv.name!r}, layer {calls[j].name!r} receives shape '
               f'{calls[j].in_shape}: VisualBackProp cannot follow this branch; '
               'name the conv layers to use explicitly')
        raise ModelError(msg)
    # The map never enters another layer module (e.g. F.relu then x.mean() in a custom
    # forward) or explicitly named layers in a branching model: read it where the conv's own
    # pass-through modules end. An activation applied functionally there is not seen.
    if activated:
        return activated
    _warn_before_activation(conv.name)
    return Tap(calls[j - 1], 'output', shape, conv.name)


def _takes_previous_output(calls: list[Call], n: int) -> bool:
    """Whether call ``n`` takes in exactly what call ``n - 1`` returned (no functional op in
    between, in place or not)."""
    return bool(calls[n].in_id) and calls[n].in_id == calls[n - 1].out_id \
        and calls[n].in_version == calls[n - 1].out_version


def _flows_on(calls: list[Call], k: int, end: int) -> bool:
    """Whether call ``k``'s output, unchanged, is what each call after it up to ``end`` takes
    in."""
    return all(_takes_previous_output(calls, n) for n in range(k + 1, end + 1))


def _warn_before_activation(conv_name: str) -> None:
    log.warning('conv layer %r: its map is read before any activation (none runs as a module '
                'right after it); put the activation module (e.g. nn.ReLU) right after the conv '
                '(or its BatchNorm) to get the post-activation map VisualBackProp expects',
                conv_name)


def _upsample_between(calls: list[Call], hw_in: tuple[int, ...], tap: Tap
                      ) -> tuple[torch.Tensor, torch.Tensor]:
    """Box-upsampling matrices from ``tap``'s map back to the previous map's size ``hw_in``.

    ``calls`` runs from just after the previous map's conv to this map's conv (its last item).
    The path is the longest sequence of spatial layers, in forward order, each taking the
    shape the one before it gave, from the previous map's size to the conv: with named layers
    in a residual net, that is the main path, not a shortcut's 1x1 conv of the same shapes.
    """
    conv = calls[-1]
    spatial = [c for c in calls[:-1] if isinstance(c.module, CONV + POOL + PAD)] + [conv]
    # longest[k]: layers on the longest path from the previous map through spatial[k]
    longest: list[int] = []
    parent: list[int] = []
    for k, c in enumerate(spatial):
        best, via = (1, -1) if tuple(c.in_shape[1:]) == tuple(hw_in) else (0, -1)
        for u in range(k):
            if longest[u] and spatial[u].out_shape == c.in_shape and longest[u] + 1 >= best:
                best, via = longest[u] + 1, u  # ties: the later layer, nearer the conv
        longest.append(best)
        parent.append(via)
    if not longest[-1]:
        msg = (f'conv layer {tap.conv_name!r}: its input (spatial size {tuple(conv.in_shape[1:])})'
               f' cannot be traced back to the previous map of size {tuple(hw_in)}')
        raise ModelError(msg)
    path, k = [], len(spatial) - 1
    while k >= 0:
        path.append(spatial[k])
        k = parent[k]
    steps = []
    for op in reversed(path):
        fp = Footprint.of(op.module)
        (h_in, w_in), (h_out, w_out) = op.in_shape[1:], op.out_shape[1:]
        steps.append((fp.matrix(0, h_in, h_out), fp.matrix(1, w_in, w_out)))
    return compose(steps)
