"""Sampling sessions: the only place where environments are stepped.

:func:`make_sampler` picks the fastest exact way to sample an environment: the vectorised
tabular model for toy-text MDPs, otherwise real environments stepped side by side by the
sampling core (:mod:`.sharded`) in this process, in local worker processes (:mod:`.pool`) or on
Ray actors (:mod:`.raycluster`, with ``backend="ray"``); all three give the same sessions.
"""

from __future__ import annotations

import functools
import os
from typing import Any, Protocol

import gymnasium as gym
import numpy as np

from ..envs import EnvOptions, close_env, make_env
from ..errors import closed_after, warn_user
from ..policies.base import Actor
from .locomotion import LocomotionRunner, locomotion_task
from .pool import ProcessTransport
from .runner import EnvRunner, SeededRunner
from .session import Keep, Session, Sessions, kept
from .sharded import InProcess, RunnerFactory, ShardedSampler, Transport
from .tabular_model import TabularModel
from .vector import VectorRunner, vector_dynamics

__all__ = [
    "EnvRunner",
    "InProcess",
    "Keep",
    "LocomotionRunner",
    "ModelSampler",
    "ProcessTransport",
    "RunnerFactory",
    "Sampler",
    "SeededRunner",
    "Session",
    "Sessions",
    "ShardedSampler",
    "TabularModel",
    "Transport",
    "VectorRunner",
    "array_dynamics",
    "closed_after",
    "make_runner",
    "make_sampler",
]


class Sampler(Protocol):
    """Anything that runs whole sessions of an actor."""

    #: Sessions are nearly free (a tabular model): the trainer checks a target on many of them.
    cheap: bool
    #: Workers lost (and replaced or given up) so far.
    restarts: int
    #: Of those, workers replaced because a share overran its deadline.
    stalls: int

    def sample(
        self, actor: Actor, n: int, rng: np.random.Generator, common: int = 0, keep: Keep = "steps"
    ) -> Sessions:
        """Run ``n`` sessions, all randomness drawn from ``rng``.

        With ``common`` > 0, session ``i`` starts like session ``i % common`` (common random
        numbers). ``keep``: what is kept of each session (:data:`~.session.Keep`).
        """
        ...

    def run(
        self,
        actor: Actor,
        reset_seeds: np.ndarray,
        noise_seeds: np.ndarray | None = None,
        keep: Keep = "steps",
    ) -> Sessions:
        """One session of the real environment per reset seed (the evaluation's)."""
        ...

    def progress(self) -> str:
        """How far the request in play is, for progress lines (read from another thread); may be empty."""
        ...

    def close(self) -> None:
        """Release environments and workers."""
        ...


class ModelSampler:
    """Samples a :class:`TabularModel`; the real environment (evaluation) is run in this process."""

    cheap = True
    restarts = 0
    stalls = 0

    def __init__(
        self, model: TabularModel, env_id: str, n_envs: int = 16, env_options: EnvOptions | None = None
    ) -> None:
        self.model = model
        self.env_id, self.n_envs, self.env_options = env_id, n_envs, env_options
        self._runner: SeededRunner | None = None

    def sample(
        self, actor: Actor, n: int, rng: np.random.Generator, common: int = 0, keep: Keep = "steps"
    ) -> Sessions:
        """Run ``n`` sessions on the model (with ``common``, in groups of common start states)."""
        return kept(self.model.sample(actor, n, rng, common), keep)

    def run(
        self,
        actor: Actor,
        reset_seeds: np.ndarray,
        noise_seeds: np.ndarray | None = None,
        keep: Keep = "steps",
    ) -> Sessions:
        """Sessions of the real environment with these reset seeds."""
        if self._runner is None:
            self._runner = make_runner(self.env_id, self.n_envs, env_options=self.env_options)
        return self._runner.run(actor, reset_seeds, noise_seeds, keep=keep)

    def progress(self) -> str:
        """Nothing to say: the model's sessions are nearly free."""
        return ""

    def close(self) -> None:
        """Close the real environment's runner, if one was made."""
        if self._runner is not None:
            self._runner.close()
            self._runner = None


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


