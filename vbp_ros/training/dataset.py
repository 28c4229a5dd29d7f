"""Training data as in-memory arrays: network-size RGB uint8 images and curvature targets.

Sources: the synthetic world (rendered straight at the network crop) or a rosbag2 bag (see
:mod:`vbp_ros.training.bag_data`). Batches are normalised with the model's
:class:`~vbp_ros.pipeline.preprocess.Preprocess`, exactly as the node does at run time.
"""
from __future__ import annotations

import logging
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from typing import Iterator

import numpy as np
import torch

from vbp_ros.pipeline.preprocess import Preprocess
from vbp_ros.progress import progress_bar
from vbp_ros.training.augment import Augment
from vbp_ros.training.errors import TrainingError
from vbp_ros.world.synthetic import render_batch, SyntheticWorld

LOG = logging.getLogger(__name__)


@dataclass
class ArrayData:
    """Images (N x H x W x 3 uint8 RGB at network size) with targets (N, 1/m, + = left)."""

    images: np.ndarray
    targets: np.ndarray
    source: str = ''

    def __post_init__(self) -> None:
        if self.images.ndim != 4 or self.images.shape[3] != 3 or self.images.dtype != np.uint8:
            msg = (f'images must be N x H x W x 3 uint8, got {self.images.shape} '
                   f'{self.images.dtype}')
            raise TrainingError(msg)
        if self.targets.shape != (self.images.shape[0],):
            raise TrainingError(f'{self.images.shape[0]} images but {self.targets.shape} targets')
        self.targets = self.targets.astype(np.float32)

    def __len__(self) -> int:
        return int(self.images.shape[0])

    def split(self, val_fraction: float, seed: int, block: int = 1
              ) -> tuple[ArrayData, ArrayData]:
        """Random train/validation split (deterministic from ``seed``).

        ``block`` > 1 splits blocks of that many consecutive samples instead of single ones:
        for frames of a recorded drive, where neighbours are near copies, a frame-wise split
        would put most validation frames next to a training frame and flatter the validation
        error.
        """
        if not 0.0 < val_fraction < 1.0:
            raise TrainingError(f'val_fraction {val_fraction} must lie in (0, 1)')
        n = len(self)
        # Blocks of (nearly) equal size, at least 20 of them, so small data still splits and
        # the validation share does not hinge on drawing a short last block.
        blocks = max(1, min(n, max(-(-n // max(1, block)), 20)))
        n_val = max(1, int(round(blocks * val_fraction)))
        if blocks - n_val < 1:
            raise TrainingError(f'{n} samples are too few to split off {val_fraction:.0%} for '
                                'validation')
        if block > 1 and n / blocks < block:
            LOG.info('validation split in %d blocks of %.0f frames (fewer than %d: a short '
                     'recording)', blocks, n / blocks, block)
        chosen = np.random.default_rng([seed, 99]).permutation(blocks)[:n_val]
        is_val = np.isin(np.arange(n) * blocks // n, chosen)
        val, train = np.flatnonzero(is_val), np.flatnonzero(~is_val)
        return (ArrayData(self.images[train], self.targets[train], self.source),
                ArrayData(self.images[val], self.targets[val], self.source))


def to_tensor(images: np.ndarray, preprocess: Preprocess) -> torch.Tensor:
    """N x H x W x 3 uint8 network-size RGB -> N x C x H x W float32 network input."""
    batch = np.stack([preprocess.normalise(img) for img in images])
    return torch.from_numpy(batch)


def batches(data: ArrayData, batch_size: int, preprocess: Preprocess, *,
            rng: np.random.Generator | None = None, augment: Augment | None = None
            ) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
    """Yield (inputs, targets N x 1) batches; shuffled and augmented when ``rng`` is given."""
    n = len(data)
    order = rng.permutation(n) if rng is not None else np.arange(n)
    for start in range(0, n, batch_size):
        idx = np.sort(order[start:start + batch_size])
        images, targets = data.images[idx], data.targets[idx]
        if augment is not None and rng is not None:
            images, targets = augment(images, targets, rng)
        yield to_tensor(images, preprocess), torch.from_numpy(targets).view(-1, 1)


def _render_chunk(args: tuple[int, int, int, float, tuple | None]) -> tuple[np.ndarray,
                                                                           np.ndarray]:
    seed, start, count, max_curvature, pre = args
    preprocess = Preprocess.from_dict(pre) if pre else None
    world = SyntheticWorld(seed, preprocess=preprocess, max_curvature=max_curvature)
    return render_batch(world, start, count)


def synthetic_data(count: int, seed: int = 0, preprocess: Preprocess | None = None, *,
                   start: int = 0, max_curvature: float = 0.02, workers: int = 1,
                   progress: bool = False) -> ArrayData:
    """Render ``count`` synthetic frames ``start..start+count-1`` of world ``seed``.

    Args:
        count: number of frames.
        seed: world seed (frames are a pure function of seed and index).
        preprocess: whose crop and size to render (default :class:`Preprocess`).
        start: first frame index (use disjoint ranges or seeds for held-out sets).
        max_curvature: sharpest road curvature (1/m).
        workers: processes to render with (results do not depend on it).
        progress: show progress (a bar on a terminal, else a log line now and then).
    """
    if count < 1:
        raise TrainingError(f'count {count} must be positive')
    pre = preprocess.to_dict() if preprocess is not None else None
    chunk = 500
    jobs = [(seed, s, min(chunk, start + count - s), max_curvature, pre)
            for s in range(start, start + count, chunk)]
    bar = progress_bar(count, 'frame', 'render', enabled=progress, leave=False)
    parts = []
    if workers > 1 and len(jobs) > 1:
        with ProcessPoolExecutor(workers) as pool:
            for imgs, tg in pool.map(_render_chunk, jobs):
                parts.append((imgs, tg))
                bar.update(len(tg))
    else:
        for job in jobs:
            imgs, tg = _render_chunk(job)
            parts.append((imgs, tg))
            bar.update(len(tg))
    bar.close()
    images = np.concatenate([p[0] for p in parts])
    targets = np.concatenate([p[1] for p in parts])
    last = start + count - 1
    return ArrayData(images, targets, f'synthetic(seed={seed}, frames {start}..{last})')
