"""Parameter declarations that both middlewares understand, and ROS-style parameter files.

A :class:`ParamSpec` becomes an rclpy ``ParameterDescriptor`` (description, ranges, allowed
values) on ROS 2, and is validated here on the DDS path, where values come from a ROS 2 parameter
file (``<node>: ros__parameters:`` or ``/**: ros__parameters:``) and ``name:=value`` overrides.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
import re
from typing import Any, Collection, Iterable, Mapping, Sequence

import yaml

from vbp_ros.errors import VbpError


class ParamError(VbpError, ValueError):
    """A parameter value is of the wrong type, out of range or not an allowed choice."""


_TYPES = {bool: 'bool', int: 'integer', float: 'double', str: 'string', list: 'array'}


@dataclass(frozen=True)
class ParamSpec:
    """One declared parameter.

    Attributes:
        name: parameter name.
        default: default value; its type is the parameter's type (a list of floats for
            double arrays). An empty list means "not set".
        description: one line shown by ``ros2 param describe``.
        range: (min, max) for numbers, inclusive.
        choices: allowed values for strings.
        item_type: element type of list parameters (float or int).
        live: may change while the node runs (``ros2 param set``); the others are read-only
            once the node has started.
        lengths: allowed lengths of a non-empty list parameter (e.g. (4,) for a box).
    """

    name: str
    default: Any
    description: str
    range: tuple[float, float] | None = None
    choices: tuple[str, ...] | None = None
    item_type: type | None = None
    live: bool = False
    lengths: tuple[int, ...] | None = None

    @property
    def type(self) -> type:
        """Python type of the parameter."""
        return type(self.default)

    def constraints(self) -> str:
        """Human-readable constraints, for descriptors and error messages."""
        if self.choices:
            return 'one of ' + ', '.join(self.choices)
        if self.range:
            return f'in [{self.range[0]}, {self.range[1]}]'
        if self.lengths:
            return ' or '.join(str(n) for n in self.lengths) + ' values, or none'
        return ''

    def validate(self, value: Any) -> Any:
        """Coerce and check a value.

        Args:
            value: candidate value (from YAML, a command line or ROS).

        Returns:
            The value converted to the parameter's type.

        Raises:
            ParamError: wrong type, out of range or not an allowed choice; the message names the
                parameter and the value.
        """
        kind = self.type
        try:
            if kind is bool:
                if not isinstance(value, bool):
                    raise TypeError
                out: Any = value
            elif kind is int:
                if isinstance(value, bool) or not isinstance(value, int):
                    raise TypeError
                out = int(value)
            elif kind is float:
                if isinstance(value, bool) or not isinstance(value, (int, float)):
                    raise TypeError
                out = float(value)
            elif kind is str:
                if not isinstance(value, str):
                    raise TypeError
                out = value
            else:
                if not isinstance(value, (list, tuple)):
                    raise TypeError
                item = self.item_type or float
                # As ROS: integers for integer arrays; numbers (not bools or text) for doubles.
                if any(isinstance(v, bool) or not isinstance(v, int if item is int else
                                                              (int, float)) for v in value):
                    raise TypeError
                out = [item(v) for v in value]
        except (TypeError, ValueError):
            what = _TYPES.get(kind, str(kind))
            items = {int: 'integers', float: 'numbers'}.get(self.item_type, '')
            article = 'an' if what[0] in 'aeiou' else 'a'
            msg = (f'parameter {self.name!r}: {value!r} is not {article} {what}'
                   f'{" of " + items if items else ""}')
            raise ParamError(msg) from None
        if self.lengths and isinstance(out, list) and out and len(out) not in self.lengths:
            wanted = ' or '.join(str(n) for n in self.lengths)
            msg = f'parameter {self.name!r}: {out!r} has {len(out)} values, not {wanted}'
            raise ParamError(msg)
        if self.choices and out not in self.choices:
            msg = f'parameter {self.name!r}: {out!r} is not {self.constraints()}'
            raise ParamError(msg)
        if self.range and kind in (int, float):
            lo, hi = self.range
            if not lo <= out <= hi:
                msg = f'parameter {self.name!r}: {out!r} is not {self.constraints()}'
                raise ParamError(msg)
        return out


def load_params_file(path: str | Path, node_name: str, namespace: str = '/',
                     known: Collection[str] | None = None) -> dict[str, Any]:
    """The values one ROS 2 parameter file sets for one node (see :func:`load_params_files`)."""
    return load_params_files([path], node_name, namespace, known)


def load_params_files(paths: Sequence[str | Path | Mapping[str, Any]], node_name: str,
                      namespace: str = '/', known: Collection[str] | None = None
                      ) -> dict[str, Any]:
    """Read ROS 2 parameter files and return the values for one node, as rcl and rclpy do.

    rcl merges all files into one table of sections in order of first appearance (a section
    key seen again, in the same file or a later one, is merged into its first place), and
    rclpy then applies every section that matches the node in that order, later ones winning.
    A key matches the node's fully qualified name with ``/*`` standing for one name and
    ``/**`` for any number (``vbp`` means ``/vbp``: only the node in the root namespace).
    A ``-p name:=value`` goes into that table too, as ``/**`` (so ``-p`` after a file's
    ``/**`` section wins, and a ``vbp:`` section that appeared before it loses to it).

    Args:
        paths: the YAML files, and ``-p`` values as ``{name: value}`` mappings, in
            command-line order.
        node_name: the node's name.
        namespace: the node's namespace.
        known: the node's parameter names. Wildcard sections are shared by many nodes, so
            names outside ``known`` are left out of them (ROS ignores overrides of
            parameters a node does not declare); given explicitly for this node, they are kept
            (and refused later as unknown).

    Returns:
        Flat mapping of parameter name to value (nested keys joined with '.').

    Raises:
        ParamError: a file cannot be read or is not a mapping.
    """
    sections: dict[str, dict[str, Any]] = {}  # rcl's table: first appearance keeps its place
    given: dict[str, Any] = {}  # -p values, kept even where ``known`` lacks them
    for path in paths:
        if isinstance(path, Mapping):
            sections.setdefault('/**', {}).update(path)
            given.update(path)
            continue
        try:
            data = yaml.safe_load(Path(path).read_text()) or {}
        except (OSError, yaml.YAMLError) as exc:
            msg = f'cannot read parameter file {path}: {exc}'
            raise ParamError(msg) from None
        if not isinstance(data, dict):
            msg = f'parameter file {path} is not a mapping'
            raise ParamError(msg)
        for key, section in data.items():
            if (isinstance(key, str) and isinstance(section, dict)
                    and isinstance(section.get('ros__parameters'), dict)):
                sections.setdefault(key, {}).update(_flatten(section['ros__parameters']))
    fqn = '/' + '/'.join(p for p in (*namespace.split('/'), node_name) if p)
    out: dict[str, Any] = {}
    for key, values in sections.items():
        if not _node_pattern(key).fullmatch(fqn):
            continue
        if '*' in key and known is not None:
            values = {k: v for k, v in values.items() if k in known}
        out.update(values)
    # A mistyped -p name stays, to be refused as unknown rather than dropped.
    out.update({k: v for k, v in given.items() if k not in out})
    return out


def _node_pattern(key: str) -> re.Pattern[str]:
    """Regex of the fully qualified node names a parameter-file key stands for (rclpy's
    rule: a leading '/' added, then ``/*`` -> one name, so ``/**`` -> any number)."""
    key = key if key.startswith('/') else '/' + key
    regex, i = [], 0
    while i < len(key):
        if key.startswith('/*', i):
            regex.append(r'(?:/\w+)')
            i += 2
        else:  # a '*' left over (the second of '/**') repeats the name before it
            regex.append('*' if key[i] == '*' else re.escape(key[i]))
            i += 1
    return re.compile(''.join(regex))


def _flatten(tree: Mapping[str, Any], prefix: str = '') -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in tree.items():
        name = f'{prefix}{key}'
        if isinstance(value, dict):
            out.update(_flatten(value, name + '.'))
        else:
            out[name] = value
    return out


def parse_assignment(text: str) -> tuple[str, Any]:
    """Parse ``name:=value`` (ROS style) or ``name=value``; the value is read as YAML.

    Raises:
        ParamError: no ``=`` in the text.
    """
    sep = ':=' if ':=' in text else '='
    name, eq, raw = text.partition(sep)
    if not eq or not name:
        msg = f'expected name:=value (or name=value), got {text!r}'
        raise ParamError(msg)
    try:
        value = yaml.safe_load(raw) if raw != '' else ''
    except yaml.YAMLError:
        value = raw
    return name.strip(), value


def resolve_values(specs: Sequence[ParamSpec], *sources: Mapping[str, Any],
                   strict: bool = True) -> dict[str, Any]:
    """Merge value sources over the defaults and validate every parameter.

    Args:
        specs: the declared parameters.
        sources: mappings of name to value, later ones win.
        strict: unknown names raise instead of being ignored.

    Returns:
        name -> validated value, for every declared parameter.

    Raises:
        ParamError: a value is invalid or (strict) a name is not declared.
    """
    by_name = {s.name: s for s in specs}
    values = {s.name: s.default for s in specs}
    for source in sources:
        for name, value in source.items():
            if name not in by_name:
                if strict:
                    msg = f'unknown parameter {name!r} (known: {", ".join(sorted(by_name))})'
                    raise ParamError(msg)
                continue
            values[name] = value
    return {name: by_name[name].validate(value) for name, value in values.items()}


def ros_args_last(argv: Iterable[str]) -> list[str]:
    """Move every ``--ros-args ... [--]`` section of a command line to its end, as one section
    (rcl ends a section at ``--``; argparse would take that for an unknown argument)."""
    rest: list[str] = []
    ros: list[str] = []
    in_ros = seen = False
    for word in argv:
        if word == '--ros-args':
            in_ros = seen = True
        elif in_ros and word == '--':
            in_ros = False
        else:
            (ros if in_ros else rest).append(word)
    return rest + (['--ros-args', *ros] if seen else [])


def split_ros_args(argv: Iterable[str]) -> tuple[list[str], dict[str, Any], dict[str, str],
                                                 list[str | dict[str, Any]]]:
    """Pull ROS 2 style arguments out of a command line.

    Understands ``--ros-args`` sections with ``-p name:=value``, ``-r from:=to``,
    ``--params-file FILE`` and ``--remap``/``--param`` long forms; ``--ros-args`` sections end at
    ``--`` as in rcl.

    Args:
        argv: command line words.

    Returns:
        (other words, parameter overrides, remappings, parameter sources: the files and each
        ``-p`` as ``{name: value}``, in command-line order, for :func:`load_params_files`).
    """
    rest: list[str] = []
    params: dict[str, Any] = {}
    remaps: dict[str, str] = {}
    sources: list[str | dict[str, Any]] = []
    words = list(argv)
    ignored: list[str] = []
    i = 0
    in_ros = False
    while i < len(words):
        word = words[i]
        if in_ros and word in _WITH_VALUE and i + 1 == len(words):
            raise ParamError(f'{word} at the end of the ROS arguments needs a value')
        if word == '--ros-args':
            in_ros = True
        elif in_ros and word == '--':
            in_ros = False
        elif in_ros and word in ('-p', '--param') and i + 1 < len(words):
            name, value = parse_assignment(words[i + 1])
            params[name] = value
            sources.append({name: value})
            i += 1
        elif in_ros and word in ('-r', '--remap') and i + 1 < len(words):
            src, _, dst = words[i + 1].partition(':=')
            if not dst:
                msg = f'expected from:=to after {word}, got {words[i + 1]!r}'
                raise ParamError(msg)
            remaps[src] = dst
            i += 1
        elif in_ros and word == '--params-file' and i + 1 < len(words):
            sources.append(words[i + 1])
            i += 1
        elif in_ros:  # other rcl arguments (--log-level, --enclave, ...) need rcl
            ignored.append(word)
        else:
            rest.append(word)
        i += 1
    if ignored:
        logging.getLogger(__name__).warning('ignoring ROS arguments that only rcl applies: %s',
                                            ' '.join(ignored))
    return rest, params, remaps, sources


_WITH_VALUE = ('-p', '--param', '-r', '--remap', '--params-file')
