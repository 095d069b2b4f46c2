"""Classic-control tasks stepped as numpy arrays, many sessions at once, one session per seed.

Stepping ``n`` env objects in turn costs a Python call per env and step; these runners step all
their slots with one numpy operation instead, ten to a hundred times faster. Each task's
:class:`Dynamics` reproduces its Gymnasium env exactly: a session starts from the state
``env.reset(seed=s)`` draws (the same ``default_rng(s)`` draws), and every step performs the env's
own arithmetic, operation for operation and in the same dtypes, so a session's seed decides it
just as in :class:`~policysearch.sampling.runner.EnvRunner` (tests check that both give the same
sessions). CartPole steps on Gymnasium's native ``CartPoleVectorEnv``; Pendulum and MountainCar,
which have none, on the dynamics written here.

:func:`vector_dynamics` recognises the tasks: the exact env class, with only passive wrappers
(and :class:`~policysearch.envs.partial.HideVelocity` on CartPole) between it and the user.
"""

from __future__ import annotations

import functools
import math
from abc import ABC, abstractmethod
from collections.abc import Callable
from typing import Any

import gymnasium as gym
import numpy as np

from ..policies.base import Actor, start_sessions
from .runner import NoiseStream, SeededRunner
from .session import Sessions

_PASSIVE_WRAPPERS = {"TimeLimit", "OrderEnforcing", "PassiveEnvChecker"}
_CLASSIC = "gymnasium.envs.classic_control"


