"""The CPU code paths of VisualBackProp's chain, for tests that should hold on each."""
from __future__ import annotations

from typing import Iterator

import pytest


@pytest.fixture(params=['native', 'numpy', 'torch'])
def cpu_path(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """Compiled with Numba (the default where it is installed); in NumPy (batch 1 on one
    thread, without Numba); in PyTorch (otherwise)."""
    import torch
    if request.param == 'native':
        pytest.importorskip('numba')
        monkeypatch.delenv('VBP_ROS_NUMBA', raising=False)
    else:
        monkeypatch.setenv('VBP_ROS_NUMBA', '0')
    before = torch.get_num_threads()
    if request.param == 'numpy':
        torch.set_num_threads(1)
    yield request.param
    torch.set_num_threads(before)
