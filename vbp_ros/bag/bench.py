"""Throughput of ``vbp-ros process``: ``python -m vbp_ros.bag.bench [--frames 300]``.

Writes a synthetic 1280x720 camera bag (sensor_msgs/Image bgr8) to a temporary folder, processes
it the way ``vbp-ros process`` does (steering + masks, and optionally overlays), and prints the
measured frames per second overall and per stage, plus each stage alone. It measures, it does not
judge: no thresholds.
"""
from __future__ import annotations

import argparse
import os
from pathlib import Path
import shutil
import tempfile
import time

import cv2
import numpy as np

from vbp_ros.bag.io import BagReader, BagWriter
from vbp_ros.bag.process import COMPRESSED, default_torch_threads, IMAGE, process_bag
from vbp_ros.bag.process import ProcessOptions, torch_threads


def synthetic_frame(i: int, width: int = 1280, height: int = 720) -> np.ndarray:
    """Draw a road-like BGR frame that changes with ``i`` (sky, road, lane marks)."""
    img = np.empty((height, width, 3), np.uint8)
    horizon = int(height * 0.42)
    img[:horizon] = (200, 160, 110)
    img[horizon:] = (70, 90, 70)
    shift = int(width * 0.15 * np.sin(i / 25.0))
    cx = width // 2 + shift
    road = np.array([[cx - 40, horizon], [cx + 40, horizon], [width - 50, height],
                     [50, height]], np.int32)
    cv2.fillPoly(img, [road], (90, 90, 90))
    for k in range(6):
        y0 = horizon + (k * 60 + i * 7) % (height - horizon)
        x = cx + (width // 2 - cx) * (y0 - horizon) // (height - horizon)
        cv2.line(img, (x, y0), (x, min(height - 1, y0 + 25)), (240, 240, 240), 6)
    return img


def write_camera_bag(path: Path, frames: int, width: int = 1280, height: int = 720,
                     topic: str = '/camera/image_raw', storage: str = 'mcap',
                     fps: float = 30.0, encoding: str = 'bgr8') -> None:
    """Write a bag of ``frames`` camera images at ``fps``.

    ``encoding`` 'bgr8' or 'rgb8' gives sensor_msgs/Image, 'jpeg' CompressedImage (quality 90,
    with sensor-like noise so the files are as large as a real camera's).
    """
    from vbp_ros import msgs
    from vbp_ros.encodings import encode_compressed

    base = 1_700_000_000_000_000_000
    noise = np.random.default_rng(0).integers(-12, 13, (height, width, 3)).astype(np.int16)
    with BagWriter(path, storage=storage) as w:
        for i in range(frames):
            t = base + int(i * 1e9 / fps)
            header = msgs.Header(stamp=msgs.Time(sec=t // 10**9, nanosec=t % 10**9),
                                 frame_id='camera')
            bgr = synthetic_frame(i, width, height)
            if encoding == 'jpeg':
                noisy = np.clip(bgr + np.roll(noise, i * 7, axis=1), 0, 255).astype(np.uint8)
                jpg = encode_compressed(noisy, header, fmt='jpeg', quality=90)
                w.write(topic, COMPRESSED, msgs.serialize(jpg), t)
                continue
            arr = bgr if encoding == 'bgr8' else cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)
            img = msgs.Image(header=header, height=height, width=width, encoding=encoding,
                             is_bigendian=0, step=3 * width, data=arr.tobytes())
            w.write(topic, IMAGE, msgs.serialize(img), t)


def _model(tmp: Path) -> Path | None:
    from vbp_ros.core.model_file import BUNDLED_MODEL

    if BUNDLED_MODEL.is_file():
        return None
    import torch

    from vbp_ros import ModelSpec, PilotNet, save_model

    torch.manual_seed(0)
    path = tmp / 'pilotnet_random.safetensors'
    save_model(PilotNet(), path, ModelSpec(info={'note': 'untrained, benchmark only'}))
    return path


def _stage_alone(bag: Path, pipeline: object, batch: int, threads: int | None
                 ) -> dict[str, float]:
    """Seconds per frame of each stage run by itself (no overlap)."""
    from vbp_ros import msgs
    from vbp_ros.encodings import decode_image

    out: dict[str, float] = {}
    t0 = time.perf_counter()
    with BagReader(bag) as r:
        raw = [d for _, _, d in r.messages(zero_copy=True)]
    n = len(raw)
    out['read'] = (time.perf_counter() - t0) / n
    t0 = time.perf_counter()
    rgbs = [decode_image(msgs.deserialize(d, msgs.Image)) for d in raw]
    out['decode'] = (time.perf_counter() - t0) / n
    del raw
    t0 = time.perf_counter()
    results = []
    with torch_threads(pipeline, threads):
        for i in range(0, n, batch):
            results += pipeline.process_batch(rgbs[i:i + batch], mask=True)  # type: ignore
    out['infer'] = (time.perf_counter() - t0) / n
    with tempfile.TemporaryDirectory() as tmp:
        t0 = time.perf_counter()
        header = msgs.Header()
        blobs = []
        for res in results:
            h, w = res.mask.shape
            drive = msgs.AckermannDriveStamped(
                header=header, drive=msgs.AckermannDrive(steering_angle=res.steering_angle))
            blobs.append(msgs.serialize(drive))
            blobs.append(msgs.serialize(msgs.Image(header=header, height=h, width=w,
                                                   encoding='mono8', step=w,
                                                   data=memoryview(res.mask).cast('B'))))
        out['serialize'] = (time.perf_counter() - t0) / n
        t0 = time.perf_counter()
        with BagWriter(Path(tmp) / 'o') as w:
            for i, b in enumerate(blobs):
                w.write('/vbp/steering' if i % 2 == 0 else '/vbp/mask',
                        'ackermann_msgs/msg/AckermannDriveStamped' if i % 2 == 0 else IMAGE,
                        b, i)
        out['write'] = (time.perf_counter() - t0) / n
    return out


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark and print its numbers."""
    parser = argparse.ArgumentParser(prog='python -m vbp_ros.bag.bench', description=__doc__)
    parser.add_argument('--frames', type=int, default=300)
    parser.add_argument('--width', type=int, default=1280)
    parser.add_argument('--height', type=int, default=720)
    parser.add_argument('--batch-size', type=int, default=32)
    parser.add_argument('--threads', type=int, default=None,
                        help='torch threads during processing (default: as vbp-ros process)')
    parser.add_argument('--device', default='auto')
    parser.add_argument('--storage', choices=('mcap', 'sqlite3'), default='mcap')
    parser.add_argument('--encoding', choices=('bgr8', 'rgb8', 'jpeg'), default='bgr8',
                        help='camera frames as raw Image (bgr8/rgb8) or CompressedImage (jpeg)')
    parser.add_argument('--overlay', action='store_true', help='also time JPEG overlays')
    parser.add_argument('--repeat', type=int, default=3,
                        help='process the bag this many times per mode (the machine may be shared:'
                        ' best and median are reported)')
    parser.add_argument('--no-alone', dest='alone', action='store_false',
                        help='skip timing each stage by itself')
    args = parser.parse_args(argv)

    from vbp_ros.pipeline.frame import FramePipeline

    with tempfile.TemporaryDirectory(prefix='vbp_bench_') as tmpdir:
        tmp = Path(tmpdir)
        t0 = time.perf_counter()
        write_camera_bag(tmp / 'in', args.frames, args.width, args.height, storage=args.storage,
                         encoding=args.encoding)
        os.sync()  # its write-back would otherwise compete with the output's
        size = sum(p.stat().st_size for p in (tmp / 'in').iterdir()) / 2**20
        print(f'input: {args.frames} frames {args.width}x{args.height} {args.encoding}, '
              f'{size:.0f} MiB '
              f'{args.storage}, written and synced in {time.perf_counter() - t0:.1f} s')
        pipe = FramePipeline(model_path=_model(tmp), device=args.device)
        threads = args.threads or default_torch_threads()
        print(f'device: {pipe.device}, torch threads during runs: {threads}, '
              f'batch: {args.batch_size}, CPUs: {os.cpu_count()}, '
              f'load average before: {os.getloadavg()[0]:.2f}')
        common = {'batch_size': args.batch_size, 'storage': args.storage,
                  'torch_threads': args.threads}
        modes = [('steering + masks', ProcessOptions(**common))]
        if args.overlay:
            modes.append(('steering + masks + JPEG overlays',
                          ProcessOptions(overlay=True, **common)))
        for k, (label, opts) in enumerate(modes):
            reports = []
            for r in range(max(1, args.repeat)):
                out = tmp / f'out{k}_{r}'
                reports.append(process_bag(tmp / 'in', out, opts, pipeline=pipe))
                size = sum(p.stat().st_size for p in out.iterdir()) / 2**20
                shutil.rmtree(out)
            rates = sorted(rep.fps for rep in reports)
            best = max(reports, key=lambda rep: rep.fps)
            print(f'\n{label}: {best.frames} frames, output {size:.0f} MiB; frames/s per run: '
                  + ', '.join(f'{rep.fps:.1f}' for rep in reports)
                  + f'; best {rates[-1]:.1f}, median {rates[len(rates) // 2]:.1f}')
            cpu = min(rep.cpu_seconds / rep.frames for rep in reports)
            cores = os.cpu_count() or 1
            print(f'  CPU time (all threads): {1e3 * cpu:.2f} ms/frame; {cores} cores could '
                  f'do at most {cores / cpu:.0f} frames/s with nothing else running')
            print('  busy time per stage in the best run (stages overlap), ms/frame:')
            for key, sec in sorted(best.stage_seconds.items()):
                print(f'    {key:24s} {1e3 * sec / best.frames:7.2f}')
        if args.alone and args.encoding != 'jpeg':
            alone = _stage_alone(tmp / 'in', pipe, args.batch_size, args.threads)
            print('\neach stage alone (steering + masks), ms/frame and frames/s:')
            for key, sec in alone.items():
                print(f'    {key:10s} {1e3 * sec:7.2f}  {1 / sec:8.1f}')
            print(f'    {"sum":10s} {1e3 * sum(alone.values()):7.2f}  '
                  f'{1 / sum(alone.values()):8.1f}  (what no overlap would give)')
    return 0


if __name__ == '__main__':
    raise SystemExit(main())
