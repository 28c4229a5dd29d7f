"""``vbp-ros train``: train a steering model on the synthetic world or a rosbag2 bag.

Every epoch writes the VisualBackProp masks of a fixed validation set (PNG grid, TensorBoard if
installed) to the run directory, next to a resumable checkpoint. The defaults reproduce the
bundled model::

    vbp-ros train --out vbp_ros/models/pilotnet_synthetic.safetensors --force
"""
from __future__ import annotations

import argparse
import logging
import shlex
import sys
from pathlib import Path

from vbp_ros.commands.arguments import positive_float, positive_int
from vbp_ros.errors import InputError

LOG = logging.getLogger(__name__)
DEFAULT_FRAMES = 16000
DEFAULT_EPOCHS = 4
#: Consecutive bag frames kept on one side of the train/validation split (3 s at 30 Hz).
BAG_SPLIT_BLOCK = 90


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options: output, data source, optimisation, augmentation."""
    parser.add_argument('--out', default='out/pilotnet.safetensors',
                        help='model file to write (safetensors)')
    parser.add_argument('--run-dir', default=None,
                        help='checkpoint + VBP mask grids (default: out/train/<out name>)')
    parser.add_argument('--resume', action='store_true',
                        help='continue from the checkpoint in --run-dir')
    parser.add_argument('--force', action='store_true',
                        help='replace an existing --out model and start --run-dir afresh')
    data = parser.add_argument_group('data (synthetic world unless --bag is given)')
    data.add_argument('--frames', type=int, default=DEFAULT_FRAMES,
                      help='synthetic frames to render (train + validation)')
    data.add_argument('--seed', type=int, default=0, help='world, split and init seed')
    data.add_argument('--max-curvature', type=float, default=0.02,
                      help='sharpest synthetic bend (1/m)')
    data.add_argument('--workers', type=int, default=2, help='processes rendering frames')
    data.add_argument('--bag', action='append', default=[], metavar='PATH',
                      help='rosbag2 bag to train on (repeatable)')
    data.add_argument('--image-topic', default='/camera/image_raw')
    data.add_argument('--steering-topic', default='/vehicle/steering',
                      help='ackermann_msgs/AckermannDriveStamped or std_msgs/Float32')
    data.add_argument('--float-kind', choices=('curvature', 'angle'), default='curvature',
                      help='meaning of a Float32 steering value')
    data.add_argument('--wheelbase', type=float, default=2.7,
                      help='m, turns steering angles into curvature')
    data.add_argument('--time-source', choices=('auto', 'header', 'log'), default='auto')
    data.add_argument('--max-gap', type=float, default=0.1,
                      help='s, largest camera-to-steering time gap')
    opt = parser.add_argument_group('optimisation')
    opt.add_argument('--model-class', default='pilotnet',
                     help="registered architecture or 'module:Class'")
    opt.add_argument('--epochs', type=positive_int, default=DEFAULT_EPOCHS)
    opt.add_argument('--batch-size', type=positive_int, default=64)
    opt.add_argument('--lr', type=positive_float, default=1e-3)
    opt.add_argument('--val-fraction', type=float, default=0.1)
    opt.add_argument('--threads', type=int, default=0, help='torch CPU threads (0: default)')
    aug = parser.add_argument_group('augmentation (PilotNet: brightness, shifts)')
    aug.add_argument('--no-augment', action='store_true')
    aug.add_argument('--brightness', type=float, default=0.3)
    aug.add_argument('--shift-px', type=int, default=6)
    aug.add_argument('--shift-gain', type=float, default=None,
                     help='label change (1/m) per pixel of rightward shift '
                          '(default: from the synthetic camera geometry)')
    out = parser.add_argument_group('output')
    out.add_argument('--snapshots', type=int, default=8,
                     help='validation images in the per-epoch VBP grid')
    out.add_argument('--no-tensorboard', action='store_true')
    out.add_argument('--no-progress', action='store_true')


def _check_fresh_start(out: Path, run_dir: Path, force: bool) -> None:
    """Refuse to replace an earlier run's model or checkpoint unless ``force``."""
    ckpt = run_dir / 'checkpoint.safetensors'
    taken = [p for p in (out, ckpt) if p.exists()]
    if taken and not force:
        hint = '--resume to continue that training, ' if ckpt.exists() else ''
        raise InputError(f'{" and ".join(map(str, taken))} exist(s) already: {hint}--force to '
                         'start afresh and replace it')


def _clear_earlier_run(run_dir: Path) -> None:
    """Remove what an earlier run left in ``run_dir`` (its checkpoint, mask grids and
    TensorBoard events), so that the new run's files are not mixed with them."""
    ckpt = run_dir / 'checkpoint.safetensors'
    for old in [ckpt, *run_dir.glob('vbp_epoch_*.png'), *run_dir.glob('tensorboard/events.*')]:
        if old.is_file():
            old.unlink()


