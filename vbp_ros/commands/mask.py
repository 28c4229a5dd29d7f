"""`vbp-ros mask IMAGE...`: steering and attribution mask of image files, as overlay PNGs."""
from __future__ import annotations

import argparse
import logging
from pathlib import Path

import cv2
import numpy as np
import torch

from vbp_ros.core.image import COLORMAPS, overlay
from vbp_ros.core.methods import METHODS
from vbp_ros.core.model_file import load_model
from vbp_ros.errors import InputError
from vbp_ros.pipeline.steering import SteeringConversion

log = logging.getLogger('vbp_ros.mask')


def add_arguments(p: argparse.ArgumentParser) -> None:
    """Command-line options."""
    p.add_argument('images', nargs='+', type=Path, help='image files (PNG, JPEG, ...)')
    p.add_argument('--model', type=Path, default=None, help='model file (default: bundled)')
    p.add_argument('--model-class', default=None,
                   help="build this class ('module:Class') instead of the file's architecture")
    p.add_argument('--method', choices=sorted(METHODS), default='vbp')
    p.add_argument('--out', type=Path, default=Path('masks'), help='output folder')
    p.add_argument('--alpha', type=float, default=0.5)
    p.add_argument('--colormap', choices=sorted(COLORMAPS), default='jet')


def run(args: argparse.Namespace) -> int:
    """Write <out>/<name>_<method>.png for each image and log the steering (images with the
    same name get <name>-2_<method>.png, ...)."""
    model, spec = load_model(args.model, model_class=args.model_class)
    method = METHODS[args.method](model)
    steering = SteeringConversion()
    args.out.mkdir(parents=True, exist_ok=True)
    used: set[str] = set()
    for path in args.images:
        bgr = cv2.imread(str(path), cv2.IMREAD_COLOR)
        if bgr is None:
            raise InputError(f'cannot read image {path}')
        rgb = cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)
        x = torch.from_numpy(spec.preprocess(rgb))[None]
        out, mask = method(x)
        curvature = float(out.detach().reshape(-1)[0])
        small = (mask[0].cpu().numpy() * 255 + 0.5).astype(np.uint8)
        full = spec.preprocess.mask_to_frame(small, *rgb.shape[:2])
        name, n = path.stem, 1
        while name in used:  # a/x.png and b/x.png, or x.png and x.jpg
            n += 1
            name = f'{path.stem}-{n}'
        used.add(name)
        dest = args.out / f'{name}_{args.method}.png'
        cv2.imwrite(str(dest), overlay(rgb, full, args.alpha, args.colormap))
        log.info('%s: curvature %+.4f 1/m, steering %+.3f rad -> %s', path, curvature,
                 steering(curvature), dest)
    return 0
