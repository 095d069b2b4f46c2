"""Sampling sessions: the only place where environments are stepped.

:func:`make_sampler` picks the fastest exact way to sample an environment: the vectorised
tabular model for toy-text MDPs, otherwise real environments stepped side by side.
"""

from __future__ import annotations

import functools
from typing import Protocol

import gymnasium as gym
import numpy as np

from ..envs import make_env
from ..policies.base import Actor
from .pool import ProcessSampler
from .runner import EnvRunner, SeededRunner
from .session import Session, Sessions
from .tabular_model import TabularModel
from .vector import VectorRunner, vector_dynamics

__all__ = [
    "EnvRunner",
    "ModelSampler",
    "ProcessSampler",
    "Sampler",
    "SeededRunner",
    "Session",
    "Sessions",
    "TabularModel",
    "VectorRunner",
    "make_runner",
    "make_sampler",
]


class Sampler(Protocol):
    """Anything that runs whole sessions of an actor."""

    def sample(self, actor: Actor, n: int, rng: np.random.Generator, common: int = 0) -> Sessions:
        """Run ``n`` sessions, all randomness drawn from ``rng``.

        With ``common`` > 0, session ``i`` starts like session ``i % common`` (common random numbers).
        """
        ...

    def close(self) -> None:
        """Release environments and workers."""
        ...


class ModelSampler:
    """Samples a :class:`TabularModel` (no environments to close)."""

    def __init__(self, model: TabularModel) -> None:
        self.model = model

    def sample(self, actor: Actor, n: int, rng: np.random.Generator, common: int = 0) -> Sessions:
        """Run ``n`` sessions on the model (with ``common``, in groups of common start states)."""
        return self.model.sample(actor, n, rng, common)

    def close(self) -> None:
        """Nothing to release."""


@functools.cache
def _single_threaded_blas() -> None:
    """Run numpy's BLAS on one thread in this process (once).

    An actor's matrices are small (a batch of sessions times a hidden layer), and with sampling
    workers on every core, BLAS threads only fight over the cores: on two busy cores an MLP's
    sampling at 256 envs ran three times slower with them. One thread also keeps a row's result
    the same in every process.
    """
    from threadpoolctl import threadpool_limits

    threadpool_limits(1, user_api="blas")


def make_runner(env_id: str, n_envs: int, probe: gym.Env | None = None) -> SeededRunner:
    """The fastest exact way to step ``env_id`` in this process.

    CartPole (also with hidden velocities), Pendulum, MountainCar and Acrobot step as numpy arrays
    of at least 64 slots (:mod:`.vector`); every other environment as ``n_envs`` env objects side
    by side. Numpy's BLAS runs on one thread from then on (in this process). ``probe``, an env of
    ``env_id`` the caller already made (and still owns), saves making one to look at.
    """
    _single_threaded_blas()
    env = make_env(env_id) if probe is None else probe
    vector = vector_dynamics(env)
    if probe is None:
        env.close()
    if vector is not None:
        dynamics, limit = vector
        return VectorRunner(dynamics, max(n_envs, 64), limit)
    return EnvRunner(functools.partial(make_env, env_id), n_envs, env_id)


def make_sampler(env_id: str, n_envs: int = 16, workers: int = 1, use_model: bool = True) -> Sampler:
    """The sampler for ``env_id``.

    Tabular toy-text MDPs are sampled in-process from their own tables (``workers`` does not
    apply); other environments by the fastest runner, in ``workers`` processes when above one.

    Args:
        env_id: a Gymnasium id.
        n_envs: environments stepped side by side by each runner.
        workers: sampling processes.
        use_model: allow the vectorised tabular model where it is exact.
    """
    env = make_env(env_id)
    try:
        model = TabularModel.from_env(env) if use_model else None
        if model is not None:
            return ModelSampler(model)
        if workers > 1:
            return ProcessSampler(env_id, n_envs, workers)
        return make_runner(env_id, n_envs, probe=env)
    finally:
        env.close()
