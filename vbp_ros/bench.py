"""Benchmark: forward vs forward + VisualBackProp vs the comparison methods.

Every configuration times all methods in interleaved rounds (one call of each per round, so
load changes hit all alike) and reports the median per call and the ratio to the forward pass
measured in the same rounds. Nothing is asserted: these are measurements.

    python -m vbp_ros.bench                 # CPU: 1 and all threads, batch 1 and 8, two sizes
    python -m vbp_ros.bench --device cuda   # adds CUDA graphs; the one-command GPU benchmark
    python -m vbp_ros.bench --compile       # adds torch.compile'd forward and forward+VBP

Variants are named ``method[variant]`` and compared with ``forward[variant]``: a compiled
VisualBackProp with a compiled forward pass, a CUDA graph with a CUDA graph.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import time
from typing import Callable

import torch

from vbp_ros.commands.arguments import positive_float, positive_int
from vbp_ros.core.pilotnet import PilotNet
from vbp_ros.core.visualbackprop import native_chain_available, VisualBackProp

SIZES = {'66x200': (66, 200), '256x455': (256, 455)}


#: The comparison methods ``--methods`` can name.
BASELINES = ('gradient', 'gradcam', 'lrp')


def _methods(model: torch.nn.Module, x: torch.Tensor, names: list[str],
             graphs: bool, compiled: bool = False, without_numba: bool = False
             ) -> dict[str, Callable[[], object]]:
    vbp = VisualBackProp(model)
    fns: dict[str, Callable[[], object]] = {
        'forward': lambda: model(x),
        'forward+vbp': lambda: vbp(x),
    }
    if without_numba and x.device.type == 'cpu' and native_chain_available():
        fallback = _without_numba(model, x)
        fns['forward+vbp[no-numba]'] = lambda: fallback(x)
    if graphs:
        from vbp_ros.core.cuda_graph import CudaGraphed
        g_fwd = CudaGraphed(model, x)
        g_vbp = CudaGraphed(vbp, x)
        fns['forward[graph]'] = lambda: g_fwd(x)
        fns['forward+vbp[graph]'] = lambda: g_vbp(x)
    if compiled:
        fns.update(_compiled(model, x, 'compiled', None))
    if compiled and graphs and 'forward[compiled]' in fns:
        # Inductor's kernels replayed as CUDA graphs.
        fns.update(_compiled(model, x, 'compiled-graph', 'reduce-overhead'))
    if names:
        from vbp_ros.core.methods import CAPTUM_MISSING, METHODS
        missing = [name for name in names if name not in METHODS]
        if missing:  # Grad-CAM and LRP come from captum, an optional dependency
            print(f'not timed, as captum cannot be imported ({CAPTUM_MISSING}): '
                  f'{", ".join(missing)}', file=sys.stderr)
        for name in names:
            if name in METHODS and name != 'vbp':
                m = METHODS[name](model)
                fns[name] = lambda m=m: m(x)
    return fns


def _without_numba(model: torch.nn.Module, x: torch.Tensor) -> VisualBackProp:
    """A VisualBackProp whose plan for ``x`` was made with ``VBP_ROS_NUMBA=0``: the chain in
    NumPy or PyTorch, as where Numba is not installed."""
    vbp = VisualBackProp(model)
    before = os.environ.get('VBP_ROS_NUMBA')
    os.environ['VBP_ROS_NUMBA'] = '0'
    try:
        vbp(x)
    finally:
        if before is None:
            del os.environ['VBP_ROS_NUMBA']
        else:
            os.environ['VBP_ROS_NUMBA'] = before
    return vbp


def _compiled(model: torch.nn.Module, x: torch.Tensor, variant: str, mode: str | None
              ) -> dict[str, Callable[[], object]]:
    """Compiled forward and forward+VBP, compiled now (and, with CUDA graphs, recorded and
    replayed: Inductor records on the second call); none if that fails (e.g. no C++
    compiler), which is said, so that the rest is still timed."""
    c_fwd = torch.compile(model, dynamic=False, mode=mode)
    c_vbp = VisualBackProp(model, compile=mode or True)
    try:
        for _ in range(3):
            c_fwd(x), c_vbp(x)
    except Exception as exc:  # noqa: BLE001 -- Inductor raises many kinds
        first = (str(exc).strip().splitlines() or [''])[0]
        print(f'torch.compile failed, {variant} variants skipped: {type(exc).__name__}: '
              f'{first}', file=sys.stderr)
        return {}
    return {f'forward[{variant}]': lambda: c_fwd(x),
            f'forward+vbp[{variant}]': lambda: c_vbp(x)}


def _time_interleaved(fns: dict[str, Callable[[], object]], rounds: int, sync: bool,
                      budget_s: float) -> dict[str, float]:
    """Median seconds per call of each function over interleaved rounds."""
    samples: dict[str, list[float]] = {k: [] for k in fns}
    for f in fns.values():  # warm-up
        for _ in range(3):
            f()
    start = time.perf_counter()
    for r in range(rounds):
        for name, f in fns.items():
            if sync:
                torch.cuda.synchronize()
            t0 = time.perf_counter()
            f()
            if sync:
                torch.cuda.synchronize()
            samples[name].append(time.perf_counter() - t0)
        if r >= 10 and time.perf_counter() - start > budget_s:
            break
    return {k: statistics.median(v) for k, v in samples.items()}


def run(device: str = 'cpu', sizes: list[str] | None = None, batches: list[int] | None = None,
        threads: list[int] | None = None, methods: list[str] | None = None, rounds: int = 200,
        budget_s: float = 20.0, graphs: bool = True, channels_last: bool = False,
        compiled: bool = False, without_numba: bool = False) -> list[dict]:
    """Run every configuration; return one row per (config, method)."""
    dev = torch.device(device)
    sizes = sizes or list(SIZES)
    batches = batches or [1, 8]
    threads = threads or ([1, os.cpu_count() or 1] if dev.type == 'cpu'
                          else [torch.get_num_threads()])
    methods = list(BASELINES) if methods is None else methods
    rows = []
    for n_threads in dict.fromkeys(threads):
        torch.set_num_threads(n_threads)
        for size in sizes:
            for batch in batches:
                torch.manual_seed(0)
                model = PilotNet(in_size=SIZES[size]).to(dev).eval()
                x = torch.randn(batch, 3, *SIZES[size], device=dev)
                if channels_last:  # the layout the node's pipeline runs in
                    model = model.to(memory_format=torch.channels_last)
                    x = x.contiguous(memory_format=torch.channels_last)
                # no_grad, not inference_mode: the gradient baselines re-enable autograd.
                with torch.no_grad():
                    fns = _methods(model, x, methods, graphs and dev.type == 'cuda', compiled,
                                   without_numba)
                    med = _time_interleaved(fns, rounds, dev.type == 'cuda', budget_s)
                for name, t in med.items():
                    variant = name[name.find('['):] if name.endswith(']') else ''
                    base = med.get('forward' + variant, med['forward'])  # [no-numba]
                    rows.append({'device': str(dev), 'threads': n_threads, 'size': size,
                                 'layout': 'channels_last' if channels_last else 'nchw',
                                 'batch': batch, 'method': name, 'ms': t * 1e3,
                                 'ratio_to_forward': t / base,
                                 'extra_vs_forward': (t - base) / base})
    return rows


def report(rows: list[dict]) -> str:
    """A plain-text table, plus the paper's comparison: LRP's extra cost over VBP's."""
    lines = [f"{'device':6} {'thr':>3} {'size':>8} {'batch':>5} {'method':27} {'ms':>9} "
             f"{'x fwd':>7} {'extra':>8}"]
    for r in rows:
        lines.append(f"{r['device']:6} {r['threads']:3d} {r['size']:>8} {r['batch']:5d} "
                     f"{r['method']:27} {r['ms']:9.3f} {r['ratio_to_forward']:7.2f} "
                     f"{100 * r['extra_vs_forward']:7.1f}%")
    by = {}
    for r in rows:
        by.setdefault((r['device'], r['threads'], r['size'], r['batch']), {})[r['method']] = r
    for key, m in by.items():
        if 'lrp' not in m:
            continue
        lrp_extra = m['lrp']['ms'] - m['forward']['ms']
        # LRP (captum, autograd) runs eagerly; VBP also as it runs in the node on CUDA (graph).
        variants = {'': 'VBP', '[no-numba]': 'VBP (without Numba)', '[graph]': 'VBP (CUDA graph)',
                    '[compiled]': 'VBP (compiled)',
                    '[compiled-graph]': 'VBP (compiled, CUDA graph)'}
        for variant, what in variants.items():
            if 'forward+vbp' + variant not in m:
                continue
            base = m.get('forward' + variant, m['forward'])
            vbp_extra = m['forward+vbp' + variant]['ms'] - base['ms']
            if vbp_extra > 0:
                lines.append(f'{key}: LRP extra cost / {what} extra cost = '
                             f'{lrp_extra / vbp_extra:.0f}x')
            else:
                lines.append(f'{key}: {what} extra cost below the noise of the forward pass; '
                             f'LRP extra cost {lrp_extra:.2f} ms')
    return '\n'.join(lines)


