"""One camera frame in, steering and VisualBackProp mask out: the per-frame work of the node
and of bag processing, free of ROS."""
from __future__ import annotations

import hashlib
import logging
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import cv2
import numpy as np
import torch

from vbp_ros.core.cuda_graph import CudaGraphed
from vbp_ros.core.model_file import BUNDLED_MODEL, load_model
from vbp_ros.core.visualbackprop import VisualBackProp
from vbp_ros.errors import InputError
from vbp_ros.pipeline.preprocess import Preprocess
from vbp_ros.pipeline.steering import SteeringConversion

log = logging.getLogger(__name__)


def _to_uint8(masks: torch.Tensor) -> np.ndarray:
    """N×H×W masks in [0, 1] -> uint8 NumPy array (0..255, rounded)."""
    if masks.device.type != 'cpu':  # converted on the GPU: a quarter of the bytes to copy
        return (masks * 255.0 + 0.5).to(torch.uint8).cpu().numpy()
    # One OpenCV call instead of four tensor ops (right after the forward pass each costs
    # ~10-20 us here, whatever its size).
    m = masks.numpy()
    return cv2.convertScaleAbs(m.reshape(-1, m.shape[-1]), alpha=255.0).reshape(m.shape)


def pick_device(device: str) -> torch.device:
    """'auto' -> CUDA when available, else CPU; 'cuda' without a GPU is an error."""
    if device == 'auto':
        return torch.device('cuda' if torch.cuda.is_available() else 'cpu')
    try:
        dev = torch.device(device)
    except RuntimeError:
        raise InputError(f"unknown device {device!r}; use 'auto', 'cpu', 'cuda' or "
                         "'cuda:N'") from None
    if dev.type == 'cuda' and not torch.cuda.is_available():
        raise InputError(f"device {device!r} requested but CUDA is not available; use 'cpu'")
    return dev


@dataclass
class FrameResult:
    """Steering and mask of one frame.

    Attributes:
        curvature: model output, inverse turning radius in 1/m (positive = left).
        steering_angle: Ackermann steering angle in rad (see :mod:`steering`).
        mask: HxW uint8 mask at the frame's resolution (0 outside the crop), or None.
        timings: seconds per stage: 'preprocess', 'forward_vbp', 'postprocess'.
    """

    curvature: float
    steering_angle: float
    mask: np.ndarray | None = None
    timings: dict[str, float] = field(default_factory=dict)


