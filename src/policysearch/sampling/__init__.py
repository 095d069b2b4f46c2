"""Sampling sessions: the only place where environments are stepped.

:func:`make_sampler` picks the fastest exact way to sample an environment: the vectorised
tabular model for toy-text MDPs, otherwise real environments stepped side by side.
"""

from __future__ import annotations

import functools
from typing import Protocol

import numpy as np

from ..envs import make_env
from ..policies.base import Actor
from .runner import EnvRunner
from .session import Session, Sessions
from .tabular_model import TabularModel

__all__ = ["EnvRunner", "Sampler", "Session", "Sessions", "TabularModel", "make_sampler"]


class Sampler(Protocol):
    """Anything that runs whole sessions of an actor."""

    def sample(self, actor: Actor, n: int, rng: np.random.Generator) -> Sessions:
        """Run ``n`` sessions, all randomness drawn from ``rng``."""
        ...

    def close(self) -> None:
        """Release environments and workers."""
        ...


class ModelSampler:
    """Samples a :class:`TabularModel` (no environments to close)."""

    def __init__(self, model: TabularModel) -> None:
        self.model = model

    def sample(self, actor: Actor, n: int, rng: np.random.Generator) -> Sessions:
        """Run ``n`` sessions on the model."""
        return self.model.sample(actor, n, rng)

    def close(self) -> None:
        """Nothing to release."""


def make_sampler(env_id: str, n_envs: int = 16, use_model: bool = True) -> Sampler:
    """The sampler for ``env_id``.

    Args:
        env_id: a Gymnasium id.
        n_envs: environments stepped side by side by the env runner.
        use_model: allow the vectorised tabular model where it is exact.
    """
    env = make_env(env_id)
    model = TabularModel.from_env(env) if use_model else None
    if model is not None:
        env.close()
        return ModelSampler(model)
    env.close()
    return EnvRunner(functools.partial(make_env, env_id), n_envs, env_id)
