"""What the network looks at, per epoch: VisualBackProp masks of a fixed validation set.

Writes ``vbp_epoch_XXX.png`` (a grid of input | mask overlay pairs with target and prediction)
and, when TensorBoard is installed, the same image and the losses to an event file.
"""
from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import torch
from torch import nn

from vbp_ros.core.visualbackprop import VisualBackProp

LOG = logging.getLogger(__name__)


def overlay_mask(rgb: np.ndarray, mask: np.ndarray, alpha: float = 0.5) -> np.ndarray:
    """RGB uint8 image with a jet-coloured float mask in [0, 1] blended over it (RGB out)."""
    try:
        from vbp_ros.core.image import overlay
    except ImportError:
        heat = cv2.applyColorMap((np.clip(mask, 0, 1) * 255).astype(np.uint8), cv2.COLORMAP_JET)
        heat = cv2.cvtColor(heat, cv2.COLOR_BGR2RGB)
        return cv2.addWeighted(rgb, 1.0 - alpha, heat, alpha, 0.0)
    bgr = overlay(rgb, (np.clip(mask, 0, 1) * 255).astype(np.uint8), alpha=alpha)
    return cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)


def mask_grid(images: np.ndarray, masks: np.ndarray, targets: np.ndarray,
              preds: np.ndarray, title: str = '', columns: int = 2, scale: int = 2
              ) -> np.ndarray:
    """Grid of (input, overlay) pairs with 'target / prediction' captions; RGB uint8."""
    cells = []
    for img, mask, tg, pr in zip(images, masks, targets, preds):
        pair = np.concatenate([img, overlay_mask(img, mask)], axis=1)
        pair = cv2.resize(pair, None, fx=scale, fy=scale, interpolation=cv2.INTER_NEAREST)
        bar = np.full((18, pair.shape[1], 3), 255, np.uint8)
        cv2.putText(bar, f'target {tg * 1000:+.1f}  pred {pr * 1000:+.1f}  (1/km)', (4, 13),
                    cv2.FONT_HERSHEY_SIMPLEX, 0.42, (0, 0, 0), 1, cv2.LINE_AA)
        cells.append(np.concatenate([bar, pair], axis=0))
    while len(cells) % columns:
        cells.append(np.full_like(cells[0], 255))
    rows = [np.concatenate(cells[i:i + columns], axis=1) for i in range(0, len(cells), columns)]
    grid = np.concatenate(rows, axis=0)
    if title:
        head = np.full((22, grid.shape[1], 3), 255, np.uint8)
        cv2.putText(head, title, (4, 16), cv2.FONT_HERSHEY_SIMPLEX, 0.5, (0, 0, 0), 1,
                    cv2.LINE_AA)
        grid = np.concatenate([head, grid], axis=0)
    return grid


class MaskSnapshots:
    """Per-epoch VBP mask grids of a fixed set of validation images.

    Args:
        out_dir: where PNGs (and the TensorBoard event file) go.
        images: N x H x W x 3 uint8 network-size RGB images (fixed for the whole run).
        inputs: their N x C x H x W network inputs.
        targets: their targets (1/m).
        tensorboard: also log to TensorBoard if ``torch.utils.tensorboard`` imports.
    """

    def __init__(self, out_dir: str | Path, images: np.ndarray, inputs: torch.Tensor,
                 targets: np.ndarray, tensorboard: bool = True) -> None:
        self.out_dir = Path(out_dir)
        self.out_dir.mkdir(parents=True, exist_ok=True)
        self.images, self.inputs, self.targets = images, inputs, targets
        self.writer: Any = None
        if tensorboard:
            try:
                from torch.utils.tensorboard import SummaryWriter
            except ImportError:
                LOG.debug('tensorboard not installed; writing PNG mask grids only')
            else:
                self.writer = SummaryWriter(str(self.out_dir / 'tensorboard'))

    def __call__(self, model: nn.Module, epoch: int, scalars: dict[str, float],
                 output_scale: float = 1.0) -> Path:
        """Write the grid for ``epoch`` (model outputs are divided by ``output_scale``)."""
        was_training = model.training
        model.eval()
        with torch.no_grad():
            out, mask = VisualBackProp(model)(self.inputs)
        model.train(was_training)
        preds = out[:, 0].cpu().numpy() / output_scale
        masks = mask.cpu().numpy()
        title = f'epoch {epoch}: ' + ', '.join(f'{k} {v:.4g}' for k, v in scalars.items())
        grid = mask_grid(self.images, masks, self.targets, preds, title)
        path = self.out_dir / f'vbp_epoch_{epoch:03d}.png'
        cv2.imwrite(str(path), cv2.cvtColor(grid, cv2.COLOR_RGB2BGR))
        if self.writer is not None:
            for k, v in scalars.items():
                self.writer.add_scalar(k, v, epoch)
            self.writer.add_image('vbp_masks', grid, epoch, dataformats='HWC')
            self.writer.flush()
        return path

    def close(self) -> None:
        """Close the TensorBoard writer, if any."""
        if self.writer is not None:
            self.writer.close()
