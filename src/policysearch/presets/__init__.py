"""Presets: tuned hyperparameters per environment and algorithm, and how to judge the result.

The presets are data, shipped with the package as YAML files in rl-baselines3-zoo's layout
(``<algorithm>.yml`` beside this module: the env id, then its options), one file per registered
algorithm, plus ``evaluation.yml`` with the evaluation episodes of the envs that need more than 100
(the evaluation protocol, which ``--no-preset`` keeps).

A preset names the policy kind it was tuned for: that kind is the env's default policy, and the
hyperparameters apply only when that kind is trained, so a preset never reaches an
implementation it was not tuned for. A preset only fills in what the user did not say:
command-line options, ``--config`` and ``--set`` always win. A preset whose reason holds only for
some of the env's keyword arguments names them (``env_kwargs``, with the values it was chosen
for): an env made with others is another task, trained without it (:func:`preset_mismatch`).
"""

from __future__ import annotations

import functools
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from importlib import resources
from typing import Any

import gymnasium as gym

from ..config import read_yaml
from ..errors import ConfigError
from ..registry import REGISTRY

#: Episodes of the final evaluation when neither the user nor the protocol's table says otherwise.
DEFAULT_EVAL_EPISODES = 100
#: Evaluation episodes of an env with discrete observations that the protocol's list leaves out.
DISCRETE_EVAL_EPISODES = 1000
#: Iterations when no budget is given.
DEFAULT_MAX_ITERATIONS = 100


@dataclass(frozen=True)
class Preset:
    """Tuned options of one algorithm on one environment."""

    #: The registered algorithm (``cem``).
    algorithm: str
    #: The environment id, without a ``module:`` prefix.
    env_id: str
    #: The policy kind the values were tuned for (the env's default policy).
    policy: str
    #: Hyperparameters, by the config's field names.
    hyperparameters: dict[str, Any] = field(default_factory=dict)
    #: The env's keyword arguments the preset's reason depends on, with the values it was chosen
    #: for (the env's defaults): FrozenLake's ``is_slippery: true``.
    env_kwargs: dict[str, Any] = field(default_factory=dict)


def _read(name: str) -> dict[str, Any]:
    path = resources.files(__name__).joinpath(name)
    if not path.is_file():
        return {}
    data = read_yaml(path.read_text())
    if not isinstance(data, dict):
        raise ConfigError(f"preset file {name!r} must map env ids to options")
    return data


@functools.cache
def all_presets() -> dict[str, dict[str, Preset]]:
    """Every preset: env id -> algorithm -> :class:`Preset` (envs sorted, algorithms in registry order)."""
    out: dict[str, dict[str, Preset]] = {}
    for algorithm in REGISTRY:
        for env_id, options in _read(f"{algorithm}.yml").items():
            options = dict(options or {})
            policy = options.pop("policy", None)
            if not isinstance(policy, str):
                raise ConfigError(f"the {algorithm} preset of {env_id!r} must name its policy")
            kwargs = options.pop("env_kwargs", None) or {}
            if not isinstance(kwargs, dict):
                raise ConfigError(f"the env_kwargs of the {algorithm} preset of {env_id!r} must be a mapping")
            preset = Preset(algorithm, str(env_id), policy, options, kwargs)
            out.setdefault(str(env_id), {})[algorithm] = preset
    return dict(sorted(out.items()))


@functools.cache
def _eval_table() -> dict[str, int]:
    return {str(k): int(v) for k, v in _read("evaluation.yml").items()}


def _bare(env_id: str) -> str:
    return env_id.rpartition(":")[2]


def preset_for(env_id: str, algorithm: str) -> Preset | None:
    """The preset of ``algorithm`` on ``env_id`` (matched without a ``module:`` prefix), or None."""
    return all_presets().get(_bare(env_id), {}).get(algorithm)


def preset_mismatch(preset: Preset, env_kwargs: Mapping[str, Any]) -> str | None:
    """Why ``preset`` does not suit an env made with ``env_kwargs``, or None if it does.

    It does not when they set a keyword argument the preset was chosen for
    (:attr:`Preset.env_kwargs`) to another value: FrozenLake's preset scores each candidate over
    25 sessions because the ice is slippery; on ice that is not, it trained nothing on the 8x8
    map (0 in 60 s, where the defaults solve it).
    """
    for key, chosen in preset.env_kwargs.items():
        if key in env_kwargs and env_kwargs[key] != chosen:
            return (
                f"the {preset.algorithm} preset of {preset.env_id} is not applied: it was chosen for "
                f"{key}={json.dumps(chosen)}, and the env is made with {key}={json.dumps(env_kwargs[key])}"
            )
    return None


def eval_episodes_for(env_id: str, observation_space: gym.Space[Any] | None = None) -> int:
    """Episodes of the final evaluation of ``env_id`` under the protocol (at least 100).

    The protocol's list (``evaluation.yml``) first; else an env whose observations are discrete
    (``observation_space``, the env's own: a Discrete or MultiDiscrete, or a Tuple or Dict of
    them) is a toy-text MDP, judged over :data:`DISCRETE_EVAL_EPISODES` (its episodes are cheap, and where its
    dynamics are stochastic, as Blackjack's cards, 100 would leave the verdict to sampling error).
    """
    listed = _eval_table().get(_bare(env_id))
    if listed is not None:
        return max(DEFAULT_EVAL_EPISODES, listed)
    if observation_space is not None and _discrete(observation_space):
        return DISCRETE_EVAL_EPISODES
    return DEFAULT_EVAL_EPISODES


def _discrete(space: gym.Space[Any]) -> bool:
    """Discrete or MultiDiscrete, or a Tuple or Dict of them (Blackjack's observation)."""
    from ..envs.make import leaf_spaces

    return all(
        isinstance(part, gym.spaces.Discrete | gym.spaces.MultiDiscrete) for part in leaf_spaces(space)
    )


def env_ids() -> list[str]:
    """Every env id with a preset or an evaluation entry, sorted."""
    return sorted(set(all_presets()) | set(_eval_table()))
