"""VisualBackProp (Bojarski et al., "VisualBackProp: efficient visualization of CNNs",
arXiv 1611.05418): which input pixels drove a CNN's output, from one forward pass.

Each conv layer's post-activation feature maps are averaged over channels. Starting at the
deepest, the averaged map is scaled up to the size of the map below with an all-ones transposed
convolution (kernel size and stride of the layer between them) and multiplied point-wise with
that map; this repeats down to the input, and each image's mask is normalised to [0, 1].

Here the channel means are taken while the forward pass runs (no autograd graph, so it works in
training too) and the transposed convolutions are precomputed, per input size, as pairs of small
footprint matrices (:mod:`vbp_ros.core.box_upsample`).
"""
from __future__ import annotations

import contextlib
import functools
import logging
import math
import os
from dataclasses import dataclass
from typing import Callable, Iterator, Sequence, TYPE_CHECKING

import numpy as np
import torch
from torch import nn
from torch.nn.modules import module as _torch_module

from vbp_ros.core.box_upsample import Band, BoxUpsample, chain_dtype, upsample_chain
from vbp_ros.core.layer_chain import build_chain, Chain, CONV, POOL, record_calls, Tap
from vbp_ros.errors import InputError, ModelError

if TYPE_CHECKING:
    from vbp_ros.core.native_chain import NativeChain

log = logging.getLogger(__name__)

_PlanKey = tuple[tuple[int, ...], torch.device, torch.dtype]


@dataclass
class VbpResult:
    """Output of :meth:`VisualBackProp.explain`.

    Attributes:
        output: the model's own output.
        mask: N×H×W float32 in [0, 1].
        averaged: per conv layer (shallow to deep) the N×h×w channel-averaged feature maps.
        intermediate: per conv layer ``k`` (shallow to deep, as in the paper's figure) the mask
            scaled up from map ``k`` to the size of the map below it (the input for ``k = 0``),
            before it is multiplied with that map; float32 on the CPU for nets of up to
            ``FLOAT32_MAPS`` conv layers whose products stay within float32's range, float64
            otherwise.
    """

    output: torch.Tensor
    mask: torch.Tensor
    averaged: list[torch.Tensor] | None = None
    intermediate: list[torch.Tensor] | None = None


