"""Per-frame latency of the pipeline the node runs: decode-free RGB frame -> steering + mask.

    python -m vbp_ros.pipeline.bench --device cuda --sizes 640x480 1280x720
    python -m vbp_ros.pipeline.bench --compile   # also compiled, as the node's compile:=true

Prints p50/p99 per stage with the mask on and off (the node skips the mask when nobody
listens), and the overlay's extra cost. Measurements only; nothing is asserted.
"""
from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

from vbp_ros.core.image import overlay
from vbp_ros.core.model_file import BUNDLED_MODEL, ModelSpec, save_model
from vbp_ros.core.pilotnet import PilotNet
from vbp_ros.pipeline.frame import FramePipeline


def _pct(values: list[float], q: float) -> float:
    return float(np.percentile(np.asarray(values) * 1e3, q))


def measure(pipes: dict[str, FramePipeline], width: int, height: int,
            frames: int) -> list[dict]:
    """Time ``frames`` calls of each pipeline (interleaved, so they share the machine's
    state) with the mask, without it, and the overlay; milliseconds."""
    rng = np.random.default_rng(0)
    pool = [rng.integers(0, 255, (height, width, 3), dtype=np.uint8) for _ in range(8)]
    rows = {name: {'total_mask': [], 'total_no_mask': [], 'overlay': []} for name in pipes}
    stages: dict[str, dict[str, list[float]]] = {name: {} for name in pipes}
    for i in range(frames):
        frame = pool[i % len(pool)]
        for name, pipe in pipes.items():
            t0 = time.perf_counter()
            res = pipe.process(frame, mask=True)
            t1 = time.perf_counter()
            pipe.process(frame, mask=False)
            t2 = time.perf_counter()
            overlay(frame, res.mask)
            t3 = time.perf_counter()
            rows[name]['total_mask'].append(t1 - t0)
            rows[name]['total_no_mask'].append(t2 - t1)
            rows[name]['overlay'].append(t3 - t2)
            for k, v in res.timings.items():
                stages[name].setdefault(k, []).append(v)
    return [{'size': f'{width}x{height}', 'device': str(pipe.device), 'variant': name,
             'ms': {k: {'p50': _pct(v, 50), 'p99': _pct(v, 99)}
                    for k, v in {**rows[name], **stages[name]}.items()}}
            for name, pipe in pipes.items()]


def main(argv: list[str] | None = None) -> int:
    """Command-line entry."""
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument('--device', default='auto')
    p.add_argument('--model', type=Path, default=None, help='default: the bundled model')
    p.add_argument('--sizes', nargs='+', default=['640x480', '1280x720'])
    p.add_argument('--frames', type=int, default=300)
    p.add_argument('--threads', type=int, default=1,
                   help="torch CPU threads (default 1, as the node's cpu_threads; 0: torch's "
                        'default)')
    p.add_argument('--compile', action='store_true',
                   help='also time the pipeline with model + VisualBackProp compiled (as the '
                        "node's compile parameter does), interleaved with the eager one")
    p.add_argument('--json', type=Path, default=None)
    args = p.parse_args(argv)
    if args.threads > 0:
        torch.set_num_threads(args.threads)
    model = args.model
    tmp = None
    if model is None and not BUNDLED_MODEL.is_file():  # timing does not need trained weights
        tmp = tempfile.TemporaryDirectory()
        model = Path(tmp.name) / 'pilotnet.safetensors'
        save_model(PilotNet(), model, ModelSpec())
    pipes = {'eager': FramePipeline(model, device=args.device)}
    if args.compile:
        compiled = FramePipeline(model, device=args.device, compile=True)
        if compiled.vbp.compile:
            pipes['compiled'] = compiled
        else:  # it fell back to eager (the warning above says why): nothing new to time
            print('compiled variant not timed: torch.compile failed', file=sys.stderr)
    results = []
    for size in args.sizes:
        w, h = (int(v) for v in size.split('x'))
        for r in measure(pipes, w, h, args.frames):
            results.append(r)
            print(f"{r['device']} {r['size']} {r['variant']}:")
            for k, v in r['ms'].items():
                print(f"  {k:14} p50 {v['p50']:7.3f} ms   p99 {v['p99']:7.3f} ms")
    if args.json:
        args.json.write_text(json.dumps(results, indent=1))
    return 0


if __name__ == '__main__':
    sys.exit(main())