def main(argv: list[str] | None = None) -> int:
    """Command-line entry (also ``vbp-ros bench``)."""
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_arguments(p)
    return run_args(p.parse_args(argv))


def add_arguments(p: argparse.ArgumentParser) -> None:
    """Options shared by ``python -m vbp_ros.bench`` and ``vbp-ros bench``."""
    p.add_argument('--device', default='cpu', help="'cpu', 'cuda' or 'auto'")
    p.add_argument('--sizes', nargs='+', choices=list(SIZES), default=None)
    p.add_argument('--batches', nargs='+', type=positive_int, default=None)
    p.add_argument('--threads', nargs='+', type=positive_int, default=None,
                   help='CPU thread counts (default: 1 and all cores)')
    p.add_argument('--methods', nargs='*', default=None,
                   help='comparison methods to time (default: gradient gradcam lrp)')
    p.add_argument('--rounds', type=positive_int, default=200)
    p.add_argument('--budget', type=positive_float, default=20.0,
                   help='max seconds per configuration')
    p.add_argument('--no-graphs', action='store_true', help='skip CUDA graph variants')
    p.add_argument('--compile', action='store_true',
                   help="also time torch.compile'd forward and forward+vbp, on CUDA also "
                        'with CUDA graphs (compiling takes seconds per configuration)')
    p.add_argument('--without-numba', action='store_true',
                   help='also time VisualBackProp with its CPU chain in NumPy/PyTorch, as '
                        'without Numba (a third call per round, which slows the others)')
    p.add_argument('--channels-last', action='store_true',
                   help='model and input in channels_last (as the node runs them)')
    p.add_argument('--json', help='also write the rows to this JSON file')


