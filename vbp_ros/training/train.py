"""The training loop: PilotNet (or a user model) on synthetic or bag data, VBP in the loop.

Targets are curvatures in 1/m (+ = left), a few thousandths in size; the network is trained on
``target * OUTPUT_SCALE`` and the scale is folded into its last linear layer when the model file
is written, so saved models predict 1/m directly. The learning rate follows a cosine schedule
computed from the global step, and the shuffling/augmentation randomness of epoch ``e`` comes from
the stream ``(seed, e)``, so a resumed run continues exactly as an uninterrupted one.
"""
from __future__ import annotations

import copy
import json
import logging
import math
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Callable

import numpy as np
import torch
from torch import nn

from vbp_ros.core.model_file import ModelSpec, resolve_class, save_model
from vbp_ros.pipeline.preprocess import Preprocess
from vbp_ros.progress import progress_bar
from vbp_ros.training.augment import Augment, NO_AUGMENT
from vbp_ros.training.checkpoint import checkpoint_meta, load_checkpoint, save_checkpoint
from vbp_ros.training.dataset import ArrayData, batches, to_tensor
from vbp_ros.training.errors import TrainingError
from vbp_ros.training.snapshots import MaskSnapshots

LOG = logging.getLogger(__name__)
OUTPUT_SCALE = 100.0
SIGN_THRESHOLD = 0.002  # 1/m: targets smaller than this are 'straight' for sign accuracy


@dataclass
class TrainConfig:
    """Settings of one training run (stored in the model file's info).

    Attributes:
        epochs: passes over the training set.
        batch_size: samples per step.
        lr: peak learning rate (Adam), decayed by a cosine to ``lr * 0.02``.
        weight_decay: Adam weight decay.
        seed: weight init, split and per-epoch shuffling/augmentation seed.
        val_fraction: share of the data held out for validation.
        augment: augmentation settings (None: none).
        snapshot_count: validation images in the per-epoch VBP grid.
        tensorboard: log to TensorBoard when installed.
        progress: show progress bars.
        arch: registered architecture name or 'module:Class'.
        arch_kwargs: constructor arguments of the architecture.
    """

    epochs: int = 4
    batch_size: int = 64
    lr: float = 1e-3
    weight_decay: float = 1e-5
    seed: int = 0
    val_fraction: float = 0.1
    augment: Augment | None = field(default_factory=Augment)
    snapshot_count: int = 8
    tensorboard: bool = True
    progress: bool = True
    arch: str = 'pilotnet'
    arch_kwargs: dict[str, Any] = field(default_factory=dict)


@dataclass
class TrainResult:
    """What a run produced."""

    model: nn.Module
    spec: ModelSpec
    history: list[dict[str, float]]
    snapshots: list[Path]
    seconds: float


def last_linear(model: nn.Module) -> nn.Linear | None:
    """The model's last ``nn.Linear`` (where the output scale is folded in), if any."""
    found = [m for m in model.modules() if isinstance(m, nn.Linear)]
    return found[-1] if found else None


def export_model(model: nn.Module, scale: float) -> nn.Module:
    """A copy of the training model whose outputs are divided by ``scale`` (1/m units)."""
    out = copy.deepcopy(model).eval()
    lin = last_linear(out)
    if lin is not None and scale != 1.0:
        with torch.no_grad():
            lin.weight /= scale
            if lin.bias is not None:
                lin.bias /= scale
    return out


def evaluate_model(model: nn.Module, data: ArrayData, preprocess: Preprocess,
                   batch_size: int = 256, scale: float = 1.0) -> dict[str, float]:
    """Validation metrics in 1/m: RMSE, MAE and sign accuracy on targets above 0.002 1/m."""
    was = model.training
    model.eval()
    preds = []
    with torch.no_grad():
        for x, _ in batches(data, batch_size, preprocess):
            preds.append(model(x.contiguous(memory_format=torch.channels_last))[:, 0])
    model.train(was)
    pred = torch.cat(preds).numpy() / scale
    err = pred - data.targets
    big = np.abs(data.targets) > SIGN_THRESHOLD
    sign = float(np.mean(np.sign(pred[big]) == np.sign(data.targets[big]))) if big.any() else 0.0
    return {'val_rmse': float(np.sqrt(np.mean(err ** 2))), 'val_mae': float(np.mean(np.abs(err))),
            'val_sign_acc': sign, 'target_std': float(np.std(data.targets))}