def array_dynamics(env: gym.Env, env_options: EnvOptions | None = None) -> Any:
    """The numpy copy of ``env``'s dynamics that :func:`make_runner` steps it with, or None.

    None too where the run's env kwargs may change the dynamics (the real env is stepped then).
    Such a runner (:class:`VectorRunner`) holds every step of the sessions it plays until they
    all end, whatever is kept of them: the memory guard counts them.
    """
    copied = env_options is not None and env_options.changes_dynamics
    return None if copied else vector_dynamics(env)


def make_runner(
    env_id: str, n_envs: int, probe: gym.Env | None = None, env_options: EnvOptions | None = None
) -> SeededRunner:
    """The fastest exact way to step ``env_id`` in this process.

    CartPole (also with hidden velocities), Pendulum, MountainCar and Acrobot step as numpy arrays
    of at least 64 slots (:mod:`.vector`); the MuJoCo locomotion tasks (Swimmer, Hopper,
    HalfCheetah, Walker2d, Ant, Humanoid v5) as ``n_envs`` envs whose physics is stepped directly
    (:mod:`.locomotion`); every other environment as ``n_envs`` env objects side by side. Numpy's
    BLAS runs on one thread from then on (in this process). ``probe``, an env of ``env_id`` the
    caller already made (and still owns), saves making one to look at. ``env_options`` (a run's
    env kwargs) are passed to every env made; kwargs that may change the dynamics (anything but
    ``max_episode_steps``) step the real env, never a copy of its dynamics (the locomotion tasks
    step the real env's own model with its own parameters).
    """
    _single_threaded_blas()
    env = make_env(env_id, options=env_options) if probe is None else probe
    vector = array_dynamics(env, env_options)
    locomotion = locomotion_task(env)  # the env's own model and parameters: kwargs hold
    if probe is None:
        close_env(env, env_id)
    if vector is not None:
        dynamics, limit = vector
        return VectorRunner(dynamics, max(n_envs, 64), limit)
    env_fn = functools.partial(make_env, env_id, options=env_options)
    if locomotion is not None:
        task, limit = locomotion
        return LocomotionRunner(env_fn, n_envs, task, limit, env_id)
    return EnvRunner(env_fn, n_envs, env_id)


def make_sampler(
    env_id: str,
    n_envs: int = 16,
    workers: int = 1,
    use_model: bool = True,
    backend: str = "local",
    address: str | None = None,
    env_options: EnvOptions | None = None,
) -> Sampler:
    """The sampler for ``env_id``.

    Tabular toy-text MDPs are sampled in-process from their own tables (``workers`` and
    ``backend`` do not apply); other environments by the fastest runner, in this process with
    one local worker, else in ``workers`` processes, or on ``workers`` Ray actors with
    ``backend="ray"``.

    Args:
        env_id: a Gymnasium id.
        n_envs: environments stepped side by side by each runner.
        workers: sampling workers (processes, or Ray actors of one CPU each).
        use_model: allow the vectorised tabular model where it is exact.
        backend: ``local`` or ``ray``.
        address: the Ray cluster (``HOST:PORT`` or ``auto``); None starts a local Ray instance.
        env_options: the env's own keyword arguments and the preprocessing switch, for every
            env any worker makes.

    The driver's BLAS runs on one thread whatever the backend and the number of workers, as
    every runner's does: with more threads, ``numpy.linalg`` (CMA-ES's eigendecomposition, a
    gradient's norm) gives other last bits, and a run would depend on ``workers``.

    Raises:
        BackendError: if Ray is missing, unreachable, or has fewer CPUs than ``workers``.
    """
    _single_threaded_blas()
    env = make_env(env_id, options=env_options)
    model = TabularModel.from_env(env) if use_model else None
    close_env(env, env_id)
    if model is not None:
        return ModelSampler(model, env_id, n_envs, env_options)
    factory = RunnerFactory(env_id, n_envs, env_options)
    transport: Transport
    if backend == "ray":
        from .raycluster import RayTransport

        transport = RayTransport(factory, workers, address)
    elif workers > 1:
        # the CPUs this process may run on (a container's or taskset's), where the OS says
        cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
        if workers > cpus:
            plural = "s" if cpus > 1 else ""
            warn_user(
                f"--workers {workers} on {cpus} CPU{plural}: each worker is a process that makes its "
                f"own envs, so they take turns on the CPUs and take a while to start; more than {cpus} "
                "helps only an env that waits rather than computes"
            )
        transport = ProcessTransport(factory, workers)
    else:
        transport = InProcess(factory())
    return ShardedSampler(transport)
