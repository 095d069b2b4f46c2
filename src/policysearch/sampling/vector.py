"""Classic-control tasks stepped as numpy arrays, many sessions at once, one session per seed.

Stepping ``n`` env objects in turn costs a Python call per env and step; these runners step all
their slots with one numpy operation instead, ten to a hundred times faster. Each task's
:class:`Dynamics` reproduces its Gymnasium env's step exactly: every step performs the env's own
arithmetic, operation for operation and in the same dtypes (tests step both from the same states
and compare). A session starts from a state of the env's own start distribution (uniform in a
box), drawn for all starting sessions at once from counter-based streams keyed by their reset
seeds (:func:`~policysearch.seeding.stream_uniform`) rather than by ``env.reset(seed)``, whose
generator would cost more to create than a short session costs to play. CartPole steps on
Gymnasium's native ``CartPoleVectorEnv``; Pendulum, MountainCar and Acrobot, which have none, on
the dynamics written here.

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

from ..envs.make import only_passive_wrappers, wrappers
from ..policies.base import Actor, start_sessions
from ..seeding import START_STREAM, stream_keys, stream_uniform
from .runner import SeededRunner, step_noise
from .session import Keep, Sessions, kept

_CLASSIC = "gymnasium.envs.classic_control"


class Dynamics(ABC):
    """A task's state for ``n`` slots, reset and stepped as arrays.

    Args:
        n: slots stepped at once.
        env: an instance of the task, whose parameters the dynamics copy.
    """

    #: The env's start states are uniform between these bounds (per state entry).
    start_low: tuple[float, ...] = ()
    start_high: tuple[float, ...] = ()

    def __init__(self, n: int, env: gym.Env) -> None:
        self.n = n

    def start_states(self, seeds: np.ndarray) -> np.ndarray:
        """Start states of sessions with these reset seeds, ``(len(seeds), state_dim)`` float64."""
        low, high = np.array(self.start_low), np.array(self.start_high)
        u = stream_uniform(stream_keys(seeds, START_STREAM), 0, low.size)
        return low + (high - low) * u

    def reset(self, slots: np.ndarray, seeds: np.ndarray) -> None:
        """Start ``slots`` from the start states of these reset seeds."""
        self.set_states(slots, self.start_states(seeds))

    @abstractmethod
    def set_states(self, slots: np.ndarray, states: np.ndarray) -> None:
        """Put ``slots`` in these states (rows of the env's ``state``), at their first step."""

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

    start_low, start_high = (-0.05,) * 4, (0.05,) * 4

    def set_states(self, slots: np.ndarray, states: np.ndarray) -> None:
        """(x, x_dot, theta, theta_dot) rows."""
        self.env.state[:, slots] = states.T
        self.env.steps[slots] = 0
        self.env.prev_done[slots] = False

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

    start_low, start_high = (-np.pi, -1.0), (np.pi, 1.0)

    def set_states(self, slots: np.ndarray, states: np.ndarray) -> None:
        """(angle, angular velocity) rows."""
        self.th[slots], self.thdot[slots] = states[:, 0], states[:, 1]

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

    start_low, start_high = (-0.6, 0.0), (-0.4, 0.0)

    def set_states(self, slots: np.ndarray, states: np.ndarray) -> None:
        """(position, velocity) rows."""
        self.position[slots], self.velocity[slots] = states[:, 0], states[:, 1]

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


class AcrobotDynamics(Dynamics):
    """Acrobot-v1 (``AcrobotEnv.step``, batched): the book's equations, one rk4 step of ``dt``.

    What matches the env bit for bit, found by stepping both from the same 5,000 start states
    through whole episodes (3,000 of random actions, 500 steps each; 2,000 swinging up, most
    reaching the goal) and comparing every state entry, observation, reward and termination
    (numpy 2.4 on AVX-512):

    - numpy's float64 ``cos`` and ``sin`` on arrays give what the env's calls on numpy scalars
      give (both equal ``math.cos`` and ``math.sin`` here);
    - ``reset`` keeps the state as float32, so the first observation takes float32 ``cos`` and
      ``sin`` (through float64 instead, 193 of 100,000 start observations differ);
    - the env's ``x**2`` on a numpy scalar is libm's ``pow``, which now and then rounds the other
      way from ``x * x``: the squares go through :func:`_square` (with ``x * x``, 39 of 500
      swinging episodes part from the env; with numpy's array ``power``, 492);
    - the rest is single IEEE operations, in the env's own order (Python folds the constant
      factors first, as in the env), and rk4's sums entry by entry, as the env's on its vector.
    """

    def __init__(self, n: int, env: gym.Env) -> None:
        super().__init__(n, env)
        base: Any = env.unwrapped
        self.dt = base.dt
        self.m1, self.m2 = base.LINK_MASS_1, base.LINK_MASS_2
        self.l1 = base.LINK_LENGTH_1
        self.lc1, self.lc2 = base.LINK_COM_POS_1, base.LINK_COM_POS_2
        self.moi = base.LINK_MOI
        self.max_vel_1, self.max_vel_2 = base.MAX_VEL_1, base.MAX_VEL_2
        self.torques = np.asarray(base.AVAIL_TORQUE, dtype=np.float64)
        self.state = np.zeros((4, n))  # (theta1, theta2, dtheta1, dtheta2) rows
        self.obs = np.zeros((n, 6), dtype=np.float32)

    start_low, start_high = (-0.1,) * 4, (0.1,) * 4

    def set_states(self, slots: np.ndarray, states: np.ndarray) -> None:
        """(theta1, theta2, dtheta1, dtheta2) rows, kept as float32 like ``reset`` keeps them."""
        start = states.astype(np.float32).T
        self.state[:, slots] = start
        self.obs[slots] = self._observe(start)

    def observe(self) -> np.ndarray:
        """(cos, sin of both angles, both angular velocities)."""
        return self.obs

    @staticmethod
    def _observe(s: np.ndarray) -> np.ndarray:
        """``_get_ob`` of state columns (float32 ones at reset, then float64)."""
        return np.stack([np.cos(s[0]), np.sin(s[0]), np.cos(s[1]), np.sin(s[1]), s[2], s[3]], axis=1).astype(
            np.float32
        )

    def _dsdt(self, s: np.ndarray, a: np.ndarray) -> np.ndarray:
        """``AcrobotEnv._dsdt`` (the book's equations) of state columns under torques ``a``."""
        m1, m2, l1, lc1, lc2 = self.m1, self.m2, self.l1, self.lc1, self.lc2
        I1 = I2 = self.moi
        g = 9.8
        theta1, theta2, dtheta1, dtheta2 = s
        cos2, sin2 = np.cos(theta2), np.sin(theta2)
        d1 = m1 * lc1**2 + m2 * (l1**2 + lc2**2 + 2 * l1 * lc2 * cos2) + I1 + I2
        d2 = m2 * (lc2**2 + l1 * lc2 * cos2) + I2
        dtheta1_sq, dtheta2_sq, d2_sq = _square(np.concatenate([dtheta1, dtheta2, d2])).reshape(3, -1)
        phi2 = m2 * lc2 * g * np.cos(theta1 + theta2 - math.pi / 2.0)
        phi1 = (
            -m2 * l1 * lc2 * dtheta2_sq * sin2
            - 2 * m2 * l1 * lc2 * dtheta2 * dtheta1 * sin2
            + (m1 * lc1 + m2 * l1) * g * np.cos(theta1 - math.pi / 2)
            + phi2
        )
        ddtheta2 = (a + d2 / d1 * phi1 - m2 * l1 * lc2 * dtheta1_sq * sin2 - phi2) / (
            m2 * lc2**2 + I2 - d2_sq / d1
        )
        ddtheta1 = -(d2 * ddtheta2 + phi1) / d1
        return np.stack([dtheta1, dtheta2, ddtheta1, ddtheta2])

    def step(self, actions: np.ndarray, active: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Torque, one rk4 step, wrapped angles, bounded velocities, the height test."""
        a = self.torques[np.asarray(actions)]
        y0 = self.state[:, active]
        dt = self.dt - 0  # rk4's t[1] - t[0]
        dt2 = dt / 2.0
        k1 = self._dsdt(y0, a)
        k2 = self._dsdt(y0 + dt2 * k1, a)
        k3 = self._dsdt(y0 + dt2 * k2, a)
        k4 = self._dsdt(y0 + dt * k3, a)
        ns = y0 + dt / 6.0 * (k1 + 2 * k2 + 2 * k3 + k4)
        ns[0] = _wrap(ns[0], -math.pi, math.pi)
        ns[1] = _wrap(ns[1], -math.pi, math.pi)
        ns[2] = np.clip(ns[2], -self.max_vel_1, self.max_vel_1)
        ns[3] = np.clip(ns[3], -self.max_vel_2, self.max_vel_2)
        self.state[:, active] = ns
        self.obs[active] = self._observe(ns)
        terminated = -np.cos(ns[0]) - np.cos(ns[1] + ns[0]) > 1.0
        return np.where(terminated, 0.0, -1.0), terminated


def _wrap(x: np.ndarray, m: float, M: float) -> np.ndarray:
    """The env's ``wrap``: whole turns subtracted, then added, one at a time."""
    diff = M - m
    x = x.copy()
    while (over := x > M).any():
        x[over] = x[over] - diff
    while (under := x < m).any():
        x[under] = x[under] + diff
    return x


def _square(x: np.ndarray) -> np.ndarray:
    """``x ** 2`` as the env computes it on a numpy scalar.

    That is libm's ``pow`` (``powf`` for float32), which differs from the array power's ``x * x``
    in the last bit now and then. Python's float power calls the same ``pow``, and is quicker on
    a list than numpy's scalars are, so float64 goes through one.
    """
    if x.dtype == np.float64:
        return np.array([v**2 for v in x.tolist()])
    return np.array([v**2 for v in x], dtype=x.dtype)


def _classic(base: gym.Env, name: str) -> bool:
    return f"{type(base).__module__}.{type(base).__qualname__}" == f"{_CLASSIC}.{name}"


def vector_dynamics(env: gym.Env) -> tuple[Callable[[int], Dynamics], int] | None:
    """A factory of batched dynamics for ``env`` and its time limit, or None if it has none.

    Only the exact classic-control classes qualify, behind passive wrappers, with a time limit
    and no render mode (CartPole also behind HideVelocity, and not in its Sutton-Barto variant;
    Acrobot in the book's dynamics, ``book_or_nips`` not ``"nips"``, with no torque noise).
    :func:`~policysearch.sampling.make_runner` does not ask when a run's env kwargs may change
    the env (anything but ``max_episode_steps``): the copies match the env at its defaults.
    """
    if not only_passive_wrappers(env, frozenset({"HideVelocity"})):
        return None
    keep: tuple[int, ...] | None = None
    for wrapper in wrappers(env):
        if type(wrapper).__name__ == "HideVelocity":
            keep = tuple(getattr(wrapper, "keep"))  # noqa: B009
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
    if _classic(base, "acrobot.AcrobotEnv") and base.book_or_nips != "nips" and not base.torque_noise_max > 0:
        return functools.partial(AcrobotDynamics, env=env), limit
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

    def start_state(self, reset_seed: int) -> np.ndarray | None:
        """The start state the dynamics draw for this reset seed (a row of the env's ``state``)."""
        return self.dynamics.start_states(np.array([reset_seed]))[0]

    def run(
        self,
        actor: Actor,
        reset_seeds: np.ndarray,
        noise_seeds: np.ndarray | None = None,
        first_index: int = 0,
        keep: Keep = "steps",
    ) -> Sessions:
        """Run one session per reset seed, as :meth:`EnvRunner.run` does.

        The steps are held in arrays as they are played (the dynamics are cheap, and their
        episodes short); ``keep`` drops what is not asked for at the end.
        """
        dyn, n, slots = self.dynamics, len(reset_seeds), self.dynamics.n
        obs_buf: np.ndarray | None = None
        act_buf: np.ndarray | None = None
        rew_buf = np.zeros((self.max_steps, n), dtype=np.float64)
        lengths = np.zeros(n, dtype=np.int64)
        terminated = np.zeros(n, dtype=bool)
        session = np.full(slots, -1, dtype=np.int64)  # session each slot plays, -1 when idle
        keys = None if noise_seeds is None else stream_keys(noise_seeds)
        next_session = 0

        def start(slot_ids: np.ndarray) -> None:
            nonlocal next_session
            count = min(slot_ids.size, n - next_session)
            session[slot_ids[count:]] = -1
            if count:
                begun = np.arange(next_session, next_session + count)
                next_session += count
                session[slot_ids[:count]] = begun
                dyn.reset(slot_ids[:count], reset_seeds[begun])
                start_sessions(actor, first_index + begun)

        start(np.arange(slots))
        while True:
            active = np.flatnonzero(session >= 0)
            if not active.size:
                break
            ids = session[active]
            obs = dyn.observe()[active]
            t = lengths[ids]
            noise = step_noise(actor, keys, ids, t)
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
            self.finished += int(done.sum())
            self.stepped += len(active)
            if done.any():
                start(active[done])
        horizon = int(lengths.max()) if n else 0
        if obs_buf is None or act_buf is None:
            obs_buf = act_buf = np.zeros((0, n))
        sessions = Sessions(
            obs_buf[:horizon], act_buf[:horizon], rew_buf[:horizon], lengths, terminated, ~terminated
        )
        return kept(sessions, keep)