def run_args(args: argparse.Namespace) -> int:
    """Run with parsed arguments and print the table."""
    device = args.device
    if device == 'auto':
        device = 'cuda' if torch.cuda.is_available() else 'cpu'
    unknown = sorted(set(args.methods or ()) - set(BASELINES))
    if unknown:
        print(f'unknown methods {unknown} (known: {", ".join(BASELINES)})', file=sys.stderr)
        return 2
    try:
        kind = torch.device(device).type
    except RuntimeError:
        print(f'unknown device {device!r} (use cpu, cuda, cuda:N or auto)', file=sys.stderr)
        return 2
    if kind == 'cuda' and not torch.cuda.is_available():
        print(f'device {device!r} requested but CUDA is not available', file=sys.stderr)
        return 2
    rows = run(device, args.sizes, args.batches, args.threads, args.methods, args.rounds,
               args.budget, not args.no_graphs, args.channels_last, args.compile,
               args.without_numba)
    print(report(rows))
    if args.json:
        meta = {'torch': torch.__version__, 'python': platform.python_version(),
                'cpu': platform.processor() or platform.machine(), 'cores': os.cpu_count(),
                'gpu': torch.cuda.get_device_name() if torch.cuda.is_available() else None}
        with open(args.json, 'w') as f:
            json.dump({'meta': meta, 'rows': rows}, f, indent=1)
    return 0


if __name__ == '__main__':
    sys.exit(main())