def _lr_at(cfg: TrainConfig, step: int, total: int) -> float:
    warm = min(100, max(1, total // 20))
    if step < warm:
        return cfg.lr * (step + 1) / warm
    frac = (step - warm) / max(1, total - warm)
    return cfg.lr * (0.02 + 0.98 * 0.5 * (1.0 + math.cos(math.pi * min(frac, 1.0))))


#: Settings a resumed run must share with its checkpoint (its data too): otherwise it would
#: go on with other data, another split or schedule, and describe itself wrongly.
RESUME_KEYS = ('batch_size', 'lr', 'weight_decay', 'seed', 'val_fraction', 'augment', 'arch',
               'arch_kwargs')


def check_resumable(meta: dict[str, Any], cfg: TrainConfig, data: dict[str, Any] | None = None
                    ) -> None:
    """Refuse to resume from a checkpoint made with other settings (or other data).

    Raises:
        TrainingError: naming what differs.
    """
    now = json.loads(json.dumps(_jsonable(cfg)))  # as stored: tuples become lists
    was = meta.get('config', {})
    diff = [f'{k}: {was.get(k)!r} then, {now.get(k)!r} now' for k in RESUME_KEYS
            if k in was and was.get(k) != now.get(k)]
    for k, v in (data or {}).items():
        if k in meta and meta[k] != v:
            diff.append(f'{k}: {meta[k]!r} then, {v!r} now')
    if diff:
        raise TrainingError('the checkpoint was made with other settings; resume with the '
                            'same ones, or start afresh in another --run-dir: ' + '; '.join(diff))


def scale_folds_into_last_linear(model: nn.Module, x: torch.Tensor) -> bool:
    """Whether scaling the last ``nn.Linear`` scales the output alike (nothing non-linear
    after it, and it is the layer ``forward`` ends with), so the training scale can be folded
    into the exported weights."""
    probe = copy.deepcopy(model).eval()
    lin = last_linear(probe)
    if lin is None:
        return False
    gen = torch.Generator().manual_seed(0)
    with torch.no_grad():
        # Random values in every layer but the convs and Linears (whose outputs then stay of
        # the usual size): a layer that is the identity when freshly initialised (a
        # BatchNorm after the Linear) must not pass for one.
        for m in probe.modules():
            if isinstance(m, (nn.Linear, nn.Conv2d)):
                continue
            for t in [*m.parameters(recurse=False), *m.buffers(recurse=False)]:
                if t.is_floating_point():
                    t.copy_(torch.rand(t.shape, generator=gen) + 0.5)
        y = probe(x)
        lin.weight *= 2.0
        if lin.bias is not None:
            lin.bias *= 2.0
        y2 = probe(x)
    return bool(torch.allclose(y2, 2.0 * y, rtol=1e-4, atol=1e-6))


def build_model(cfg: TrainConfig) -> nn.Module:
    """Construct the architecture with seeded weights."""
    torch.manual_seed(cfg.seed)
    cls = resolve_class(cfg.arch)
    return cls(**cfg.arch_kwargs)


def train(train_data: ArrayData, val_data: ArrayData, out: str | Path, run_dir: str | Path,
          cfg: TrainConfig | None = None, *, preprocess: Preprocess | None = None,
          resume: bool = False, info: dict[str, Any] | None = None,
          on_epoch: Callable[[dict[str, float]], None] | None = None) -> TrainResult:
    """Train, validate every epoch, snapshot VBP masks, checkpoint, and write the model file.

    Args:
        train_data, val_data: network-size images and targets.
        out: model file to write (safetensors, loadable with :func:`vbp_ros.load_model`).
        run_dir: checkpoint, VBP mask grids and TensorBoard logs.
        cfg: settings.
        preprocess: the input preprocessing stored with the model (default Preprocess()).
        resume: continue from ``run_dir/checkpoint.safetensors`` if present.
        info: extra facts for the model file (data source, reproduce command, ...).
        on_epoch: called with each epoch's metrics.

    Raises:
        TrainingError: empty data, an unusable checkpoint, or training diverged (NaN).
    """
    cfg = cfg or TrainConfig()
    pre = preprocess or Preprocess()
    run_dir = Path(run_dir)
    if len(train_data) == 0 or len(val_data) == 0:
        raise TrainingError('training and validation data must not be empty')
    model = build_model(cfg).to(memory_format=torch.channels_last)
    # Targets are ~0.01 1/m: training predicts 100x them, and the exported model has the
    # factor folded into its last layer, where that is exact.
    scale = OUTPUT_SCALE if scale_folds_into_last_linear(
        model, to_tensor(train_data.images[:2], pre)) else 1.0
    if scale == 1.0:
        LOG.info('training on targets in 1/m as they are (the model does not end in a plain '
                 'nn.Linear to fold a scale into)')
    opt = torch.optim.Adam(model.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
    steps_per_epoch = math.ceil(len(train_data) / cfg.batch_size)
    total = steps_per_epoch * cfg.epochs
    ckpt = run_dir / 'checkpoint.safetensors'
    history: list[dict[str, float]] = []
    first_epoch, step, elapsed = 0, 0, 0.0
    data_meta = {'train_samples': len(train_data), 'val_samples': len(val_data),
                 'data': (info or {}).get('data')}
    if resume and ckpt.is_file():
        check_resumable(checkpoint_meta(ckpt), cfg, {**data_meta, 'output_scale': scale})
        meta = load_checkpoint(ckpt, model, opt)
        first_epoch, step = int(meta['epoch']) + 1, int(meta['step'])
        history, elapsed = list(meta.get('history', [])), float(meta.get('seconds', 0.0))
        LOG.info('resuming from %s after epoch %d', ckpt, first_epoch)  # epochs count from 1
    elif resume:
        LOG.warning('no checkpoint in %s; starting from scratch', run_dir)
    k = min(cfg.snapshot_count, len(val_data))
    snap_images = val_data.images[:k]
    snaps = MaskSnapshots(run_dir, snap_images, to_tensor(snap_images, pre),
                          val_data.targets[:k], cfg.tensorboard) if k > 0 else None
    written: list[Path] = []
    loss_fn = nn.MSELoss()
    t_start = time.perf_counter()
    try:
        for epoch in range(first_epoch, cfg.epochs):
            model.train()
            rng = np.random.default_rng([cfg.seed, epoch])
            running, seen = 0.0, 0
            bar = progress_bar(steps_per_epoch, 'batch', f'epoch {epoch + 1}/{cfg.epochs}',
                               enabled=cfg.progress, leave=False)
            for x, y in batches(train_data, cfg.batch_size, pre, rng=rng,
                                augment=cfg.augment or NO_AUGMENT):
                for group in opt.param_groups:
                    group['lr'] = _lr_at(cfg, step, total)
                pred = model(x.contiguous(memory_format=torch.channels_last))
                loss = loss_fn(pred, y * scale)
                opt.zero_grad(set_to_none=True)
                loss.backward()
                opt.step()
                step += 1
                running += float(loss.detach()) * len(y)
                seen += len(y)
                bar.set_postfix(loss=f'{running / seen:.4f}')
                bar.update(1)
            bar.close()
            metrics = {'epoch': epoch + 1,
                       'train_rmse': math.sqrt(running / max(seen, 1)) / scale,
                       **evaluate_model(model, val_data, pre, scale=scale)}
            if not all(math.isfinite(v) for v in metrics.values()):
                # Nothing is saved: a model of NaNs would only fail later, in the car.
                raise TrainingError(f'training diverged in epoch {epoch + 1} (train RMSE '
                                    f'{metrics["train_rmse"]}); try a lower learning rate')
            history.append(metrics)
            LOG.info('epoch %d/%d: train RMSE %.5f, val RMSE %.5f 1/m, sign acc %.3f',
                     epoch + 1, cfg.epochs, metrics['train_rmse'], metrics['val_rmse'],
                     metrics['val_sign_acc'])
            if snaps is not None:
                written.append(snaps(model, epoch + 1, {k2: v for k2, v in metrics.items()
                                                       if k2 != 'epoch'}, scale))
            seconds = elapsed + time.perf_counter() - t_start
            save_checkpoint(ckpt, model, opt, {'epoch': epoch, 'step': step, 'history': history,
                                               'seconds': seconds, 'output_scale': scale,
                                               'config': _jsonable(cfg), **data_meta})
            if on_epoch is not None:
                on_epoch(metrics)
    finally:
        if snaps is not None:
            snaps.close()
    seconds = elapsed + time.perf_counter() - t_start
    final = export_model(model, scale).to(memory_format=torch.contiguous_format)
    if scale != 1.0:  # the file must give what was validated
        x = to_tensor(val_data.images[:8], pre)
        with torch.no_grad():
            want, got = model.eval()(x) / scale, final(x)
        if not torch.allclose(got, want, rtol=1e-3, atol=1e-6):
            raise TrainingError('the output scale does not fold into the last nn.Linear of '
                                'this model (a layer after it?); end the model with a plain '
                                'nn.Linear')
    last = history[-1] if history else {}
    spec_info = {**(info or {}), 'config': _jsonable(cfg), 'history': history,
                 'train_samples': len(train_data), 'val_samples': len(val_data),
                 'train_seconds': round(seconds, 1), 'torch': torch.__version__,
                 **{k2: v for k2, v in last.items() if k2.startswith('val_')}}
    spec = ModelSpec(arch=cfg.arch, arch_kwargs=dict(cfg.arch_kwargs), preprocess=pre,
                     info=spec_info)
    save_model(final, out, spec)
    LOG.info('wrote %s (%.0f s of training)', out, seconds)
    return TrainResult(final, spec, history, written, seconds)


def _jsonable(cfg: TrainConfig) -> dict[str, Any]:
    d = asdict(cfg)
    d.pop('progress', None)
    d.pop('tensorboard', None)
    return d
