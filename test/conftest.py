"""Shared fixtures: a seeded RNG, a tiny steering CNN, a synthetic road-like image, a fresh
loopback-only DDS domain per test, and whether torch.compile works here. torch is imported only
by the fixtures that need it, so the message, encoding and transport tests run without it."""
from __future__ import annotations

import itertools
import os
from pathlib import Path
from typing import Any

import numpy as np
import pytest


@pytest.fixture
def rng() -> np.random.Generator:
    return np.random.default_rng(1234)


@pytest.fixture
def tiny_cnn() -> Any:
    import torch
    from torch import nn
    torch.manual_seed(0)
    return nn.Sequential(
        nn.Conv2d(3, 8, 5, stride=2), nn.ReLU(),
        nn.Conv2d(8, 8, 3, stride=2), nn.ReLU(),
        nn.Conv2d(8, 8, 3), nn.ReLU(),
        nn.Flatten(), nn.LazyLinear(1),
    ).eval()


@pytest.fixture
def road_image(rng: np.random.Generator) -> np.ndarray:
    """480x640 RGB: sky, grey road trapezoid with white edge lines, noise."""
    img = np.zeros((480, 640, 3), np.uint8)
    img[:200] = (135, 180, 230)
    img[200:] = (60, 120, 50)
    for y in range(200, 480):
        half = int(20 + (y - 200) * 1.0)
        img[y, 320 - half:320 + half] = (90, 90, 90)
        img[y, 320 - half:320 - half + 6] = 255
        img[y, 320 + half - 6:320 + half] = 255
    noise = rng.integers(-8, 8, img.shape)
    return np.clip(img.astype(int) + noise, 0, 255).astype(np.uint8)


LOOPBACK = Path(__file__).resolve().parent / 'cyclonedds-loopback.xml'
# One DDS domain per test from 10..99 (0..101 are safe here; 100..101 are left to single
# tests). The start depends on the process id so that two test runs on one machine rarely
# share a domain.
_SPAN = range(10, 100)
_DOMAINS = itertools.islice(itertools.cycle(_SPAN), os.getpid() % len(_SPAN), None)


@pytest.fixture
def domain(monkeypatch: pytest.MonkeyPatch) -> int:
    """A fresh DDS domain bound to loopback (CYCLONEDDS_URI, ROS_DOMAIN_ID); returns its id.
    Skips the test where the cyclonedds package is missing (e.g. a ROS machine)."""
    pytest.importorskip('cyclonedds')
    dom = next(_DOMAINS)
    monkeypatch.setenv('CYCLONEDDS_URI', LOOPBACK.as_uri())
    monkeypatch.setenv('ROS_DOMAIN_ID', str(dom))
    return dom


@pytest.fixture(scope='session')
def inductor() -> None:
    """Skip unless torch.compile works here (on CPU TorchInductor builds C++ with the system
    compiler); a toy function is compiled once to find out."""
    import torch
    try:
        fn = torch.compile(lambda t: (t * 2).sum(), dynamic=False)
        ok = float(fn(torch.ones(3))) == 6.0
    except Exception as exc:  # no compiler, no Python headers, unsupported platform...
        pytest.skip(f'torch.compile unavailable here: {str(exc).splitlines()[0]}')
    if not ok:
        pytest.fail('torch.compile computed a toy sum wrongly')
