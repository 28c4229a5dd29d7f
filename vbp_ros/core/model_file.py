"""Steering-model files: safetensors weights plus JSON metadata, loaded without running code.

The metadata names a *registered* architecture and the preprocessing the model was trained with.
A file never names code to import: user architectures are passed by the caller explicitly.
"""
from __future__ import annotations

import importlib
import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, safe_open, save_file
from torch import nn

from vbp_ros.core.pilotnet import PilotNet
from vbp_ros.errors import ModelError
from vbp_ros.pipeline.preprocess import Preprocess

ARCHITECTURES: dict[str, Callable[..., nn.Module]] = {'pilotnet': PilotNet}
BUNDLED_MODEL = Path(__file__).resolve().parents[1] / 'models' / 'pilotnet_synthetic.safetensors'
METADATA_KEY = 'vbp_ros'
#: The metadata key of a training checkpoint (:mod:`vbp_ros.training.checkpoint`), which is
#: not a model file.
CHECKPOINT_KEY = 'vbp_ros_checkpoint'


@dataclass
class ModelSpec:
    """What a model file says about its network."""

    arch: str = 'pilotnet'
    arch_kwargs: dict[str, Any] = field(default_factory=dict)
    preprocess: Preprocess = field(default_factory=Preprocess)
    output: str = 'inverse_turning_radius'
    info: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> str:
        """Serialise for the safetensors metadata."""
        return json.dumps({'arch': self.arch, 'arch_kwargs': self.arch_kwargs,
                           'preprocess': self.preprocess.to_dict(), 'output': self.output,
                           'info': self.info})

    @classmethod
    def from_json(cls, text: str) -> ModelSpec:
        """Parse the safetensors metadata.

        Raises:
            ValueError, TypeError: not the metadata this module writes.
        """
        d = json.loads(text)
        if (not isinstance(d, dict) or not isinstance(d.get('arch_kwargs', {}), dict)
                or not isinstance(d.get('arch', ''), str)):
            raise ValueError('metadata is not a JSON object of model settings')
        return cls(arch=d.get('arch', 'pilotnet'), arch_kwargs=d.get('arch_kwargs', {}),
                   preprocess=Preprocess.from_dict(d.get('preprocess', {})),
                   output=d.get('output', 'inverse_turning_radius'), info=d.get('info', {}))


