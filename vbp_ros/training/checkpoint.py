"""Resumable training checkpoints in safetensors: weights, Adam state and progress metadata.

The optimizer state is flattened to tensors named ``optim.<param index>.<field>``; scalars
(epoch, step, config, history) go in the JSON metadata. Nothing in a checkpoint runs code.
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file
from torch import nn

from vbp_ros.core.model_file import CHECKPOINT_KEY, share_as_umask_allows
from vbp_ros.training.errors import TrainingError


def save_checkpoint(path: str | Path, model: nn.Module, optimizer: torch.optim.Optimizer,
                    meta: dict[str, Any]) -> None:
    """Write model weights, optimizer state and ``meta`` atomically (temp file + rename)."""
    tensors = {f'model.{k}': v.detach().contiguous().cpu() for k, v in model.state_dict().items()}
    state = optimizer.state_dict()
    for idx, st in state['state'].items():
        for name, value in st.items():
            t = value if torch.is_tensor(value) else torch.tensor(value)
            tensors[f'optim.{idx}.{name}'] = t.detach().contiguous().cpu()
    meta = {**meta, 'param_groups': state['param_groups']}
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix('.tmp')
    save_file(tensors, str(tmp), metadata={CHECKPOINT_KEY: json.dumps(meta)})
    share_as_umask_allows(tmp)
    tmp.replace(path)


def checkpoint_meta(path: str | Path) -> dict[str, Any]:
    """The metadata of a checkpoint, without loading its tensors (to check it early).

    Raises:
        TrainingError: not a readable training checkpoint of this package.
    """
    from safetensors import safe_open

    try:
        with safe_open(str(path), framework='pt') as f:
            text = (f.metadata() or {}).get(CHECKPOINT_KEY)
    except (OSError, SafetensorError) as exc:
        raise TrainingError(f'cannot read checkpoint {path}: {exc}') from None
    if text is None:
        raise TrainingError(f'{path} is not a vbp_ros training checkpoint (a model file?)')
    try:
        meta = json.loads(text)
    except json.JSONDecodeError as exc:
        raise TrainingError(f'cannot read checkpoint {path}: {exc}') from None
    if not isinstance(meta, dict):
        raise TrainingError(f'cannot read checkpoint {path}: its metadata is not an object')
    return meta


def load_checkpoint(path: str | Path, model: nn.Module, optimizer: torch.optim.Optimizer
                    ) -> dict[str, Any]:
    """Restore ``model`` and ``optimizer`` from a checkpoint; return its metadata.

    Raises:
        TrainingError: the file is missing, unreadable, or does not fit the model.
    """
    meta = checkpoint_meta(path)
    try:
        tensors = load_file(str(path))
    except (OSError, SafetensorError) as exc:
        raise TrainingError(f'cannot read checkpoint {path}: {exc}') from None
    weights = {k[6:]: v for k, v in tensors.items() if k.startswith('model.')}
    try:
        model.load_state_dict(weights)
    except RuntimeError as exc:
        raise TrainingError(f'checkpoint {path} does not fit the model: {exc}') from None
    opt_state: dict[int, dict[str, torch.Tensor]] = {}
    for k, v in tensors.items():
        if k.startswith('optim.'):
            _, idx, name = k.split('.', 2)
            opt_state.setdefault(int(idx), {})[name] = v
    optimizer.load_state_dict({'state': opt_state, 'param_groups': meta.pop('param_groups')})
    return meta
