"""``vbp-ros evaluate``: measure mask quality of VisualBackProp and the comparison methods.

On a held-out synthetic set: localisation on lane markings/road edges, faithfulness (deletion
curves) and the randomised-weights sanity check. Prints the tables and writes a figure, the
tables as Markdown and the numbers as JSON.
"""
from __future__ import annotations

import argparse
import json
import logging
from pathlib import Path

from vbp_ros.commands.arguments import positive_int

LOG = logging.getLogger(__name__)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options: model, held-out set size and seed, methods, output folder."""
    parser.add_argument('--model', default=None,
                        help='model file (default: the bundled PilotNet)')
    parser.add_argument('--model-class', default=None, help="'module:Class' for user models")
    parser.add_argument('--frames', type=positive_int, default=200, help='held-out synthetic frames')
    parser.add_argument('--seed', type=int, default=1_000_003,
                        help='world seed of the held-out set (training uses 0)')
    parser.add_argument('--methods', default='vbp,gradient,gradcam,lrp',
                        help='comma-separated method names')
    parser.add_argument('--out-dir', default='out/evaluate', help='figure, tables and JSON')
    parser.add_argument('--threads', type=int, default=0, help='torch CPU threads (0: default)')
    parser.add_argument('--no-progress', action='store_true')


def run(args: argparse.Namespace) -> int:
    """Evaluate and report."""
    import torch

    from vbp_ros.core.model_file import load_model
    from vbp_ros.training.evaluate import EvalConfig, evaluate, format_tables, save_figure

    if args.threads > 0:
        torch.set_num_threads(args.threads)
    from vbp_ros.core.methods import METHODS
    methods = tuple(m.strip() for m in args.methods.split(',') if m.strip())
    unknown = sorted(set(methods) - set(METHODS))
    if unknown or not methods:
        LOG.error('methods %s are not available (available: %s)', unknown or '(none given)',
                  ', '.join(sorted(METHODS)))
        return 2
    out = Path(args.out_dir)
    try:  # before the evaluation, not after it
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        LOG.error('cannot create the output folder %s: %s', out, exc)
        return 2
    model, spec = load_model(args.model, model_class=args.model_class)
    cfg = EvalConfig(frames=args.frames, seed=args.seed, methods=methods)
    res = evaluate(model, spec.preprocess, cfg, progress=not args.no_progress)
    text = format_tables(res)
    (out / 'evaluation.md').write_text(text)
    (out / 'evaluation.json').write_text(json.dumps(
        {'model': str(args.model or 'bundled'), 'frames': cfg.frames, 'seed': cfg.seed,
         'model_rmse': res.examples.get('model_rmse'), 'fractions': res.fractions,
         'rows': res.rows, 'curves': res.curves}, indent=2))
    fig = save_figure(res, out / 'evaluation.png')
    print(f'held-out set: {cfg.frames} synthetic frames (seed {cfg.seed}); model RMSE '
          f'{res.examples.get("model_rmse", float("nan")):.5f} 1/m\n')
    print(text)
    LOG.info('figure: %s; tables: %s', fig, out / 'evaluation.md')
    return 0
