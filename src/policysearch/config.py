"""Configuration helpers: typed dataclasses built from plain mappings, YAML files and ``KEY=VALUE``.

Every hyperparameter dataclass validates itself on construction (``__post_init__``) with
:func:`check_range`, so a bad value fails early with a message naming the field and its range.
"""

from __future__ import annotations

import dataclasses
import difflib
import math
import numbers
import re
import types
import typing
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import numpy as np
import yaml

from .errors import ConfigError, warn_user

T = TypeVar("T")

#: The largest magnitude a number that is not an integer may have as an option or hyperparameter:
#: float32's largest. The policies' weights are float32, and a noise, a step or a weight scale
#: beyond it is infinity there (``sigma=1e300`` became a traceback at the first iteration).
#: Values below it can still overflow what they multiply (``sigma=1e38``); integers (seeds,
#: counts) have their own bounds.
LARGEST = float(np.finfo(np.float32).max)


def check_int(name: str, value: Any, low: int | None = None, high: int | None = None) -> int:
    """``value`` as an int if it is an integer (a numpy one too, not a bool) in ``[low, high]``.

    Raises:
        ConfigError: naming the field, for anything else (``2.5``, ``"3"``, ``True``).
    """
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise ConfigError(f"{name} must be an integer, not {value!r}")
    check_range(name, int(value), low, high)
    return int(value)


def check_range(
    name: str,
    value: float,
    low: float | None = None,
    high: float | None = None,
    *,
    low_open: bool = False,
    high_open: bool = False,
) -> None:
    """Raise :class:`ConfigError` unless ``value`` is finite and lies in the interval, naming the field.

    Infinity and NaN are refused whatever the bounds: no option or hyperparameter means
    anything with them (an unbounded side is written ``None``); so are non-integer magnitudes
    beyond :data:`LARGEST`, and ``True`` and ``False``, which Python counts as 1 and 0.

    Args:
        name: the field's name, as the user writes it.
        value: the value to check.
        low: lower bound, or None for none.
        high: upper bound, or None for none.
        low_open: exclude ``low`` itself.
        high_open: exclude ``high`` itself.
    """
    if isinstance(value, bool) or not isinstance(value, numbers.Real):  # True is not 1.0 here
        raise ConfigError(f"{name} must be a number, not {value!r}")
    if not math.isfinite(value):
        raise ConfigError(f"{name}={value!r} is not a finite number")
    if not isinstance(value, numbers.Integral) and abs(value) > LARGEST:  # a seed may be any integer
        raise ConfigError(
            f"{name}={value!r} is out of range: no option may exceed {LARGEST:.4g} in magnitude, the "
            "largest float32 (the policies' weights are float32)"
        )
    too_low = low is not None and (value <= low if low_open else value < low)
    too_high = high is not None and (value >= high if high_open else value > high)
    if too_low or too_high:
        left = "-inf" if low is None else _bound(low)
        right = "inf" if high is None else _bound(high)
        opening = "(" if low_open or low is None else "["
        closing = ")" if high_open or high is None else "]"
        interval = f"{opening}{left}, {right}{closing}"
        raise ConfigError(f"{name}={value!r} is out of range: it must lie in {interval}")


def check_choice(name: str, value: Any, allowed: tuple[Any, ...]) -> None:
    """Raise :class:`ConfigError` unless ``value`` is one of ``allowed``, naming the field."""
    if value not in allowed:
        raise ConfigError(f"{name}={value!r} is not one of {', '.join(map(repr, allowed))}")


def check_choices(config: Any) -> None:
    """:func:`check_choice` on every field of the dataclass ``config`` annotated with a ``Literal``.

    What :func:`from_mapping` checks when it builds a config, for one constructed directly.
    """
    hints = typing.get_type_hints(type(config))
    for field in dataclasses.fields(config):
        hint = hints.get(field.name)
        if typing.get_origin(hint) is typing.Literal:
            check_choice(field.name, getattr(config, field.name), typing.get_args(hint))


def _bound(value: float) -> str:
    """A bound as the user would write it (integers in full, floats shortest)."""
    return str(value) if isinstance(value, int) else f"{value:g}"


