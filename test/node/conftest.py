"""Fixtures for the node tests: a model file, and an in-process node with a camera and an
output listener on a second participant (the loopback DDS `domain` is in test/conftest.py).
"""
from __future__ import annotations

from typing import Any, Callable, Iterator

import pytest


@pytest.fixture(scope='session')
def model_path(tmp_path_factory: pytest.TempPathFactory) -> str:
    """The bundled model if present, else a freshly initialised PilotNet in a temp file."""
    from vbp_ros.core.model_file import BUNDLED_MODEL
    if BUNDLED_MODEL.exists():
        return str(BUNDLED_MODEL)
    import torch

    from vbp_ros import ModelSpec, PilotNet, save_model
    torch.manual_seed(0)
    path = tmp_path_factory.mktemp('model') / 'pilotnet.safetensors'
    save_model(PilotNet(), path, ModelSpec(info={'note': 'untrained, for tests'}))
    return str(path)


@pytest.fixture(scope='session')
def pipeline(model_path: str) -> Any:
    """One warmed-up CPU FramePipeline shared by the in-process node tests."""
    from vbp_ros.pipeline.frame import FramePipeline
    return FramePipeline(model_path=model_path, device='cpu')


@pytest.fixture
def make_node(domain: int, pipeline: Any) -> Iterator[Callable[..., Any]]:
    """Start VbpNodes, each on its own DDS participant, from parameter values."""
    from vbp_ros.node.logic import VbpNode
    from vbp_ros.node.params import NodeParams
    from vbp_ros.transport.dds import DdsTransport
    made: list[tuple[Any, Any]] = []

    def make(**params: Any) -> Any:
        transport = DdsTransport('vbp', domain_id=domain)
        node = VbpNode(transport, pipeline=pipeline, params=NodeParams(**params))
        made.append((node, transport))
        return node

    yield make
    for node, transport in made:
        node.stop()
        transport.close()


@pytest.fixture
def peer(domain: int) -> Iterator[Any]:
    """A second participant (the 'outside world': camera and viewers)."""
    from vbp_ros.transport.dds import DdsTransport
    transport = DdsTransport('peer', domain_id=domain)
    yield transport
    transport.close()
