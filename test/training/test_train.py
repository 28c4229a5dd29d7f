"""Training loop: a short run learns, writes VBP mask snapshots and checkpoints, and resumes."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from vbp_ros import load_model, ModelError
from vbp_ros.training.augment import Augment, shift_gain
from vbp_ros.training.checkpoint import load_checkpoint
from vbp_ros.training.dataset import ArrayData, batches, synthetic_data
from vbp_ros.training.errors import TrainingError
from vbp_ros.training.train import build_model, export_model, TrainConfig, train


@pytest.fixture(scope='module')
def tiny_data() -> tuple[ArrayData, ArrayData]:
    data = synthetic_data(120, seed=3)
    return data.split(0.2, seed=0)


def _cfg(**kw) -> TrainConfig:
    base = dict(epochs=2, batch_size=16, lr=1e-3, snapshot_count=4, progress=False,
                tensorboard=False)
    base.update(kw)
    return TrainConfig(**base)


def test_short_run_reduces_loss_and_writes_snapshots(tmp_path: Path, tiny_data):
    tr, va = tiny_data
    out = tmp_path / 'model.safetensors'
    res = train(tr, va, out, tmp_path / 'run', _cfg(epochs=3, augment=None),
                info={'data': 'tiny'})
    first, last = res.history[0], res.history[-1]
    assert last['train_rmse'] < first['train_rmse']
    assert [p.name for p in res.snapshots] == ['vbp_epoch_001.png', 'vbp_epoch_002.png',
                                               'vbp_epoch_003.png']
    import cv2
    grid = cv2.imread(str(res.snapshots[-1]))
    assert grid is not None and grid.shape[0] > 132 and grid.std() > 10
    model, spec = load_model(out)
    assert spec.info['data'] == 'tiny' and spec.info['val_rmse'] == pytest.approx(
        last['val_rmse'])
    # the saved model predicts in 1/m: same numbers as the validation metric
    x = next(batches(va, 64, spec.preprocess))[0]
    with torch.no_grad():
        pred = model(x)[:, 0].numpy()
    rmse = float(np.sqrt(np.mean((pred - va.targets[:len(pred)]) ** 2)))
    assert rmse == pytest.approx(last['val_rmse'], rel=0.05)


def test_resume_continues_where_it_stopped(tmp_path: Path, tiny_data):
    tr, va = tiny_data
    full = train(tr, va, tmp_path / 'a.safetensors', tmp_path / 'a', _cfg(epochs=2))

    class Stop(Exception):
        pass

    def interrupt(metrics):
        raise Stop  # the run dies right after epoch 1 was checkpointed

    with pytest.raises(Stop):
        train(tr, va, tmp_path / 'b.safetensors', tmp_path / 'b', _cfg(epochs=2),
              on_epoch=interrupt)
    assert not (tmp_path / 'b.safetensors').exists()
    resumed = train(tr, va, tmp_path / 'b.safetensors', tmp_path / 'b', _cfg(epochs=2),
                    resume=True)
    assert [h['epoch'] for h in resumed.history] == [1, 2]
    assert [p.name for p in resumed.snapshots] == ['vbp_epoch_002.png']
    a, _ = load_model(tmp_path / 'a.safetensors')
    b, _ = load_model(tmp_path / 'b.safetensors')
    for pa, pb in zip(a.parameters(), b.parameters()):
        assert torch.allclose(pa, pb, atol=1e-5)
    assert resumed.history[-1]['val_rmse'] == pytest.approx(full.history[-1]['val_rmse'],
                                                            rel=1e-3)


def test_checkpoint_holds_optimizer_state(tmp_path: Path, tiny_data):
    tr, va = tiny_data
    train(tr, va, tmp_path / 'm.safetensors', tmp_path / 'run', _cfg(epochs=1))
    cfg = _cfg()
    model = build_model(cfg)
    opt = torch.optim.Adam(model.parameters())
    meta = load_checkpoint(tmp_path / 'run' / 'checkpoint.safetensors', model, opt)
    assert meta['epoch'] == 0 and meta['step'] == 6
    assert len(opt.state) == len(list(model.parameters()))
    with pytest.raises(TrainingError):
        load_checkpoint(tmp_path / 'missing.safetensors', model, opt)


def test_export_folds_the_output_scale():
    model = build_model(_cfg()).eval()
    x = torch.randn(2, 3, 66, 200)
    with torch.no_grad():
        assert torch.allclose(export_model(model, 100.0)(x), model(x) / 100.0, atol=1e-6)


def test_shift_augmentation_corrects_the_label():
    img = np.zeros((1, 66, 200, 3), np.uint8)
    img[0, :, 100] = 255
    aug = Augment(brightness=0.0, contrast=0.0, shift_px=5, gain=shift_gain())
    out, tg = aug(img, np.zeros(1, np.float32), np.random.default_rng(1))
    shift = int(np.argmax(out[0, 30, :, 0])) - 100
    assert tg[0] == pytest.approx(shift * shift_gain())
    assert shift_gain() < 0  # content moving right = car yawed left = steer right


def test_bad_data_raise():
    with pytest.raises(TrainingError):
        ArrayData(np.zeros((2, 66, 200), np.uint8), np.zeros(2))
    with pytest.raises(TrainingError):
        ArrayData(np.zeros((2, 66, 200, 3), np.uint8), np.zeros(3))
    with pytest.raises(TrainingError):
        ArrayData(np.zeros((1, 66, 200, 3), np.uint8), np.zeros(1)).split(0.5, 0)


def test_user_model_class(tmp_path: Path, tiny_data):
    """A model given as 'module:Class' (with constructor arguments) trains and reloads."""
    tr, va = tiny_data
    arch = 'vbp_ros.core.pilotnet:PilotNet'
    out = tmp_path / 'user.safetensors'
    train(tr, va, out, tmp_path / 'run', _cfg(epochs=1, arch=arch,
                                              arch_kwargs={'dropout': 0.2}))
    from vbp_ros.errors import ModelError
    with pytest.raises(ModelError):
        load_model(out)  # the file names no registered architecture
    model, spec = load_model(out, model_class=arch)
    assert spec.arch == arch and spec.arch_kwargs == {'dropout': 0.2}
    assert model[11].p == 0.2


def test_a_diverging_run_saves_no_model(tmp_path: Path, tiny_data):
    tr, va = tiny_data
    out = tmp_path / 'model.safetensors'
    with pytest.raises(TrainingError, match='diverged in epoch 1'):
        train(tr, va, out, tmp_path / 'run', _cfg(epochs=1, lr=1e12, augment=None))
    assert not out.exists()


def test_block_split_keeps_runs_of_frames_together():
    n, block = 3000, 90  # ~33 blocks of ~90 frames
    data = ArrayData(np.zeros((n, 2, 2, 3), np.uint8), np.arange(n, dtype=np.float32))
    train_part, val_part = data.split(0.1, seed=1, block=block)
    val = val_part.targets.astype(int)
    runs = np.split(val, np.flatnonzero(np.diff(val) != 1) + 1)
    assert len(train_part) + len(val) == n and 250 <= len(val) <= 350
    assert all(len(r) >= 85 for r in runs)  # whole blocks, never single frames
    # Small data still splits (into at least 20 blocks), with the share asked for.
    small = ArrayData(np.zeros((60, 2, 2, 3), np.uint8), np.arange(60, dtype=np.float32))
    assert len(small.split(0.1, seed=0, block=block)[1]) == 6
    # block 1 is the frame-wise split it always was
    a, b = data.split(0.2, seed=1), data.split(0.2, seed=1, block=1)
    assert np.array_equal(a[1].targets, b[1].targets)


def test_model_files_get_the_usual_mode(tmp_path: Path, tiny_data):
    # safetensors creates files readable by the owner only; a model is meant to be shared.
    import os
    import stat
    tr, va = tiny_data
    train(tr, va, tmp_path / 'm.safetensors', tmp_path / 'run', _cfg(epochs=1))
    mask = os.umask(0o022)
    os.umask(mask)
    for path in (tmp_path / 'm.safetensors', tmp_path / 'run' / 'checkpoint.safetensors'):
        assert stat.S_IMODE(path.stat().st_mode) == 0o666 & ~mask


def test_an_unwritable_output_is_refused_before_training(tmp_path: Path) -> None:
    from vbp_ros.cli import main as cli_main
    (tmp_path / 'file').write_text('')
    assert cli_main(['train', '--out', str(tmp_path / 'file' / 'm.safetensors'),
                     '--frames', '64', '--epochs', '1', '--no-progress']) == 2
    assert not (tmp_path / 'file').is_dir()


class TanhHead(torch.nn.Module):
    """A user model whose output is squashed after its last Linear: no scale folds into it."""

    def __init__(self) -> None:
        super().__init__()
        from vbp_ros import PilotNet
        self.net = PilotNet()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.tanh(self.net(x))


def test_a_model_ending_in_a_non_linearity_is_saved_as_it_was_validated(tmp_path: Path,
                                                                         tiny_data):
    tr, va = tiny_data
    res = train(tr, va, tmp_path / 'm.safetensors', tmp_path / 'run',
                _cfg(epochs=1, arch=f'{__name__}:TanhHead'))
    model, _ = load_model(tmp_path / 'm.safetensors', model_class=f'{__name__}:TanhHead')
    x = next(batches(va, 64, res.spec.preprocess))[0]
    with torch.no_grad():
        pred = model(x)[:, 0].numpy()
    rmse = float(np.sqrt(np.mean((pred - va.targets[:len(pred)]) ** 2)))
    assert rmse == pytest.approx(res.history[-1]['val_rmse'], rel=1e-4)


def test_resuming_with_other_settings_or_data_is_refused(tmp_path: Path, tiny_data):
    tr, va = tiny_data
    train(tr, va, tmp_path / 'm.safetensors', tmp_path / 'run', _cfg(epochs=1),
          info={'data': 'tiny'})
    with pytest.raises(TrainingError, match=r'seed: 0 then, 5 now'):
        train(tr, va, tmp_path / 'm.safetensors', tmp_path / 'run', _cfg(epochs=2, seed=5),
              resume=True, info={'data': 'tiny'})
    with pytest.raises(TrainingError, match=r'val_samples: [0-9]+ then, 5 now'):
        train(tr, ArrayData(va.images[:5], va.targets[:5], va.source), tmp_path / 'm.safetensors',
              tmp_path / 'run', _cfg(epochs=2), resume=True, info={'data': 'tiny'})
    res = train(tr, va, tmp_path / 'm.safetensors', tmp_path / 'run', _cfg(epochs=2),
                resume=True, info={'data': 'tiny'})  # the same settings: goes on
    assert [h['epoch'] for h in res.history] == [1, 2]


def test_a_model_file_is_no_checkpoint(tmp_path: Path, tiny_data):
    from vbp_ros.training.checkpoint import checkpoint_meta
    tr, va = tiny_data
    train(tr, va, tmp_path / 'm.safetensors', tmp_path / 'run', _cfg(epochs=1))
    with pytest.raises(TrainingError, match='not a vbp_ros training checkpoint'):
        checkpoint_meta(tmp_path / 'm.safetensors')
    # ... nor a checkpoint a model file: an easy mistake with --model.
    with pytest.raises(ModelError, match='is a training checkpoint .* not a model file'):
        load_model(tmp_path / 'run' / 'checkpoint.safetensors')
    with pytest.raises(ModelError, match='is a folder, not a model file'):
        load_model(tmp_path / 'run')


class LinearThenNorm(torch.nn.Module):
    """Ends in Linear -> BatchNorm1d: the identity only while freshly initialised."""

    def __init__(self) -> None:
        super().__init__()
        from vbp_ros import PilotNet
        self.net = PilotNet()
        self.norm = torch.nn.BatchNorm1d(1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.norm(self.net(x))


def test_no_scale_is_folded_through_a_layer_after_the_last_linear(tmp_path: Path, tiny_data):
    from vbp_ros.training.train import scale_folds_into_last_linear
    from vbp_ros import PilotNet
    x = torch.randn(2, 3, 66, 200)
    assert scale_folds_into_last_linear(PilotNet(), x)
    assert not scale_folds_into_last_linear(LinearThenNorm(), x)
    assert not scale_folds_into_last_linear(TanhHead(), x)


def test_an_earlier_run_is_not_replaced_without_force(tmp_path: Path, caplog) -> None:
    from vbp_ros.cli import main as cli_main
    from vbp_ros.commands.train import _clear_earlier_run
    out, run_dir = tmp_path / 'm.safetensors', tmp_path / 'run'
    out.write_bytes(b'an earlier model')
    assert cli_main(['train', '--out', str(out), '--run-dir', str(run_dir), '--frames', '64',
                     '--epochs', '1', '--no-progress']) == 2
    assert 'exist(s) already: --force' in caplog.text  # no checkpoint: nothing to resume
    # --resume without a checkpoint starts afresh, so it is refused the same way.
    assert cli_main(['train', '--out', str(out), '--run-dir', str(run_dir), '--frames', '64',
                     '--epochs', '1', '--no-progress', '--resume']) == 2
    assert out.read_bytes() == b'an earlier model'
    # --force clears what the earlier run left, and only that.
    (run_dir / 'tensorboard').mkdir(parents=True)
    leftovers = [run_dir / 'checkpoint.safetensors', run_dir / 'vbp_epoch_003.png',
                 run_dir / 'tensorboard' / 'events.out.tfevents.1.host']
    for p in [*leftovers, run_dir / 'notes.txt']:
        p.write_text('x')
    _clear_earlier_run(run_dir)
    assert not any(p.exists() for p in leftovers) and (run_dir / 'notes.txt').exists()


def test_training_off_a_terminal_logs_its_progress(tmp_path: Path, tiny_data,
                                                   caplog: pytest.LogCaptureFixture,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    import logging
    tr, va = tiny_data
    monkeypatch.setattr('sys.stderr.isatty', lambda: False)
    monkeypatch.setattr('vbp_ros.progress.LOG_EVERY', 0.0)
    with caplog.at_level(logging.INFO, logger='vbp_ros'):
        train(tr, va, tmp_path / 'm.safetensors', tmp_path / 'run',
              _cfg(epochs=1, progress=True, snapshot_count=0, augment=None))
    lines = [r.getMessage() for r in caplog.records]
    steps = -(-len(tr) // 16)
    assert any(m.startswith(f'epoch 1/1: {steps}/{steps} batches (100 %)') and 'loss=' in m
               for m in lines), lines