def coerce(name: str, value: Any, hint: Any) -> Any:
    """Convert ``value`` to the annotated type ``hint`` or raise a :class:`ConfigError` naming ``name``.

    As a config field annotated ``hint`` takes it (:func:`from_mapping`); for a function's
    argument of that type too.
    """
    if isinstance(value, np.ndarray | np.generic):  # numpy's arrays as lists, its scalars as Python's
        value = value.tolist()
    origin = typing.get_origin(hint)
    if origin in (typing.Union, types.UnionType):
        options = typing.get_args(hint)
        if value is None and type(None) in options:
            return None
        errors = []
        for option in options:
            if option is type(None):
                continue
            try:
                return coerce(name, value, option)
            except ConfigError as exc:
                errors.append(str(exc))
        raise ConfigError(errors[0] if errors else f"{name} has an invalid value {value!r}")
    if origin is typing.Literal:
        check_choice(name, value, typing.get_args(hint))
        return value
    if hint is bool:
        if isinstance(value, bool):
            return value
        raise ConfigError(f"{name} must be true or false, not {value!r}")
    if isinstance(value, float) and not math.isfinite(value) and hint in (int, float):
        raise ConfigError(f"{name}={value!r} is not a finite number")  # YAML reads .inf and .nan
    if hint is int:  # numpy's integers too (a seed from np.arange), and floats that are whole
        if isinstance(value, numbers.Integral) and not isinstance(value, bool):
            return int(value)
        if not isinstance(value, float | np.floating) or not float(value).is_integer():
            raise ConfigError(f"{name} must be an integer, not {value!r}")
        return int(value)
    if hint is float:
        if isinstance(value, bool) or not isinstance(value, numbers.Real):
            raise ConfigError(f"{name} must be a number, not {value!r}")
        return float(value)
    if hint is str:
        if not isinstance(value, str):
            raise ConfigError(f"{name} must be a string, not {value!r}")
        return value
    if origin is tuple:
        if not isinstance(value, list | tuple):
            value = [value]
        (item,) = typing.get_args(hint)[:1]
        return tuple(coerce(name, v, item) for v in value)
    return value


def coerce_fields(obj: Any) -> None:
    """Bring each field of the dataclass instance ``obj`` to its annotated type.

    As :func:`from_mapping` does, for an instance made directly (``TrainOptions(seed=1.5)``).

    Raises:
        ConfigError: for a value of the wrong type.
    """
    hints = typing.get_type_hints(type(obj))
    for item in dataclasses.fields(obj):
        setattr(obj, item.name, coerce(item.name, getattr(obj, item.name), hints[item.name]))


@dataclass(frozen=True)
class Renamed:
    """A field's former name, still accepted with a deprecation warning.

    Attributes:
        new: the field's name now.
        convert: turns a value given under the old name into the new field's value (e.g. a
            former switch into a count); None keeps it as it is.
    """

    new: str
    convert: Callable[[Any], Any] | None = None


def canonical_name(cls: type, key: str) -> str:
    """The field of ``cls`` that ``key`` names: ``key`` itself, unless an alias or a former name.

    >>> from policysearch.algorithms.cem_tabular import TabularCEMConfig
    >>> canonical_name(TabularCEMConfig, "n_simulations"), canonical_name(TabularCEMConfig, "alpha")
    ('episodes_per_candidate', 'alpha')
    """
    renamed: dict[str, Renamed] = getattr(cls, "renamed", {})
    return renamed[key].new if key in renamed else getattr(cls, "aliases", {}).get(key, key)


def canonical_names(cls: type, values: Mapping[str, Any], warn: bool = True) -> dict[str, Any]:
    """``values`` with every alias and former name of ``cls``'s fields replaced by the field's name.

    A config class may declare ``aliases`` (other names for a field, such as the lecture's
    ``lambda``) and ``renamed`` (former names, :class:`Renamed`); a former name gives one
    :class:`FutureWarning` naming the new one, unless ``warn`` is False (checkpoints of earlier
    releases store the former names).

    Raises:
        ConfigError: if a field is given under two of its names.

    >>> from policysearch.algorithms.cem_tabular import TabularCEMConfig
    >>> canonical_names(TabularCEMConfig, {"lambda": 0.1, "n_simulations": 5}, warn=False)
    {'smoothing': 0.1, 'episodes_per_candidate': 5}
    """
    renamed: dict[str, Renamed] = getattr(cls, "renamed", {})
    out: dict[str, Any] = {}
    spelled: dict[str, str] = {}  # each field's name as given
    for key, value in values.items():
        name = canonical_name(cls, key)
        if key in renamed:
            rename = renamed[key]
            value = rename.convert(value) if rename.convert is not None else value
            if warn:
                warn_user(f"{key!r} is deprecated: use {name!r}", FutureWarning)
        if name in out:
            raise ConfigError(
                f"{name!r} is given twice (as {spelled[name]!r} and as {key!r}, one a former name or "
                "alias of the other); give it once"
            )
        out[name], spelled[name] = value, key
    return out


def from_mapping(
    cls: type[T], values: Mapping[str, Any], what: str = "hyperparameter", warn: bool = True
) -> T:
    """Build the dataclass ``cls`` from a mapping, rejecting unknown keys and wrong types.

    Args:
        cls: a dataclass type whose ``__post_init__`` validates ranges.
        values: field names (or their aliases and former names) to values (as parsed from YAML
            or ``--set``).
        what: how to call a key in error messages.
        warn: warn about former names (see :func:`canonical_names`).

    Raises:
        ConfigError: for an unknown key, a value of the wrong type, or one out of range.
    """
    assert dataclasses.is_dataclass(cls)
    for key in values:
        if not isinstance(key, str):  # YAML's `1: 2` under hyperparameters:
            raise ConfigError(f"{what} names are words, not {key!r}")
    values = canonical_names(cls, values, warn)
    names = [f.name for f in dataclasses.fields(cls) if f.init]
    unknown = sorted(set(values) - set(names))
    if unknown:
        spelled = [*names, *getattr(cls, "aliases", {})]
        close = difflib.get_close_matches(unknown[0], spelled, n=1)
        hint = f"did you mean {close[0]!r}? " if close else ""
        raise ConfigError(f"unknown {what} {unknown[0]!r} ({hint}known: {', '.join(sorted(names))})")
    hints = typing.get_type_hints(cls)
    kwargs = {k: coerce(k, v, hints[k]) for k, v in values.items()}
    return cls(**kwargs)


