"""The parameter table, config/vbp.yaml, command-line overrides and the model/preprocessing."""
from __future__ import annotations

import argparse
import dataclasses
from pathlib import Path

import numpy as np
import pytest
import torch

from vbp_ros.node.mailbox import Mailbox
from vbp_ros.node.main import add_node_arguments
from vbp_ros.node.model import build_pipeline, preprocess_overrides
from vbp_ros.node.params import defaults, NODE_NAME, NodeParams, PARAMETERS
from vbp_ros.node.stats import NodeStats
from vbp_ros.transport.parameters import load_params_file, ParamError, resolve_values

CONFIG = Path(__file__).resolve().parents[2] / 'config' / 'vbp.yaml'


def test_table_and_dataclass_agree() -> None:
    fields = {f.name: f for f in dataclasses.fields(NodeParams)}
    assert set(fields) == {p.name for p in PARAMETERS}
    assert dataclasses.asdict(NodeParams()) == defaults()
    for spec in PARAMETERS:
        assert spec.description
        assert spec.validate(spec.default) == spec.default


def test_config_file_holds_the_defaults() -> None:
    values = load_params_file(CONFIG, NODE_NAME)
    unset = {p.name for p in PARAMETERS if p.default == []}
    assert set(values) == {p.name for p in PARAMETERS} - unset
    assert resolve_values(PARAMETERS, values) == defaults()
    # Each key's comment marks the parameters that can change while the node runs.
    lines = CONFIG.read_text().splitlines()
    marked = {line.split(':')[0].strip() for prev, line in zip(lines, lines[1:])
              if line.startswith('    ') and ':' in line and not line.lstrip().startswith('#')
              and prev.endswith('(live)')}
    assert marked == {p.name for p in PARAMETERS if p.live}