def check_writable(path: str | Path) -> Path:
    """Make ``path``'s folder and check a file can be written there (before hours of training).

    Raises:
        ModelError: the folder cannot be made or written to, or ``path`` is a folder.
    """
    path = Path(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ModelError(f'cannot create the folder of {path}: {exc}') from None
    if path.is_dir() or not os.access(path.parent, os.W_OK):
        raise ModelError(f'cannot write the model file {path}')
    return path


def save_model(model: nn.Module, path: str | Path, spec: ModelSpec) -> None:
    """Write ``model``'s weights and ``spec`` to a safetensors file.

    Raises:
        ModelError: the file cannot be written.
    """
    state = {k: v.detach().contiguous().cpu() for k, v in model.state_dict().items()}
    path = check_writable(path)
    try:
        save_file(state, str(path), metadata={METADATA_KEY: spec.to_json()})
    except OSError as exc:
        raise ModelError(f'cannot write the model file {path}: {exc}') from None
    share_as_umask_allows(path)


def share_as_umask_allows(path: Path) -> None:
    """Give a file the mode new files get (safetensors creates them readable by the owner
    only, unlike every other output)."""
    try:  # Linux says it without changing it (os.umask would, for a moment, for all threads)
        status = Path('/proc/self/status').read_text()
        mask = int(status.split('Umask:', 1)[1].split()[0], 8)
    except (OSError, IndexError, ValueError):
        mask = os.umask(0o022)
        os.umask(mask)
    path.chmod(0o666 & ~mask)


def read_spec(path: str | Path) -> ModelSpec:
    """Read only the metadata of a model file."""
    try:
        with safe_open(str(path), framework='pt') as f:
            meta = f.metadata() or {}
    except (OSError, SafetensorError) as exc:
        raise ModelError(f'cannot read model file {path}: {exc}') from None
    if CHECKPOINT_KEY in meta:
        raise ModelError(f'{path} is a training checkpoint (for `vbp-ros train --resume`), not '
                         'a model file: use the file that `vbp-ros train --out` wrote')
    if METADATA_KEY not in meta:
        return ModelSpec()
    try:
        return ModelSpec.from_json(meta[METADATA_KEY])
    except (ValueError, TypeError, AttributeError, KeyError) as exc:  # JSONDecodeError included
        raise ModelError(f'model file {path} has unreadable metadata: {exc}') from None


def resolve_class(spec: str) -> Callable[..., nn.Module]:
    """Find a model class given as 'package.module:Class' (an explicit user choice)."""
    if spec in ARCHITECTURES:
        return ARCHITECTURES[spec]
    module_name, _, attr = spec.partition(':')
    if not attr:
        msg = f"model class {spec!r}: use one of {sorted(ARCHITECTURES)} or 'module:Class'"
        raise ModelError(msg)
    try:
        return getattr(importlib.import_module(module_name), attr)
    except (ImportError, AttributeError) as exc:
        raise ModelError(f'cannot import model class {spec!r}: {exc}') from None


def load_model(path: str | Path | None = None, *, model_class: str | None = None,
               device: str | torch.device = 'cpu') -> tuple[nn.Module, ModelSpec]:
    """Load a steering model in eval mode; ``path=None`` loads the bundled PilotNet.

    Args:
        path: safetensors file written by :func:`save_model` (or any safetensors state dict when
            ``model_class`` is given).
        model_class: registered name or 'module:Class' to build instead of the file's ``arch``.
        device: where to put the model.

    Raises:
        ModelError: the file is missing or unreadable, or the weights do not fit the network.
    """
    path = Path(path) if path else BUNDLED_MODEL
    if path.is_dir():
        raise ModelError(f'{path} is a folder, not a model file')
    if path.exists() and not path.is_file():
        raise ModelError(f'{path} is not a regular file (a device or a pipe?)')
    if not path.is_file():
        hint = ' (train one with `vbp-ros train`)' if path == BUNDLED_MODEL else ''
        raise ModelError(f'model file not found: {path}{hint}')
    spec = read_spec(path)
    if model_class is None and spec.arch not in ARCHITECTURES:
        msg = (f'{path} was saved from architecture {spec.arch!r}, which is not registered; '
               f"pass model_class='module:Class' (--model-class on the command line, "
               f"the model_class parameter of the node) to build it")
        raise ModelError(msg)
    cls = resolve_class(model_class or spec.arch)
    # The file's constructor arguments belong to the file's architecture only.
    kwargs = spec.arch_kwargs if model_class in (None, spec.arch) else {}
    try:
        _check_shapes(path, cls, kwargs)
        model = cls(**kwargs)
        model.load_state_dict(load_file(str(path)))
    except (RuntimeError, TypeError, ValueError, SafetensorError) as exc:
        raise ModelError(f'weights in {path} do not fit {cls.__name__}: {exc}') from None
    return model.to(device).eval(), spec


def _check_shapes(path: Path, cls: Callable[..., nn.Module], kwargs: dict[str, Any]) -> None:
    """Compare the network's parameter shapes with the file's before building it for real.

    The network is built on the meta device (no memory), so constructor arguments from a
    file's metadata (e.g. an ``in_size`` of 2000x2000, 1.7 GB of dense weights) cannot make
    loading allocate more than the file holds. A class that cannot be built there is checked
    by ``load_state_dict`` alone.
    """
    try:
        with torch.device('meta'):
            shapes = {k: tuple(v.shape) for k, v in cls(**kwargs).state_dict().items()}
    except Exception:  # noqa: BLE001 -- no meta support (old torch, real work in __init__)
        return
    with safe_open(str(path), 'pt') as f:
        for name in f.keys():
            stored = tuple(f.get_slice(name).get_shape())
            if name in shapes and shapes[name] != stored:
                msg = f'{name} is {stored} in the file but {shapes[name]} in the network'
                raise ValueError(msg)