class FramePipeline:
    """Preprocess -> model + VisualBackProp -> steering angle and frame-sized uint8 mask.

    Args:
        model_path: safetensors model file; None = the bundled PilotNet.
        device: 'auto', 'cpu', 'cuda' or 'cuda:N'.
        model_class: build this class ('module:Class') instead of the file's architecture.
        preprocess: override the preprocessing stored in the model file.
        steering: curvature -> steering angle conversion.
        cuda_graphs: on CUDA, replay model + VisualBackProp as one CUDA graph per batch size
            (removes the per-kernel launch cost that dominates at batch 1).
        compile: run model + VisualBackProp as one ``torch.compile``d function (see
            :class:`VisualBackProp`; on CUDA with CUDA graphs). It is compiled during
            :meth:`warmup` (seconds; on CPU it needs a C++ compiler), and if that fails the
            pipeline logs why and stays eager. Compiled, the steering comes out with the mask
            rather than before it. Each new batch size compiles again, so it suits the node
            (one frame at a time) better than bag processing.
    """

    def __init__(self, model_path: str | Path | None = None, device: str = 'auto',
                 model_class: str | None = None, preprocess: Preprocess | None = None,
                 steering: SteeringConversion | None = None, cuda_graphs: bool = True,
                 compile: bool = False) -> None:
        self.device = pick_device(device)
        self.model, self.spec = load_model(model_path, model_class=model_class,
                                           device=self.device)
        #: the model file the weights came from, and its SHA-256 (read now: the file may be
        #: replaced while this pipeline runs)
        self.model_path = (Path(model_path) if model_path else BUNDLED_MODEL).resolve()
        self.model_sha256 = hashlib.sha256(self.model_path.read_bytes()).hexdigest()
        # NHWC lets oneDNN/cuDNN pick their fast convolution kernels (PilotNet on one CPU
        # thread: ~1.5 -> ~1.0 ms); results are the same, only the memory layout differs.
        self.model.to(memory_format=torch.channels_last)
        self.preprocess = preprocess or self.spec.preprocess
        self.steering = steering or SteeringConversion()
        self._cuda_graphs = cuda_graphs and self.device.type == 'cuda'
        # Compiled on CUDA, Inductor's own CUDA graphs replace CudaGraphed.
        self.vbp = VisualBackProp(self.model, compile=(
            ('reduce-overhead' if self._cuda_graphs else True) if compile else False))
        self._host: torch.Tensor | None = None  # reused (pinned on CUDA) input buffer
        # One graph per (input shape, mask on/off): with the mask off only the model is
        # captured, so turning masks off never makes steering slower than with them on.
        self._graphs: dict[tuple[tuple[int, ...], bool], CudaGraphed] | None = (
            {} if self._cuda_graphs and not compile else None)
        self.warmup()

    def warmup(self, rounds: int = 3) -> None:
        """Run a few black frames so the first real frame pays no set-up cost (compiling,
        if the pipeline was asked to)."""
        h, w = self.preprocess.size
        frame = np.zeros((max(h, 64), max(w, 64), 3), np.uint8)
        if self.vbp.compile:
            self._compile(frame)
        for _ in range(rounds):
            self.process(frame, mask=True)
            self.process(frame, mask=False)
        if self.device.type == 'cuda':
            torch.cuda.synchronize(self.device)

    def _compile(self, frame: np.ndarray) -> None:
        """Compile model + VisualBackProp on ``frame``; stay eager if that fails."""
        log.info('compiling model + VisualBackProp with torch.compile (takes seconds)')
        t = time.perf_counter()
        try:
            # Three calls: with CUDA graphs, Inductor warms up on the first, records the graph
            # on the second and replays it from the third, and any of them can fail.
            for _ in range(3):
                self.process(frame, mask=True)
        except Exception as exc:  # no C++ compiler, a model Dynamo cannot trace, ...
            # A fault of the model itself shows up again, eagerly, on the next call.
            log.warning('torch.compile failed, running eagerly: %s: %s', type(exc).__name__,
                        (str(exc).strip().splitlines() or [''])[0])
            self.vbp = VisualBackProp(self.model)
            self._graphs = {} if self._cuda_graphs else None
            return
        log.info('model + VisualBackProp compiled in %.1f s', time.perf_counter() - t)

    def process(self, rgb: np.ndarray, mask: bool = True,
                on_steering: Callable[[float, float], None] | None = None,
                bgr: bool = False) -> FrameResult:
        """Steering (and, if ``mask``, the VisualBackProp mask) of one HxWx3 uint8 RGB frame
        (BGR if ``bgr``: it is converted once cropped and resized, which is cheaper).

        ``on_steering(curvature, steering_angle)`` is called as soon as the model's output is
        known: before the mask is computed and scaled to the frame (on CPU), so the steering
        command need not wait for its explanation.
        """
        early = None if on_steering is None else (lambda pairs: on_steering(*pairs[0]))
        return self.process_batch([rgb], mask=mask, on_steering=early, bgr=bgr)[0]

    def process_batch(self, frames: list[np.ndarray], mask: bool = True,
                      on_steering: Callable[[list[tuple[float, float]]], None] | None = None,
                      bgr: bool = False) -> list[FrameResult]:
        """Like :meth:`process` for several frames, run as one batch on the device;
        ``on_steering`` gets the (curvature, steering_angle) of every frame at once."""
        if not frames:
            return []
        t0 = time.perf_counter()
        pre = self.preprocess
        x = self._to_device(np.stack([pre.normalise_hwc(pre.to_network_rgb(f, bgr=bgr))
                                      for f in frames]))
        t1 = time.perf_counter()
        steering: list[tuple[float, float]] = []
        in_callback = [0.0]  # the caller's time, kept out of this pipeline's timings

        def take_output(out: torch.Tensor) -> None:
            for c in out.reshape(len(frames), -1)[:, 0].float().cpu().tolist():
                steering.append((c, self.steering(c)))
            if on_steering is not None:
                t = time.perf_counter()
                on_steering(list(steering))
                in_callback[0] = time.perf_counter() - t

        with torch.inference_mode():
            if mask:
                masks_u8 = _to_uint8(self._vbp(x, take_output))
            else:
                graph = self._graph(self.model, x, mask=False)
                take_output(self.model(x) if graph is None else graph(x))
                masks_u8 = None
        t2 = time.perf_counter()
        results = []
        for i, frame in enumerate(frames):
            full = None
            if masks_u8 is not None:
                full = self.preprocess.mask_to_frame(masks_u8[i], *frame.shape[:2])
            results.append(FrameResult(*steering[i], full))
        t3 = time.perf_counter()
        n = len(frames)
        timings = {'preprocess': (t1 - t0) / n, 'forward_vbp': (t2 - t1 - in_callback[0]) / n,
                   'postprocess': (t3 - t2) / n}
        for r in results:
            r.timings = dict(timings)
        return results

    def _vbp(self, x: torch.Tensor, on_output: Callable[[torch.Tensor], None]) -> torch.Tensor:
        """The masks of ``x``; ``on_output`` gets the model's output (before the masks where
        the model runs eagerly, after them where one CUDA graph computes both)."""
        graph = self._graph(self.vbp, x, mask=True)
        if graph is None:
            return self.vbp.explain(x, on_output=on_output).mask
        out, masks = graph(x)
        on_output(out)
        return masks

    def _graph(self, fn: Callable[[torch.Tensor], Any], x: torch.Tensor,
               mask: bool) -> CudaGraphed | None:
        """The CUDA graph of ``fn`` for inputs shaped like ``x``, captured on first use; None
        where the pipeline runs without graphs (or capturing failed: then never again)."""
        if self._graphs is None:
            return None
        key = (tuple(x.shape), mask)
        graph = self._graphs.get(key)
        if graph is None:
            try:
                graph = self._graphs[key] = CudaGraphed(fn, x)
            except (RuntimeError, ValueError) as exc:  # cannot be captured: stay eager
                log.warning('CUDA graph capture failed (%s); running eagerly', exc)
                self._graphs = None
        return graph

    def _to_device(self, batch: np.ndarray) -> torch.Tensor:
        """An N×H×W×C batch as the N×C×H×W channels_last tensor the model runs (on the CPU
        without a copy)."""
        src = torch.from_numpy(batch)
        if self.device.type != 'cpu':
            if self._host is None or self._host.shape != src.shape:
                self._host = torch.empty(src.shape, dtype=src.dtype).pin_memory()
            self._host.copy_(src)
            src = self._host.to(self.device, non_blocking=True)
        return src.permute(0, 3, 1, 2)