def parse(*argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    add_node_arguments(parser)
    return parser.parse_args(list(argv))


def test_parameter_files_match_the_remapped_node(domain: int, tmp_path: Path) -> None:
    from vbp_ros.node.main import make_transport
    shared = tmp_path / 'shared.yaml'
    # ('front_vbp:' alone would mean /front_vbp, as in rclpy: not this namespaced node.)
    shared.write_text('/**/front_vbp:\n  ros__parameters:\n    speed: 3.0\n'
                      '/robot/front_vbp:\n  ros__parameters:\n    wheelbase: 1.5\n'
                      '/**:\n  ros__parameters:\n    frame_rate: 30\n')
    args = parse('--middleware', 'cyclonedds', '--params-file', str(shared), '--ros-args',
                 '-r', '__node:=front_vbp', '-r', 'vbp:__ns:=/robot', '-r', 'other:__ns:=/x')
    transport = make_transport(args)
    try:
        values = transport.declare_parameters(PARAMETERS)  # frame_rate: another node's
        assert (values['speed'], values['wheelbase']) == (3.0, 1.5)
        assert (transport.node_name, transport.namespace) == ('front_vbp', '/robot')
    finally:
        transport.close()


def test_preprocessing_that_does_not_fit_is_a_parameter_error(model_path: str) -> None:
    for override, words in (({'crop': [0.9, 0.1, 0.0, 1.0]}, 'crop'),
                            ({'mean': [0.5]}, 'mean'), ({'input_size': [0, 200]}, 'input_size')):
        with pytest.raises(ParamError, match=f'preprocessing parameters \\({words}\\)'):
            build_pipeline(NodeParams(model_path=model_path, device='cpu', **override))


def test_overrides_on_the_dds_path(domain: int, tmp_path: Path) -> None:
    from vbp_ros.node.main import make_transport
    extra = tmp_path / 'extra.yaml'
    extra.write_text('vbp:\n  ros__parameters:\n    overlay_alpha: 0.2\n    depth: 2\n')
    args = parse('--middleware', 'cyclonedds', '--params-file', str(CONFIG), '--params-file',
                 str(extra), '--param', 'depth=7', '--ros-args', '-p', 'device:=cpu',
                 '-p', 'crop:=[0.5, 1.0, 0.1, 0.9]', '-r', '/camera/image_raw:=/front/image')
    transport = make_transport(args)
    try:
        values = transport.declare_parameters(PARAMETERS)
        assert values['overlay_alpha'] == 0.2 and values['depth'] == 7
        assert values['device'] == 'cpu' and values['crop'] == [0.5, 1.0, 0.1, 0.9]
        assert transport.resolve_topic('/camera/image_raw') == '/front/image'
    finally:
        transport.close()


@pytest.mark.parametrize('order, speed', [(('-p', 'file'), 3.0), (('file', '-p'), 1.0)])
def test_ros_args_apply_in_command_line_order(domain: int, tmp_path: Path, order: tuple,
                                              speed: float) -> None:
    from vbp_ros.node.main import make_transport
    mine = tmp_path / 'mine.yaml'
    mine.write_text('vbp:\n  ros__parameters:\n    speed: 3.0\n')
    words = {'-p': ['-p', 'speed:=1.0'], 'file': ['--params-file', str(mine)]}
    args = parse('--middleware', 'cyclonedds', '--ros-args', *words[order[0]], *words[order[1]])
    transport = make_transport(args)
    try:
        assert transport.declare_parameters(PARAMETERS)['speed'] == speed
    finally:
        transport.close()


@pytest.mark.parametrize('override', ['device:=tpu', 'overlay_alpha:=2.0', 'depth:=0',
                                      'mask_mode:=sometimes', 'no_such_param:=1'])
def test_bad_parameter_stops_with_its_name(domain: int, override: str) -> None:
    from vbp_ros.node.main import make_transport
    transport = make_transport(parse('--middleware', 'cyclonedds', '--ros-args', '-p', override))
    try:
        with pytest.raises(ParamError, match=override.split(':=')[0]):
            transport.declare_parameters(PARAMETERS)
    finally:
        transport.close()


def test_preprocessing_overrides_reach_the_pipeline(model_path: str) -> None:
    params = NodeParams(model_path=model_path, device='cpu', crop=[0.5, 1.0, 0.0, 1.0],
                        colour_space='rgb', wheelbase=3.0, steering_scale=2.0)
    assert preprocess_overrides(params) == {'crop': (0.5, 1.0, 0.0, 1.0), 'colour': 'rgb'}
    pipe = build_pipeline(params)
    assert pipe.preprocess.crop == (0.5, 1.0, 0.0, 1.0) and pipe.preprocess.colour == 'rgb'
    assert pipe.preprocess.size == (66, 200)
    assert (pipe.steering.wheelbase, pipe.steering.gain) == (3.0, 2.0)
    assert preprocess_overrides(NodeParams()) == {}
    assert not pipe.vbp.compile


class UserNet(torch.nn.Sequential):
    """A user's own steering CNN, not one of the package's architectures."""

    def __init__(self) -> None:
        super().__init__(torch.nn.Conv2d(3, 8, 5, stride=3), torch.nn.ELU(),
                         torch.nn.Conv2d(8, 4, 3, stride=2), torch.nn.ELU(),
                         torch.nn.AdaptiveAvgPool2d(1), torch.nn.Flatten(), torch.nn.Linear(4, 1))


def test_model_class_parameter_builds_the_users_network(tmp_path: Path) -> None:
    from vbp_ros.core.model_file import ModelSpec, save_model
    from vbp_ros.errors import ModelError
    path = str(tmp_path / 'user.safetensors')
    save_model(UserNet(), path, ModelSpec(arch=f'{__name__}:UserNet'))
    with pytest.raises(ModelError, match='model_class parameter'):
        build_pipeline(NodeParams(model_path=path, device='cpu'))  # no import from the file
    pipe = build_pipeline(NodeParams(model_path=path, model_class=f'{__name__}:UserNet',
                                     device='cpu'))
    assert type(pipe.model) is UserNet
    res = pipe.process(np.full((120, 160, 3), 90, np.uint8))
    assert res.mask is not None and res.mask.shape == (120, 160)
    assert pipe.vbp.layer_names(torch.zeros(1, 3, 66, 200)) == ['0', '2']


def test_compile_parameter_reaches_the_pipeline(model_path: str, inductor: None) -> None:
    pipe = build_pipeline(NodeParams(model_path=model_path, device='cpu', compile=True))
    assert pipe.vbp.compile and next(iter(pipe.vbp._plans.values())).compiled is not None


def test_mailbox_newest_wins() -> None:
    box = Mailbox()
    assert box.take(timeout=0) is None
    assert box.put(1) is False
    assert box.put(2) is True and box.put(3) is True
    assert box.take(timeout=0) == 3 and box.dropped == 2
    box.close()
    assert box.take(timeout=5) is None


def test_stats_percentiles() -> None:
    stats = NodeStats(window=10)
    for i in range(20):
        stats.add_timings({'total': i / 1000})
    p50, p99 = stats.percentiles('total')
    assert p50 == pytest.approx(0.0145) and p99 <= 0.019
    assert all(v != v for v in stats.percentiles('overlay'))   # NaN while empty


def test_list_params(capsys: pytest.CaptureFixture[str]) -> None:
    from vbp_ros.node.main import run_node
    assert run_node(parse('--list-params')) == 0
    out = capsys.readouterr().out
    for spec in PARAMETERS:
        assert f'{spec.name} = ' in out
    assert "device = 'auto'  [one of auto, cpu, cuda]" in out


def test_rclpy_gets_the_parameter_sources_in_the_dds_paths_order() -> None:
    from vbp_ros.node.main import rcl_arguments
    # rcl applies parameter files and -p in command-line order, later ones winning: so the
    # --params-file files first, then the user's --ros-args, then --param, as on DDS.
    argv = rcl_arguments(['mine.yaml'], ['-p', 'device:=cpu', '--'], ['speed=2.0'])
    assert argv[1:] == ['--ros-args', '--params-file', 'mine.yaml', '-p', 'device:=cpu', '--',
                        '--ros-args', '-p', 'speed:=2.0']
    assert rcl_arguments([], None, [])[1:] == ['--ros-args']