def run(args: argparse.Namespace) -> int:
    """Load or render the data, train, write the model file."""
    import torch

    from vbp_ros.pipeline.preprocess import Preprocess
    from vbp_ros.training.augment import Augment, shift_gain
    from vbp_ros.training.bag_data import load_bag_data
    from vbp_ros.training.checkpoint import checkpoint_meta
    from vbp_ros.training.dataset import ArrayData, synthetic_data
    from vbp_ros.training.train import check_resumable, TrainConfig, train

    from vbp_ros.core.model_file import check_writable

    check_writable(args.out)  # before the training, not after it
    if args.threads > 0:
        torch.set_num_threads(args.threads)
    pre = Preprocess()
    progress = not args.no_progress  # a bar on a terminal, else a log line now and then
    if args.bag and args.shift_gain is None and not args.no_augment:
        LOG.warning('--shift-gain not given: the shift augmentation uses the synthetic '
                    "camera's (70 degrees wide); give your camera's, or --shift-px 0")
    gain = args.shift_gain if args.shift_gain is not None else shift_gain(
        crop_width=pre.crop[3] - pre.crop[2], net_width=pre.size[1])
    augment = None if args.no_augment else Augment(brightness=args.brightness,
                                                    shift_px=args.shift_px, gain=gain)
    cfg = TrainConfig(epochs=args.epochs, batch_size=args.batch_size, lr=args.lr,
                      seed=args.seed, val_fraction=args.val_fraction, augment=augment,
                      snapshot_count=args.snapshots, tensorboard=not args.no_tensorboard,
                      progress=progress, arch=args.model_class)
    out = Path(args.out)
    run_dir = Path(args.run_dir) if args.run_dir else Path('out') / 'train' / out.stem
    ckpt = run_dir / 'checkpoint.safetensors'
    resume = args.resume and ckpt.is_file()
    if resume:  # before the data is rendered or read
        check_resumable(checkpoint_meta(ckpt), cfg)
    else:
        if args.resume:
            LOG.warning('--resume: no checkpoint in %s; starting afresh', run_dir)
        _check_fresh_start(out, run_dir, args.force)
    if args.bag:
        parts = [load_bag_data(b, args.image_topic, args.steering_topic, pre,
                               wheelbase=args.wheelbase, float_kind=args.float_kind,
                               time_source=args.time_source, max_gap=args.max_gap)
                 for b in args.bag]
        import numpy as np

        data = ArrayData(np.concatenate([p.images for p in parts]),
                         np.concatenate([p.targets for p in parts]),
                         '; '.join(p.source for p in parts))
    else:
        LOG.info('rendering %d synthetic frames (seed %d)', args.frames, args.seed)
        data = synthetic_data(args.frames, args.seed, pre, max_curvature=args.max_curvature,
                              workers=args.workers, progress=progress)
    # Frames of a drive come in near-identical runs: split whole seconds of it, not frames.
    train_data, val_data = data.split(args.val_fraction, args.seed,
                                      block=BAG_SPLIT_BLOCK if args.bag else 1)
    at = sys.argv.index('train') if 'train' in sys.argv[1:] else 0  # after options like -v
    command = 'vbp-ros train ' + ' '.join(shlex.quote(a) for a in sys.argv[at + 1:]) \
        if at else ''
    info = {'data': data.source, 'frames': len(data), 'seed': args.seed,
            'max_curvature': args.max_curvature if not args.bag else None,
            'target': 'pure-pursuit curvature to the lane centre 15 m ahead, 1/m, + = left',
            'command': command}
    if not resume:  # only now that the data is there: a failure before keeps the old run
        _clear_earlier_run(run_dir)
    try:
        res = train(train_data, val_data, out, run_dir, cfg, preprocess=pre,
                    resume=resume, info=info)
    except KeyboardInterrupt:
        LOG.warning('interrupted: no model written; the checkpoint of the last finished epoch '
                    '(if any) is in %s, continue with the same command and --resume', run_dir)
        return 130
    last = res.history[-1] if res.history else {}
    rmse, std = last.get('val_rmse', float('nan')), last.get('target_std', float('nan'))
    LOG.info('val RMSE %.5f 1/m (target std %.5f), sign accuracy %.3f; masks in %s',
             rmse, std, last.get('val_sign_acc', float('nan')), run_dir)
    if rmse > std:
        LOG.warning('the model does worse than always predicting the mean curvature (val RMSE '
                    'above the targets\' std): train longer (--epochs) or on more data')
    return 0