def as_dict(config: Any) -> dict[str, Any]:
    """A dataclass as a JSON-friendly dict (tuples become lists)."""
    out = dataclasses.asdict(config)
    return {k: list(v) if isinstance(v, tuple) else v for k, v in out.items()}


class YamlLoader(yaml.SafeLoader):
    """PyYAML's safe loader, with YAML 1.2's numbers, and a mapping's keys given once.

    YAML 1.1 (what PyYAML reads) needs a dot in a float, so ``--set sigma=1e-2`` was the string
    ``"1e-2"``, and so was ``1e-05`` in a ``--dry-run`` output fed back as ``--config``; and it
    reads ``010`` as octal (8) and ``1:30`` as sexagesimal (90). Here ``010`` is 10, ``0o10`` 8,
    ``0x1f`` 31, and ``1:30`` a string. A key given twice in one mapping is refused (PyYAML
    keeps the last silently).
    """

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        """As PyYAML's, refusing a key that the mapping gives twice."""
        seen: dict[Any, int] = {}
        for key_node, _ in node.value:
            if key_node.tag == "tag:yaml.org,2002:merge":  # ``<<: *anchor``: merged by PyYAML
                continue
            key = self.construct_object(key_node, deep=True)
            if not isinstance(key, str | int | float | bool):
                continue
            line = key_node.start_mark.line + 1
            if key in seen:
                raise ConfigError(f"{key!r} is given twice (lines {seen[key]} and {line}); give it once")
            seen[key] = line
        return super().construct_mapping(node, deep=deep)


def _yaml_int(loader: yaml.SafeLoader, node: yaml.ScalarNode) -> int:
    """A YAML 1.2 integer: decimal (leading zeros and ``_`` allowed), ``0o`` octal, ``0x`` hex."""
    text = str(loader.construct_scalar(node)).replace("_", "")
    sign, digits = (-1, text[1:]) if text.startswith("-") else (1, text.lstrip("+"))
    base = {"0o": 8, "0x": 16}.get(digits[:2].lower(), 10)
    return sign * int(digits[2:] if base != 10 else digits, base)


YamlLoader.yaml_implicit_resolvers = {
    first: [(tag, rx) for tag, rx in resolvers if tag != "tag:yaml.org,2002:int"]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}
YamlLoader.add_implicit_resolver(
    "tag:yaml.org,2002:int",
    re.compile(r"^(?:[-+]?[0-9][0-9_]*|0[oO][0-7][0-7_]*|0[xX][0-9a-fA-F][0-9a-fA-F_]*)$"),
    list("-+0123456789"),
)
YamlLoader.add_constructor("tag:yaml.org,2002:int", _yaml_int)
YamlLoader.add_implicit_resolver(
    "tag:yaml.org,2002:float",
    re.compile(r"^[-+]?(?:[0-9][0-9_]*(?:\.[0-9_]*)?|\.[0-9_]+)[eE][-+]?[0-9]+$"),
    list("-+0123456789."),
)


def read_yaml(text: str) -> Any:
    """``text`` read as YAML by :class:`YamlLoader` (safe: plain data only)."""
    return yaml.load(text, Loader=YamlLoader)


def parse_assignments(items: Iterable[str], option: str = "--set") -> dict[str, Any]:
    """Parse ``KEY=VALUE`` strings; values are read as YAML scalars (``0.5``, ``true``, ``[1, 2]``).

    ``option``: the command-line option they were given with, as errors name it.

    Raises:
        ConfigError: for an item without ``=`` or with an unparsable value.
    """
    out: dict[str, Any] = {}
    for item in items:
        key, sep, raw = item.partition("=")
        key = key.strip()
        if not sep or not key:
            raise ConfigError(f"{option} expects KEY=VALUE, got {item!r}")
        try:
            out[key] = read_yaml(raw) if raw.strip() else None
        except yaml.YAMLError:
            raise ConfigError(f"{option} {key}: cannot parse the value {raw!r}") from None
    return out


def load_yaml(path: str | Path) -> dict[str, Any]:
    """Read a YAML mapping from ``path``.

    Raises:
        ConfigError: if the file cannot be read, is not valid YAML, or is not a mapping.
    """
    try:
        text = Path(path).read_text()
    except OSError as exc:
        raise ConfigError(f"cannot read config {str(path)!r}: {exc.strerror}") from None
    try:
        data = read_yaml(text)
    except ConfigError as exc:  # a key given twice
        raise ConfigError(f"config {str(path)!r}: {exc}") from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}" if mark is not None else ""
        raise ConfigError(f"config {str(path)!r} is not valid YAML{where}") from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ConfigError(f"config {str(path)!r} must be a mapping of option names to values")
    return {str(k): v for k, v in data.items()}