class Dynamics(ABC):
    """A task's state for ``n`` slots, reset and stepped as arrays.

    Args:
        n: slots stepped at once.
        env: an instance of the task, whose parameters the dynamics copy.
    """

    def __init__(self, n: int, env: gym.Env) -> None:
        self.n = n

    @abstractmethod
    def reset(self, slot: int, seed: int) -> None:
        """Start ``slot`` from the state ``env.reset(seed=seed)`` draws."""

    @abstractmethod
    def observe(self) -> np.ndarray:
        """Every slot's observation, ``(n, obs_dim)`` float32."""

    @abstractmethod
    def step(self, actions: np.ndarray, active: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Step the ``active`` slots with their actions; their rewards (float64) and terminations."""

    def close(self) -> None:  # noqa: B027 (most dynamics hold nothing)
        """Release what the dynamics hold."""


class CartPoleDynamics(Dynamics):
    """CartPole on Gymnasium's native vector env (velocities hidden when ``keep`` says so)."""

    def __init__(self, n: int, env: gym.Env, keep: tuple[int, ...] | None = None) -> None:
        from gymnasium.envs.classic_control.cartpole import CartPoleVectorEnv

        super().__init__(n, env)
        self.env: Any = CartPoleVectorEnv(num_envs=n, max_episode_steps=2**62)
        self.env.reset(seed=0)
        self.keep = np.arange(4) if keep is None else np.asarray(keep)

    def reset(self, slot: int, seed: int) -> None:
        """CartPoleEnv.reset: uniform on [-0.05, 0.05]^4."""
        self.env.state[:, slot] = np.random.default_rng(seed).uniform(-0.05, 0.05, 4)
        self.env.steps[slot] = 0
        self.env.prev_done[slot] = False

    def observe(self) -> np.ndarray:
        """The kept state entries."""
        return self.env.state[self.keep].T.astype(np.float32)

    def step(self, actions: np.ndarray, active: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """One native vector step (idle slots push left)."""
        full = np.zeros(self.n, dtype=np.int64)
        full[active] = actions
        _, reward, term, _, _ = self.env.step(full)
        return reward[active].astype(np.float64), term[active]

    def close(self) -> None:
        """Close the native vector env."""
        self.env.close()


class PendulumDynamics(Dynamics):
    """Pendulum-v1 (``PendulumEnv.step``, batched)."""

    def __init__(self, n: int, env: gym.Env) -> None:
        super().__init__(n, env)
        base: Any = env.unwrapped
        self.g, self.m, self.l, self.dt = base.g, base.m, base.l, base.dt
        self.max_speed, self.max_torque = base.max_speed, base.max_torque
        self.th = np.zeros(n)
        self.thdot = np.zeros(n)

    def reset(self, slot: int, seed: int) -> None:
        """Uniform angle in [-pi, pi], angular velocity in [-1, 1]."""
        high = np.array([np.pi, 1.0])
        self.th[slot], self.thdot[slot] = np.random.default_rng(seed).uniform(low=-high, high=high)

    def observe(self) -> np.ndarray:
        """(cos, sin, angular velocity)."""
        return np.stack([np.cos(self.th), np.sin(self.th), self.thdot], axis=1).astype(np.float32)

    def step(self, actions: np.ndarray, active: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Torque, cost, semi-implicit Euler step."""
        g, m, l, dt = self.g, self.m, self.l, self.dt  # noqa: E741 (the env's names)
        th, thdot = self.th[active], self.thdot[active]
        u = np.clip(np.asarray(actions), -self.max_torque, self.max_torque)[:, 0]
        costs = _square(((th + np.pi) % (2 * np.pi)) - np.pi) + 0.1 * _square(thdot) + 0.001 * _square(u)
        newthdot = thdot + (3 * g / (2 * l) * np.sin(th) + 3.0 / (m * l**2) * u) * dt
        newthdot = np.clip(newthdot, -self.max_speed, self.max_speed)
        self.th[active] = th + newthdot * dt
        self.thdot[active] = newthdot
        return -np.asarray(costs, dtype=np.float64), np.zeros(active.size, dtype=bool)


class MountainCarDynamics(Dynamics):
    """MountainCar-v0 (``MountainCarEnv.step``, batched)."""

    def __init__(self, n: int, env: gym.Env) -> None:
        super().__init__(n, env)
        base: Any = env.unwrapped
        self.force, self.gravity, self.max_speed = base.force, base.gravity, base.max_speed
        self.min_position, self.max_position = base.min_position, base.max_position
        self.goal_position, self.goal_velocity = base.goal_position, base.goal_velocity
        self.position = np.zeros(n)
        self.velocity = np.zeros(n)

    def reset(self, slot: int, seed: int) -> None:
        """Position uniform in [-0.6, -0.4], at rest."""
        self.position[slot] = np.random.default_rng(seed).uniform(low=-0.6, high=-0.4)
        self.velocity[slot] = 0.0

    def observe(self) -> np.ndarray:
        """(position, velocity)."""
        return np.stack([self.position, self.velocity], axis=1).astype(np.float32)

    def step(self, actions: np.ndarray, active: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Push, gravity, clipped speed and position, inelastic left wall."""
        position, velocity = self.position[active], self.velocity[active]
        cos = np.array([math.cos(x) for x in (3 * position).tolist()])  # the env's math.cos
        velocity = velocity + ((np.asarray(actions) - 1) * self.force + cos * (-self.gravity))
        velocity = np.clip(velocity, -self.max_speed, self.max_speed)
        position = np.clip(position + velocity, self.min_position, self.max_position)
        velocity[(position == self.min_position) & (velocity < 0)] = 0.0
        terminated = (position >= self.goal_position) & (velocity >= self.goal_velocity)
        self.position[active], self.velocity[active] = position, velocity
        return np.full(active.size, -1.0), terminated


def _square(x: np.ndarray) -> np.ndarray:
    """``x ** 2`` as the env computes it on a numpy scalar.

    That is libm's ``pow`` (``powf`` for float32), which differs from the array power's ``x * x``
    in the last bit now and then.
    """
    return np.array([v**2 for v in x], dtype=x.dtype)


def _classic(base: gym.Env, name: str) -> bool:
    return f"{type(base).__module__}.{type(base).__qualname__}" == f"{_CLASSIC}.{name}"


def vector_dynamics(env: gym.Env) -> tuple[Callable[[int], Dynamics], int] | None:
    """A factory of batched dynamics for ``env`` and its time limit, or None if it has none.

    Only the exact classic-control classes qualify, behind passive wrappers, with a time limit
    and no render mode (CartPole also behind HideVelocity, and not in its Sutton-Barto variant).
    """
    keep: tuple[int, ...] | None = None
    layer: Any = env
    while isinstance(layer, gym.Wrapper):
        name = type(layer).__name__
        if name == "HideVelocity":
            keep = tuple(getattr(layer, "keep"))  # noqa: B009
        elif name not in _PASSIVE_WRAPPERS:
            return None
        layer = layer.env
    base: Any = env.unwrapped
    if env.spec is None or env.spec.max_episode_steps is None or base.render_mode is not None:
        return None
    limit = int(env.spec.max_episode_steps)
    if _classic(base, "cartpole.CartPoleEnv") and not getattr(base, "_sutton_barto_reward", False):
        return functools.partial(CartPoleDynamics, env=env, keep=keep), limit
    if keep is not None:
        return None
    if _classic(base, "pendulum.PendulumEnv"):
        return functools.partial(PendulumDynamics, env=env), limit
    if _classic(base, "mountain_car.MountainCarEnv"):
        return functools.partial(MountainCarDynamics, env=env), limit
    return None


class VectorRunner(SeededRunner):
    """Runs whole sessions on batched dynamics of ``n_envs`` slots.

    Args:
        dynamics: makes the dynamics for a number of slots.
        n_envs: slots stepped at once.
        max_steps: time limit of a session.
    """

    def __init__(self, dynamics: Callable[[int], Dynamics], n_envs: int, max_steps: int) -> None:
        self.dynamics = dynamics(max(1, n_envs))
        self.max_steps = max_steps

    def close(self) -> None:
        """Release the dynamics."""
        self.dynamics.close()

    def run(
        self,
        actor: Actor,
        reset_seeds: np.ndarray,
        noise_seeds: np.ndarray | None = None,
        first_index: int = 0,
    ) -> Sessions:
        """Run one session per reset seed, as :meth:`EnvRunner.run` does."""
        dyn, n, slots = self.dynamics, len(reset_seeds), self.dynamics.n
        obs_buf: np.ndarray | None = None
        act_buf: np.ndarray | None = None
        rew_buf = np.zeros((self.max_steps, n), dtype=np.float64)
        lengths = np.zeros(n, dtype=np.int64)
        terminated = np.zeros(n, dtype=bool)
        session = np.full(slots, -1, dtype=np.int64)  # session each slot plays, -1 when idle
        noise_buf = np.zeros((n, self.max_steps, actor.noise_dim)) if actor.noise_dim else None
        next_session = 0

        def start(slot_ids: np.ndarray) -> None:
            nonlocal next_session
            for slot in slot_ids:
                if next_session >= n:
                    session[slot] = -1
                    continue
                i = next_session
                next_session += 1
                session[slot] = i
                dyn.reset(int(slot), int(reset_seeds[i]))
                if noise_buf is not None and noise_seeds is not None:
                    noise_buf[i] = NoiseStream(int(noise_seeds[i]), actor).take(self.max_steps)
            begun = session[slot_ids]
            begun = begun[begun >= 0]
            if begun.size:
                start_sessions(actor, first_index + begun)

        start(np.arange(slots))
        while True:
            active = np.flatnonzero(session >= 0)
            if not active.size:
                break
            ids = session[active]
            obs = dyn.observe()[active]
            t = lengths[ids]
            noise = None if noise_buf is None else noise_buf[ids, t]
            actions = np.asarray(actor.act(obs, first_index + ids, noise))
            if obs_buf is None or act_buf is None:
                obs_buf = np.zeros((self.max_steps, n, *obs.shape[1:]), dtype=np.float32)
                act_buf = np.zeros((self.max_steps, n, *actions.shape[1:]), dtype=actions.dtype)
            obs_buf[t, ids] = obs
            act_buf[t, ids] = actions
            reward, term = dyn.step(actions, active)
            rew_buf[t, ids] = reward
            lengths[ids] = t + 1
            done = term | (t + 1 >= self.max_steps)
            terminated[ids[term]] = True
            start(active[done])
        horizon = int(lengths.max()) if n else 0
        if obs_buf is None or act_buf is None:
            obs_buf = act_buf = np.zeros((0, n))
        return Sessions(
            obs_buf[:horizon], act_buf[:horizon], rew_buf[:horizon], lengths, terminated, ~terminated
        )