class _Plan:
    """Per input size: the chain, its matrices on the right device, and how to capture maps."""

    def __init__(self, chain: Chain, flat: list[nn.Module] | None, device: torch.device,
                 for_compile: bool = False) -> None:
        self.names = [t.conv_name for t in chain.taps]
        # Maps are channel sums; the 1/C that makes them channel means is folded into the
        # (constant) upsampling of each map, which costs nothing.
        upsample = [(a_h / tap.shape[0], a_w) for (a_h, a_w), tap in zip(chain.upsample,
                                                                         chain.taps)]
        self.dtype = chain_dtype(len(chain.taps), device)
        self.up = [BoxUpsample(a, b, device, self.dtype) for a, b in upsample]
        self.numpy_steps = ([s.numpy() for s in self.up] if device.type == 'cpu' else None)
        self.native = (_native_chain(upsample) if device.type == 'cpu' and not for_compile
                       else None)
        # Bytes per image of the activations the maps are read from (see VisualBackProp._run).
        self.tap_bytes = 4 * sum(math.prod(t.shape) for t in chain.taps)
        self._upsample, self._device = upsample, device
        self._wide: tuple[list[BoxUpsample], list[BoxUpsample]] | None = None
        self.shapes = [t.shape for t in chain.taps]
        # Maps read from a flattened tensor (e.g. the input of a Linear) need a reshape.
        self.reshape = [len(t.call.in_shape if t.where == 'input' else t.call.out_shape) != 3
                        for t in chain.taps]
        # compile=True only: per step the width and height upsampling, and the compiled
        # function (built on first use).
        self.axis_steps = [(_axis_step(a_w, 2, device, torch.float32),
                            _axis_step(a_h, 1, device, torch.float32))
                           for a_h, a_w in upsample] if for_compile else []
        self.compiled: Callable[[torch.Tensor], tuple[torch.Tensor, torch.Tensor]] | None = None
        # Hook-free path for plain nn.Sequential models: index of the module before which
        # (input tap) or after which (output tap) each map is read.
        self.seq_points: dict[int, list[int]] | None = None
        self.flat = flat
        # Traced forward with the compiled chain: channel sums after the forward pass (see
        # VisualBackProp._run), until an activation is found changed in place. Under
        # torch.inference_mode, where tensors have no version counter to tell, only if no
        # module from the first map on could change one: PyTorch's own, none in place.
        self.late_sums = flat is not None and self.native is not None
        self.never_in_place = False
        if flat is not None:
            positions: dict[int, list[int]] = {}  # a module can sit at several places
            for i, m in enumerate(flat):
                positions.setdefault(id(m), []).append(i)
            points: dict[int, list[int]] = {}
            for k, t in enumerate(chain.taps):
                i = positions[id(t.call.module)][t.call.occurrence]
                points.setdefault(i + (0 if t.where == 'input' else 1), []).append(k)
            self.seq_points = points
            self.never_in_place = all(
                type(m).__module__.startswith('torch.nn.') and not getattr(m, 'inplace', False)
                for m in flat[min(points, default=0):])
        # Otherwise forward hooks read the maps. Made once per plan: compiled code then sees the
        # same hook functions on every call (new ones would make TorchDynamo recompile).
        self.hooks = _TapHooks(chain.taps, self.channel_sum) if flat is None else None

    def wide_steps(self, numpy: bool = False) -> list[BoxUpsample]:
        """The steps in float64 (made on first use), for products that left float32's range;
        with NumPy views of their matrices if ``numpy``."""
        if self._wide is None:
            wide = [BoxUpsample(a, b, self._device, torch.float64) for a, b in self._upsample]
            self._wide = wide, [s.numpy() for s in wide] if self._device.type == 'cpu' else []
        return self._wide[1] if numpy else self._wide[0]

    def capturing(self) -> contextlib.AbstractContextManager[None]:
        """The block in which a forward pass leaves its maps for :meth:`VisualBackProp._run`
        (hooks attached, where the plan uses hooks)."""
        return self.hooks.attached() if self.hooks is not None else contextlib.nullcontext()

    def activation(self, k: int, t: torch.Tensor) -> torch.Tensor:
        """The N×C×h×w activation map ``k`` is read from, given the tensor ``t`` at its tap."""
        if t.requires_grad:
            t = t.detach()
        return t.reshape(t.shape[0], *self.shapes[k]) if self.reshape[k] else t

    def channel_sum(self, k: int, t: torch.Tensor) -> torch.Tensor | np.ndarray:
        """Map ``k`` from the activation ``t`` it is read from: N×h×w float32, as a NumPy
        array where the native chain takes it (float32 on the CPU).

        A channel sum instead of the mean (one kernel instead of two): the 1/C is applied with
        the upsampling of the map (see ``__init__``).
        """
        t = self.activation(k, t)
        if t.dtype != torch.float32:
            return t.sum(1, dtype=torch.float32)
        if self.native is not None:
            return self.native.channel_sum(t.numpy())
        return t.sum(1)


class _Kept(list):
    """The float32 N×C×h×w activations (NumPy views) kept by the traced forward, for the
    compiled chain to sum."""


class _TapHooks:
    """Forward (pre-)hooks that keep each conv layer's map during a forward pass."""

    def __init__(self, taps: list[Tap], reduce: Callable[[int, torch.Tensor], torch.Tensor]
                 ) -> None:
        self.taps = taps
        self.maps: dict[int, torch.Tensor] = {}
        self.calls = [0] * len(taps)  # calls of each tap's module so far (a layer can run twice)
        self._fns = [self._hook(k, tap.call.occurrence, tap.where == 'input', reduce)
                     for k, tap in enumerate(taps)]

    def _hook(self, k: int, occurrence: int, pre: bool,
              reduce: Callable[[int, torch.Tensor], torch.Tensor]) -> Callable[..., None]:
        def take(t: torch.Tensor) -> None:
            if self.calls[k] == occurrence:
                self.maps[k] = reduce(k, t)
            self.calls[k] += 1

        if pre:
            return lambda module, args: take(args[0])
        return lambda module, args, out: take(out)

    @contextlib.contextmanager
    def attached(self) -> Iterator[None]:
        """Hooks registered for the duration of the block (nothing is left on the model)."""
        self.maps.clear()
        self.calls[:] = [0] * len(self.calls)
        handles = []
        try:
            for tap, fn in zip(self.taps, self._fns):
                module = tap.call.module
                handles.append(module.register_forward_pre_hook(fn) if tap.where == 'input'
                               else module.register_forward_hook(fn))
            yield
        finally:
            for h in handles:
                h.remove()
            self.maps.clear()

    def collected(self) -> list[torch.Tensor]:
        """The maps of the forward pass that just ran, shallow to deep."""
        missing = [t.conv_name for k, t in enumerate(self.taps) if k not in self.maps]
        if missing:
            msg = (f'the forward pass did not run {missing} as when the model was probed for '
                   'this input size; does it take other paths for other batch sizes, or was '
                   'it changed? (make a new VisualBackProp for a changed model)')
            raise ModelError(msg)
        return [self.maps[k] for k in range(len(self.taps))]


