"""Per-epoch VBP masks also go to TensorBoard when it is installed."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from vbp_ros import PilotNet
from vbp_ros.training.snapshots import MaskSnapshots


def test_snapshots_logged_to_tensorboard(tmp_path: Path) -> None:
    pytest.importorskip('torch.utils.tensorboard')
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    rng = np.random.default_rng(0)
    images = rng.integers(0, 255, (3, 66, 200, 3), dtype=np.uint8)
    snaps = MaskSnapshots(tmp_path, images, torch.randn(3, 3, 66, 200), np.zeros(3))
    assert snaps.writer is not None
    for epoch in (1, 2):
        snaps(PilotNet().eval(), epoch, {'val_rmse': 0.1 / epoch})
    snaps.close()
    acc = EventAccumulator(str(tmp_path / 'tensorboard'))
    acc.Reload()
    assert [s.step for s in acc.Scalars('val_rmse')] == [1, 2]
    assert len(acc.Images('vbp_masks')) == 2
