"""The README's library example runs as printed (its CUDA half where there is a GPU)."""
import pathlib
import re

import pytest
import torch

README = pathlib.Path(__file__).resolve().parents[1] / 'README.md'
CUDA_PART = 'from vbp_ros.core.cuda_graph import CudaGraphed'


def _library_example() -> str:
    text = README.read_text(encoding='utf-8')
    section = text[text.index('## VisualBackProp as a library'):]
    return re.search(r'```python\n(.*?)```', section, re.S).group(1)


def test_library_example_runs_on_cpu():
    cpu_part = _library_example().split(CUDA_PART)[0]
    ns: dict = {}
    exec(compile(cpu_part, 'README.md', 'exec'), ns)
    x, out, mask, res = ns['x'], ns['out'], ns['mask'], ns['res']
    assert out.shape == (x.shape[0], 1)
    assert mask.shape == (x.shape[0], *x.shape[2:])
    assert 0 <= float(mask.min()) and float(mask.max()) <= 1
    assert torch.equal(res.mask, mask)


@pytest.mark.skipif(not torch.cuda.is_available(), reason='needs CUDA')
def test_library_example_runs_on_cuda():
    ns: dict = {}
    exec(compile(_library_example(), 'README.md', 'exec'), ns)
    mask = ns['mask']
    assert mask.is_cuda and mask.shape == (1, 66, 200)