def _axis_step(a: torch.Tensor, dim: int, device: torch.device, dtype: torch.dtype
               ) -> Callable[[torch.Tensor], torch.Tensor]:
    """For compile=True: upsampling of N×H×W masks along ``dim`` (1 = height, 2 = width) by
    footprint matrix ``a``. A banded one (any single conv or pooling layer; chains of them
    unless padding clips the band) becomes :meth:`Band.gather`, which TorchInductor fuses into
    vectorised loops; with it PilotNet's VisualBackProp costs about half of what the dense
    products cost compiled. Other matrices (and 1-pixel maps) stay dense products."""
    band = Band.from_matrix(a)
    if band is not None and band.offset >= 0:
        return functools.partial(band.gather, dim=dim, n_out=a.shape[0])
    dense = a.to(device, dtype)
    if dim == 1:
        return lambda m: dense @ m
    dense_t = dense.t().contiguous()
    return lambda m: m @ dense_t


def _layer_names(model: nn.Module, layers: Sequence[str | nn.Module]) -> list[str]:
    """``layers`` as names in ``model``; modules are looked up by identity."""
    # The root's name is '' in named_modules; the layer probe calls it by its class name.
    names = {id(m): name or type(m).__name__ for name, m in model.named_modules()}
    out = []
    for layer in layers:
        if isinstance(layer, nn.Module):
            if id(layer) not in names:
                raise ModelError(f'layer {layer} is not a module of the model')
            out.append(names[id(layer)])
        else:
            out.append(str(layer))
    return out


_SPATIAL = CONV + POOL

#: Up to this many bytes of activations per call, the traced forward sums them after the pass.
LATE_SUM_BYTES = 8 << 20


def _flatten_sequential(model: nn.Module) -> list[nn.Module] | None:
    """Leaf modules of a (nested) plain ``nn.Sequential`` without hooks, else None.

    Checked on every call (a few microseconds), so hooks or layers added after the
    VisualBackProp was made are honoured.
    """
    if _torch_module._global_forward_hooks or _torch_module._global_forward_pre_hooks:
        return None
    return _flatten(model)


def _flatten(model: nn.Module) -> list[nn.Module] | None:
    if not (isinstance(model, nn.Sequential) and type(model).forward is nn.Sequential.forward):
        return None
    if (model._forward_hooks or model._forward_pre_hooks or model._backward_hooks
            or getattr(model, '_backward_pre_hooks', None)):
        return None
    flat: list[nn.Module] = []
    for m in model:
        if isinstance(m, nn.Sequential):
            inner = _flatten(m)
            if inner is None:
                return None
            flat.extend(inner)
        elif m._modules and not isinstance(m, _SPATIAL):  # a block with its own forward
            return None
        else:
            flat.append(m)
    return flat


class VisualBackProp:
    """VisualBackProp for any CNN whose conv layers form a chain.

    Example::

        vbp = VisualBackProp(model)
        out, mask = vbp(x)          # x: N×C×H×W, mask: N×H×W in [0, 1] on x's device

    Args:
        model: the network; it is not modified (hooks live only during a call).
        layers: the conv layers to use, in forward order, as names (as in
            ``model.named_modules()``) or the modules themselves; default all ``nn.Conv2d``
            layers. Use it for models with branches.
        compile: True (or a ``torch.compile`` mode such as ``'reduce-overhead'``, which adds
            CUDA graphs on GPU; their outputs are overwritten by the next call, so clone what
            you keep): run forward pass and VisualBackProp as one compiled function per input
            shape. TorchInductor fuses each channel sum into the kernel that multiplies it into
            the mask, so no map gets a pass of its own. The first call per shape
            compiles (seconds; on CPU it needs a C++ compiler). Past PyTorch's recompile limit
            (``torch._dynamo.config.recompile_limit``, 8 shapes by default) it warns and runs
            further shapes eagerly. Any model TorchDynamo can trace (a graph break in the
            model's own code still gives the right mask, only slower); ``intermediates=True``
            is eager.

    The mask is float32 whatever the model's dtype (the product of several maps would lose
    precision in fp16/bf16). Gradients flow through ``out`` as usual; the mask has none.

    The first call per input size runs the model once more, without gradients, on up to two
    samples of ``x``, to find its layers. Your own forward hooks see that call; BatchNorm
    statistics and the random number generators are restored afterwards.
    """

    def __init__(self, model: nn.Module, layers: Sequence[str | nn.Module] | None = None,
                 compile: bool | str = False) -> None:
        self.model = model
        self.layers = _layer_names(model, layers) if layers is not None else None
        self._plans: dict[_PlanKey, _Plan] = {}
        self.compile = bool(compile)
        self._compile_mode = compile if isinstance(compile, str) else None

    def __call__(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Run the model on ``x``; return its output and the N×H×W VisualBackProp mask."""
        res = self.explain(x)
        return res.output, res.mask

    def layer_names(self, x: torch.Tensor) -> list[str]:
        """Names of the conv layers whose maps are used, for an input like ``x``."""
        return self._plan(x).names

    def explain(self, x: torch.Tensor, intermediates: bool = False,
                on_output: Callable[[torch.Tensor], None] | None = None) -> VbpResult:
        """Like ``__call__`` but returns a :class:`VbpResult`, optionally with the averaged
        feature maps and intermediate masks (as the authors' implementation does).

        ``on_output`` is called with the model's output as soon as the forward pass is done,
        before the mask is computed, so a controller can act on it without waiting for the
        explanation (compiled, the two come out together and it is called after both).
        """
        plan = self._plan(x)
        if self.compile and not intermediates:
            if plan.compiled is None:
                plan.compiled = torch.compile(lambda t: self._compiled_body(t, plan),
                                              dynamic=False, mode=self._compile_mode)
            with plan.capturing():
                result = VbpResult(*plan.compiled(x))
            if on_output is not None:
                on_output(result.output)
            return result
        output, maps = self._forward(x, plan)
        if on_output is not None:
            on_output(output)
        return self._combine(output, maps, plan, intermediates)

    # -- internals -------------------------------------------------------------------------

    def _plan(self, x: torch.Tensor) -> _Plan:
        if not isinstance(x, torch.Tensor) or x.dim() != 4:
            shape = tuple(x.shape) if isinstance(x, torch.Tensor) else type(x).__name__
            raise InputError(f'VisualBackProp expects an N×C×H×W tensor, got {shape}')
        if x.shape[0] == 0:
            raise InputError('VisualBackProp got an empty batch')
        key = (tuple(x.shape[1:]), x.device, x.dtype)
        plan = self._plans.get(key)
        flat = _flatten_sequential(self.model)
        if plan is None or plan.flat != flat:  # new input size, or the model changed
            try:
                # Two samples where there are: BatchNorm in training mode needs more than one.
                calls = record_calls(self.model, x[:2].detach())
            except (RuntimeError, ValueError) as exc:
                raise InputError(f'the model rejects input of shape {tuple(x.shape)}: '
                                 f'{str(exc).splitlines()[0]}') from None
            chain = build_chain(calls, tuple(x.shape[2:]), self.layers)
            plan = self._plans[key] = _Plan(chain, flat, x.device, self.compile)
        return plan

    def _compiled_body(self, x: torch.Tensor, plan: _Plan) -> tuple[torch.Tensor, torch.Tensor]:
        """What ``compile=True`` compiles: the traced forward, then per step the upsampling
        along width and height (see :func:`_axis_step`) and the normalisation. Any hooks are
        attached outside: registering them inside would break the graph."""
        output, maps = self._run(x, plan)
        # float32, the mask scaled to a maximum of 1 after every product: that does not change
        # the normalised mask, keeps any chain in float32's range, and Inductor fuses it into
        # the kernels (a float64 chain cost 6 % of PilotNet's forward pass more).
        with _full_precision(x):
            mask = maps[-1].float()
            for k in range(len(maps) - 1, -1, -1):
                along_w, along_h = plan.axis_steps[k]
                mask = along_h(along_w(mask))
                if k:
                    mask = _unit(mask * maps[k - 1])
            return output, _normalise(mask)

    def _forward(self, x: torch.Tensor, plan: _Plan) -> tuple[torch.Tensor, list[torch.Tensor]]:
        """The model's output and its maps (shallow to deep)."""
        with plan.capturing():
            return self._run(x, plan)

    def _run(self, x: torch.Tensor, plan: _Plan) -> tuple[torch.Tensor, list[torch.Tensor]]:
        """:meth:`_forward` with the plan's hooks (if it has any) already attached."""
        if plan.hooks is not None:
            output = self.model(x)
            return output, plan.hooks.collected()
        # Traced forward of a plain Sequential: no hooks at all.
        assert plan.flat is not None and plan.seq_points is not None
        # With the compiled chain in inference, the activations are kept and summed after the
        # forward pass, in the chain's one call: summed as the pass runs, each sum's code starts
        # cold after a conv layer (PilotNet, side by side: +10.2 to +11.3 % against +13.8 to
        # +14.5 %). Kept only while small, and checked for in-place changes after they were read.
        late = (plan.late_sums and x.shape[0] * plan.tap_bytes <= LATE_SUM_BYTES
                and not self.model.training)
        tracked = late and not torch.is_inference_mode_enabled()  # else no version counters
        late = late and (tracked or plan.never_in_place)
        maps: list = [None] * len(plan.shapes)
        versions = [0] * len(maps)

        def take(k: int, t: torch.Tensor) -> None:
            if not late:
                maps[k] = plan.channel_sum(k, t)
            elif tracked:
                maps[k], versions[k] = t, t._version
            else:
                maps[k] = t

        points, start = plan.seq_points, x
        for i, module in enumerate(plan.flat):
            for k in points.get(i, ()):
                take(k, x)
            x = module(x)
        for k in points.get(len(plan.flat), ()):
            take(k, x)
        if not late:
            return x, maps
        if tracked and any(t._version != v for t, v in zip(maps, versions)):
            plan.late_sums = False
            log.warning('an activation VisualBackProp reads was changed in place later in the '
                        'forward pass; the pass is run again, and from now on its maps are '
                        'summed as it runs')
            return self._run(start, plan)
        acts = [plan.activation(k, t) for k, t in enumerate(maps)]
        if all(a.dtype == torch.float32 for a in acts):
            return x, _Kept(a.numpy() for a in acts)
        return x, [plan.channel_sum(k, t) for k, t in enumerate(maps)]

    @staticmethod
    def _combine(output: torch.Tensor, maps: list[torch.Tensor | np.ndarray], plan: _Plan,
                 intermediates: bool) -> VbpResult:
        if isinstance(maps, _Kept):  # activations: sums, chain and normalisation in one call
            assert plan.native is not None
            if not intermediates:
                return VbpResult(output, torch.from_numpy(plan.native.mask_of(maps)))
            maps = [plan.native.channel_sum(a) for a in maps]
        if all(isinstance(m, np.ndarray) for m in maps):
            if not intermediates:  # the native chain: one compiled call
                assert plan.native is not None
                return VbpResult(output, torch.from_numpy(plan.native.mask(maps)))
        maps = [torch.from_numpy(m) if isinstance(m, np.ndarray) else m for m in maps]
        if (plan.numpy_steps is not None and not intermediates and maps[0].shape[0] == 1
                and torch.get_num_threads() == 1):
            # Batch 1 on one CPU thread (the node's case): the same arithmetic on NumPy views
            # of the maps. These matrices are tiny, so per-call overhead dominates, and NumPy's
            # is a fraction of PyTorch's. Not with more torch threads or larger batches: there
            # NumPy's BLAS threads would compete with PyTorch's spinning ones.
            arrays = [m.numpy() for m in maps]
            with np.errstate(all='ignore'):  # an overflow is caught by the check
                mask_np = _normalise_numpy(upsample_chain(arrays, plan.numpy_steps), arrays)
            if mask_np is None:  # out of float32's range
                mask_np = _normalise_numpy(upsample_chain(arrays, plan.wide_steps(numpy=True)))
            assert mask_np is not None
            return VbpResult(output, torch.from_numpy(mask_np))
        inter: list[torch.Tensor] | None = [] if intermediates else None
        with _full_precision(maps[0]):
            mask = _normalise(upsample_chain(maps, plan.up, inter), maps)
            if mask is None:  # out of float32's range
                inter = [] if intermediates else None
                mask = _normalise(upsample_chain(maps, plan.wide_steps(), inter))
        assert mask is not None
        if inter is None:
            return VbpResult(output, mask)
        averaged = [m / c for m, (c, _, _) in zip(maps, plan.shapes)]  # sums -> channel means
        return VbpResult(output, mask, averaged=averaged,
                         intermediate=[t.contiguous() for t in inter[::-1]])


def native_chain_available() -> bool:
    """Whether masks on the CPU use the compiled chain of :mod:`vbp_ros.core.native_chain`:
    Numba can be imported and the environment does not set ``VBP_ROS_NUMBA=0``."""
    return _native_chain_class() is not None


def _native_chain_class() -> type[NativeChain] | None:
    if os.environ.get('VBP_ROS_NUMBA', '1') == '0':
        return None
    try:
        from vbp_ros.core.native_chain import NativeChain
    except ImportError:
        return None
    return NativeChain


def _native_chain(upsample: list[tuple[torch.Tensor, torch.Tensor]]) -> NativeChain | None:
    """The compiled CPU chain for these footprint matrices, where available."""
    cls = _native_chain_class()
    return cls(upsample) if cls is not None else None


def _full_precision(t: torch.Tensor) -> contextlib.AbstractContextManager[None]:
    """The chain's products in its own dtype even under ``torch.autocast``, which would run
    them in fp16/bf16: a product of several maps overflows fp16, and the float32 range check
    only sees float32 results."""
    try:
        return torch.autocast(t.device.type, enabled=False)
    except (RuntimeError, AssertionError):  # a device type without autocast (e.g. meta)
        return contextlib.nullcontext()


def _unit(m: torch.Tensor) -> torch.Tensor:
    """Each N×h×w mask divided by its largest magnitude (an all-zero one stays 0)."""
    return m / m.abs().amax((1, 2), keepdim=True).clamp_min(torch.finfo(m.dtype).tiny)


#: Below this (max - min), a float32 mask may have lost its values to underflow.
_FLOAT32_SPAN = 1e-30


def _left_float32(lo: np.ndarray, span: np.ndarray, maps: list[np.ndarray]) -> bool:
    """Whether float32 masks with these per-image minima and ranges left float32's range.

    Only a range that is not finite, below ``_FLOAT32_SPAN`` but not 0, or 0 at a (near) zero
    value that no all-zero map of that image explains (the product of several small maps can
    underflow to exactly 0; a zero map makes a true zero mask) says so.
    """
    lo, span = lo.reshape(-1), span.reshape(-1)
    if not np.isfinite(span).all() or ((span > 0) & (span < _FLOAT32_SPAN)).any():
        return True
    zero = (span == 0) & (np.abs(lo) < _FLOAT32_SPAN)
    if not zero.any():
        return False
    dead = np.zeros_like(zero)
    for m in maps:
        dead |= ~m.reshape(m.shape[0], -1).any(axis=1)
    return bool((zero & ~dead).any())


def _normalise(mask: torch.Tensor, maps: list[torch.Tensor] | None = None
               ) -> torch.Tensor | None:
    """Min-max normalise each N×H×W mask to [0, 1] (float32, contiguous); a constant mask
    becomes 0, never NaN.

    With ``maps`` (the eager CPU path), a float32 mask is checked first: None if it left
    float32's range (see :func:`_left_float32`).
    """
    lo = mask.amin((1, 2), keepdim=True)
    span = mask.amax((1, 2), keepdim=True) - lo
    if maps is not None and mask.dtype == torch.float32 and mask.device.type == 'cpu':
        low, high = torch.aminmax(span)  # the usual case decided in one call
        if not (_FLOAT32_SPAN <= float(low) and float(high) < math.inf) and _left_float32(
                lo.numpy(), span.numpy(), [m.numpy() for m in maps]):
            return None
    # span 0 means (mask - lo) = 0, which stays 0 times any finite scale.
    scale = span.clamp_min_(torch.finfo(mask.dtype).tiny).reciprocal_()
    return (mask - lo).mul_(scale).float().contiguous()


def _normalise_numpy(mask: np.ndarray, maps: list[np.ndarray] | None = None
                     ) -> np.ndarray | None:
    """:func:`_normalise` for NumPy arrays (one image: the single-thread batch-1 path)."""
    flat = mask.reshape(mask.shape[0], -1)
    lo = flat.min(axis=1, keepdims=True)
    span = flat.max(axis=1, keepdims=True) - lo
    if (maps is not None and flat.dtype == np.float32
            and not _FLOAT32_SPAN <= float(span.min()) < math.inf
            and _left_float32(lo, span, maps)):
        return None
    out = flat - lo
    out *= 1.0 / np.maximum(span, np.finfo(flat.dtype).tiny)
    return out.astype(np.float32, copy=False).reshape(mask.shape)
